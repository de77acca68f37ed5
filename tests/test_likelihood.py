"""Tests of lossbook.likelihood: the NLLs against torch.distributions and
torch.nn.functional, their relation to MSE/MAE, maximum-likelihood scales in
closed form, the aliases of BCE and cross-entropy, gradcheck, the API contract
and properties (hypothesis)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Laplace, Normal

import lossbook as lb
from lossbook import likelihood
from lossbook.likelihood import (
    bernoulli_nll,
    categorical_nll,
    gaussian_nll,
    laplace_nll,
)

FEW = settings(max_examples=50, deadline=None)


def reduce_t(x, reduction):
    return {"none": x, "sum": x.sum(), "mean": x.mean()}[reduction]


def pairs(rng, shape=(4, 5)):
    return rng.standard_normal(shape), 1.5 * rng.standard_normal(shape)


@pytest.mark.parametrize("sigma", [1.0, 0.3, 4.0])
def test_gaussian_nll_matches_torch(sigma, backend, reduction, rng):
    pred, target = (x.astype(backend.dtype) for x in pairs(rng))
    got = gaussian_nll(backend(pred), backend(target), sigma=sigma, reduction=reduction)
    backend.check_native(got, pred.shape if reduction == "none" else ())
    p, t = backend.torch(pred), backend.torch(target)
    ref = -Normal(p, torch.tensor(sigma, dtype=p.dtype)).log_prob(t)
    np.testing.assert_allclose(
        backend.numpy(got), reduce_t(ref, reduction).numpy(), rtol=16 * backend.eps
    )
    var = torch.full_like(p, sigma**2)
    ref2 = F.gaussian_nll_loss(p, t, var, full=True, eps=1e-30, reduction=reduction)
    np.testing.assert_allclose(backend.numpy(got), ref2.numpy(), rtol=16 * backend.eps)


@pytest.mark.parametrize("b", [1.0, 0.3, 4.0])
def test_laplace_nll_matches_torch(b, backend, reduction, rng):
    pred, target = (x.astype(backend.dtype) for x in pairs(rng))
    got = laplace_nll(backend(pred), backend(target), b=b, reduction=reduction)
    backend.check_native(got, pred.shape if reduction == "none" else ())
    p, t = backend.torch(pred), backend.torch(target)
    ref = -Laplace(p, torch.tensor(b, dtype=p.dtype)).log_prob(t)
    np.testing.assert_allclose(
        backend.numpy(got), reduce_t(ref, reduction).numpy(), rtol=16 * backend.eps
    )


def test_heteroscedastic_and_learnable_scales_match_torch(backend, rng):
    pred, target = pairs(rng)
    sigma = rng.uniform(0.2, 3.0, pred.shape)
    got = gaussian_nll(
        backend(pred), backend(target), sigma=backend(sigma), reduction="none"
    )
    backend.check_native(got, pred.shape)
    p, t, s = backend.torch(pred), backend.torch(target), backend.torch(sigma)
    np.testing.assert_allclose(
        backend.numpy(got), (-Normal(p, s).log_prob(t)).numpy(), rtol=16 * backend.eps
    )
    got = laplace_nll(
        backend(pred), backend(target), b=backend(sigma), reduction="none"
    )
    np.testing.assert_allclose(
        backend.numpy(got), (-Laplace(p, s).log_prob(t)).numpy(), rtol=16 * backend.eps
    )
    zero_d = gaussian_nll(backend(pred), backend(target), sigma=backend(2.0))
    plain = gaussian_nll(backend(pred), backend(target), sigma=2.0)
    np.testing.assert_allclose(backend.numpy(zero_d), backend.numpy(plain), rtol=0)


def test_maximum_likelihood_scales_are_the_rms_and_mean_absolute_residual(rng):
    pred, target = pairs(rng)
    r = target - pred
    sigma = torch.tensor(np.sqrt(np.mean(r * r)), requires_grad=True)
    (g,) = torch.autograd.grad(
        gaussian_nll(torch.tensor(pred), torch.tensor(target), sigma=sigma), sigma
    )
    assert abs(float(g)) < 1e-12
    b = torch.tensor(np.mean(np.abs(r)), requires_grad=True)
    (g,) = torch.autograd.grad(
        laplace_nll(torch.tensor(pred), torch.tensor(target), b=b), b
    )
    assert abs(float(g)) < 1e-12


def test_nlls_are_scaled_mse_and_mae_plus_constants(rng):
    pred, target = pairs(rng)
    sigma, b = 0.7, 1.3
    np.testing.assert_allclose(
        gaussian_nll(pred, target, sigma=sigma) - lb.mse(pred, target) / (2 * sigma**2),
        0.5 * math.log(2 * math.pi * sigma**2),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        laplace_nll(pred, target, b=b) - lb.mae(pred, target) / b,
        math.log(2 * b),
        rtol=1e-14,
    )


def test_huge_and_tiny_scales_are_finite_and_accurate():
    # sigma^2 would overflow at 1e200 and 2b at 1e308; log sigma does not
    for sigma in (1e200, 1e-200):
        got = float(gaussian_nll([0.0], [3.0 * sigma], sigma=sigma))
        with mpmath.workdps(50):
            s = mpmath.mpf(sigma)
            exact = mpmath.log(2 * mpmath.pi * s * s) / 2 + (3 * s) ** 2 / (2 * s * s)
        assert got == pytest.approx(float(exact), rel=1e-14)
    got = float(laplace_nll([0.0], [1e308], b=1e308))
    assert got == pytest.approx(math.log(2) + math.log(1e308) + 1.0, rel=1e-14)


def test_gradcheck(rng):
    pred, target = pairs(rng, (3,))
    p = torch.tensor(pred, requires_grad=True)
    t = torch.tensor(target)
    s = torch.tensor(rng.uniform(0.5, 2.0, 3), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, y: gaussian_nll(x, t, sigma=y, reduction="none"), (p, s)
    )
    # keep residuals off 0, the kink of |r|
    assert torch.autograd.gradcheck(
        lambda x, y: laplace_nll(x, t + 0.1, b=y, reduction="none"), (p, s)
    )
    prob = torch.tensor(rng.uniform(0.1, 0.9, 4), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: bernoulli_nll(
            x, torch.tensor([1.0, 0.0, 0.3, 1.0], dtype=torch.float64)
        ),
        (prob,),
    )
    logits = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: categorical_nll(x, torch.tensor([0, 3, 1])), (logits,)
    )


# --- the aliases: one formula ---


def test_bernoulli_nll_is_binary_cross_entropy(backend, reduction, rng):
    p = rng.uniform(0.0, 1.0, (3, 4))
    y = (rng.uniform(size=(3, 4)) < 0.5).astype(np.float64)
    p[0, :2] = [0.0, 1.0]
    got = bernoulli_nll(backend(p), backend(y), reduction=reduction)
    backend.check_native(got, p.shape if reduction == "none" else ())
    same = lb.binary_cross_entropy(backend(p), backend(y), reduction=reduction)
    np.testing.assert_array_equal(backend.numpy(got), backend.numpy(same))
    ref = F.binary_cross_entropy(
        backend.torch(p), backend.torch(y), reduction=reduction
    )
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=8 * backend.eps)


def test_categorical_nll_is_cross_entropy(backend, reduction, rng):
    z = 3.0 * rng.standard_normal((5, 4))
    k = rng.integers(0, 4, 5)
    got = categorical_nll(backend(z), backend(k, np.int64), reduction=reduction)
    backend.check_native(got, (5,) if reduction == "none" else ())
    same = lb.cross_entropy(backend(z), backend(k, np.int64), reduction=reduction)
    np.testing.assert_array_equal(backend.numpy(got), backend.numpy(same))
    ref = F.cross_entropy(backend.torch(z), torch.from_numpy(k), reduction=reduction)
    # torch's log-sum-exp has an absolute error of ~eps * max|z|: a tiny loss
    # loses relative digits there (lossbook's does not)
    atol = 16 * backend.eps * np.abs(z).max()
    np.testing.assert_allclose(
        backend.numpy(got), ref.numpy(), rtol=16 * backend.eps, atol=atol
    )


def test_categorical_nll_is_minus_log_softmax_of_the_true_class():
    z = np.array([[2.0, 0.5, -1.0]])
    with mpmath.workdps(40):
        exact = -(
            mpmath.mpf(2.0)
            - mpmath.log(mpmath.fsum(mpmath.exp(v) for v in (2.0, 0.5, -1.0)))
        )
    assert float(categorical_nll(z, [0])) == pytest.approx(float(exact), rel=1e-15)


def test_alias_errors_come_from_the_wrapped_loss():
    with pytest.raises(
        ValueError, match=r"`prob` must hold probabilities in \[0, 1\], found 1.5"
    ):
        bernoulli_nll([1.5], [1.0])
    with pytest.raises(
        ValueError, match=r"`target` must hold class indices in \[0, 3\), found 3"
    ):
        categorical_nll(np.zeros((1, 3)), [3])


# --- the API contract ---


@pytest.mark.parametrize(
    ("loss", "name"), [(gaussian_nll, "sigma"), (laplace_nll, "b")]
)
def test_scale_rules(loss, name):
    x = np.zeros(3)
    for bad in (0.0, -1.0, math.nan, math.inf, True, "1"):
        with pytest.raises(
            ValueError, match=rf"^{name} must be a positive number \(> 0\), got"
        ):
            loss(x, x, **{name: bad})
    with pytest.raises(
        ValueError,
        match=rf"`{name}` must hold positive finite numbers \(> 0\), found 0.0",
    ):
        loss(x, x, **{name: np.array([1.0, 0.0, 2.0])})
    with pytest.raises(
        ValueError,
        match=rf"`{name}` must hold positive finite numbers \(> 0\), found -2.0",
    ):
        loss(torch.zeros(3), torch.zeros(3), **{name: torch.tensor(-2.0)})
    with pytest.raises(
        ValueError,
        match=rf"`{name}` must hold positive finite numbers \(> 0\), found nan",
    ):
        loss(x, x, **{name: [1.0, math.nan, 1.0]})
    with pytest.raises(
        ValueError,
        match=rf"`{name}` of shape \(2,\) must broadcast to the shape \(3,\) of "
        r"`pred`",
    ):
        loss(x, x, **{name: np.ones(2)})
    with pytest.raises(ValueError, match=rf"`{name}` of shape \(2, 3\) must broadcast"):
        loss(x, x, **{name: np.ones((2, 3))})  # would enlarge the loss: refused
    with pytest.raises(
        TypeError, match=rf"`pred` is a torch.Tensor but `{name}` is a numpy.ndarray"
    ):
        loss(torch.zeros(3), torch.zeros(3), **{name: np.ones(3)})


@pytest.mark.parametrize("loss", [gaussian_nll, laplace_nll])
def test_shapes_reduction_kinds_and_empty_input(loss):
    with pytest.raises(
        ValueError,
        match=r"`pred` and `target` must have the same shape, got \(3,\) and \(1, 3\)",
    ):
        loss(np.zeros(3), np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'avg'"):
        loss([0.0], [0.0], reduction="avg")
    with pytest.raises(
        TypeError, match=r"`pred` is a torch.Tensor but `target` is a numpy.ndarray"
    ):
        loss(torch.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"`pred` is empty \(shape \(0,\)\)"):
        loss(np.zeros(0), np.zeros(0))
    assert float(loss(np.zeros(0), np.zeros(0), reduction="sum")) == 0.0
    with pytest.raises(TypeError):
        loss([0.0], [0.0], 2.0)  # the scale is keyword-only


@pytest.mark.parametrize("loss", [gaussian_nll, laplace_nll])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_equals_torch_and_dtype_follows_pred(loss, dtype, reduction, rng):
    pred, target = (x.astype(dtype) for x in pairs(rng))
    a = loss(pred, target, reduction=reduction)
    b = loss(torch.from_numpy(pred), torch.from_numpy(target), reduction=reduction)
    assert a.dtype == dtype
    np.testing.assert_allclose(a, b.numpy(), rtol=8 * np.finfo(dtype).eps)
    sigma = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = loss(
        torch.from_numpy(pred),
        torch.from_numpy(target),
        **{"sigma" if loss is gaussian_nll else "b": sigma},
    )
    assert out.dtype == torch.from_numpy(pred).dtype  # the scale follows pred
    out.backward()
    assert sigma.grad is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_likelihoods_stay_on_the_cuda_device():
    p = torch.randn(5, device="cuda")
    assert gaussian_nll(p, p * 0, sigma=0.5).device == p.device
    assert (
        laplace_nll(p, p * 0, b=torch.full((5,), 2.0, device="cuda")).device == p.device
    )
    assert bernoulli_nll(torch.sigmoid(p), (p > 0).float()).device == p.device
    assert categorical_nll(p[None], torch.tensor([1], device="cuda")).device == p.device


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in likelihood.__all__:
        assert getattr(lb, name) is getattr(likelihood, name)
        assert name in lb.__all__


# --- properties ---


@FEW
@given(
    r=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=8),
    scale=st.floats(0.01, 100.0),
)
def test_nlls_are_at_least_their_normalising_constant_with_equality_at_r_0(r, scale):
    r = np.asarray(r)
    zero = np.zeros_like(r)
    g = gaussian_nll(r, zero, sigma=scale, reduction="none")
    floor = 0.5 * math.log(2 * math.pi * scale**2)
    assert np.all(g >= floor - 1e-12)
    assert float(gaussian_nll(r, r, sigma=scale)) == pytest.approx(floor, abs=1e-12)
    lap = laplace_nll(r, zero, b=scale, reduction="none")
    assert np.all(lap >= math.log(2 * scale) - 1e-12)
    # symmetric in the residual
    np.testing.assert_array_equal(
        g, gaussian_nll(zero, r, sigma=scale, reduction="none")
    )


# --- Poisson counts with a predicted log-rate ---


def poisson_data(rng, shape=(5, 6)):
    s = 2.0 * rng.standard_normal(shape)
    y = rng.poisson(np.exp(s)).astype(float)
    y.flat[:4] = [0.0, 1.0, 2.5, 1e4]  # zero, one, a non-integer, a big count
    s.flat[3] = math.log(1e4)
    return s, y


def _poisson_scale(s, y):
    """The size of the terms that cancel: what rounding can cost, element-wise."""
    from scipy.special import gammaln

    return np.exp(s) + np.abs(y * s) + gammaln(y + 1) + 1


def test_poisson_nll_matches_torch_functional_plus_log_factorial(
    backend, reduction, rng
):
    s, y = poisson_data(rng)
    got = lb.poisson_nll(backend(s), backend(y), reduction=reduction)
    backend.check_native(got, s.shape if reduction == "none" else ())
    st_, yt = backend.torch(s), backend.torch(y)
    ref = F.poisson_nll_loss(st_, yt, log_input=True, full=False, reduction="none")
    ref = reduce_t(ref + torch.lgamma(yt + 1), reduction)
    bound = 16 * backend.eps * _poisson_scale(s, y)
    bound = {"none": bound, "sum": bound.sum(), "mean": bound.mean()}[reduction]
    assert np.all(np.abs(backend.numpy(got) - ref.numpy()) <= bound)


def test_poisson_nll_is_minus_the_log_pmf_of_torch_distributions(rng):
    s, y = poisson_data(rng)
    got = lb.poisson_nll(torch.tensor(s), torch.tensor(y), reduction="none")
    integral = y == np.round(y)  # the pmf of torch needs integer counts
    rate = torch.tensor(np.exp(s))
    ref = -torch.distributions.Poisson(rate, validate_args=False).log_prob(
        torch.tensor(y)
    )
    np.testing.assert_allclose(
        got.numpy()[integral],
        ref.numpy()[integral],
        rtol=0,
        atol=1e-13 * _poisson_scale(s, y).max(),
    )


def test_poisson_nll_is_accurate_against_mpmath_up_to_its_conditioning(backend, mp):
    rng = np.random.default_rng(21)
    s, y = poisson_data(rng, (60,))
    s = np.concatenate([s, [-700.0, 80.0, 0.0, math.log(7.0)]]).astype(backend.dtype)
    y = np.concatenate([y, [0.0, 1e30, 1e-3, 7.0]]).astype(backend.dtype)
    got = backend.numpy(lb.poisson_nll(backend(s), backend(y), reduction="none"))
    for g, si, yi in zip(got, s, y, strict=True):
        with mpmath.workdps(60):
            sv, yv = mp.f(si), mp.f(yi)
            exact = mpmath.exp(sv) - yv * sv + mpmath.loggamma(yv + 1)
            scale = mpmath.exp(sv) + abs(yv * sv) + abs(mpmath.loggamma(yv + 1))
        if not math.isfinite(float(g)):  # e^80 overflows float32: so does the truth
            assert float(exact) > np.finfo(backend.dtype).max
            continue
        assert abs(mp.f(g) - exact) <= 4 * backend.eps * scale + 1e-300


def test_poisson_nll_full_torch_differs_by_stirlings_error_only(rng):
    s, y = poisson_data(rng)
    ours = lb.poisson_nll(torch.tensor(s), torch.tensor(y), reduction="none")
    full = F.poisson_nll_loss(
        torch.tensor(s), torch.tensor(y), log_input=True, full=True, reduction="none"
    )
    yt = torch.tensor(y)
    stirling = torch.where(
        yt > 1, yt * yt.log() - yt + 0.5 * (2 * math.pi * yt).log(), 0.0
    )
    torch.testing.assert_close(
        ours - torch.lgamma(yt + 1) + stirling, full, rtol=1e-12, atol=1e-9
    )
    # Stirling's formula underestimates log y! by about 1 / (12 y)
    big = y > 1
    gap = (torch.lgamma(yt + 1) - stirling).numpy()[big]
    np.testing.assert_allclose(gap, 1 / (12 * y[big]), rtol=0.2)


def test_poisson_nll_gradient_is_rate_minus_count(rng):
    s, y = poisson_data(rng)
    st_ = torch.tensor(s, requires_grad=True)
    (g,) = torch.autograd.grad(lb.poisson_nll(st_, torch.tensor(y)), st_)
    np.testing.assert_allclose(
        g.numpy(), (np.exp(s) - y) / s.size, rtol=1e-13, atol=1e-16 * y.max()
    )
    a = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = torch.tensor(rng.uniform(0.5, 4.0, (3, 4)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, v: lb.poisson_nll(u, v), (a, b))
    assert torch.autograd.gradgradcheck(lambda u: lb.poisson_nll(u, b.detach()), (a,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_poisson_nll_numpy_equals_torch_and_keeps_the_dtype(dtype, reduction, rng):
    s, y = (x.astype(dtype) for x in poisson_data(rng))
    a = lb.poisson_nll(s, y, reduction=reduction)
    b = lb.poisson_nll(torch.from_numpy(s), torch.from_numpy(y), reduction=reduction)
    assert np.asarray(a).dtype == dtype
    assert b.dtype == torch.from_numpy(s).dtype
    scale = _poisson_scale(s.astype(float), y.astype(float))
    bound = 8 * np.finfo(dtype).eps * scale
    bound = {"none": bound, "sum": bound.sum(), "mean": bound.mean()}[reduction]
    assert np.all(np.abs(np.asarray(a, float) - b.numpy().astype(float)) <= bound)


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
def test_poisson_nll_errors(make):
    x = make(np.zeros(3))
    with pytest.raises(
        ValueError, match=r"`target` must hold counts in \[0, inf\], found -1.0"
    ):
        lb.poisson_nll(x, make(np.array([1.0, -1.0, 0.0])))
    with pytest.raises(ValueError, match=r"found nan"):
        lb.poisson_nll(x, make(np.array([1.0, math.nan, 0.0])))
    with pytest.raises(ValueError, match=r"`log_rate` and `target` must have the same"):
        lb.poisson_nll(x, make(np.zeros(2)))
    with pytest.raises(ValueError, match=r"`log_rate` is empty"):
        lb.poisson_nll(make(np.zeros(0)), make(np.zeros(0)))
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'avg'"):
        lb.poisson_nll(x, x, reduction="avg")


# --- learnable and per-element (heteroscedastic) scales ---


@pytest.mark.parametrize(
    ("loss", "dist"), [(gaussian_nll, Normal), (laplace_nll, Laplace)]
)
@pytest.mark.parametrize("scale_shape", [(), (1, 5), (4, 1), (5,), (4, 5)])
def test_scales_that_broadcast_to_pred_match_torch(
    loss, dist, scale_shape, backend, rng
):
    pred, target = pairs(rng)
    scale = rng.uniform(0.2, 3.0, scale_shape)
    name = "sigma" if loss is gaussian_nll else "b"
    got = loss(
        backend(pred), backend(target), **{name: backend(scale)}, reduction="none"
    )
    backend.check_native(got, pred.shape)
    p, t = backend.torch(pred), backend.torch(target)
    ref = -dist(p, backend.torch(scale)).log_prob(t)
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=16 * backend.eps)


@pytest.mark.parametrize(
    ("loss", "dist"), [(gaussian_nll, Normal), (laplace_nll, Laplace)]
)
def test_gradients_flow_to_a_per_element_scale(loss, dist, rng):
    # heteroscedastic regression: the network's second output is log sigma
    pred, target = pairs(rng)
    log_s = torch.tensor(0.3 * rng.standard_normal(pred.shape), requires_grad=True)
    p = torch.tensor(pred, requires_grad=True)
    name = "sigma" if loss is gaussian_nll else "b"
    out = loss(p, torch.tensor(target), **{name: log_s.exp()})
    g_log_s, g_p = torch.autograd.grad(out, (log_s, p))
    log_s_ref = log_s.detach().clone().requires_grad_(True)
    p_ref = p.detach().clone().requires_grad_(True)
    ref = -dist(p_ref, log_s_ref.exp()).log_prob(torch.tensor(target)).mean()
    g_ref = torch.autograd.grad(ref, (log_s_ref, p_ref))
    torch.testing.assert_close(g_log_s, g_ref[0], rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(g_p, g_ref[1], rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(
        lambda a, s: loss(a, torch.tensor(target), **{name: s.exp()}),
        (p.detach().requires_grad_(True), log_s.detach().requires_grad_(True)),
    )


@pytest.mark.parametrize(
    ("loss", "name"), [(gaussian_nll, "sigma"), (laplace_nll, "b")]
)
def test_a_broadcast_scale_is_checked_for_positivity(loss, name):
    x = torch.zeros(2, 3)
    with pytest.raises(
        ValueError,
        match=rf"`{name}` must hold positive finite numbers \(> 0\), found -1",
    ):
        loss(x, x, **{name: torch.tensor([[1.0], [-1.0]])})
