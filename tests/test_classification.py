"""Tests of lossbook.classification: values against torch.nn.functional and
mpmath, the API contract and its error messages, and properties (hypothesis)."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossbook as lb
from lossbook import classification

N, C = 6, 4


def probs_and_labels(rng):
    """Probabilities with exact 0 and 1 (torch's -100 clamp), soft and hard labels."""
    p = rng.uniform(0.001, 0.999, (N, C))
    y = rng.uniform(0.0, 1.0, (N, C))
    y[:3] = rng.integers(0, 2, (3, C))
    p[0, :4] = [0.0, 1.0, 0.0, 1.0]
    y[0, :4] = [1.0, 0.0, 0.0, 1.0]  # two saturated mistakes, two perfect hits
    return p, y


def logits_and_labels(rng):
    z = 3.0 * rng.standard_normal((N, C))
    y = rng.uniform(0.0, 1.0, (N, C))
    y[:3] = rng.integers(0, 2, (3, C))
    return z, y


def close_to_torch(got, ref, bound, reduction):
    """|got - ref| <= bound, with the elementwise ``bound`` reduced like the loss."""
    if reduction == "sum":
        bound = bound.sum()
    elif reduction == "mean":
        bound = bound.mean()
    diff = np.abs(np.asarray(got, np.float64) - np.asarray(ref, np.float64))
    assert np.all(diff <= bound), (diff.max(), np.max(bound))


# --- binary cross-entropy on probabilities ---


@pytest.mark.parametrize("weighting", ["none", "elementwise", "per-class"])
def test_bce_matches_torch(backend, reduction, rng, weighting):
    p, y = probs_and_labels(rng)
    w = {"none": None, "elementwise": rng.uniform(0, 2, (N, C))}.get(
        weighting, rng.uniform(0, 2, C)
    )
    kw = {} if w is None else {"weight": backend(w)}
    got = lb.binary_cross_entropy(backend(p), backend(y), reduction=reduction, **kw)
    backend.check_native(got, (N, C) if reduction == "none" else ())
    tkw = {} if w is None else {"weight": backend.torch(w)}
    ref = F.binary_cross_entropy(
        backend.torch(p), backend.torch(y), reduction=reduction, **tkw
    )
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=8 * backend.eps)


def test_bce_clamps_each_log_at_minus_100_as_torch_does():
    out = lb.binary_cross_entropy(
        [0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0], reduction="none"
    )
    np.testing.assert_array_equal(out, [100.0, 100.0, 0.0, 0.0])


def test_bce_keeps_tiny_losses_where_log_of_one_minus_p_would_round():
    p = np.array([1e-20, 1e-300])
    out = lb.binary_cross_entropy(p, np.zeros(2), reduction="none")
    np.testing.assert_allclose(out, p, rtol=1e-15)  # -log(1 - p) = p + O(p^2)


# --- binary cross-entropy with logits ---


@pytest.mark.parametrize(
    "option", ["plain", "weight", "weight-per-class", "pos_weight", "both"]
)
def test_bce_with_logits_matches_torch(backend, reduction, rng, option):
    z, y = logits_and_labels(rng)
    w = rng.uniform(0, 2, (N, C)) if option in ("weight", "both") else None
    if option == "weight-per-class":
        w = rng.uniform(0, 2, C)
    pw = rng.uniform(0.5, 3, C) if option in ("pos_weight", "both") else None
    kw = {
        k: backend(v) for k, v in (("weight", w), ("pos_weight", pw)) if v is not None
    }
    tkw = {
        k: backend.torch(v)
        for k, v in (("weight", w), ("pos_weight", pw))
        if v is not None
    }
    got = lb.binary_cross_entropy_with_logits(
        backend(z), backend(y), reduction=reduction, **kw
    )
    backend.check_native(got, (N, C) if reduction == "none" else ())
    ref = F.binary_cross_entropy_with_logits(
        backend.torch(z), backend.torch(y), reduction=reduction, **tkw
    )
    # torch computes (1 - y) z + softplus(-z), whose rounding error scales
    # with |z| rather than with the loss: allow that much
    scale = (1.0 if w is None else np.abs(w)) * (1.0 + (0 if pw is None else pw))
    bound = 8 * backend.eps * scale * (np.abs(z) + 1.0)
    close_to_torch(backend.numpy(got), ref.numpy(), bound, reduction)


def test_bce_with_logits_equals_bce_of_the_sigmoid(rng):
    z, y = logits_and_labels(rng)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(
        lb.binary_cross_entropy_with_logits(z, y, reduction="none"),
        lb.binary_cross_entropy(p, y, reduction="none"),
        rtol=1e-12,
    )


MAX_ULPS_BCE_LOGITS = 4


def _bce_logit_grid(rng):
    special = [
        1e4,
        1e3,
        100.0,
        88.0,
        40.0,
        36.0,
        30.0,
        17.0,
        10.0,
        1.0,
        0.1,
        1e-5,
        1e-30,
        0.0,
    ]
    mags = np.concatenate([special, 10.0 ** rng.uniform(-8, 4, 60)])
    z = np.concatenate([mags, -mags])
    y = np.array([0.0, 1.0, 0.25])
    return np.repeat(z, y.size), np.tile(y, z.size)


def test_bce_with_logits_is_correct_to_a_few_ulps_from_minus_1e4_to_1e4(backend, mp):
    z, y = _bce_logit_grid(np.random.default_rng(3))
    z, y = z.astype(backend.dtype), y.astype(backend.dtype)
    got = backend.numpy(
        lb.binary_cross_entropy_with_logits(backend(z), backend(y), reduction="none")
    )
    assert np.all(np.isfinite(got))
    errors = [
        mp.ulps(g, mp.bce_logits(a, b), backend.dtype)
        for g, a, b in zip(got, z, y, strict=True)
    ]
    worst = int(np.argmax(errors))
    print(
        f"\nbinary_cross_entropy_with_logits {backend}: max error "
        f"{errors[worst]:.2f} ulp at z = {z[worst]!r}, y = {y[worst]!r}"
    )
    assert errors[worst] <= MAX_ULPS_BCE_LOGITS


@pytest.mark.parametrize(("z", "y"), [(40.0, 1.0), (-40.0, 0.0), (17.0, 1.0)])
def test_bce_with_logits_keeps_tiny_losses_exact(backend, mp, z, y):
    got = lb.binary_cross_entropy_with_logits(backend([z]), backend([y]))
    exact = mp.bce_logits(z, y)
    assert 0 < float(got) < 1e-7
    assert mp.ulps(float(got), exact, backend.dtype) <= 2


def test_bce_with_logits_beats_torch_where_torch_loses_digits(mp):
    z = torch.tensor([-30.0, -20.0], dtype=torch.float64)
    y = torch.zeros(2, dtype=torch.float64)
    ours = lb.binary_cross_entropy_with_logits(z, y, reduction="none")
    theirs = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    for k in range(2):
        exact = mp.bce_logits(z[k].item(), 0.0)
        err_ours = mp.ulps(ours[k].item(), exact, np.float64)
        err_torch = mp.ulps(theirs[k].item(), exact, np.float64)
        rel_torch = float(abs(theirs[k].item() - exact) / exact)
        print(
            f"\nz = {z[k].item():g}, y = 0: lossbook {err_ours:.2f} ulp, "
            f"torch {err_torch:.3g} ulp (relative error {rel_torch:.1e})"
        )
        assert err_ours <= 1
        assert err_ours < err_torch


# --- softmax cross-entropy ---

CE_OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "smoothing": {"label_smoothing": 0.1},
    "weight+smoothing": {"weight": True, "label_smoothing": 0.3},
}


@pytest.mark.parametrize("target_kind", ["index", "prob"])
@pytest.mark.parametrize("option", list(CE_OPTIONS))
def test_cross_entropy_matches_torch(backend, reduction, rng, target_kind, option):
    z = 3.0 * rng.standard_normal((N, C))
    idx = rng.integers(0, C, N)
    idx[0] = C - 1
    if target_kind == "index":
        t, tt = backend(idx, dtype=np.int64), torch.from_numpy(idx)
    else:
        prob = rng.dirichlet(np.ones(C), N)
        t, tt = backend(prob), backend.torch(prob)
    options = dict(CE_OPTIONS[option])
    kw, tkw = dict(options), dict(options)
    if options.get("weight"):
        w = rng.uniform(0.2, 2.0, C)
        kw["weight"], tkw["weight"] = backend(w), backend.torch(w)
    got = lb.cross_entropy(backend(z), t, reduction=reduction, **kw)
    backend.check_native(got, (N,) if reduction == "none" else ())
    ref = F.cross_entropy(backend.torch(z), tt, reduction=reduction, **tkw)
    # torch's log_softmax, z - max - log(sum exp(z - max)), errs by ~eps * |z|
    # (it loses tiny losses); allow that much, weighted like the loss
    per_row = F.cross_entropy(backend.torch(z), tt, reduction="none", **tkw)
    w = tkw["weight"].numpy() if "weight" in tkw else np.ones(C)
    bound = 16 * backend.eps * (per_row.numpy() + (np.abs(z).max(1) + 1) * w.max())
    if reduction == "mean":  # a weighted mean divides by sum w[target], not N
        divisor = per_row.numpy().sum() / ref.numpy()
        bound = bound * N / divisor
    close_to_torch(backend.numpy(got), ref.numpy(), bound, reduction)


def test_cross_entropy_smoothing_equals_smoothed_probability_targets(rng):
    z = rng.standard_normal((N, C))
    idx = rng.integers(0, C, N)
    for eps in (0.0, 0.2, 0.7):
        a = lb.cross_entropy(z, idx, label_smoothing=eps, reduction="none")
        b = lb.cross_entropy(z, lb.smooth_labels(idx, C, epsilon=eps), reduction="none")
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_cross_entropy_with_one_hot_probabilities_equals_indices(rng, backend):
    z = rng.standard_normal((N, C))
    idx = rng.integers(0, C, N)
    one_hot = np.eye(C)[idx]
    a = lb.cross_entropy(backend(z), backend(idx, dtype=np.int64), reduction="none")
    b = lb.cross_entropy(backend(z), backend(one_hot), reduction="none")
    np.testing.assert_allclose(backend.numpy(a), backend.numpy(b), rtol=backend.eps)


MAX_ULPS_CROSS_ENTROPY = 4


# logit rows whose differences z_j - z_k are exact in float32 and float64:
# logits up to 1e4 in size, losses from 0 through tiny (e^-40) to 2e4
CE_ROWS = [
    [1e4, 0.0, -1e4],
    [1e4, 1e4 - 1, 0.0],
    [-1e4, 1e4, 3.0],
    [40.0, 0.0, 0.0],
    [0.0, -40.0, -36.0],
    [100.0, 0.0, 0.0],
    [0.5, 0.0, -0.5],
    [0.0, 0.0, 0.0],
    [2.0, 1.0, 0.125],
    [745.0, 0.0, -745.0],
    [88.0, 0.0, 1.0],
    [17.0, 0.0, 1.0],
]


def _ce_worst(backend, mp, z):
    errors, where = [], []
    for k in range(z.shape[1]):  # every class as the target
        t = np.full(len(z), k)
        got = backend.numpy(
            lb.cross_entropy(backend(z), backend(t, dtype=np.int64), reduction="none")
        )
        assert np.all(np.isfinite(got))
        for i, g in enumerate(got):
            errors.append(mp.ulps(g, mp.cross_entropy(z[i], k), backend.dtype))
            where.append((z[i].tolist(), k))
    worst = int(np.argmax(errors))
    return errors[worst], where[worst]


def test_cross_entropy_is_correct_to_a_few_ulps_up_to_logits_of_1e4(backend, mp):
    z = np.asarray(CE_ROWS, dtype=backend.dtype)
    worst, (row, k) = _ce_worst(backend, mp, z)
    print(f"\ncross_entropy {backend}: max error {worst:.2f} ulp at {row}, target {k}")
    assert worst <= MAX_ULPS_CROSS_ENTROPY


def test_cross_entropy_is_correct_to_a_few_ulps_for_random_logits(backend, mp):
    # Regression test: rounding z_j - z_top to a float changes exp() by a relative
    # |z_j - z_top| * eps, which once cost ~190 ulp in float64 (logits
    # (-465.90..., 605.43..., 14.25...), target 1, true loss near e^-591).
    # _neg_log_softmax now carries the rounding error of the difference (TwoSum).
    rng = np.random.default_rng(5)
    scale = 10.0 ** rng.uniform(-3, 4, (40, 1))
    z = (scale * rng.standard_normal((40, 3))).astype(backend.dtype)
    worst, (row, k) = _ce_worst(backend, mp, z)
    print(f"\ncross_entropy {backend}: max error {worst:.2f} ulp at {row}, target {k}")
    assert worst <= MAX_ULPS_CROSS_ENTROPY


def test_cross_entropy_beats_torch_on_tiny_losses(mp):
    z = torch.tensor([[40.0, 0.0, 0.0], [20.0, 0.0, -1.0]], dtype=torch.float64)
    t = torch.tensor([0, 0])
    ours = lb.cross_entropy(z, t, reduction="none")
    theirs = F.cross_entropy(z, t, reduction="none")
    for i in range(2):
        exact = mp.cross_entropy(z[i].tolist(), 0)
        err_ours = mp.ulps(ours[i].item(), exact, np.float64)
        err_torch = mp.ulps(theirs[i].item(), exact, np.float64)
        print(f"\nce row {i}: lossbook {err_ours:.2f} ulp, torch {err_torch:.3g} ulp")
        assert err_ours <= 1
        assert err_ours < err_torch


# --- smooth_labels ---


@pytest.mark.parametrize("spread", ["all", "others"])
def test_smooth_labels_closed_forms(spread):
    k, eps = 5, 0.2
    q = lb.smooth_labels([0, 3], k, epsilon=eps, spread=spread)
    other = eps / k if spread == "all" else eps / (k - 1)
    true = 1 - eps + eps / k if spread == "all" else 1 - eps
    expected = np.full((2, k), other)
    expected[0, 0] = expected[1, 3] = true
    np.testing.assert_allclose(q, expected, rtol=1e-15)
    assert q.dtype == np.float64


def test_smooth_labels_follows_the_backend():
    q = lb.smooth_labels(torch.tensor([1, 0]), 3, epsilon=0.1)
    assert isinstance(q, torch.Tensor)
    assert q.dtype == torch.get_default_dtype()
    q = lb.smooth_labels(np.array([1, 0], np.int32), 3, epsilon=0.0)
    np.testing.assert_array_equal(q, np.eye(3)[[1, 0]])


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"num_classes": 1}, r"num_classes must be an integer >= 2, got 1"),
        ({"num_classes": 3.0}, r"num_classes must be an integer >= 2, got 3.0"),
        ({"num_classes": True}, r"num_classes must be an integer >= 2, got True"),
        ({"epsilon": 1.0}, r"epsilon must be a number in \[0, 1\), got 1.0"),
        ({"epsilon": -0.1}, r"epsilon must be a number in \[0, 1\), got -0.1"),
        ({"epsilon": math.nan}, r"epsilon must be a number in \[0, 1\), got nan"),
        ({"epsilon": True}, r"epsilon must be a number in \[0, 1\), got True"),
        ({"spread": "other"}, r"spread must be 'all' or 'others', got 'other'"),
        ({"target": [0, 3]}, r"`target` must hold class indices in \[0, 3\), found 3"),
        ({"target": [0, -1]}, r"class indices in \[0, 3\), found -1"),
        ({"target": [0.0, 1.0]}, r"`target` must hold integer class indices"),
        ({"target": [[0, 1]]}, r"`target` must be 1-D \(N,\).*got shape \(1, 2\)"),
    ],
)
def test_smooth_labels_errors(kwargs, msg):
    args = {"target": [0, 1], "num_classes": 3, "epsilon": 0.1} | kwargs
    target = args.pop("target")
    with pytest.raises(ValueError, match=msg):
        lb.smooth_labels(target, **args)


@pytest.mark.parametrize("make", [np.array, torch.tensor], ids=["numpy", "torch"])
def test_integer_options_as_arrays_are_a_type_error(make):
    # hyperparameters are Python numbers (only temperature, sigma and b take
    # tensors): reading a tensor's value would synchronise with its device
    z, t = torch.zeros(2, 3), torch.tensor([0, -100])
    with pytest.raises(TypeError, match=r"^ignore_index must be None or a Python"):
        lb.cross_entropy(z, t, ignore_index=make(-100))
    with pytest.raises(TypeError, match=r"^num_classes must be a Python number"):
        lb.smooth_labels([0, 1], make(3), epsilon=0.1)


def test_smooth_labels_accepts_numpy_integer_class_counts():
    q = lb.smooth_labels([1], np.int64(3), epsilon=0.3)
    assert q.shape == (1, 3)


# --- hinge, exponential, zero-one: closed forms ---


def test_hinge_and_exponential_closed_forms(backend, rng, reduction):
    s = 2 * rng.standard_normal((N, C))
    y = np.where(rng.uniform(size=(N, C)) < 0.5, -1.0, 1.0)
    s[0, :2] = [1.0, -2.0]
    y[0, :2] = [1.0, -1.0]  # on the margin (m = 1) and at y s = 2 (m = 2)
    for m in (1.0, 2.0, 0.5):
        got = lb.hinge(backend(s), backend(y), margin=m, reduction=reduction)
        expected = np.maximum(
            0.0, m - y.astype(backend.dtype) * s.astype(backend.dtype)
        )
        _compare_reduced(backend, got, expected, reduction)
    got = lb.exponential(backend(s), backend(y), reduction=reduction)
    expected = np.exp(-y * s)
    _compare_reduced(backend, got, expected, reduction)


def _compare_reduced(backend, got, per_element, reduction):
    backend.check_native(got, per_element.shape if reduction == "none" else ())
    expected = {
        "none": per_element,
        "sum": per_element.sum(),
        "mean": per_element.mean(),
    }[reduction]
    np.testing.assert_allclose(
        backend.numpy(got), expected, rtol=8 * backend.eps, atol=8 * backend.eps
    )


@pytest.mark.parametrize("labels", [np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_zero_one_counts_mistakes(kind, labels, reduction):
    p = np.array([[1, 0, 2], [1, 1, 0]]).astype(labels)
    t = np.array([[1, 1, 2], [0, 1, 0]]).astype(labels)
    make = torch.from_numpy if kind == "torch" else np.asarray
    got = lb.zero_one(make(p), make(t), reduction=reduction)
    expected = (p != t) * 1.0
    expected = {"none": expected, "sum": expected.sum(), "mean": expected.mean()}
    np.testing.assert_allclose(np.asarray(got), expected[reduction], rtol=1e-7)
    assert got.dtype == (torch.get_default_dtype() if kind == "torch" else np.float64)


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
def test_zero_one_refuses_floating_labels_and_suggests_a_threshold(make):
    msg = (
        r"`pred_labels` must hold integer or boolean labels, got dtype .*float.*; "
        r"threshold scores or probabilities first, e.g. `prob >= 0.5`"
    )
    with pytest.raises(ValueError, match=msg):
        lb.zero_one(make(np.array([0.9, 0.2])), make(np.array([1, 0])))
    with pytest.raises(ValueError, match=r"`target_labels` must hold integer or bool"):
        lb.zero_one(make(np.array([1, 0])), make(np.array([1.0, 0.0])))
    prob = make(np.array([0.9, 0.2]))
    assert float(lb.zero_one(prob >= 0.5, make(np.array([1, 1])))) == 0.5


def test_zero_one_compares_large_integer_labels_exactly():
    a, b = np.array([2**60 + 1]), np.array([2**60])  # equal once in float64
    assert float(lb.zero_one(a, b)) == 1.0
    assert float(lb.zero_one(torch.tensor(a), torch.tensor(b))) == 1.0


def test_zero_one_of_integers_is_a_float_rate():
    out = lb.zero_one(np.array([1, 2, 3]), np.array([1, 2, 4]))
    assert out.dtype == np.float64
    assert float(out) == pytest.approx(1 / 3)
    out = lb.zero_one(torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert out.dtype == torch.get_default_dtype()


# --- the API contract: kinds, dtypes, shapes, reductions, empties ---

# (function, valid first argument, valid target) for a 2 x 3 problem
CALLS = {
    "binary_cross_entropy": (
        lb.binary_cross_entropy,
        np.full((2, 3), 0.3),
        np.ones((2, 3)),
    ),
    "binary_cross_entropy_with_logits": (
        lb.binary_cross_entropy_with_logits,
        np.zeros((2, 3)),
        np.ones((2, 3)),
    ),
    "cross_entropy": (lb.cross_entropy, np.zeros((2, 3)), np.array([0, 2])),
    "hinge": (lb.hinge, np.zeros((2, 3)), np.ones((2, 3))),
    "exponential": (lb.exponential, np.zeros((2, 3)), -np.ones((2, 3))),
    "zero_one": (lb.zero_one, np.zeros((2, 3), int), np.ones((2, 3), int)),
}
FIRST = {
    "binary_cross_entropy": "prob",
    "binary_cross_entropy_with_logits": "logits",
    "cross_entropy": "logits",
    "hinge": "scores",
    "exponential": "scores",
    "zero_one": "pred_labels",
}


@pytest.mark.parametrize("name", [n for n in CALLS if n != "zero_one"])
def test_kinds_and_dtypes(name):
    fn, a, t0 = CALLS[name]
    for dtype, tdtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        # a floating target of another dtype would promote (float32 with
        # float64 computes in float64, as torch does)
        t = t0.astype(dtype) if t0.dtype.kind == "f" else t0
        out = fn(a.astype(dtype), t)
        assert isinstance(out, np.ndarray | np.generic)
        assert out.dtype == dtype
        assert np.ndim(out) == 0
        out = fn(torch.from_numpy(a.astype(dtype)), torch.from_numpy(t))
        assert out.dtype == tdtype
        assert out.shape == ()
    out = fn(a.tolist(), t0.tolist(), reduction="none")  # lists work too
    assert isinstance(out, np.ndarray)
    assert out.shape == ((2,) if name == "cross_entropy" else (2, 3))


@pytest.mark.parametrize(
    ("fn", "a", "t"),
    [
        (lb.binary_cross_entropy, 0.25, 1),
        (lb.binary_cross_entropy_with_logits, 2.0, 0),
        (lb.hinge, 0.5, -1),
        (lb.exponential, 1, 1),
        (lb.zero_one, 1, 0),
    ],
)
def test_python_scalars_are_accepted(fn, a, t):
    out = fn(a, t)
    assert out.dtype == np.float64
    assert np.ndim(out) == 0
    assert float(out) == float(fn([a], [t], reduction="sum"))


@pytest.mark.parametrize("name", list(CALLS))
def test_mixing_numpy_and_torch_is_a_type_error_naming_both(name):
    fn, a, t = CALLS[name]
    first = FIRST[name]
    with pytest.raises(TypeError, match=rf"`{first}` is a torch.Tensor but `\w+` is"):
        fn(torch.from_numpy(a), t)
    with pytest.raises(TypeError, match=r"is a torch.Tensor but .* numpy.ndarray"):
        fn(a, torch.from_numpy(t))


@pytest.mark.parametrize("name", [n for n in CALLS if n != "cross_entropy"])
def test_shape_mismatch_names_both_shapes(name):
    fn, a, t = CALLS[name]
    msg = (
        rf"`{FIRST[name]}` and `\w+` must have the same shape, got \(2, 3\) and \(3,\)"
    )
    with pytest.raises(ValueError, match=msg):
        fn(a, t[0])


@pytest.mark.parametrize("name", list(CALLS))
def test_a_reduction_typo_lists_the_three(name):
    fn, a, t = CALLS[name]
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'avg'"):
        fn(a, t, reduction="avg")


@pytest.mark.parametrize("name", [n for n in CALLS if n != "zero_one"])
def test_empty_inputs_mean_raises_sum_is_zero(name, backend):
    fn, a, t = CALLS[name]
    a0 = backend(a[:0])
    t0 = backend(t[:0], dtype=t.dtype if name == "cross_entropy" else None)
    with pytest.raises(ValueError, match=rf"`{FIRST[name]}` is empty"):
        fn(a0, t0)
    total = fn(a0, t0, reduction="sum")
    backend.check_native(total)
    assert float(total) == 0.0
    assert tuple(fn(a0, t0, reduction="none").shape) == (
        (0,) if name == "cross_entropy" else (0, 3)
    )


def _numpy_torch_cases(rng):
    z, y = logits_and_labels(rng)
    p, _ = probs_and_labels(rng)
    s = 2 * rng.standard_normal((N, C))
    signed = np.where(y < 0.5, -1.0, 1.0)
    idx = rng.integers(0, C, N)
    w, pw = rng.uniform(0.1, 2, (N, C)), rng.uniform(0.5, 3, C)
    cw = rng.uniform(0.1, 2, C)
    return {
        "bce": (lb.binary_cross_entropy, p, y, {"weight": w}),
        "bce_logits": (lb.binary_cross_entropy_with_logits, z, y,
                       {"weight": w, "pos_weight": pw}),
        "ce_index": (lb.cross_entropy, z, idx, {"weight": cw, "label_smoothing": 0.1}),
        "ce_prob": (lb.cross_entropy, z, rng.dirichlet(np.ones(C), N), {"weight": cw}),
        "hinge": (lb.hinge, s, signed, {"margin": 0.5}),
        "exponential": (lb.exponential, s, signed, {}),
        "zero_one": (lb.zero_one, np.sign(s).astype(int), signed.astype(int), {}),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case", ["bce", "bce_logits", "ce_index", "ce_prob", "hinge", "exponential"]
)  # fmt: skip
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_result_equals_torch_result(case, dtype, reduction, rng):
    fn, a, t, options = _numpy_torch_cases(rng)[case]
    a = a.astype(dtype)
    if t.dtype.kind == "f":
        t = t.astype(dtype)
    kw = {k: v.astype(dtype) for k, v in options.items() if isinstance(v, np.ndarray)}
    kw |= {k: v for k, v in options.items() if not isinstance(v, np.ndarray)}
    tkw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
           for k, v in kw.items()}  # fmt: skip
    ours = fn(a, t, reduction=reduction, **kw)
    theirs = fn(torch.from_numpy(a), torch.from_numpy(t), reduction=reduction, **tkw)
    assert np.asarray(ours).dtype == dtype
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=8 * np.finfo(dtype).eps)


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in classification.__all__:
        assert getattr(lb, name) is getattr(classification, name)
        assert name in lb.__all__


# --- the bad-value rules of API.md, message asserted ---

PROB_MSG = r"`prob` must hold probabilities in \[0, 1\], found "
LABEL_MSG = r"`target` must hold labels in \[0, 1\], found "


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
@pytest.mark.parametrize(
    ("prob", "target", "msg"),
    [
        ([0.5, 1.5], [0.0, 1.0], PROB_MSG + "1.5"),
        ([-0.1, 0.5], [0.0, 1.0], PROB_MSG + "-0.1"),
        ([0.5, math.nan], [0.0, 1.0], PROB_MSG + "nan"),
        ([0.5, 0.5], [0.0, 2.0], LABEL_MSG + "2.0"),
        ([0.5, 0.5], [-1.0, 1.0], LABEL_MSG + "-1.0"),
        ([0.5, 0.5], [math.nan, 1.0], LABEL_MSG + "nan"),
    ],
)
def test_bce_rejects_values_outside_0_1(make, prob, target, msg):
    with pytest.raises(ValueError, match=msg):
        lb.binary_cross_entropy(make(prob), make(target))


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
@pytest.mark.parametrize(
    ("bad", "shown"), [(1.5, "1.5"), (-1.0, "-1.0"), (math.nan, "nan")]
)
def test_bce_with_logits_rejects_targets_outside_0_1(make, bad, shown):
    with pytest.raises(ValueError, match=LABEL_MSG + shown):
        lb.binary_cross_entropy_with_logits(make([0.0, 3.0]), make([1.0, bad]))
    with pytest.raises(ValueError, match=LABEL_MSG + shown):
        lb.grad.binary_cross_entropy_with_logits(make([0.0, 3.0]), make([1.0, bad]))


@pytest.mark.parametrize(
    ("fn", "kw", "msg"),
    [
        (
            lb.binary_cross_entropy,
            {"weight": np.ones(4)},
            r"`weight` of shape \(4,\) must broadcast to the shape \(2, 3\) of `prob`",
        ),
        (
            lb.binary_cross_entropy_with_logits,
            {"pos_weight": np.ones(2)},
            r"`pos_weight` of shape \(2,\) must broadcast to the shape \(2, 3\) of "
            r"`logits`",
        ),
        (
            lb.binary_cross_entropy_with_logits,
            {"weight": np.ones((1, 2, 3))},
            r"`weight` of shape \(1, 2, 3\) must broadcast to the shape \(2, 3\)",
        ),
    ],
)
def test_weights_must_broadcast_to_the_input(fn, kw, msg):
    with pytest.raises(ValueError, match=msg):
        fn(np.full((2, 3), 0.5), np.ones((2, 3)), **kw)


@pytest.mark.parametrize(
    "fn", [lb.hinge, lb.exponential, lb.grad.hinge, lb.grad.exponential]
)
@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
@pytest.mark.parametrize(
    ("bad", "shown"), [(0.0, "0.0"), (2.0, "2.0"), (math.nan, "nan")]
)
def test_signed_labels_must_be_minus_one_or_one(fn, make, bad, shown):
    msg = r"`target` must hold signed labels in \{-1, 1\}, found " + shown
    with pytest.raises(ValueError, match=msg):
        fn(make([0.5, 0.5, 0.5]), make([1.0, -1.0, bad]))


@pytest.mark.parametrize("fn", [lb.hinge, lb.grad.hinge])
@pytest.mark.parametrize("margin", [0.0, -1.0, math.nan, math.inf, True, "1"])
def test_margin_must_be_positive(fn, margin):
    msg = rf"^margin must be a positive number \(> 0\), got {re.escape(repr(margin))}$"
    with pytest.raises(ValueError, match=msg):
        fn([0.5], [1.0], margin=margin)


@pytest.mark.parametrize("fn", [lb.cross_entropy, lb.grad.cross_entropy])
@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
class TestCrossEntropyErrors:
    def test_class_indices_outside_0_k(self, fn, make):
        z = make(np.zeros((2, 3)))
        for bad in (3, -1):
            with pytest.raises(
                ValueError,
                match=rf"`target` must hold class indices in \[0, 3\), found {bad}$",
            ):
                fn(z, make(np.array([0, bad])))

    def test_non_integer_indices(self, fn, make):
        z = make(np.zeros((2, 3)))
        # floats of shape (N,) are class indices of the wrong dtype
        with pytest.raises(
            ValueError,
            match=r"`target` of shape \(2,\) holds class indices, and class indices "
            r"must be an integer dtype, got .*float64",
        ):
            fn(z, make(np.array([0.0, 1.0])))
        # bool indices are refused for both backends
        with pytest.raises(ValueError, match=r"class indices must be an integer dtype"):
            fn(z, make(np.array([True, False])))
        with pytest.raises(ValueError, match=r"class indices must be an integer dtype"):
            fn(make(np.zeros((2, 3, 4))), make(np.zeros((2, 4))))  # segmentation

    def test_integer_targets_of_the_logits_shape(self, fn, make):
        with pytest.raises(
            ValueError,
            match=r"probability targets must be floating \(one-hot\? use "
            r"\.float\(\)\), got dtype .*int64",
        ):
            fn(make(np.zeros((2, 3))), make(np.eye(3, dtype=np.int64)[[0, 2]]))

    def test_probability_rows_must_sum_to_one(self, fn, make):
        with pytest.raises(
            ValueError,
            match=r"`target` must hold class probabilities summing to 1 along axis "
            r"1 \(to 0.001\), found a sum of 0.75",
        ):
            fn(make(np.zeros((2, 3))), make(np.array([[0.5, 0.5, 0], [0.25] * 3])))
        near = np.array([[0.5, 0.5, 0.0005]])  # sums to 1 + 5e-4: accepted
        fn(make(np.zeros((1, 3))), make(near))

    def test_ignore_index_must_be_an_integer(self, fn, make):
        for bad in (1.0, True, "x"):
            with pytest.raises(ValueError, match=r"^ignore_index must be None or an"):
                fn(make(np.zeros((2, 3))), make(np.array([0, 1])), ignore_index=bad)

    def test_ignored_targets_may_lie_outside_0_k(self, fn, make):
        z = make(np.zeros((3, 3)))
        fn(z, make(np.array([0, -100, 2])), ignore_index=-100)
        with pytest.raises(ValueError, match=r"class indices in \[0, 3\), found -100"):
            fn(z, make(np.array([0, -100, 2])))
        with pytest.raises(ValueError, match=r"class indices in \[0, 3\), found 7"):
            fn(z, make(np.array([7, -100, 2])), ignore_index=-100)

    def test_index_target_shape(self, fn, make):
        with pytest.raises(
            ValueError,
            match=r"`target` must be class indices of shape \(N,\) = \(2,\) or "
            r"probabilities of shape \(2, 3\), got \(3,\)",
        ):
            fn(make(np.zeros((2, 3))), make(np.array([0, 1, 2])))
        with pytest.raises(
            ValueError,
            match=r"of shape \(N, d1, ...\) = \(2, 4\) or probabilities of shape "
            r"\(2, 3, 4\), got \(2, 3\)",
        ):
            fn(make(np.zeros((2, 3, 4))), make(np.zeros((2, 3), np.int64)))

    def test_probability_targets_outside_0_1(self, fn, make):
        with pytest.raises(
            ValueError,
            match=r"`target` must hold class probabilities in \[0, 1\], found 1.5",
        ):
            fn(make(np.zeros((1, 3))), make(np.array([[1.5, -0.5, 0.0]])))
        with pytest.raises(ValueError, match=r"found nan"):
            fn(make(np.zeros((1, 2))), make(np.array([[math.nan, 0.5]])))

    def test_logits_must_be_at_least_2d(self, fn, make):
        with pytest.raises(
            ValueError,
            match=r"`logits` must be \(N, K\) or \(N, K, d1, ...\).*got shape \(3,\)",
        ):
            fn(make(np.zeros(3)), make(np.array([0, 1, 2])))

    def test_weight_shape(self, fn, make):
        with pytest.raises(
            ValueError,
            match=r"`weight` must have shape \(K,\) = \(3,\), one weight per class, "
            r"got \(2,\)",
        ):
            fn(make(np.zeros((2, 3))), make(np.array([0, 1])), weight=make(np.ones(2)))

    @pytest.mark.parametrize("eps", [1.0, -0.1, 1.5, math.nan, True, None])
    def test_label_smoothing_in_0_1(self, fn, make, eps):
        shown = re.escape(repr(eps))
        msg = rf"^label_smoothing must be a number in \[0, 1\), got {shown}$"
        with pytest.raises(ValueError, match=msg):
            fn(make(np.zeros((2, 3))), make(np.array([0, 1])), label_smoothing=eps)


# --- properties (hypothesis) ---

FEW = settings(max_examples=50)
moderate = st.floats(-50, 50, allow_nan=False)


def matrices(elements, min_k=2):
    return st.integers(1, 5).flatmap(
        lambda n: st.integers(min_k, 5).flatmap(
            lambda k: hnp.arrays(np.float64, (n, k), elements=elements)
        )
    )


@FEW
@given(z=matrices(moderate), data=st.data())
def test_every_classification_loss_is_non_negative(z, data):
    n, k = z.shape
    y01 = data.draw(hnp.arrays(np.float64, z.shape, elements=st.floats(0, 1)))
    p = data.draw(hnp.arrays(np.float64, z.shape, elements=st.floats(0, 1)))
    signed = np.where(y01 < 0.5, -1.0, 1.0)
    idx = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    eps = data.draw(st.floats(0, 0.99))
    losses = [
        lb.binary_cross_entropy(p, y01, reduction="none"),
        lb.binary_cross_entropy_with_logits(z, y01, reduction="none"),
        lb.cross_entropy(z, idx, label_smoothing=eps, reduction="none"),
        lb.cross_entropy(
            z, (y01 + 0.01) / (y01 + 0.01).sum(1, keepdims=True), reduction="none"
        ),
        lb.hinge(z, signed, reduction="none"),
        lb.exponential(z, signed, reduction="none"),
        lb.zero_one(np.sign(z).astype(int), signed.astype(int), reduction="none"),
    ]
    for v in losses:
        assert np.all(v >= 0)


@FEW
@given(z=matrices(st.floats(-20, 20)), shift=st.floats(-100, 100), data=st.data())
def test_cross_entropy_is_invariant_to_adding_a_constant_to_a_row(z, shift, data):
    n, k = z.shape
    idx = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    row = data.draw(st.integers(0, n - 1))
    shifted = z.copy()
    shifted[row] += shift
    a = lb.cross_entropy(z, idx, reduction="none")
    b = lb.cross_entropy(shifted, idx, reduction="none")
    # the shift costs at most an ulp of |shift| in each logit difference
    np.testing.assert_allclose(b, a, rtol=1e-13, atol=8e-15 * (abs(shift) + 20))


@FEW
@given(
    k=st.integers(2, 9),
    eps=st.floats(0.0, 0.85),
    data=st.data(),
)
def test_smooth_labels_rows_sum_to_one_and_conventions_coincide(k, eps, data):
    idx = data.draw(hnp.arrays(np.int64, (3,), elements=st.integers(0, k - 1)))
    others = lb.smooth_labels(idx, k, epsilon=eps, spread="others")
    np.testing.assert_allclose(others.sum(axis=1), 1.0, rtol=1e-14)
    eps_all = eps * k / (k - 1)
    if eps_all < 1:
        every = lb.smooth_labels(idx, k, epsilon=eps_all, spread="all")
        np.testing.assert_allclose(every.sum(axis=1), 1.0, rtol=1e-14)
        np.testing.assert_allclose(every, others, rtol=1e-13, atol=1e-15)
    assert np.all(others[np.arange(3), idx] == np.float64(1 - eps))


@FEW
@given(z=matrices(st.floats(-30, 30)), data=st.data())
def test_cross_entropy_is_the_mpmath_log_softmax_up_to_its_conditioning(z, data, mp):
    # the error must stay within the conditioning of the log-softmax (backward
    # stability), plus a few ulps
    n, k = z.shape
    idx = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    got = lb.cross_entropy(z, idx, reduction="none")
    for i in range(n):
        with mpmath.workdps(80):  # log(sum exp) - z_y: an independent formula
            exact = mpmath.log(mpmath.fsum(mpmath.exp(mp.f(v)) for v in z[i]))
            exact -= mp.f(z[i, idx[i]])
        spread = float(z[i].max() - z[i].min())
        assert mp.ulps(got[i], exact, np.float64) <= 4 + spread


# --- KL divergence from target probabilities to softmax(logits) ---


def kl_data(rng, n=N, k=C):
    z = 3.0 * rng.standard_normal((n, k))
    q = rng.dirichlet(np.full(k, 0.8), n)
    q[0] = 0.0
    q[0, 1] = 1.0  # a one-hot row: 0 log 0 = 0 on the other classes
    q[1, :2] = [0.5, 0.5]
    q[1, 2:] = 0.0
    z[2, :3] = [1e4, 0.0, -1e4]  # huge logits
    return z, q


def test_kl_div_matches_torch_batchmean(backend, reduction, rng):
    z, q = kl_data(rng)
    got = lb.kl_div(backend(z), backend(q), reduction=reduction)
    backend.check_native(got, (N,) if reduction == "none" else ())
    log_p = F.log_softmax(backend.torch(z), -1)
    per_row = F.kl_div(log_p, backend.torch(q), reduction="none").sum(-1)
    ref = {
        "none": per_row,
        "sum": F.kl_div(log_p, backend.torch(q), reduction="sum"),
        "mean": F.kl_div(log_p, backend.torch(q), reduction="batchmean"),
    }[reduction]
    # torch's log_softmax errs by ~eps * |z| (as in the cross-entropy test)
    bound = 16 * backend.eps * (np.abs(per_row.numpy()) + np.abs(z).max(1) + 1)
    close_to_torch(backend.numpy(got), ref.numpy(), bound, reduction)


def test_kl_div_is_cross_entropy_minus_entropy_and_zero_at_the_target(rng):
    z, q = kl_data(rng)
    entropy = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0), axis=1)
    np.testing.assert_allclose(
        lb.kl_div(z, q, reduction="none"),
        lb.cross_entropy(z, q, reduction="none") - entropy,
        rtol=1e-12,
        atol=1e-12,
    )
    p = rng.dirichlet(np.ones(C), N)
    kl = lb.kl_div(np.log(p), p, reduction="none")
    np.testing.assert_allclose(kl, 0.0, atol=1e-14)


def test_kl_div_is_accurate_against_mpmath_up_to_its_conditioning(backend, mp):
    rng = np.random.default_rng(12)
    z, q = kl_data(rng, n=30, k=5)
    z = z.astype(backend.dtype)
    q = q.astype(backend.dtype)
    q /= q.sum(1, keepdims=True)
    got = backend.numpy(lb.kl_div(backend(z), backend(q), reduction="none"))
    assert np.all(np.isfinite(got))
    for i in range(len(z)):
        with mpmath.workdps(80):
            zs = [mp.f(v) for v in z[i]]
            lse = mpmath.log(mpmath.fsum(mpmath.exp(v - max(zs)) for v in zs))
            lse += max(zs)
            terms = [
                mp.f(qk) * (mpmath.log(mp.f(qk)) - zk + lse)
                for qk, zk in zip(q[i], zs, strict=True)
                if qk > 0
            ]
            exact = mpmath.fsum(terms)
            # the sum of the magnitudes: what rounding each term can cost
            scale = mpmath.fsum(
                mp.f(qk) * (abs(mpmath.log(mp.f(qk))) + (lse - zk))
                for qk, zk in zip(q[i], zs, strict=True)
                if qk > 0
            )
        err = abs(mp.f(got[i]) - exact)
        assert err <= 8 * backend.eps * (scale + 1), (i, float(err), float(scale))


def test_kl_div_gradients_are_softmax_minus_target_and_finite_at_zeros(rng):
    z, q = kl_data(rng)
    zt = torch.tensor(z, requires_grad=True)
    qt = torch.tensor(q, requires_grad=True)
    gz, gq = torch.autograd.grad(lb.kl_div(zt, qt), (zt, qt))
    expected = (torch.softmax(zt.detach(), -1) - qt.detach()) / N
    torch.testing.assert_close(gz, expected, rtol=1e-12, atol=1e-15)
    assert torch.isfinite(gq).all()
    assert torch.all(gq[q == 0] == 0)
    z2 = torch.tensor(2 * rng.standard_normal((3, 4)), requires_grad=True)
    q2 = torch.tensor(rng.dirichlet(np.ones(4), 3))
    assert torch.autograd.gradcheck(lambda a: lb.kl_div(a, q2), (z2,))
    assert torch.autograd.gradgradcheck(lambda a: lb.kl_div(a, q2), (z2,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_div_at_huge_logits_is_finite(dtype):
    z = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]], dtype=dtype)
    z.requires_grad_(True)
    q = torch.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], dtype=dtype)
    out = lb.kl_div(z, q, reduction="none")
    expected = [1.5e4 + math.log(0.5), 2e4 + math.log(2.0)]
    np.testing.assert_allclose(out.tolist(), expected, rtol=4 * torch.finfo(dtype).eps)
    (g,) = torch.autograd.grad(out.sum(), z)
    assert torch.isfinite(g).all()


def test_logit_gaps_beyond_the_largest_float_give_finite_losses(backend):
    # finite logits whose gap z_top - z overflows: the class has probability
    # 0, so where the target gives it weight 0 the true loss is finite (0 here)
    big = float(np.finfo(backend.dtype).max)
    z = backend([[big, 0.0, -big], [0.0, -big, big]])
    q = backend([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    index = backend([0, 2], dtype=np.int64)
    for out in (
        lb.cross_entropy(z, index, reduction="none"),
        lb.cross_entropy(z, q, reduction="none"),  # no fast path: the formula
        lb.cross_entropy(z, index, ignore_index=-100, reduction="none"),
        lb.kl_div(z, q, reduction="none"),
        lb.grad.cross_entropy(z, index, reduction="none"),
    ):
        np.testing.assert_array_equal(backend.numpy(out), np.zeros_like(out))
    # the class of the overflowing gap as the target: -log p = inf, the truth
    lost = lb.cross_entropy(z, backend([2, 1], dtype=np.int64), reduction="none")
    assert np.isposinf(backend.numpy(lost)).all()
    if backend.kind == "torch":
        z.requires_grad_(True)
        lb.cross_entropy(z, q).backward()
        assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
def test_kl_div_errors(make):
    z = make(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"must be floating \(one-hot\? use \.float"):
        lb.kl_div(z, make(np.array([[0, 1, 0], [1, 0, 0]])))
    with pytest.raises(ValueError, match=r"`target` must hold rows .* summing to 1"):
        lb.kl_div(z, make(np.full((2, 3), 0.5)))
    with pytest.raises(ValueError, match=r"class probabilities in \[0, 1\], found"):
        lb.kl_div(z, make(np.array([[1.5, -0.5, 0.0], [1.0, 0.0, 0.0]])))
    with pytest.raises(ValueError, match=r"`logits` and `target` must have the same"):
        lb.kl_div(z, make(np.full((2, 2), 0.5)))
    with pytest.raises(ValueError, match=r"`logits` must be 2-D"):
        lb.kl_div(make(np.zeros(3)), make(np.full(3, 1 / 3)))
    with pytest.raises(ValueError, match=r"`logits` is empty"):
        lb.kl_div(make(np.zeros((0, 3))), make(np.zeros((0, 3))))
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'batchmean'"):
        lb.kl_div(z, make(np.full((2, 3), 1 / 3)), reduction="batchmean")


# --- cross_entropy: segmentation layouts, ignore_index (second round) ---


def _ce_case(rng, spatial, kind, ignore):
    """Logits (N, K[, d1, d2]) and a target of ``kind``, with ignored entries."""
    shape = (N, C, 3, 2) if spatial else (N, C)
    z = 3.0 * rng.standard_normal(shape)
    z.flat[0] = 1e4  # a huge logit in the mix
    rest = (shape[0], *shape[2:])
    if kind == "prob":
        q = rng.dirichlet(np.ones(C), rest)  # (N, d1, d2, K)
        return z, np.moveaxis(q, -1, 1)
    idx = rng.integers(0, C, rest)
    if ignore is not None:
        idx.flat[::3] = ignore  # every third target ignored
    return z, idx


@pytest.mark.parametrize("spatial", [False, True], ids=["2d", "spatial"])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("weight", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("ignore", [None, -100, 1], ids=str)
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_matches_torch_in_every_combination(
    spatial, kind, weight, ignore, eps, reduction
):
    rng = np.random.default_rng(31)
    z, t = _ce_case(rng, spatial, kind, ignore)
    kw = {"label_smoothing": eps}
    if weight:
        kw["weight"] = torch.tensor(rng.uniform(0.2, 2.0, C))
    if ignore is not None:
        kw["ignore_index"] = ignore
    zt = torch.tensor(z, requires_grad=True)
    if kind == "prob" and ignore is not None:  # torch raises (its default aside)
        with pytest.raises(ValueError, match=r"ignore_index applies to class ind"):
            lb.cross_entropy(zt, torch.tensor(t), reduction=reduction, **kw)
        return
    got = lb.cross_entropy(zt, torch.tensor(t), reduction=reduction, **kw)
    ref_z = zt.detach().clone().requires_grad_(True)
    fkw = {**kw, "ignore_index": -100 if ignore is None else ignore}
    ref = F.cross_entropy(ref_z, torch.tensor(t), reduction=reduction, **fkw)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    # the gradient: autograd of ours, torch's, and lossbook.grad all agree
    (g,) = torch.autograd.grad(got.sum(), zt)
    (g_ref,) = torch.autograd.grad(ref.sum(), ref_z)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-15)
    analytic = lb.grad.cross_entropy(
        zt.detach(), torch.tensor(t), reduction=reduction, **kw
    )
    torch.testing.assert_close(analytic, g_ref, rtol=1e-12, atol=1e-15)


def test_cross_entropy_segmentation_on_every_backend(backend, reduction, rng):
    z, t = _ce_case(rng, True, "index", -100)
    got = lb.cross_entropy(
        backend(z), backend(t, np.int64), ignore_index=-100, reduction=reduction
    )
    backend.check_native(got, (N, 3, 2) if reduction == "none" else ())
    ref = F.cross_entropy(
        backend.torch(z), torch.tensor(t), ignore_index=-100, reduction=reduction
    )
    np.testing.assert_allclose(
        backend.numpy(got), ref.numpy(), rtol=64 * backend.eps, atol=64 * backend.eps
    )
    if reduction == "none":
        assert np.all(backend.numpy(got).flat[::3] == 0)  # the ignored targets


def test_segmentation_equals_the_flattened_rows(rng):
    z, t = _ce_case(rng, True, "index", None)
    rows = np.moveaxis(z, 1, -1).reshape(-1, C)
    np.testing.assert_allclose(
        lb.cross_entropy(z, t, reduction="none").ravel(),
        lb.cross_entropy(rows, t.ravel(), reduction="none"),
        rtol=1e-15,
    )


def test_cross_entropy_with_every_target_ignored_is_nan_as_in_torch():
    z = torch.zeros(2, 3)
    t = torch.tensor([-100, -100])
    assert torch.isnan(lb.cross_entropy(z, t, ignore_index=-100))
    assert torch.isnan(F.cross_entropy(z, t, ignore_index=-100))
    assert float(lb.cross_entropy(z, t, ignore_index=-100, reduction="sum")) == 0.0


@pytest.mark.parametrize(
    "options", [{}, {"weight": [1.0, 2.0, 3.0]}, {"label_smoothing": 0.1}], ids=str
)
def test_every_target_ignored_gives_a_zero_gradient_as_in_torch(options):
    # a batch of void pixels: NaN loss, but the parameters get 0, not NaN
    z = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.full((2, 2), -100)
    if "weight" in options:
        options = {"weight": torch.tensor(options["weight"], dtype=torch.float64)}
    ours = lb.cross_entropy(z, t, ignore_index=-100, **options)
    (g,) = torch.autograd.grad(ours, z)
    ref = F.cross_entropy(z, t, ignore_index=-100, **options)
    (g_ref,) = torch.autograd.grad(ref, z)
    assert torch.isnan(ours) and torch.isnan(ref)
    torch.testing.assert_close(g, g_ref, rtol=0, atol=0)  # zeros
    analytic = lb.grad.cross_entropy(z.detach(), t, ignore_index=-100, **options)
    torch.testing.assert_close(analytic, g, rtol=0, atol=0)
    # some targets kept: the mean over them, unchanged
    t[0, 0] = 1
    (g,) = torch.autograd.grad(lb.cross_entropy(z, t, ignore_index=-100, **options), z)
    (g_ref,) = torch.autograd.grad(
        F.cross_entropy(z, t, ignore_index=-100, **options), z
    )
    torch.testing.assert_close(g, g_ref)
