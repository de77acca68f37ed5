"""Tests of lossbook.experiments.classifiers: the linear SVM and AdaBoost with stumps.

References are independent of the code under test: a brute-force search over
directions for the maximum margin, a grid search for the SVM objective, an
exhaustive loop over every stump, and a numerical line search for AdaBoost's
vote.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments.classifiers import (
    Stump,
    adaboost,
    fit_linear_svm,
    fit_stump,
    svm_objective,
)
from lossbook.experiments.datasets import two_blobs


def _signed_blobs(n, distance, seed):
    X, y01 = two_blobs(n, distance=distance, seed=seed)
    return X, 2.0 * y01 - 1.0


def _disc(n=120, seed=3):
    """Points in the square, +1 inside the disc of radius sqrt(1/2)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    return X, np.where((X**2).sum(axis=1) < 0.5, 1.0, -1.0)


def _max_margin_2d(X, y, n_dirs=20_000):
    """Brute force: the largest half-gap between the classes over directions."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_dirs, endpoint=False)
    proj = X @ np.stack([np.cos(theta), np.sin(theta)])
    gap = (proj[y > 0].min(axis=0) - proj[y < 0].max(axis=0)) / 2.0
    return float(gap.max())


# --- linear SVM ---


def test_svm_separates_blobs_with_near_maximal_margin():
    X, y = _signed_blobs(50, 5.0, seed=0)
    best = _max_margin_2d(X, y)
    assert best > 0.3  # the data are separable, with room to spare
    svm = fit_linear_svm(X, y, lam=1e-3, steps=2000)
    assert np.array_equal(svm.predict(X), y)
    margin = svm.geometric_margin(X, y)
    # no linear classifier beats the brute-force optimum (up to its grid)...
    assert margin <= best + 1e-3
    # ...and subgradient descent with a small penalty gets within 2% of it
    assert margin >= 0.98 * best


def test_svm_objective_history_and_best_iterate():
    X, y = _signed_blobs(40, 2.0, seed=1)  # overlapping: a soft margin
    svm = fit_linear_svm(X, y, lam=0.05, steps=500)
    assert svm.objective.shape == (501,)
    assert svm.objective[0] == pytest.approx(1.0)  # w = 0, b = 0: every hinge is 1
    assert svm_objective(svm.w, svm.b, X, y, lam=0.05) == pytest.approx(
        svm.objective.min(), rel=1e-12
    )


def test_svm_objective_no_worse_than_a_grid_search():
    X, y = _signed_blobs(40, 2.0, seed=1)
    lam = 0.05
    svm = fit_linear_svm(X, y, lam=lam, steps=2000)
    # the objective on a grid of (w1, w2, b), written out in plain NumPy
    g = np.linspace(-2.0, 2.0, 61)
    w1, w2, b = np.meshgrid(g, g, np.linspace(-1.0, 1.0, 31), indexing="ij")
    W = np.stack([w1.ravel(), w2.ravel()], axis=1)
    scores = X @ W.T + b.ravel()
    hinge_mean = np.maximum(0.0, 1.0 - y[:, None] * scores).mean(axis=0)
    best_grid = float((hinge_mean + lam * (W**2).sum(axis=1)).min())
    assert svm.objective.min() <= best_grid + 1e-4


def _svm_qp_minimum(X, y, lam):
    """The exact SVM objective minimum: the primal QP over (w, b, xi), by SLSQP."""
    from scipy import optimize

    n, d = X.shape

    def f(v):
        return v[d + 1 :].mean() + lam * v[:d] @ v[:d]

    cons = [
        # margins: y_i (w x_i + b) - 1 + xi_i >= 0, and xi_i >= 0
        {"type": "ineq", "fun": lambda v: y * (X @ v[:d] + v[d]) - 1 + v[d + 1 :]},
        {"type": "ineq", "fun": lambda v: v[d + 1 :]},
    ]
    v0 = np.concatenate([np.zeros(d + 1), np.ones(n)])
    res = optimize.minimize(
        f, v0, constraints=cons, method="SLSQP", options={"ftol": 1e-12, "maxiter": 500}
    )
    assert res.success
    return res.fun, res.x[d]


@pytest.mark.parametrize(
    ("distance", "lam", "steps"), [(3.0, 0.01, 1000), (2.0, 0.05, 500)]
)
def test_svm_best_iterate_is_near_the_qp_minimum_despite_the_free_bias(
    distance, lam, steps
):
    # the objective is not strongly convex in the unpenalised bias, so the
    # Pegasos rate does not apply to b; the best iterate still comes close
    X, y = _signed_blobs(50, distance, seed=0)
    svm = fit_linear_svm(X, y, lam=lam, steps=steps)
    best, b = _svm_qp_minimum(X, y, lam)
    assert best <= svm.objective.min() <= best * 1.005
    assert abs(svm.b - b) < 0.1


def test_svm_objective_matches_torch():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(30, 3)), rng.choice([-1.0, 1.0], size=30)
    w, b, lam = rng.normal(size=3), 0.3, 0.1
    scores = torch.tensor(X) @ torch.tensor(w) + b
    ref = (
        torch.clamp(1 - torch.tensor(y) * scores, min=0).mean()
        + lam * (torch.tensor(w) ** 2).sum()
    )
    assert svm_objective(w, b, X, y, lam=lam) == pytest.approx(ref.item(), rel=1e-12)


def test_svm_is_deterministic():
    X, y = _signed_blobs(30, 3.0, seed=4)
    a = fit_linear_svm(X, y, lam=0.01, steps=300)
    b = fit_linear_svm(X, y, lam=0.01, steps=300)
    assert np.array_equal(a.w, b.w) and a.b == b.b
    assert np.array_equal(a.objective, b.objective)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": [0, 1, 1]}, "`y` must hold signed labels"),
        ({"y": [1, -1]}, r"`y` must have shape \(N,\) = \(3,\)"),
        ({"X": [1.0, 2.0, 3.0]}, "`X` must be 2-D"),
        ({"X": [[0.0], [np.nan], [1.0]]}, "`X` must be finite"),
        ({"lam": 0.0}, "lam must be a positive number"),
        ({"steps": 0}, "steps must be a positive integer"),
    ],
)
def test_svm_rejects_bad_input(kwargs, match):
    args = {"X": [[0.0], [1.0], [2.0]], "y": [-1, 1, 1]} | kwargs
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(ValueError, match=match):
        fit_linear_svm(X, y, **args)


# --- decision stumps ---


def _all_stumps(X):
    """Every distinct stump: -inf and every midpoint of each feature, both signs."""
    for j in range(X.shape[1]):
        u = np.unique(X[:, j])
        for threshold in [-math.inf, *((u[:-1] + u[1:]) / 2)]:
            for polarity in (1, -1):
                yield Stump(feature=j, threshold=float(threshold), polarity=polarity)


def _weighted_error(stump, X, y, w):
    return float(np.sum(w * (stump.predict(X) != y)) / np.sum(w))


@pytest.mark.parametrize("seed", range(6))
def test_stump_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(25, 3)), 1)  # rounding makes ties
    y = rng.choice([-1.0, 1.0], size=25)
    w = rng.uniform(0.0, 1.0, size=25)
    stump, err = fit_stump(X, y, w)
    brute = min(_weighted_error(s, X, y, w) for s in _all_stumps(X))
    assert err == pytest.approx(brute, abs=1e-12)
    assert _weighted_error(stump, X, y, w) == pytest.approx(err, abs=1e-12)
    assert err <= 0.5


def test_stump_on_separable_data_has_zero_error():
    stump, err = fit_stump([[3.0], [1.0], [2.0], [0.0]], [1, -1, 1, -1], np.ones(4))
    assert (stump.feature, stump.threshold, stump.polarity, err) == (0, 1.5, 1, 0.0)


@pytest.mark.parametrize(
    "weights", [[1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0, np.inf, 1.0], [1.0, 1.0]]
)
def test_stump_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match="sample_weight"):
        fit_stump([[0.0], [1.0], [2.0]], [-1, 1, 1], weights)


# --- AdaBoost ---


@pytest.fixture(scope="module")
def disc_model():
    X, y = _disc()
    return X, y, adaboost(X, y, rounds=40)


def test_adaboost_loss_decreases_and_is_the_product_of_normalisers(disc_model):
    X, y, model = disc_model
    losses = np.concatenate([[1.0], model.train_loss])
    assert np.all(np.diff(losses) <= 1e-15)  # monotone
    assert np.allclose(model.train_loss, np.cumprod(model.normalisers), rtol=1e-12)
    z_closed = 2.0 * np.sqrt(model.errors * (1.0 - model.errors))
    assert np.allclose(model.normalisers, z_closed, rtol=1e-10)
    for t in (1, 10, 40):
        scores = model.decision_function(X, rounds=t)
        assert float(lb.exponential(scores, y)) == pytest.approx(
            model.train_loss[t - 1], rel=1e-12
        )


def test_adaboost_weights_follow_the_multiplicative_update(disc_model):
    X, y, model = disc_model

    def weights(t):  # D_t from the exponential loss of the first t - 1 rounds
        loss = lb.exponential(
            model.decision_function(X, rounds=t - 1), y, reduction="none"
        )
        return loss / loss.sum()

    for t in (1, 2, 5, 20):
        h = model.stumps[t - 1].predict(X)
        updated = (
            weights(t) * np.exp(-model.alphas[t - 1] * y * h) / model.normalisers[t - 1]
        )
        assert np.allclose(updated, weights(t + 1), rtol=1e-10)


def test_adaboost_rounds_are_exact_stagewise_steps(disc_model):
    X, y, model = disc_model
    candidates = list(_all_stumps(X))
    H = np.stack([s.predict(X) for s in candidates])  # (stumps, N) votes

    def line_search(F, H):
        # ternary search of min_alpha mean exp(-y (F + alpha h)) for each row h
        # of H, in plain NumPy and independent of the closed form for alpha
        def loss(a):
            return np.exp(-y * (F + a[:, None] * H)).mean(axis=1)

        lo, hi = np.full(len(H), -20.0), np.full(len(H), 20.0)
        for _ in range(100):
            a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            left = loss(a) < loss(b)
            hi, lo = np.where(left, b, hi), np.where(left, lo, a)
        alpha = (lo + hi) / 2
        return alpha, loss(alpha)

    for t in (1, 3, 8):
        F = model.decision_function(X, rounds=t - 1)
        h = model.stumps[t - 1].predict(X)
        (alpha,), _ = line_search(F, h[None, :])
        assert model.alphas[t - 1] == pytest.approx(alpha, abs=1e-6)
        # alpha_t zeroes the derivative of the loss along h_t
        slope = float(np.sum(lb.grad.exponential(F + model.alphas[t - 1] * h, y) * h))
        assert slope == pytest.approx(0.0, abs=1e-12)
        # no stump, with its own best alpha, lowers the loss further
        _, best = line_search(F, H)
        assert model.train_loss[t - 1] <= best.min() * (1 + 1e-9)


def test_adaboost_exponential_loss_bounds_training_error(disc_model):
    X, y, model = disc_model
    for t in range(1, 41):
        err = float(lb.zero_one(model.predict(X, rounds=t).astype(int), y.astype(int)))
        assert err <= model.train_loss[t - 1]
    assert float(lb.zero_one(model.predict(X).astype(int), y.astype(int))) < 0.05


def test_adaboost_perfect_stump_gets_a_finite_vote():
    model = adaboost([[0.0], [1.0], [2.0], [3.0]], [-1, -1, 1, 1], rounds=2)
    assert np.all(np.isfinite(model.alphas))
    assert np.array_equal(model.predict([[0.5], [2.5]]), [-1.0, 1.0])


def test_adaboost_rejects_bad_rounds():
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        adaboost([[0.0], [1.0]], [-1, 1], rounds=0)
