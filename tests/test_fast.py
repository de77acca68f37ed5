"""The fast paths of lossbook._fast against the formulas they stand in for.

Every loss with a fast path is computed twice on the same tensors: as the user
calls it (the fast path) and inside ``_fast.disabled()`` (the array API
formula with autograd). Values must agree to a few ulps, gradients to a few
ulps of the largest gradient, at ordinary and at extreme inputs (kinks,
clamps, overflowing residuals and logit gaps, tiny losses); both are also
checked against ``torch.nn.functional`` where it computes the same loss, and
by ``gradcheck`` / ``gradgradcheck`` in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook as lb
from lossbook import _fast

REDUCTIONS = ("mean", "sum", "none")
DTYPES = (torch.float32, torch.float64)
EPS = {torch.float32: 2.0**-23, torch.float64: 2.0**-52}


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _regression(dtype, g):
    pred = 3 * torch.randn(40, 5, generator=g, dtype=dtype)
    target = torch.randn(40, 5, generator=g, dtype=dtype)
    # kinks and switch points: r = 0, |r| = 0.5 (delta, beta), |r| = 20
    pred[0, :4] = target[0, :4] + torch.tensor([0.0, 0.5, -0.5, 20.0], dtype=dtype)
    return pred, target


def _probabilities(dtype, g):
    p = torch.rand(40, 5, generator=g, dtype=dtype)
    y = torch.rand(40, 5, generator=g, dtype=dtype)
    y[::2] = (y[::2] > 0.5).to(dtype)  # hard and soft labels
    return p, y


def _logits(dtype, g):
    z = 4 * torch.randn(40, 5, generator=g, dtype=dtype)
    z[0, :3] = torch.tensor([60.0, -60.0, 0.0], dtype=dtype)  # tiny losses
    return z, _probabilities(dtype, g)[1]


def _maps(dtype, g):
    p = torch.rand(6, 2, 5, generator=g, dtype=dtype)
    t = (torch.rand(6, 2, 5, generator=g, dtype=dtype) < 0.4).to(dtype)
    p[0], t[0] = 0.0, 0.0  # an empty mask predicted empty
    t[1] = torch.rand(2, 5, generator=g, dtype=dtype)  # a soft mask
    return p, t


def _classes(dtype, g):
    z = 3 * torch.randn(30, 6, generator=g, dtype=dtype)
    t = torch.randint(0, 6, (30,), generator=g)
    z[::4, 2] += 40  # a dominant class: tiny losses where it is the target
    t[::8] = 2
    z[1, :3] = z[1, 3]  # ties for the largest logit
    return z, t


# name: (loss with keyword options bound, inputs, index of a non-float target)
CASES = {
    "mse": (lb.mse, _regression),
    "mae": (lb.mae, _regression),
    "huber": (lambda a, b, **k: lb.huber(a, b, delta=0.5, **k), _regression),
    "smooth_l1": (lambda a, b, **k: lb.smooth_l1(a, b, beta=0.5, **k), _regression),
    "smooth_l1[beta=0]": (
        lambda a, b, **k: lb.smooth_l1(a, b, beta=0.0, **k),
        _regression,
    ),
    "log_cosh": (lb.log_cosh, _regression),
    "binary_cross_entropy": (lb.binary_cross_entropy, _probabilities),
    "binary_cross_entropy_with_logits": (
        lb.binary_cross_entropy_with_logits,
        _logits,
    ),
    "cross_entropy": (lb.cross_entropy, _classes),
    "focal": (lb.focal, _logits),
    "focal[alpha<0, gamma=1.5]": (
        lambda a, b, **k: lb.focal(a, b, alpha=-1.0, gamma=1.5, **k),
        _logits,
    ),
    "dice": (lb.dice, _maps),
    "dice[smooth=0]": (lambda a, b, **k: lb.dice(a, b, smooth=0.0, **k), _maps),
    "cross_entropy[ls]": (
        lambda a, b, **k: lb.cross_entropy(a, b, label_smoothing=0.2, **k),
        _classes,
    ),
}
FAST = {
    "mse": lambda a, b, r: _fast.mse(a, b, r),
    "log_cosh": lambda a, b, r: _fast.log_cosh(a, b, r),
    "binary_cross_entropy": lambda a, b, r: _fast.binary_cross_entropy(a, b, None, r),
    "binary_cross_entropy_with_logits": (
        lambda a, b, r: _fast.binary_cross_entropy_with_logits(a, b, None, None, r)
    ),
    "cross_entropy": lambda a, b, r: _fast.cross_entropy(a, b, None, 0.0, None, r),
    "focal": lambda a, b, r: _fast.focal(a, b, 0.25, 2.0, r),
    "dice": lambda a, b, r: _fast.dice(a, b, 1.0, r),
}


def _both(fn, inputs, reduction, weight_seed=1):
    """Value and gradients of ``fn`` on the fast path and on the formula."""
    results = []
    for fast in (True, False):
        xs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
        if fast:
            out = fn(*xs, reduction=reduction)
        else:
            with _fast.disabled():
                out = fn(*xs, reduction=reduction)
        w = torch.rand(out.shape, generator=_gen(weight_seed), dtype=out.dtype)
        (out * w).sum().backward()
        grads = [x.grad for x in xs if x.requires_grad]
        results.append((out.detach(), grads))
    return results


def _close(a, b, dtype, ulps=8.0):
    """|a - b| within ``ulps`` units of the largest |b| (NaN and inf equal)."""
    scale = b[torch.isfinite(b)].abs().max() if torch.isfinite(b).any() else 1.0
    torch.testing.assert_close(
        a, b, rtol=ulps * EPS[dtype], atol=ulps * EPS[dtype] * float(scale),
        equal_nan=True,
    )  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_path_equals_the_formula(name, dtype, reduction):
    fn, make = CASES[name]
    (fast, fast_grads), (slow, slow_grads) = _both(fn, make(dtype, _gen()), reduction)
    assert fast.dtype == slow.dtype == dtype and fast.shape == slow.shape
    _close(fast, slow, dtype)
    assert len(fast_grads) == len(slow_grads)
    for a, b in zip(fast_grads, slow_grads, strict=True):
        assert a.dtype == b.dtype
        _close(a, b, dtype)


@pytest.mark.parametrize("low", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(CASES))
def test_half_precision_is_computed_in_float32_and_returned_in_its_dtype(name, low):
    fn, make = CASES[name]
    a, b = make(torch.float32, _gen(7))
    a = a.to(low)
    b = b.to(low) if b.is_floating_point() else b
    (fast, fast_grads), (slow, slow_grads) = _both(fn, (a, b), "none")
    assert fast.dtype == slow.dtype == low
    torch.testing.assert_close(fast, slow)
    for x, y in zip(fast_grads, slow_grads, strict=True):
        assert x.dtype == low
        torch.testing.assert_close(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fn(a, b).dtype == torch.float32  # as torch.nn.functional's


@pytest.mark.parametrize("name", sorted(FAST))
def test_the_fast_path_is_taken_for_plain_tensors_only(name):
    make = CASES[name][1]
    fast = FAST[name]
    a, b = make(torch.float32, _gen())
    assert fast(a, b, "mean") is not None
    assert fast(a.double(), b, "none") is not None  # promoted
    assert fast(a, b, "average") is None  # the formula raises
    assert fast(a.numpy(), b.numpy(), "mean") is None
    assert fast(a.to(torch.int64), b, "mean") is None  # the formula converts
    assert fast(a[:0], b[:0], "mean") is None  # empty mean: the formula raises
    assert fast(a.to("meta"), b.to("meta"), "mean") is None
    with _fast.disabled():
        assert fast(a, b, "mean") is None
    seen = []
    torch.func.vmap(lambda x, y: seen.append(fast(x, y, "sum")) or x.sum())(a, b)
    assert seen == [None]


def test_mismatched_shapes_and_devices_take_the_formula():
    a, b = torch.randn(3, 4), torch.randn(4, 3)
    assert _fast.mse(a, b, "mean") is None
    with pytest.raises(ValueError, match="same shape"):
        lb.mse(a, b)
    z, t = torch.randn(3, 4), torch.tensor([0, 1, 2], dtype=torch.int32)
    assert _fast.cross_entropy(z, t, None, 0.0, None, "mean") is None
    assert _fast.cross_entropy(z, t.long(), torch.ones(4), 0.0, None, "mean") is None
    assert _fast.cross_entropy(z, t.long(), None, 0.0, -100, "mean") is None


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_matches_torch_functional(reduction):
    pred, target = _regression(torch.float64, _gen(2))
    pairs = [
        (lb.mse(pred, target, reduction=reduction), F.mse_loss),
        (lb.mae(pred, target, reduction=reduction), F.l1_loss),
    ]
    for ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs(pred, target, reduction=reduction))
    torch.testing.assert_close(
        lb.huber(pred, target, delta=0.5, reduction=reduction),
        F.huber_loss(pred, target, delta=0.5, reduction=reduction),
    )
    torch.testing.assert_close(
        lb.smooth_l1(pred, target, beta=0.5, reduction=reduction),
        F.smooth_l1_loss(pred, target, beta=0.5, reduction=reduction),
    )


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_classification_matches_torch_functional(reduction, eps):
    g = _gen(3)
    p, y = _probabilities(torch.float64, g)
    z = torch.randn(40, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        lb.binary_cross_entropy(p, y, reduction=reduction),
        F.binary_cross_entropy(p, y, reduction=reduction),
    )
    torch.testing.assert_close(
        lb.binary_cross_entropy_with_logits(z, y, reduction=reduction),
        F.binary_cross_entropy_with_logits(z, y, reduction=reduction),
    )
    logits, t = _classes(torch.float64, g)
    logits = logits.clamp(max=5)  # F's log-softmax loses tiny losses entirely
    torch.testing.assert_close(
        lb.cross_entropy(logits, t, label_smoothing=eps, reduction=reduction),
        F.cross_entropy(logits, t, label_smoothing=eps, reduction=reduction),
    )


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_and_gradgradcheck_in_float64(name, reduction):
    fn, make = CASES[name]
    a, b = make(torch.float64, _gen(4))
    a = a[:6, :4].clone()
    b = b[:6, :4].clone() if b.is_floating_point() else b[:6].clamp(max=3)
    if name.startswith(("mae", "huber", "smooth_l1")):
        # finite differences off the kinks (r = 0, |r| = 0.5)
        a = a + 0.01 * (torch.sign(a - b) + (a == b).double())
    if name == "binary_cross_entropy" or name.startswith("dice"):
        a = a.clamp(0.05, 0.95)  # steps of 1e-6 stay inside [0, 1]
    elif "entropy" in name or "focal" in name:
        # ordinary logits: the formula's own second derivatives (through its
        # max(z, 0) and |z|) are off at z = 0 and its steps of 1e-6 at z = 60
        a = 2 * torch.randn(a.shape, generator=_gen(6), dtype=a.dtype)
    if b.is_floating_point():
        if not name.startswith(("m", "huber", "smooth", "log")):
            b = b.clamp(0.05, 0.95)  # labels and masks: steps stay in [0, 1]
        inputs = (a.requires_grad_(True), b.requires_grad_(True))

        def call(x, y):
            return fn(x, y, reduction=reduction)
    else:
        inputs = (a.requires_grad_(True),)

        def call(x):
            return fn(x, b, reduction=reduction)

    assert torch.autograd.gradcheck(call, inputs)
    assert torch.autograd.gradgradcheck(call, inputs)


def test_gradients_at_the_kinks_are_the_formulas_subgradients():
    pred = torch.tensor([1.0, 1.5, 0.5, 3.0], requires_grad=True)
    target = torch.tensor([1.0, 1.0, 1.0, 1.0])
    lb.mae(pred, target, reduction="sum").backward()
    assert pred.grad.tolist() == [0.0, 1.0, -1.0, 1.0]  # sign(0) = 0
    pred.grad = None
    lb.huber(pred, target, delta=0.5, reduction="sum").backward()
    assert pred.grad.tolist() == [0.0, 0.5, -0.5, 0.5]  # clip's derivative at delta
    pred.grad = None
    lb.smooth_l1(pred, target, beta=0.5, reduction="sum").backward()
    assert pred.grad.tolist() == [0.0, 1.0, -1.0, 1.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_at_the_clamps(dtype):
    # p = 0 and p = 1 (logs clamped at -100: loss 100, derivative 0), p below
    # e^-100 (clamped) and just above it, and ordinary values
    tiny = 1e-45 if dtype is torch.float32 else 1e-50
    p = torch.tensor([0.0, 1.0, tiny, 1e-30, 0.3, 1 - 1e-7, 0.0, 1.0], dtype=dtype)
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.5, 0.0, 0.0, 1.0], dtype=dtype)
    (fast, [gp, gy]), (slow, [sp, sy]) = _both(lb.binary_cross_entropy, (p, y), "none")
    assert torch.equal(fast[:3], torch.full((3,), 100.0, dtype=dtype))
    _close(fast, slow, dtype)
    assert torch.isfinite(gp).all() and torch.isfinite(gy).all()
    assert gp[0] == 0 and gp[1] == 0 and gp[2] == 0  # clamped: no slope
    _close(gp, sp, dtype)
    _close(gy, sy, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_cosh_of_huge_residuals_and_nan(dtype):
    big = 1e30 if dtype is torch.float32 else 1e300
    pred = torch.tensor([big, -big, 50.0, 1e-30, math.nan, 0.0], dtype=dtype)
    target = torch.zeros_like(pred)
    for reduction in REDUCTIONS:
        (fast, [g, _]), (slow, [s, _]) = _both(lb.log_cosh, (pred, target), reduction)
        _close(fast, slow, dtype)
        _close(g, s, dtype)
    out = lb.log_cosh(pred[:4], target[:4], reduction="none")
    assert torch.isfinite(out).all()
    assert out[0] == out[1] == big  # |r| - log 2 rounds to |r|


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extremes(dtype):
    big = float(torch.finfo(dtype).max)
    z = torch.tensor(
        [[big, 0.0, -big], [0.0, 0.0, 0.0], [90.0, 0.0, -90.0], [1e4, -1e4, 0.0]],
        dtype=dtype,
    )
    t = torch.tensor([0, 1, 0, 2])
    for eps in (0.0, 0.1):
        (fast, [g]), (slow, [s]) = _both(
            lambda a, b, eps=eps, **k: lb.cross_entropy(a, b, label_smoothing=eps, **k),
            (z, t),
            "none",
        )
        if eps and dtype is torch.float32:
            # smoothing weighs the classes big and 2 big below the top: the
            # formula's gap of 2 big overflows float32 (inf), the fast path's
            # is exact in float64, and the loss eps/3 (big + 2 big) = eps big
            # is a float32 number
            assert slow[0] == math.inf
            assert fast[0] == torch.tensor(eps * big, dtype=dtype)
            fast, slow = fast[1:], slow[1:]
        _close(fast, slow, dtype)
        _close(g, s, dtype)
    out = lb.cross_entropy(z, t, reduction="none")
    assert out[0] == 0 and out[2] > 0  # a tiny loss keeps its digits
    torch.testing.assert_close(out[2], torch.tensor(2 * math.exp(-90.0), dtype=dtype))


def test_value_checks_still_raise_and_switch_off():
    p, y = torch.tensor([0.2, 1.5]), torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match=r"`prob` must hold probabilities.*1\.5"):
        lb.binary_cross_entropy(p, y)
    with pytest.raises(ValueError, match=r"`target` must hold labels.*-0\.5"):
        lb.binary_cross_entropy_with_logits(p, torch.tensor([0.0, -0.5]))
    with pytest.raises(ValueError, match=r"found 3"):
        lb.cross_entropy(torch.randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"found nan"):
        lb.binary_cross_entropy(torch.tensor([math.nan]), torch.tensor([1.0]))
    with lb.value_checks(False):  # unchecked: no error, whatever the values
        lb.binary_cross_entropy(p, y)
        lb.cross_entropy(torch.randn(2, 3), torch.tensor([0, 3])).item()


def test_saved_tensors_survive_a_second_backward():
    z, t = _classes(torch.float32, _gen(5))
    for fn, a, b in [
        (lb.cross_entropy, z, t),
        (lb.log_cosh, *_regression(torch.float32, _gen(5))),
        (lb.binary_cross_entropy, *_probabilities(torch.float32, _gen(5))),
        (lb.binary_cross_entropy_with_logits, *_logits(torch.float32, _gen(5))),
    ]:
        a = a.clone().requires_grad_(True)
        loss = fn(a, b)
        (first,) = torch.autograd.grad(loss, a, retain_graph=True)
        (second,) = torch.autograd.grad(loss, a)
        assert torch.equal(first, second)


def test_parameters_and_modules_take_the_fast_path():
    w = torch.nn.Parameter(torch.randn(8, 3))
    assert _fast.mse(w, torch.zeros(8, 3), "mean") is not None
    loss = lb.nn.CrossEntropyLoss(label_smoothing=0.1)(w, torch.arange(8) % 3)
    loss.backward()
    expected = torch.autograd.grad(
        F.cross_entropy(w, torch.arange(8) % 3, label_smoothing=0.1), w
    )[0]
    torch.testing.assert_close(w.grad, expected)


def test_numpy_inputs_are_untouched():
    a, b = np.array([0.5, -1.0]), np.array([0.0, 0.0])
    assert not isinstance(lb.log_cosh(a, b), torch.Tensor)
    assert _fast.log_cosh(a, b, "mean") is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_inputs_take_the_same_values_as_small_ones(dtype):
    # the fast paths may choose another formulation above _fast._FEW elements
    n = 2 * _fast._FEW
    g = _gen(8)
    z = 8 * torch.randn(n, generator=g, dtype=dtype)
    z[:4] = torch.tensor([60.0, -60.0, 700.0, -700.0], dtype=dtype)
    y = (torch.rand(n, generator=g, dtype=dtype) < 0.5).to(dtype)
    y[n // 2 :] = torch.rand(n // 2, generator=g, dtype=dtype)  # soft labels
    for fn in (lb.binary_cross_entropy_with_logits, lb.focal):
        (big, [gz, gy]), (slow, [sz, sy]) = _both(fn, (z, y), "none")
        _close(big, slow, dtype)
        _close(gz, sz, dtype)
        _close(gy, sy, dtype)
        small = torch.cat([fn(z[i : i + 1000], y[i : i + 1000], reduction="none")
                           for i in range(0, n, 1000)])  # fmt: skip
        _close(big, small, dtype, ulps=2.0)
