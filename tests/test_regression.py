"""Tests of lossbook.regression: values against torch.nn.functional and mpmath,
the API contract (kinds, dtypes, shapes, messages) and properties (hypothesis)."""

from __future__ import annotations

import math
import re
import warnings

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import regression

# (lossbook function, torch reference, options); every option of the contract
REFERENCES = {
    "mse": (lb.mse, F.mse_loss, {}),
    "mae": (lb.mae, F.l1_loss, {}),
    "huber": (lb.huber, F.huber_loss, {}),
    "huber-delta0.5": (lb.huber, F.huber_loss, {"delta": 0.5}),
    "huber-delta2.5": (lb.huber, F.huber_loss, {"delta": 2.5}),
    "smooth_l1": (lb.smooth_l1, F.smooth_l1_loss, {}),
    "smooth_l1-beta0": (lb.smooth_l1, F.smooth_l1_loss, {"beta": 0.0}),
    "smooth_l1-beta0.5": (lb.smooth_l1, F.smooth_l1_loss, {"beta": 0.5}),
    "smooth_l1-beta2.5": (lb.smooth_l1, F.smooth_l1_loss, {"beta": 2.5}),
}
LOSSES = [lb.mse, lb.mae, lb.huber, lb.smooth_l1, lb.log_cosh, lb.pinball]
SYMMETRIC = [loss for loss in LOSSES if loss is not lb.pinball]


def regression_data(rng, shape=(5, 7)):
    """Random pairs plus residuals exactly at 0 and at every kink tested."""
    pred = 2.0 * rng.standard_normal(shape)
    target = rng.standard_normal(shape)
    kinks = [0.5, -0.5, 1.0, -1.0, 2.5, -2.5]
    pred.flat[: len(kinks)] = kinks
    target.flat[: len(kinks)] = 0.0
    pred.flat[len(kinks)] = target.flat[len(kinks)]  # a perfect prediction
    return pred, target


# --- values against torch.nn.functional ---


@pytest.mark.parametrize("name", list(REFERENCES))
def test_values_match_torch_functional(name, backend, reduction, rng):
    loss, ref, options = REFERENCES[name]
    pred, target = regression_data(rng)
    got = loss(backend(pred), backend(target), reduction=reduction, **options)
    shape = pred.shape if reduction == "none" else ()
    backend.check_native(got, shape)
    expected = ref(  # the options have torch's names (delta, beta)
        backend.torch(pred), backend.torch(target), reduction=reduction, **options
    )
    np.testing.assert_allclose(
        backend.numpy(got), expected.numpy(), rtol=4 * backend.eps, atol=0
    )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_result_equals_torch_result(loss, dtype, reduction, rng):
    pred, target = regression_data(rng)
    pred, target = pred.astype(dtype), target.astype(dtype)
    a = loss(pred, target, reduction=reduction)
    b = loss(torch.from_numpy(pred), torch.from_numpy(target), reduction=reduction)
    np.testing.assert_allclose(a, b.numpy(), rtol=4 * np.finfo(dtype).eps, atol=0)


def test_log_cosh_matches_the_naive_formula_where_that_is_accurate(backend, rng):
    # log(cosh r) loses digits to cancellation as r -> 0 (and overflows far
    # out): a loose sanity check on [0.3, 5]; the mpmath test below is the sharp one
    r = rng.uniform(0.3, 5.0, 50) * np.where(rng.uniform(size=50) < 0.5, -1, 1)
    r = np.concatenate([r, [0.99999, 1.0, 1.00001, -1.0]]).astype(backend.dtype)
    got = lb.log_cosh(backend(r), backend(np.zeros_like(r)), reduction="none")
    naive = np.log(np.cosh(r.astype(np.float64)))
    np.testing.assert_allclose(backend.numpy(got), naive, rtol=64 * backend.eps)


# --- extreme residuals against mpmath at 50 digits ---

MAX_ULPS_LOG_COSH = 4


def _log_cosh_residuals(dtype, rng):
    if dtype == np.float64:
        mags = 10.0 ** np.linspace(-300, 300, 241)
        # around the switch at |r| = 1, where exp(-2r) stops mattering, where
        # cosh would overflow (710) and the subnormal range
        special = [
            5e-324,
            1e-310,
            0.5,
            0.9999999,
            1.0,
            1.0000001,
            3.0,
            18.0,
            19.0,
            36.0,
            709.0,
            711.0,
            1e154,
            1e155,
            1.7976931348623157e308,
        ]
    else:
        mags = 10.0 ** np.linspace(-38, math.log10(3e38), 121)
        special = [
            1e-45,
            1e-40,
            0.5,
            0.99999994,
            1.0,
            1.0000001,
            3.0,
            9.0,
            10.0,
            18.0,
            88.0,
            90.0,
            1e19,
            1e20,
            3e38,
            3.4028235e38,
        ]
    mags = np.minimum(mags * rng.uniform(1.0, 1.5, mags.size), np.finfo(dtype).max)
    mags = np.concatenate([mags, special])
    signs = np.where(rng.uniform(size=mags.size) < 0.5, -1.0, 1.0)
    return (signs * mags).astype(dtype)


def test_log_cosh_is_correct_to_a_few_ulps_from_1e_minus_300_to_1e300(backend, mp):
    r = _log_cosh_residuals(backend.dtype, np.random.default_rng(7))
    with warnings.catch_warnings():
        # measured even while the overflow warnings of the numpy path remain
        # (see test_large_residuals_give_finite_values_without_warnings)
        warnings.simplefilter("ignore", RuntimeWarning)
        got = backend.numpy(
            lb.log_cosh(backend(r), backend(np.zeros_like(r)), reduction="none")
        )
    assert np.all(np.isfinite(got))
    errors = [
        mp.ulps(g, mp.log_cosh(x), backend.dtype) for g, x in zip(got, r, strict=True)
    ]
    worst = int(np.argmax(errors))
    print(
        f"\nlog_cosh {backend}: max error {errors[worst]:.2f} ulp at r = {r[worst]!r}"
    )
    assert errors[worst] <= MAX_ULPS_LOG_COSH


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_cosh_at_the_largest_finite_residual_is_finite(dtype):
    big = torch.finfo(dtype).max
    r = torch.tensor([big, -big], dtype=dtype, requires_grad=True)
    out = lb.log_cosh(r, torch.zeros_like(r), reduction="none")
    assert out.tolist() == [big, big]  # |r| - log 2 rounds to |r|
    (g,) = torch.autograd.grad(out.sum(), r)
    assert g.tolist() == [1.0, -1.0]


# --- large residuals: finite, and no warnings (numpy evaluates both branches) ---


@pytest.mark.parametrize(
    ("loss", "options"),
    [
        (lb.huber, {}),
        (lb.huber, {"delta": 2.0}),
        (lb.smooth_l1, {}),
        (lb.smooth_l1, {"beta": 0.5}),
        (lb.mae, {}),
        (lb.log_cosh, {}),
        (lb.pinball, {"quantile": 0.9}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_residuals_give_finite_values_without_warnings(loss, options, dtype):
    # Regression test: NumPy evaluates both branches of xp.where; the squares of
    # huber/smooth_l1 (|r| > 1.3e154 in float64) and -2|r| of log_cosh (|r| >
    # 9e307) once overflowed there, and NumPy warned although the result was right.
    top = np.finfo(dtype).max / options.get("delta", 1.0)  # a finite true loss
    r = np.array([top, -top / 2, np.sqrt(top) * 4, -1e3, 0.5], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = loss(r, np.zeros_like(r), reduction="none", **options)
    assert np.all(np.isfinite(out))


def test_large_residuals_with_torch_are_finite():
    r = torch.tensor([1e300, -1e300], dtype=torch.float64, requires_grad=True)
    for loss in (lb.huber, lb.smooth_l1, lb.log_cosh, lb.mae):
        out = loss(r, torch.zeros_like(r), reduction="sum")
        assert torch.isfinite(out)
        (g,) = torch.autograd.grad(out, r)
        assert torch.isfinite(g).all()


# --- the API contract ---


@pytest.mark.parametrize("loss", LOSSES)
def test_lists_and_scalars_are_accepted_and_ints_become_float64(loss):
    out = loss([1, 2, 3], [1, 0, 5])
    assert isinstance(out, np.ndarray | np.generic)
    assert out.dtype == np.float64
    assert np.ndim(out) == 0
    scalar = loss(3.0, 1.0)
    assert scalar.dtype == np.float64
    assert np.ndim(scalar) == 0
    assert float(scalar) == float(loss([3.0], [1.0]))
    none = loss(3.0, 1.0, reduction="none")
    assert np.shape(none) == ()


@pytest.mark.parametrize("loss", LOSSES)
def test_dtype_follows_type_promotion(loss):
    # float32 in, float32 out; mixed floating dtypes promote (float32 with
    # float64 computes in float64, as torch.nn.functional does); integers take
    # the floating dtype of the other input, or torch's default dtype
    p32, t64 = np.ones(3, np.float32), np.zeros(3)
    assert loss(p32, p32).dtype == np.float32
    assert loss(p32, t64).dtype == np.float64
    assert loss(p32, t64, reduction="none").dtype == np.float64
    assert loss(torch.ones(3), torch.zeros(3, dtype=torch.float64)).dtype == (
        torch.float64
    )
    assert loss(torch.tensor([1, 2]), torch.tensor([0, 0])).dtype == (
        torch.get_default_dtype()
    )
    assert loss(np.array([1, 2]), np.array([0, 0], np.float32)).dtype == np.float32


@pytest.mark.parametrize("loss", LOSSES)
def test_torch_inputs_keep_autograd(loss):
    pred = torch.tensor([0.5, -2.0], dtype=torch.float64, requires_grad=True)
    out = loss(pred, torch.zeros(2, dtype=torch.float64))
    assert out.requires_grad
    out.backward()
    assert pred.grad is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("loss", LOSSES)
def test_cuda_inputs_stay_on_the_device(loss):
    pred = torch.randn(4, device="cuda")
    out = loss(pred, torch.zeros(4, device="cuda"))
    assert out.device == pred.device
    ref = loss(pred.cpu(), torch.zeros(4))
    torch.testing.assert_close(out.cpu(), ref)


@pytest.mark.parametrize("loss", LOSSES)
def test_mixing_numpy_and_torch_is_a_type_error_naming_both(loss):
    with pytest.raises(TypeError, match=r"`target` is a torch.Tensor but `pred` is a"):
        loss(np.zeros(2), torch.zeros(2))
    with pytest.raises(
        TypeError, match=r"`pred` is a torch.Tensor but `target` is a numpy.ndarray"
    ):
        loss(torch.zeros(2), np.zeros(2))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("make", [np.zeros, torch.zeros])
def test_shape_mismatch_names_both_shapes(loss, make):
    msg = r"`pred` and `target` must have the same shape, got \(3,\) and \(3, 1\)"
    with pytest.raises(ValueError, match=msg):
        loss(make(3), make((3, 1)))  # would broadcast to (3, 3): refused


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bad", ["avg", "Mean", None])
def test_a_reduction_typo_lists_the_three(loss, bad):
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got"):
        loss([1.0], [0.0], reduction=bad)


@pytest.mark.parametrize("loss", LOSSES)
def test_empty_input_mean_raises_sum_is_zero(loss, backend):
    empty = backend(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"`pred` is empty \(shape \(0, 2\)\)"):
        loss(empty, empty)
    total = loss(empty, empty, reduction="sum")
    backend.check_native(total)
    assert float(total) == 0.0
    backend.check_native(loss(empty, empty, reduction="none"), (0, 2))


@pytest.mark.parametrize(
    ("loss", "name", "value", "allowed"),
    [
        (lb.huber, "delta", 0.0, "> 0"),
        (lb.huber, "delta", -1.0, "> 0"),
        (lb.huber, "delta", math.nan, "> 0"),
        (lb.huber, "delta", math.inf, "> 0"),
        (lb.huber, "delta", True, "> 0"),
        (lb.huber, "delta", "1", "> 0"),
        (lb.smooth_l1, "beta", -0.5, ">= 0"),
        (lb.smooth_l1, "beta", math.nan, ">= 0"),
        (lb.smooth_l1, "beta", False, ">= 0"),
        (lb.smooth_l1, "beta", None, ">= 0"),
        (lb.pinball, "quantile", 0.0, "0, 1"),
        (lb.pinball, "quantile", 1.0, "0, 1"),
        (lb.pinball, "quantile", -0.5, "0, 1"),
        (lb.pinball, "quantile", math.nan, "0, 1"),
        (lb.pinball, "quantile", True, "0, 1"),
    ],
)
def test_bad_hyperparameters_are_named_with_the_rule(loss, name, value, allowed):
    msg = rf"^{name} must be .*\({re.escape(allowed)}\), got {re.escape(repr(value))}$"
    with pytest.raises(ValueError, match=msg):
        loss([1.0], [0.0], **{name: value})
    with pytest.raises(ValueError, match=msg):  # the gradient checks the same
        getattr(lb.grad, loss.__name__)([1.0], [0.0], **{name: value})


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        lb.huber([1.0], [0.0], 0.5)
    with pytest.raises(TypeError):
        lb.mse([1.0], [0.0], "sum")


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in regression.__all__:
        assert getattr(lb, name) is getattr(regression, name)
        assert name in lb.__all__


# --- properties (hypothesis) ---

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
vectors = st.lists(finite, min_size=1, max_size=8)
positive = st.floats(1e-3, 1e3)
FEW = settings(max_examples=60)


@FEW
@given(pred=vectors, shift=finite, delta=positive)
def test_every_regression_loss_is_non_negative(pred, shift, delta):
    p = np.asarray(pred)
    t = p + shift
    for loss in LOSSES:
        assert np.all(loss(p, t, reduction="none") >= 0)
    assert np.all(lb.huber(p, t, delta=delta, reduction="none") >= 0)
    assert np.all(lb.smooth_l1(p, t, beta=delta, reduction="none") >= 0)


@FEW
@given(x=vectors, delta=positive)
def test_a_perfect_prediction_costs_zero(x, delta):
    for loss in LOSSES:
        assert float(loss(x, x, reduction="sum")) == 0.0
    assert float(lb.huber(x, x, delta=delta, reduction="sum")) == 0.0
    assert float(lb.smooth_l1(x, x, beta=delta, reduction="sum")) == 0.0
    t = torch.tensor(x, dtype=torch.float64)
    assert float(lb.log_cosh(t, t, reduction="sum")) == 0.0


@FEW
@given(a=vectors, b=vectors, delta=positive)
def test_regression_losses_are_symmetric_in_the_residual(a, b, delta):
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n]), np.asarray(b[:n])
    for loss in SYMMETRIC:
        np.testing.assert_array_equal(
            loss(a, b, reduction="none"), loss(b, a, reduction="none")
        )
    np.testing.assert_array_equal(
        lb.huber(a, b, delta=delta, reduction="none"),
        lb.huber(b, a, delta=delta, reduction="none"),
    )


TIGHT = 1 + 4 * np.finfo(np.float64).eps


@FEW
@given(r=finite, delta=positive)
def test_huber_lies_between_its_envelopes(r, delta):
    h = float(lb.huber([r], [0.0], delta=delta))
    a = abs(r)
    assert 0.5 * min(a, delta) ** 2 <= h * TIGHT
    assert h <= delta * a * TIGHT
    assert h <= 0.5 * r * r * TIGHT


@FEW
@given(r=st.lists(finite, min_size=1, max_size=6), beta=positive)
def test_smooth_l1_is_huber_over_beta(r, beta):
    zeros = np.zeros(len(r))
    s = lb.smooth_l1(r, zeros, beta=beta, reduction="none")
    h = lb.huber(r, zeros, delta=beta, reduction="none")
    np.testing.assert_allclose(s, h / beta, rtol=8 * np.finfo(np.float64).eps)


@FEW
@given(r=st.floats(-1.0, 1.0))
def test_log_cosh_near_zero_lies_between_its_taylor_bounds(r):
    v = float(lb.log_cosh([r], [0.0]))
    slack = 4 * np.finfo(np.float64).smallest_subnormal  # r^2 may be subnormal
    assert r * r / 2 - r**4 / 12 <= v * TIGHT + slack
    assert v <= r * r / 2 * TIGHT + slack


@FEW
@given(r=st.floats(-1e300, 1e300).filter(lambda v: abs(v) >= 1.0))
def test_log_cosh_far_out_lies_between_abs_r_minus_log2_and_abs_r(r):
    v = float(lb.log_cosh([r], [0.0]))
    assert abs(r) - math.log(2.0) <= v * TIGHT
    assert v <= abs(r)


@FEW
@given(x=st.lists(finite, min_size=1, max_size=8))
def test_mse_and_mae_equal_their_definitions(x):
    x = np.asarray(x)
    t = np.zeros_like(x)
    np.testing.assert_allclose(lb.mse(x, t), np.mean(x * x), rtol=1e-14)
    np.testing.assert_allclose(lb.mae(x, t), np.mean(np.abs(x)), rtol=1e-14)


# --- pinball (quantile) loss ---

QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.9, 0.99)


def _pinball_reference(pred, target, q):
    """sklearn's mean_pinball_loss, element-wise, in float64 (independent code)."""
    u = np.asarray(target, np.float64) - np.asarray(pred, np.float64)
    return q * np.maximum(u, 0.0) + (1 - q) * np.maximum(-u, 0.0)


@pytest.mark.parametrize("q", QUANTILES)
def test_pinball_matches_the_sklearn_definition(q, backend, reduction, rng):
    pred, target = regression_data(rng)
    pred, target = pred.astype(backend.dtype), target.astype(backend.dtype)
    got = lb.pinball(backend(pred), backend(target), quantile=q, reduction=reduction)
    backend.check_native(got, pred.shape if reduction == "none" else ())
    ref = _pinball_reference(pred, target, q)
    ref = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    np.testing.assert_allclose(backend.numpy(got), ref, rtol=8 * backend.eps, atol=0)


def test_pinball_at_one_half_is_half_the_mae(backend, rng):
    pred, target = regression_data(rng)
    got = lb.pinball(backend(pred), backend(target), reduction="none")
    half = 0.5 * lb.mae(backend(pred), backend(target), reduction="none")
    np.testing.assert_array_equal(backend.numpy(got), backend.numpy(half))


MAX_ULPS_PINBALL = 2


def test_pinball_is_correct_to_a_few_ulps(backend, mp):
    # q u and (q - 1) u are each rounded once: no cancellation even at q = 0.99
    # (|u|/2 + (q - 1/2) u would lose about 50 ulps there)
    rng = np.random.default_rng(9)
    tiny = np.finfo(backend.dtype).tiny
    top = float(np.finfo(backend.dtype).max) / 2
    mags = np.exp(rng.uniform(np.log(tiny) + 5, np.log(top), 200))
    r = (np.where(rng.uniform(size=200) < 0.5, -1, 1) * mags).astype(backend.dtype)
    worst = 0.0
    for q in (*QUANTILES, 0.3, 0.777):
        got = backend.numpy(
            lb.pinball(backend(np.zeros_like(r)), backend(r), quantile=q,
                       reduction="none")
        )  # fmt: skip
        with mpmath.workdps(mp.dps):
            exact = [max(mp.f(q) * mp.f(u), (mp.f(q) - 1) * mp.f(u)) for u in r]
        worst = max(worst, mp.max_ulps(got, exact, backend.dtype))
    print(f"\npinball {backend}: max error {worst:.2f} ulp")
    assert worst <= MAX_ULPS_PINBALL


@FEW
@given(
    x=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=15),
    q=st.floats(0.01, 0.99),
)
def test_pinball_is_minimised_by_an_empirical_quantile(x, q):
    # the mean pinball loss over constant predictions c is piecewise linear in
    # c with kinks at the data: a brute-force search over the data points finds
    # its minimum, and the lower empirical q-quantile attains it
    x = np.asarray(x)
    costs = [float(lb.pinball(np.full_like(x, c), x, quantile=q)) for c in x]
    k = int(np.ceil(q * x.size)) - 1  # the smallest c with F_n(c) >= q
    quantile = np.sort(x)[max(k, 0)]
    best = float(lb.pinball(np.full_like(x, quantile), x, quantile=q))
    assert best <= min(costs) * (1 + 1e-12) + 1e-12


@FEW
@given(a=vectors, b=vectors, k=st.integers(1, 1023))
def test_pinball_mirrors_under_swapping_pred_target_and_q(a, b, k):
    q = k / 1024  # 1 - q and q - 1 exact: the mirror identity holds bit for bit
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n]), np.asarray(b[:n])
    np.testing.assert_array_equal(
        lb.pinball(a, b, quantile=q, reduction="none"),
        lb.pinball(b, a, quantile=1 - q, reduction="none"),
    )


def test_pinball_quantile_as_a_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="a Python number"):
        lb.pinball(torch.zeros(2), torch.zeros(2), quantile=torch.tensor(0.5))
