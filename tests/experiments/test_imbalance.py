"""Tests of lossbook.experiments.imbalance: data, linear fits, PR metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_score, recall_score

import lossbook as lb
from lossbook.experiments.imbalance import (
    average_precision,
    fit_linear_logits,
    imbalanced_points,
    precision_recall_at,
    precision_recall_curve,
)

# --- data ---


def test_points_are_seeded_shaped_and_labelled():
    x, y, hard = imbalanced_points(500, seed=3)
    x2, y2, hard2 = imbalanced_points(500, seed=3)
    assert x.shape == (500, 2) and y.shape == hard.shape == (500,)
    assert x.dtype == y.dtype == np.float64 and hard.dtype == bool
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(hard, hard2)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert not np.array_equal(x, imbalanced_points(500, seed=4)[0])


def test_the_classes_have_the_stated_rates_and_centres():
    x, y, hard = imbalanced_points(200_000, pos_frac=0.01, hard_frac=0.1, seed=1)
    assert abs(y.mean() - 0.01) < 0.001  # sd 0.0002
    assert not (hard & (y == 1)).any()
    assert abs(hard[y == 0].mean() - 0.1) < 0.005
    easy = (y == 0) & ~hard
    np.testing.assert_allclose(x[y == 1].mean(0), [2.0, 0.0], atol=0.05)
    np.testing.assert_allclose(x[y == 1].std(0), [0.7, 0.7], atol=0.05)
    np.testing.assert_allclose(x[hard].mean(0), [0.0, 0.0], atol=0.03)
    np.testing.assert_allclose(x[easy].mean(0), [3.0, -6.0], atol=0.01)


@pytest.mark.parametrize("kw", [{"pos_frac": -0.1}, {"hard_frac": 1.5}])
def test_points_reject_rates_outside_the_unit_interval(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        imbalanced_points(10, **kw)


# --- fitting ---


def _sklearn_fit(x, y, **kw):
    model = LogisticRegression(C=1e12, tol=1e-12, max_iter=100_000, **kw).fit(x, y)
    return model.coef_[0], model.intercept_[0]


def test_bce_fit_is_unregularised_logistic_regression():
    x, y, _ = imbalanced_points(3000, pos_frac=0.05, seed=2)
    w, b = fit_linear_logits(x, y, lb.binary_cross_entropy_with_logits)
    w_ref, b_ref = _sklearn_fit(x, y)
    np.testing.assert_allclose(w, w_ref, rtol=1e-4)
    np.testing.assert_allclose(b, b_ref, rtol=1e-4)


def test_balanced_weights_fit_is_sklearns_balanced_logistic_regression():
    # w_pos / w_neg = N_neg / N_pos in both; the overall scale does not move
    # the unregularised optimum
    x, y, _ = imbalanced_points(3000, pos_frac=0.05, seed=2)
    w_pos, w_neg = (float(v) for v in lb.balanced_class_weights(y))

    def loss(z, t):
        return lb.weighted_binary_cross_entropy(
            torch.sigmoid(z), t, w_pos=w_pos, w_neg=w_neg
        )

    w, b = fit_linear_logits(x, y, loss)
    w_ref, b_ref = _sklearn_fit(x, y, class_weight="balanced")
    np.testing.assert_allclose(w, w_ref, rtol=1e-4)
    np.testing.assert_allclose(b, b_ref, rtol=1e-4)


def test_the_fit_reaches_a_stationary_point_of_a_nonconvex_focal_loss():
    x, y, _ = imbalanced_points(3000, pos_frac=0.05, seed=5)
    w, b = fit_linear_logits(x, y, lambda z, t: lb.focal(z, t, gamma=2.0))
    params = torch.tensor([*w, b], requires_grad=True)
    xt, yt = torch.tensor(x), torch.tensor(y)
    value = lb.focal(xt @ params[:2] + params[2], yt, gamma=2.0)
    (g,) = torch.autograd.grad(value, params)
    assert g.abs().max() < 1e-7


def test_fit_works_on_image_shaped_features_and_starts_at_the_prior():
    rng = np.random.default_rng(0)
    target = (rng.random((3, 5, 4)) < 0.3).astype(float)
    features = np.stack([target + rng.normal(size=target.shape)], axis=-1)
    seen = []

    def loss(z, t):
        seen.append((tuple(z.shape), float(z.detach()[0, 0, 0])))
        return lb.binary_cross_entropy_with_logits(z, t)

    w, _ = fit_linear_logits(features, target, loss)
    assert w.shape == (1,)
    rate = target.mean()
    assert seen[0] == ((3, 5, 4), pytest.approx(np.log(rate / (1 - rate))))


def test_fit_rejects_mismatched_shapes_and_a_single_class():
    with pytest.raises(ValueError, match=r"target\.shape"):
        fit_linear_logits(np.zeros((4, 2)), np.zeros(5), lb.focal)
    with pytest.raises(ValueError, match="bias_init"):
        fit_linear_logits(np.zeros((4, 2)), np.zeros(4), lb.focal)
    w, b = fit_linear_logits(np.ones((4, 1)), np.zeros(4), lb.focal, bias_init=0.0)
    assert np.isfinite(w).all() and np.isfinite(b)


# --- metrics ---


def _brute_curve(s, y):
    """Precision and recall at each distinct threshold, by counting."""
    out = []
    for t in sorted(set(s.tolist()), reverse=True):
        pred = s >= t
        tp = np.sum(pred & (y == 1))
        out.append((tp / pred.sum(), tp / y.sum(), t))
    return np.array(out).T


def _brute_ap_distinct(s, y):
    """Mean over positives of the precision at each positive's rank."""
    ranks = {i: int(np.sum(s >= s[i])) for i in range(len(s))}
    return np.mean([np.sum(y[s >= s[i]]) / ranks[i] for i in np.flatnonzero(y)])


@pytest.mark.parametrize("seed", range(5))
def test_curve_and_ap_match_brute_force_and_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 8, size=60).astype(float)  # many ties
    y = (rng.random(60) < 0.3).astype(float)
    y[0] = 1.0
    precision, recall, thresholds = precision_recall_curve(s, y)
    ref = _brute_curve(s, y)
    np.testing.assert_allclose(precision, ref[0], rtol=1e-12)
    np.testing.assert_allclose(recall, ref[1], rtol=1e-12)
    np.testing.assert_array_equal(thresholds, ref[2])
    ap = average_precision(s, y)
    assert ap == pytest.approx(average_precision_score(y, s), rel=1e-12)
    assert ap == pytest.approx(np.sum(np.diff(ref[1], prepend=0.0) * ref[0]))


@pytest.mark.parametrize("seed", range(5))
def test_ap_without_ties_is_the_mean_precision_at_the_positives(seed):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=80)
    y = (rng.random(80) < 0.2).astype(float)
    y[:2] = 1.0
    assert average_precision(s, y) == pytest.approx(_brute_ap_distinct(s, y))
    assert average_precision(s, y) == pytest.approx(average_precision_score(y, s))


def test_ap_of_perfect_and_reversed_rankings():
    y = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    s = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert average_precision(s, y) == 1.0
    assert average_precision(-s, y) == pytest.approx((1 / 4 + 2 / 5) / 2)
    assert average_precision(s.reshape(5, 1), y.reshape(1, 5)) == 1.0  # any shape


@pytest.mark.parametrize("threshold", [-1.0, 0.0, 0.3, 2.0])
def test_precision_recall_at_matches_sklearn(threshold):
    rng = np.random.default_rng(1)
    s = rng.normal(size=200)
    y = (rng.random(200) < 0.3).astype(float)
    p, r = precision_recall_at(s, y, threshold)
    pred = (s >= threshold).astype(float)
    assert p == pytest.approx(precision_score(y, pred, zero_division=0))
    assert r == pytest.approx(recall_score(y, pred, zero_division=0))


def test_precision_recall_at_edge_cases():
    assert precision_recall_at([0.1, 0.2], [1, 0], 0.5) == (0.0, 0.0)
    assert precision_recall_at([0.7, 0.2], [0, 0], 0.5) == (0.0, 0.0)
    assert precision_recall_at([0.5], [1], 0.5) == (1.0, 1.0)  # >= threshold


def test_metrics_reject_bad_inputs():
    with pytest.raises(ValueError, match="same number"):
        average_precision([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        precision_recall_at([0.1, 0.2], [1, 2], 0.5)
    with pytest.raises(ValueError, match="finite"):
        precision_recall_curve([0.1, np.nan], [1, 0])
    with pytest.raises(ValueError, match="no positive"):
        average_precision([0.1, 0.2], [0, 0])
