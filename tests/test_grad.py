"""Tests of lossbook.grad: analytic gradients equal autograd (every reduction and
option, at the kinks too), and torch.autograd.gradcheck of every differentiable loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook as lb

N, C = 5, 4


def _signed(rng, shape):
    return np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)


def _case(name, rng):
    """(first argument, target, options) for the loss ``name``, kinks included."""
    if name in ("mse", "mae", "huber", "smooth_l1", "log_cosh", "pinball"):
        pred = 2.0 * rng.standard_normal((N, C))
        target = rng.standard_normal((N, C))
        # residuals exactly 0, +-0.5, +-1 and +-2.5: the kinks of mae, huber and
        # smooth_l1 for the options below
        kinks = [0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5]
        pred.flat[: len(kinks)] = kinks
        target.flat[: len(kinks)] = 0.0
        return pred, target
    if name == "binary_cross_entropy_with_logits":
        z = 3.0 * rng.standard_normal((N, C))
        y = rng.uniform(size=(N, C))
        y[:2] = rng.integers(0, 2, (2, C))
        return z, y
    if name == "cross_entropy":
        return 2.0 * rng.standard_normal((N, C)), rng.integers(0, C, N)
    s = 2.0 * rng.standard_normal((N, C))
    y = _signed(rng, (N, C))
    s.flat[:4] = [1.0, -1.0, 0.5, -2.0]  # y s = margin for margins 1, 0.5 and 2
    y.flat[:4] = [1.0, -1.0, 1.0, -1.0]
    return s, y


# (function name, options): every option of lossbook.grad
GRAD_CASES = [
    ("mse", {}),
    ("mae", {}),
    ("huber", {}),
    ("huber", {"delta": 0.5}),
    ("huber", {"delta": 2.5}),
    ("smooth_l1", {}),
    ("smooth_l1", {"beta": 0.0}),
    ("smooth_l1", {"beta": 0.5}),
    ("smooth_l1", {"beta": 2.5}),
    ("log_cosh", {}),
    ("pinball", {}),
    ("pinball", {"quantile": 0.1}),
    ("pinball", {"quantile": 0.9}),
    ("binary_cross_entropy_with_logits", {}),
    ("binary_cross_entropy_with_logits", {"weight": "full"}),
    ("binary_cross_entropy_with_logits", {"weight": "per-class"}),
    ("binary_cross_entropy_with_logits", {"pos_weight": "per-class"}),
    ("binary_cross_entropy_with_logits", {"weight": "full", "pos_weight": "per-class"}),
    ("cross_entropy", {}),
    ("cross_entropy", {"weight": "per-class"}),
    ("cross_entropy", {"label_smoothing": 0.2}),
    ("cross_entropy", {"weight": "per-class", "label_smoothing": 0.2}),
    ("cross_entropy", {"probabilities": True}),
    ("cross_entropy", {"probabilities": True, "weight": "per-class"}),
    ("cross_entropy", {"probabilities": True, "label_smoothing": 0.3}),
    ("cross_entropy", {"ignore_index": -100}),
    ("cross_entropy", {"ignore_index": 1, "weight": "per-class"}),
    ("cross_entropy", {"ignore_index": 2, "label_smoothing": 0.2}),
    ("hinge", {}),
    ("hinge", {"margin": 0.5}),
    ("hinge", {"margin": 2.0}),
    ("exponential", {}),
]


def _ids(case):
    name, options = case
    return "-".join([name, *(f"{k}={v}" for k, v in options.items())])


def _materialise(name, options, rng, convert):
    """Inputs as ``convert`` makes them, options with arrays drawn from ``rng``."""
    first, target = _case(name, rng)
    kw = {}
    for key, value in options.items():
        if key == "probabilities":
            target = rng.dirichlet(np.ones(C), N)
        elif key == "ignore_index":
            target[::2] = value  # every other target ignored
            kw[key] = value
        elif value == "full":
            kw[key] = convert(rng.uniform(0.1, 2.0, (N, C)))
        elif value == "per-class":
            kw[key] = convert(rng.uniform(0.1, 3.0, C))
        else:
            kw[key] = value
    if target.dtype.kind == "i":
        target = convert(target, np.int64)
    else:
        target = convert(target)
    return convert(first), target, kw


def _torch_converter(dtype):
    def convert(a, d=None):
        return torch.from_numpy(np.array(a, dtype=dtype if d is None else d))

    return convert


@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids)
def test_analytic_gradient_equals_autograd(case, backend, reduction):
    name, options = case
    rng = np.random.default_rng(11)
    first, target, kw = _materialise(name, options, rng, backend)
    got = getattr(lb.grad, name)(first, target, reduction=reduction, **kw)
    backend.check_native(got, tuple(first.shape))

    rng = np.random.default_rng(11)  # the same inputs, as torch tensors
    x, t, tkw = _materialise(name, options, rng, _torch_converter(backend.dtype))
    x.requires_grad_(True)
    loss = getattr(lb, name)(x, t, reduction=reduction, **tkw)
    (expected,) = torch.autograd.grad(loss.sum(), x)
    np.testing.assert_allclose(
        backend.numpy(got),
        expected.numpy(),
        rtol=16 * backend.eps,
        atol=4 * backend.eps,
    )


# torch.nn.functional counterparts: our analytic gradient equals torch's autograd
# of its own loss, at the kinks too (mae at r = 0 -> 0, huber at |r| = delta)
TORCH_GRADS = {
    "mse": (F.mse_loss, {}),
    "mae": (F.l1_loss, {}),
    "huber": (F.huber_loss, {}),
    "huber-delta0.5": (F.huber_loss, {"delta": 0.5}),
    "huber-delta2.5": (F.huber_loss, {"delta": 2.5}),
    "smooth_l1": (F.smooth_l1_loss, {}),
    "smooth_l1-beta0": (F.smooth_l1_loss, {"beta": 0.0}),
    "smooth_l1-beta0.5": (F.smooth_l1_loss, {"beta": 0.5}),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, {}),
    "cross_entropy": (F.cross_entropy, {}),
    "cross_entropy-smoothing": (F.cross_entropy, {"label_smoothing": 0.2}),
    "cross_entropy-ignore": (F.cross_entropy, {"ignore_index": 3}),
}


@pytest.mark.parametrize("key", list(TORCH_GRADS))
def test_analytic_gradient_equals_torch_functional_autograd(key, reduction):
    ref, options = TORCH_GRADS[key]
    name = key.split("-")[0]
    first, target = _case(name, np.random.default_rng(3))
    x = torch.tensor(first, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(target)
    (expected,) = torch.autograd.grad(
        ref(x, t, reduction=reduction, **options).sum(), x
    )
    got = getattr(lb.grad, name)(x.detach(), t, reduction=reduction, **options)
    torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-15)


def test_kink_subgradients_are_the_ones_autograd_returns():
    r = torch.tensor([0.0, 1.0, -1.0, 0.5], dtype=torch.float64)
    zero = torch.zeros(4, dtype=torch.float64)
    g = lb.grad.mae(r, zero, reduction="none")
    assert g[0].item() == 0.0  # sign(0) = 0, as autograd of abs
    assert lb.grad.huber(r, zero, reduction="none").tolist() == [0.0, 1.0, -1.0, 0.5]
    assert lb.grad.smooth_l1(r, zero, beta=0.5, reduction="none").tolist() == [
        0.0,
        1.0,
        -1.0,
        1.0,
    ]
    # hinge on the margin: relu's subgradient 0, as autograd of relu(m - y s)
    s = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    (auto,) = torch.autograd.grad(torch.relu(1.0 - y * s).sum(), s)
    assert lb.grad.hinge(s.detach(), y, reduction="sum").tolist() == auto.tolist()
    assert auto.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("q", [0.1, 0.5, 0.75])
def test_pinball_kink_subgradient_is_the_midpoint_autograd_returns(q):
    # at pred = target the subdifferential is [-q, 1 - q]; autograd through
    # maximum splits the tie and returns the midpoint 1/2 - q (0 for the median)
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    (auto,) = torch.autograd.grad(lb.pinball(p, t, quantile=q, reduction="sum"), p)
    got = lb.grad.pinball(p.detach(), t, quantile=q, reduction="sum")
    assert got.tolist() == auto.tolist()
    assert got.tolist() == pytest.approx([-q, 0.5 - q, 1 - q], abs=1e-16)


def test_errata_gradients_of_the_worked_example():
    # mae: d|y - yhat|/dyhat = sign(yhat - y) = +1 at y = 1.0, yhat = 1.2;
    # mse: the per-sample gradient 0.4 becomes 0.4 / 3 under the mean
    pred, target = [1.2, 0.3, 0.7], [1.0, 0.0, 1.0]
    assert lb.grad.mae(pred, target, reduction="none")[0] == 1.0
    np.testing.assert_allclose(lb.grad.mse(pred, target, reduction="none")[0], 0.4)
    np.testing.assert_allclose(lb.grad.mse(pred, target)[0], 0.4 / 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_at_extreme_inputs_are_finite_and_equal_autograd(dtype):
    big = 1e300 if dtype == torch.float64 else 3e38
    r = torch.tensor([big, -big, 1e4, -1e4, 0.0], dtype=dtype, requires_grad=True)
    zero = torch.zeros(5, dtype=dtype)
    for name in ("log_cosh", "huber", "smooth_l1", "mae"):
        (auto,) = torch.autograd.grad(getattr(lb, name)(r, zero, reduction="sum"), r)
        got = getattr(lb.grad, name)(r.detach(), zero, reduction="sum")
        assert torch.isfinite(auto).all()
        torch.testing.assert_close(got, auto)
    z = torch.tensor([1e4, -1e4, 40.0, -40.0], dtype=dtype, requires_grad=True)
    for y in (torch.zeros(4, dtype=dtype), torch.ones(4, dtype=dtype)):
        loss = lb.binary_cross_entropy_with_logits(z, y, reduction="sum")
        (auto,) = torch.autograd.grad(loss, z)
        got = lb.grad.binary_cross_entropy_with_logits(z.detach(), y, reduction="sum")
        assert torch.isfinite(auto).all()
        torch.testing.assert_close(got, auto)
        torch.testing.assert_close(got, torch.sigmoid(z.detach()) - y)
    logits = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], dtype=dtype)
    logits.requires_grad_(True)
    t = torch.tensor([0, 2])
    (auto,) = torch.autograd.grad(lb.cross_entropy(logits, t), logits)
    got = lb.grad.cross_entropy(logits.detach(), t)
    assert torch.isfinite(auto).all()
    torch.testing.assert_close(got, auto)
    (ref,) = torch.autograd.grad(F.cross_entropy(logits, t), logits)
    torch.testing.assert_close(got, ref)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids)
def test_half_precision_gradients_have_the_dtype_autograd_gives(case, dtype):
    # computed in float32 like the losses, returned in the first argument's
    # dtype, as autograd returns it
    name, options = case
    rng = np.random.default_rng(11)
    first, target, kw = _materialise(name, options, rng, _torch_converter(np.float32))
    x = first.to(dtype)
    if target.is_floating_point():
        target = target.to(dtype)
    got = getattr(lb.grad, name)(x, target, **kw)
    x.requires_grad_(True)
    (expected,) = torch.autograd.grad(getattr(lb, name)(x, target, **kw), x)
    assert got.dtype == expected.dtype == dtype
    torch.testing.assert_close(got, expected)


def test_gradients_of_lists_are_float64_arrays():
    g = lb.grad.mse([1, 2], [0, 0], reduction="none")
    assert isinstance(g, np.ndarray)
    assert g.dtype == np.float64
    g = lb.grad.cross_entropy([[0.0, 0.0]], [0])
    assert g.shape == (1, 2)


# --- gradcheck (float64, finite differences) away from the kinks ---


def _away_from_kinks(rng, shape, kinks=(0.0,), gap=0.05):
    x = 2.0 * rng.standard_normal(shape)
    for k in kinks:
        for sign in (1, -1):
            near = np.abs(x - sign * k) < gap
            x[near] += 4 * gap
    return x


def _t(a, requires_grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


GRADCHECKS = {
    "mse": lambda rng: (lb.mse, _away_from_kinks(rng, (3, 4)), {}),
    "mae": lambda rng: (lb.mae, _away_from_kinks(rng, (3, 4)), {}),
    "huber": lambda rng: (
        lb.huber,
        _away_from_kinks(rng, (3, 4), kinks=(0.7,)),
        {"delta": 0.7},
    ),
    "smooth_l1": lambda rng: (
        lb.smooth_l1,
        _away_from_kinks(rng, (3, 4), kinks=(0.7,)),
        {"beta": 0.7},
    ),
    "smooth_l1-beta0": lambda rng: (
        lb.smooth_l1,
        _away_from_kinks(rng, (3, 4)),
        {"beta": 0.0},
    ),
    "log_cosh": lambda rng: (lb.log_cosh, 3 * rng.standard_normal((3, 4)), {}),
    "pinball": lambda rng: (
        lb.pinball,
        _away_from_kinks(rng, (3, 4)),
        {"quantile": 0.8},
    ),
    "hinge": lambda rng: (lb.hinge, _away_from_kinks(rng, (3, 4), kinks=(1.0,)), {}),
    "exponential": lambda rng: (lb.exponential, rng.standard_normal((3, 4)), {}),
}


@pytest.mark.parametrize("key", list(GRADCHECKS))
@pytest.mark.parametrize("red", ["mean", "none"])
def test_gradcheck_of_elementwise_losses(key, red):
    rng = np.random.default_rng(2)
    loss, x, options = GRADCHECKS[key](rng)
    if loss in (lb.hinge, lb.exponential):
        target = _t(np.ones_like(x))  # y s = s: the hinge kink is at s = 1
    else:
        target = _t(np.zeros_like(x))
    xt = _t(x, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a: loss(a, target, reduction=red, **options), (xt,)
    )


def test_gradcheck_of_regression_losses_in_the_target_too():
    rng = np.random.default_rng(4)
    p = _t(_away_from_kinks(rng, (6,), kinks=(0.0, 1.0)), requires_grad=True)
    t = _t(np.zeros(6), requires_grad=True)
    for loss in (lb.mse, lb.mae, lb.huber, lb.smooth_l1, lb.log_cosh, lb.pinball):
        assert torch.autograd.gradcheck(lambda a, b, f=loss: f(a, b), (p, t))


def test_gradcheck_of_binary_cross_entropy():
    rng = np.random.default_rng(5)
    p = _t(rng.uniform(0.05, 0.95, (3, 4)), requires_grad=True)
    y = _t(rng.uniform(size=(3, 4)), requires_grad=True)
    w = _t(rng.uniform(0.5, 2.0, 4))
    assert torch.autograd.gradcheck(
        lambda a, b: lb.binary_cross_entropy(a, b, weight=w), (p, y)
    )


def test_gradcheck_of_binary_cross_entropy_with_logits():
    rng = np.random.default_rng(6)
    z = _t(3 * rng.standard_normal((3, 4)), requires_grad=True)
    y = _t(rng.uniform(size=(3, 4)), requires_grad=True)
    w = _t(rng.uniform(0.5, 2.0, (3, 4)))
    pw = _t(rng.uniform(0.5, 3.0, 4))
    assert torch.autograd.gradcheck(
        lambda a, b: lb.binary_cross_entropy_with_logits(
            a, b, weight=w, pos_weight=pw, reduction="sum"
        ),
        (z, y),
    )
    assert torch.autograd.gradgradcheck(
        lambda a: lb.binary_cross_entropy_with_logits(a, y.detach()), (z,)
    )


@pytest.mark.parametrize(
    "options", [{}, {"label_smoothing": 0.2}, {"weight": True}], ids=str
)
def test_gradcheck_of_cross_entropy(options):
    rng = np.random.default_rng(7)
    z = _t(2 * rng.standard_normal((3, 4)), requires_grad=True)
    kw = dict(options)
    if kw.get("weight"):
        kw["weight"] = _t(rng.uniform(0.5, 2.0, 4))
    idx = torch.tensor([0, 3, 1])
    assert torch.autograd.gradcheck(lambda a: lb.cross_entropy(a, idx, **kw), (z,))
    q = _t(rng.dirichlet(np.ones(4), 3), requires_grad=True)  # probabilities
    assert torch.autograd.gradcheck(lambda a, b: lb.cross_entropy(a, b, **kw), (z, q))
    assert torch.autograd.gradgradcheck(lambda a: lb.cross_entropy(a, idx, **kw), (z,))


def test_gradgradcheck_of_smooth_regression_losses():
    rng = np.random.default_rng(8)
    p = _t(np.concatenate([3 * rng.standard_normal(5), [0.0, 1.0, -1.0]]), True)
    t = _t(np.zeros(8))
    for loss in (lb.mse, lb.log_cosh):
        assert torch.autograd.gradgradcheck(lambda a, f=loss: f(a, t), (p,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_of_segmentation_logits(reduction):
    rng = np.random.default_rng(9)
    z = torch.tensor(rng.standard_normal((2, 4, 3, 5)), requires_grad=True)
    t = torch.tensor(rng.integers(0, 4, (2, 3, 5)))
    t[0, 0] = -100
    w = torch.tensor(rng.uniform(0.5, 2.0, 4))
    kw = {"weight": w, "ignore_index": -100, "label_smoothing": 0.1}
    (auto,) = torch.autograd.grad(
        F.cross_entropy(z, t, reduction=reduction, **kw).sum(), z
    )
    got = lb.grad.cross_entropy(z.detach(), t, reduction=reduction, **kw)
    assert got.shape == z.shape
    torch.testing.assert_close(got, auto, rtol=1e-12, atol=1e-15)
    assert torch.all(got[0, :, 0] == 0)  # ignored positions get no gradient
