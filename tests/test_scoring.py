"""Tests of lossbook.scoring: Brier score, reliability curve and ECE against
brute-force loops, the binary and multi-class conventions, the API contract and
properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import scoring

N, K = 40, 4
FEW = settings(max_examples=40)


def _multiclass(rng, n=N, k=K):
    prob = rng.dirichlet(np.full(k, 0.7), n)
    return prob, rng.integers(0, k, n)


def _binary(rng, shape=(N,)):
    prob = rng.uniform(size=shape)
    prob.flat[:5] = [0.0, 1.0, 0.5, 0.25, 0.75]  # the ends, the tie, bin edges
    return prob, rng.integers(0, 2, shape)


def _labels(backend, y):
    return backend(y, np.int64)


# --- brute-force references (plain Python loops, float64) ---


def brier_loop(prob, target):
    prob = np.asarray(prob, np.float64)
    if prob.ndim == np.ndim(target) + 1:
        return np.array(
            [
                sum((prob[i, k] - (k == target[i])) ** 2 for k in range(prob.shape[1]))
                for i in range(prob.shape[0])
            ]
        )
    pairs = zip(prob.flat, np.ravel(target), strict=True)
    return np.array([(p - y) ** 2 for p, y in pairs])


def calibration_loop(prob, target, n_bins, dtype):
    """(confidence, accuracy, count, ece) by the definition, one sample at a time."""
    prob = np.asarray(prob, dtype)
    edges = np.arange(n_bins + 1, dtype=dtype) / dtype(n_bins)  # rounded b / B
    samples = []
    if prob.ndim == np.ndim(target) + 1:
        for row, y in zip(prob, target, strict=True):
            best = max(range(len(row)), key=lambda k: (row[k], -k))  # first max
            samples.append((float(row[best]), float(best == y)))
    else:
        for p, y in zip(prob.flat, np.ravel(target), strict=True):
            pred = 1 if p >= 0.5 else 0
            samples.append((float(max(p, dtype(1) - p)), float(pred == y)))
    conf, acc, count = [], [], []
    ece = 0.0
    for b in range(n_bins):
        lo, hi = float(edges[b]), float(edges[b + 1])
        inside = [(c, a) for c, a in samples if (lo < c <= hi) or (b == 0 and c == 0)]
        count.append(len(inside))
        if inside:
            mc = sum(c for c, _ in inside) / len(inside)
            ma = sum(a for _, a in inside) / len(inside)
            ece += len(inside) / len(samples) * abs(ma - mc)
        else:
            mc = ma = math.nan
        conf.append(mc)
        acc.append(ma)
    return np.array(conf), np.array(acc), np.array(count), ece


# --- brier ---


def test_brier_binary_matches_the_loop(backend, reduction, rng):
    prob, y = _binary(rng, (8, 5))
    got = lb.brier(backend(prob), _labels(backend, y), reduction=reduction)
    backend.check_native(got, prob.shape if reduction == "none" else ())
    ref = brier_loop(prob.astype(backend.dtype), y).reshape(prob.shape)
    ref = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    np.testing.assert_allclose(backend.numpy(got), ref, rtol=8 * backend.eps, atol=0)


def test_brier_multiclass_matches_the_loop(backend, reduction, rng):
    prob, y = _multiclass(rng)
    got = lb.brier(backend(prob), _labels(backend, y), reduction=reduction)
    backend.check_native(got, (N,) if reduction == "none" else ())
    ref = brier_loop(prob.astype(backend.dtype), y)
    ref = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    np.testing.assert_allclose(
        backend.numpy(got), ref, rtol=16 * backend.eps, atol=4 * backend.eps
    )


def test_brier_labels_may_be_float_or_bool_in_the_binary_case(rng):
    prob, y = _binary(rng)
    ref = lb.brier(prob, y)
    assert lb.brier(prob, y.astype(float)) == ref
    assert lb.brier(prob, y.astype(bool)) == ref
    assert lb.brier(torch.tensor(prob), torch.tensor(y, dtype=torch.bool)) == ref


def test_binary_brier_is_half_the_two_class_brier(rng):
    prob, y = _binary(rng)
    two = np.stack([1 - prob, prob], axis=1)
    np.testing.assert_allclose(
        2 * lb.brier(prob, y, reduction="none"),
        lb.brier(two, y, reduction="none"),
        rtol=1e-15,
        atol=1e-16,
    )


def test_brier_gradient_is_twice_the_error(rng):
    prob, y = _multiclass(rng)
    p = torch.tensor(prob, requires_grad=True)
    (g,) = torch.autograd.grad(lb.brier(p, torch.tensor(y)), p)
    expected = 2 * (prob - np.eye(K)[y]) / N
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-14, atol=1e-17)


@FEW
@given(
    q=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5),
    p=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5),
)
def test_brier_is_strictly_proper(q, p):
    # E_{y ~ q} brier(p, y) = ||p - q||^2 + 1 - ||q||^2 >= its value at p = q
    k = min(len(q), len(p))
    q = np.asarray(q[:k]) / np.sum(q[:k])
    p = np.asarray(p[:k]) / np.sum(p[:k])
    labels = np.arange(k)

    def expected(r):
        scores = lb.brier(np.tile(r, (k, 1)), labels, reduction="none")
        return float(np.dot(q, scores))

    gap = expected(p) - expected(q)
    assert gap >= -1e-12
    np.testing.assert_allclose(gap, np.sum((p - q) ** 2), atol=1e-12)


# --- reliability curve and ECE ---


@pytest.mark.parametrize("n_bins", [1, 2, 10, 15])
def test_reliability_curve_and_ece_match_the_loop_multiclass(backend, n_bins, rng):
    prob, y = _multiclass(rng, n=200)
    prob[0] = [0.4, 0.4, 0.1, 0.1]  # a tie: the first class is predicted
    prob[1] = [0.2, 0.2, 0.2, 0.4]  # a confidence on a bin edge (for B = 10, 15)
    y[:2] = [0, 3]
    conf, acc, count = lb.reliability_curve(
        backend(prob), _labels(backend, y), n_bins=n_bins
    )
    ece = lb.expected_calibration_error(
        backend(prob), _labels(backend, y), n_bins=n_bins
    )
    backend.check_native(conf, (n_bins,))
    backend.check_native(acc, (n_bins,))
    backend.check_native(ece)
    assert tuple(count.shape) == (n_bins,)
    assert backend.numpy(count).dtype == np.int64
    r_conf, r_acc, r_count, r_ece = calibration_loop(prob, y, n_bins, backend.dtype)
    np.testing.assert_array_equal(backend.numpy(count), r_count)
    tol = {"rtol": 64 * backend.eps, "atol": 64 * backend.eps}
    np.testing.assert_allclose(backend.numpy(conf), r_conf, **tol)  # NaN == NaN
    np.testing.assert_allclose(backend.numpy(acc), r_acc, **tol)
    np.testing.assert_allclose(float(ece), r_ece, **tol)


@pytest.mark.parametrize("n_bins", [1, 4, 15])
def test_reliability_curve_and_ece_match_the_loop_binary(backend, n_bins, rng):
    prob, y = _binary(rng, (50, 3))  # any shape: every element is a prediction
    conf, acc, count = lb.reliability_curve(
        backend(prob), _labels(backend, y), n_bins=n_bins
    )
    ece = lb.expected_calibration_error(
        backend(prob), _labels(backend, y), n_bins=n_bins
    )
    r_conf, r_acc, r_count, r_ece = calibration_loop(prob, y, n_bins, backend.dtype)
    np.testing.assert_array_equal(backend.numpy(count), r_count)
    tol = {"rtol": 64 * backend.eps, "atol": 64 * backend.eps}
    np.testing.assert_allclose(backend.numpy(conf), r_conf, **tol)
    np.testing.assert_allclose(backend.numpy(acc), r_acc, **tol)
    np.testing.assert_allclose(float(ece), r_ece, **tol)


def test_binary_convention_at_the_threshold_and_the_ends():
    # p = 0.5 predicts class 1 with confidence 0.5; p = 0 predicts 0 with
    # confidence 1; binary confidences never fall below 1/2
    conf, acc, count = lb.reliability_curve(
        [0.5, 0.5, 0.0, 1.0], [1, 0, 0, 0], n_bins=2
    )
    np.testing.assert_array_equal(count, [2, 2])  # 0.5 is in (0, 0.5]
    np.testing.assert_array_equal(conf, [0.5, 1.0])
    np.testing.assert_array_equal(acc, [0.5, 0.5])


def test_binary_equals_the_two_column_multiclass_form_away_from_ties(rng):
    prob, y = _binary(rng, (300,))
    prob = prob[prob != 0.5]
    y = y[: prob.size]
    two = np.stack([1 - prob, prob], axis=1)
    for a, b in zip(
        lb.reliability_curve(prob, y, n_bins=10),
        lb.reliability_curve(two, y, n_bins=10),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    np.testing.assert_allclose(
        lb.expected_calibration_error(prob, y),
        lb.expected_calibration_error(two, y),
        rtol=1e-14,
    )


def test_empty_bins_give_nan_and_zero_count_and_counts_add_up(rng):
    prob, y = _multiclass(rng)
    conf, acc, count = lb.reliability_curve(prob, y, n_bins=15)
    empty = count == 0
    assert empty[0]  # top-class confidences of K = 4 classes are >= 1/4
    assert np.all(np.isnan(conf[empty])) and np.all(np.isnan(acc[empty]))
    assert not np.any(np.isnan(conf[~empty]))
    assert count.sum() == N
    curve = lb.reliability_curve(prob, y, n_bins=15)
    assert curve.count is curve[2]
    assert isinstance(curve, scoring.ReliabilityCurve)


def test_ece_is_zero_for_a_calibrated_toy_and_the_gap_otherwise():
    # 10 predictions at confidence 0.8, 8 of them right: calibrated
    prob = np.tile([0.8, 0.2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert float(lb.expected_calibration_error(prob, y)) == pytest.approx(
        0.0, abs=1e-15
    )
    # all right at confidence 0.8: under-confident by 0.2
    assert float(lb.expected_calibration_error(prob, np.zeros(10, int))) == (
        pytest.approx(0.2, abs=1e-15)
    )


def test_ece_is_the_count_weighted_gap_of_the_curve(rng):
    prob, y = _multiclass(rng, n=500)
    conf, acc, count = lb.reliability_curve(prob, y, n_bins=12)
    filled = count > 0
    weighted = np.sum(count[filled] / count.sum() * np.abs(acc - conf)[filled])
    ece = lb.expected_calibration_error(prob, y, n_bins=12)
    np.testing.assert_allclose(ece, weighted, rtol=1e-13)
    assert 0.0 <= ece <= 1.0


def test_torch_keeps_the_device_and_gives_int64_counts():
    prob = torch.tensor([[0.7, 0.3], [0.2, 0.8]], dtype=torch.float32)
    curve = lb.reliability_curve(prob, torch.tensor([0, 0]), n_bins=5)
    assert curve.count.dtype == torch.int64
    assert curve.confidence.dtype == torch.float32
    assert curve.count.tolist() == [0, 0, 0, 2, 0]  # 0.7 and 0.8 in (0.6, 0.8]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_stay_on_the_device():
    prob = torch.softmax(torch.randn(64, 5, device="cuda"), -1)
    y = torch.randint(0, 5, (64,), device="cuda")
    for out in (lb.brier(prob, y), lb.expected_calibration_error(prob, y)):
        assert out.device == prob.device
    curve = lb.reliability_curve(prob, y)
    assert curve.count.device == prob.device
    torch.testing.assert_close(
        lb.expected_calibration_error(prob, y).cpu(),
        lb.expected_calibration_error(prob.cpu(), y.cpu()),
    )


# --- the API contract: messages ---

FUNCTIONS = [
    lambda p, t: lb.brier(p, t),
    lambda p, t: lb.expected_calibration_error(p, t),
    lambda p, t: lb.reliability_curve(p, t),
]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_bad_inputs_are_named(fn):
    with pytest.raises(ValueError, match="class indices must be an integer dtype"):
        fn([[0.5, 0.5]], [0.0])
    with pytest.raises(ValueError, match=r"`prob` must hold rows .* summing to 1"):
        fn([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match=r"`prob` must hold probabilities in \[0, 1"):
        fn([1.5, -0.5], [1, 0])
    with pytest.raises(ValueError, match=r"`target` must hold binary labels in \{0, 1"):
        fn([0.3, 0.5], [1, 2])
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\), found 2"):
        fn([[0.5, 0.5]], [2])
    with pytest.raises(ValueError, match=r"`prob` and `target` must have the same"):
        fn([0.3, 0.5], [1, 0, 1])
    with pytest.raises(ValueError, match=r"`target` must have shape \(N,\) = \(1,\)"):
        fn([[0.5, 0.5]], [0, 1])
    with pytest.raises(ValueError, match=r"`prob` must be 2-D"):
        fn(np.full((2, 2, 2), 0.5), np.zeros((2, 2), int))
    with pytest.raises(TypeError, match=r"`target` is a torch.Tensor but `prob`"):
        fn([0.3], torch.tensor([1]))


@pytest.mark.parametrize(
    "fn", [lb.expected_calibration_error, lb.reliability_curve], ids=str
)
def test_n_bins_is_checked(fn):
    for bad in (0, -3, 1.5, True, "15", None):
        with pytest.raises(ValueError, match=r"^n_bins must be a positive integer"):
            fn([0.3], [1], n_bins=bad)
    with pytest.raises(TypeError, match="a Python number"):
        fn([0.3], [1], n_bins=torch.tensor(15))
    assert fn([0.3], [1], n_bins=np.int64(3)) is not None


def test_empty_inputs():
    with pytest.raises(ValueError, match=r"`prob` is empty"):
        lb.brier(np.zeros((0, 3)), np.zeros(0, int))
    assert float(lb.brier(np.zeros(0), np.zeros(0), reduction="sum")) == 0.0
    with pytest.raises(ValueError, match="holds no predictions"):
        lb.expected_calibration_error(np.zeros((0, 3)), np.zeros(0, int))
    conf, _, count = lb.reliability_curve(np.zeros(0), np.zeros(0), n_bins=3)
    assert count.tolist() == [0, 0, 0]
    assert np.all(np.isnan(conf))


def test_reduction_is_checked_and_options_are_keyword_only():
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'avg'"):
        lb.brier([0.3], [1], reduction="avg")
    with pytest.raises(TypeError):
        lb.expected_calibration_error([0.3], [1], 15)


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in scoring.__all__:
        assert getattr(lb, name) is getattr(scoring, name)
        assert name in lb.__all__
    assert "scoring" in lb.__all__
