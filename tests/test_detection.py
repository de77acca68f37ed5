"""Tests of lossbook.detection: focal loss against torchvision's formula and
mpmath, the IoU family against plane geometry (closed forms, rasterised boxes)
and a transcription of torchvision's formulas, Dice against a brute-force loop,
gradients (gradcheck, finiteness at degenerate inputs), the API contract and
properties (hypothesis)."""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import classification, detection
from lossbook.detection import (
    ciou_loss,
    dice,
    diou_loss,
    focal,
    giou_loss,
    iou_loss,
)

BOX_LOSSES = [iou_loss, giou_loss, diou_loss, ciou_loss]
FEW = settings(max_examples=50, deadline=None)


# --- focal loss ---


def torchvision_focal(z, y, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss (v0.29), transcribed line by line."""
    p = torch.sigmoid(z)
    ce_loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * y + (1 - alpha) * (1 - y)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def focal_data(rng, shape=(6, 5)):
    z = 3.0 * rng.standard_normal(shape)
    y = (rng.uniform(size=shape) < 0.3).astype(np.float64)
    z.flat[:2] = 0.0  # p_t = 1/2 exactly
    return z, y


@pytest.mark.parametrize(
    ("alpha", "gamma"), [(0.25, 2.0), (-1.0, 2.0), (0.5, 0.5), (0.9, 0.0), (0.0, 1.0)]
)
def test_focal_matches_the_torchvision_formula(alpha, gamma, backend, reduction, rng):
    z, y = focal_data(rng)
    z = z.astype(backend.dtype)
    got = focal(backend(z), backend(y), alpha=alpha, gamma=gamma, reduction=reduction)
    backend.check_native(got, z.shape if reduction == "none" else ())
    # the reference in float64 on the same inputs: its 1 - p_t cancels (a
    # relative error of eps / (1 - p_t), ~1e-12 here), so it is the less
    # accurate of the two; the mpmath test below is the sharp one
    ref = torchvision_focal(
        torch.from_numpy(z.astype(np.float64)),
        torch.from_numpy(y),
        alpha,
        gamma,
        reduction,
    )
    rtol = max(64 * backend.eps, 1e-9)
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=rtol, atol=0)


@functools.cache
def mp_focal(z, y, alpha, gamma):
    """The textbook formula, brute force: p = 1/(1 + e^-z), 1 - p_t by
    subtraction, with enough digits that the subtraction loses nothing."""
    with mpmath.workdps(60 + int(abs(z) / 2.3)):  # e^-|z| has |z|/ln 10 zeros
        z = mpmath.mpf(float(z))
        p = 1 / (1 + mpmath.exp(-z))
        p_t = p if y == 1 else 1 - p
        a_t = 1 if alpha < 0 else (alpha if y == 1 else 1 - alpha)
        return +(-a_t * (1 - p_t) ** mpmath.mpf(gamma) * mpmath.log(p_t))


# the log-space modulating factor exp(-gamma * softplus) carries the rounding
# of softplus (<= 1/2 ulp of a value up to ~37 in float64, ~17 in float32)
# times gamma into a relative error: up to about gamma * 37 / 2 ulps
MAX_ULPS_FOCAL = 48


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 0.0), (0.25, 2.0), (-1.0, 0.5)])
def test_focal_is_accurate_against_mpmath_up_to_logits_of_1e4(
    alpha, gamma, backend, mp
):
    mags = [0.0, 1e-3, 0.5, 1.0, 3.0, 8.0, 17.0, 30.0, 50.0, 100.0, 700.0, 1e4]
    z = np.array([s * m for m in mags for s in (1.0, -1.0)], dtype=backend.dtype)
    z = np.concatenate([z, z])
    y = np.repeat([1.0, 0.0], z.size // 2)
    got = backend.numpy(
        focal(backend(z), backend(y), alpha=alpha, gamma=gamma, reduction="none")
    )
    assert np.all(np.isfinite(got))
    errors = [
        mp.ulps(g, mp_focal(float(zi), float(yi), alpha, gamma), backend.dtype)
        for g, zi, yi in zip(got, z, y, strict=True)
    ]
    worst = int(np.argmax(errors))
    print(f"\nfocal {backend}: {errors[worst]:.1f} ulp at z={z[worst]}, y={y[worst]}")
    assert errors[worst] <= MAX_ULPS_FOCAL


# --- focal with soft targets (torchvision's definition) ---


def soft_focal_data(rng, shape=(6, 5)):
    z = 4.0 * rng.standard_normal(shape)
    y = rng.uniform(size=shape)
    y.flat[:6] = [0.0, 1.0, 0.5, 1e-9, 1 - 1e-9, 0.3]
    z.flat[6:10] = [0.0, 40.0, -40.0, 1e4]
    return z, y


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (-1.0, 0.5), (0.7, 1.0)])
def test_focal_with_soft_targets_matches_the_torchvision_formula(
    alpha, gamma, backend, reduction, rng
):
    z, y = soft_focal_data(rng)
    z, y = z.astype(backend.dtype), y.astype(backend.dtype)
    got = focal(backend(z), backend(y), alpha=alpha, gamma=gamma, reduction=reduction)
    backend.check_native(got, z.shape if reduction == "none" else ())
    ref = torchvision_focal(
        torch.from_numpy(z.astype(np.float64)),
        torch.from_numpy(y.astype(np.float64)),
        alpha,
        gamma,
        reduction,
    )
    # the reference's 1 - p_t cancels: a relative error of about eps / (1 - p_t)
    rtol = max(64 * backend.eps, 1e-9)
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=rtol, atol=1e-300)


def mp_soft_focal(z, y, alpha, gamma):
    """torchvision's formula for a soft target, at 80+ digits."""
    with mpmath.workdps(80 + int(abs(z) / 2.3)):
        z, y = mpmath.mpf(float(z)), mpmath.mpf(float(y))
        p = 1 / (1 + mpmath.exp(-z))
        ce = -(y * mpmath.log(p) + (1 - y) * mpmath.log(1 - p))
        one_minus_pt = p * (1 - y) + (1 - p) * y
        a_t = 1 if alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
        return +(a_t * one_minus_pt ** mpmath.mpf(gamma) * ce)


def test_focal_with_soft_targets_is_accurate_against_mpmath(backend, mp):
    rng = np.random.default_rng(14)
    z, y = soft_focal_data(rng, (40,))
    z, y = z.astype(backend.dtype), y.astype(backend.dtype)
    for alpha, gamma in ((0.25, 2.0), (-1.0, 0.5)):
        got = backend.numpy(
            focal(backend(z), backend(y), alpha=alpha, gamma=gamma, reduction="none")
        )
        for g, zi, yi in zip(got, z, y, strict=True):
            exact = mp_soft_focal(zi, yi, alpha, gamma)
            # soft targets: the BCE y softplus(-z) + (1 - y) softplus(z) adds
            # terms up to |z| (times a modulating factor <= 1), so the error
            # is bounded by a few ulps of |z| + 1, not of the result
            bound = 64 * backend.eps * (abs(float(zi)) + 1)
            assert abs(mp.f(g) - exact) <= bound, (zi, yi, float(g), float(exact))


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_with_soft_targets_has_finite_gradients(gamma, rng):
    z, y = soft_focal_data(rng)
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    gz, gy = torch.autograd.grad(focal(zt, yt, gamma=gamma, reduction="sum"), (zt, yt))
    assert torch.isfinite(gz).all() and torch.isfinite(gy).all()
    inner = torch.tensor(rng.uniform(0.05, 0.95, (3, 4)), requires_grad=True)
    z3 = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: focal(a, b, gamma=gamma, reduction="sum"), (z3, inner)
    )


@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_focal_gradient_is_finite_at_logits_of_1e4_and_for_gamma_below_1(gamma, dtype):
    z = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0, 40.0], dtype=dtype)
    y = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 1.0], dtype=dtype)
    z.requires_grad_(True)
    loss = focal(z, y, gamma=gamma, reduction="sum")
    (g,) = torch.autograd.grad(loss, z)
    assert torch.isfinite(loss)
    assert torch.isfinite(g).all()
    # where p_t rounds to 1 the exact gradient is (numerically) zero; where
    # the prediction is certain and wrong it tends to -/+ alpha_t (slope of ce)
    assert g[0] == 0 and g[3] == 0
    assert g[1] == pytest.approx(-0.25) and g[2] == pytest.approx(0.75)


def test_the_naive_power_has_a_nan_gradient_that_focal_avoids():
    # why the log-space form: (1 - p_t) ** gamma at p_t == 1 for gamma < 1
    z = torch.tensor([40.0], dtype=torch.float64, requires_grad=True)
    y = torch.ones(1, dtype=torch.float64)
    (naive,) = torch.autograd.grad(torchvision_focal(z, y, 0.25, 0.5, "sum"), z)
    assert torch.isnan(naive).all()
    (ours,) = torch.autograd.grad(focal(z, y, gamma=0.5, reduction="sum"), z)
    assert torch.isfinite(ours).all()


def test_focal_with_gamma_0_is_alpha_weighted_bce_with_logits(rng):
    z, y = focal_data(rng)
    zt, yt = torch.from_numpy(z), torch.from_numpy(y)
    plain = focal(zt, yt, alpha=-1.0, gamma=0.0, reduction="none")
    torch.testing.assert_close(
        plain, lb.binary_cross_entropy_with_logits(zt, yt, reduction="none")
    )
    weighted = focal(zt, yt, alpha=0.25, gamma=0.0, reduction="sum")
    ref = F.binary_cross_entropy_with_logits(
        zt, yt, weight=0.25 * yt + 0.75 * (1 - yt), reduction="sum"
    )
    torch.testing.assert_close(weighted, ref)


def test_focal_gradcheck(rng):
    z, y = focal_data(rng, (3, 4))
    z = torch.tensor(z, requires_grad=True)
    y = torch.from_numpy(y)
    for gamma in (0.5, 2.0):
        assert torch.autograd.gradcheck(
            lambda t, gamma=gamma: focal(t, y, gamma=gamma, reduction="none"), (z,)
        )


@FEW
@given(
    z=st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=8),
    gamma=st.floats(0.0, 5.0),
    alpha=st.floats(0.0, 1.0),
)
def test_focal_is_non_negative_and_at_most_the_weighted_bce(z, gamma, alpha):
    z = np.asarray(z)
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        f = focal(z, y, alpha=alpha, gamma=gamma, reduction="none")
        bce = focal(z, y, alpha=alpha, gamma=0.0, reduction="none")
        assert np.all(f >= 0)
        assert np.all(f <= bce)


# --- boxes: geometry ---


def test_identical_boxes(backend):
    b = np.array([[0.0, 0.0, 2.0, 3.0], [1.0, -1.0, 1.5, 4.0]])
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    eps = 1e-7
    expected = 1 - area / (area + eps)  # IoU = A / (A + eps); nothing else adds
    for loss in BOX_LOSSES:
        got = loss(backend(b), backend(b), reduction="none")
        backend.check_native(got, (2,))
        np.testing.assert_allclose(backend.numpy(got), expected, atol=4 * backend.eps)


def test_nested_boxes():
    outer = np.array([[0.0, 0.0, 4.0, 4.0]])
    inner = np.array([[1.0, 2.0, 2.0, 4.0]])  # 1 x 2 in a 4 x 4
    iou = (1 * 2) / (4 * 4)
    # the enclosing box is the outer box, which is also the union: GIoU = IoU
    centre_gap2 = (2.0 - 1.5) ** 2 + (2.0 - 3.0) ** 2
    diag2 = 4.0**2 + 4.0**2
    v = 4 / math.pi**2 * (math.atan(1 / 2) - math.atan(4 / 4)) ** 2
    alpha = v / (1 - iou + v)
    cases = {
        iou_loss: 1 - iou,
        giou_loss: 1 - iou,
        diou_loss: 1 - iou + centre_gap2 / diag2,
        ciou_loss: 1 - iou + centre_gap2 / diag2 + alpha * v,
    }
    for loss, expected in cases.items():
        got = float(loss(inner, outer, eps=1e-12))
        assert got == pytest.approx(expected, rel=1e-10), loss.__name__


def test_disjoint_boxes():
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    b = np.array([[3.0, 2.0, 5.0, 3.0]])  # 2 x 1, far to the upper right
    union = 1.0 + 2.0
    enclosing = (5.0 - 0.0) * (3.0 - 0.0)
    centre_gap2 = (4.0 - 0.5) ** 2 + (2.5 - 0.5) ** 2
    diag2 = 5.0**2 + 3.0**2
    v = 4 / math.pi**2 * (math.atan(2 / 1) - math.atan(1 / 1)) ** 2
    alpha = v / (1 - 0 + v)
    cases = {
        iou_loss: 1.0,
        giou_loss: 1 + (enclosing - union) / enclosing,
        diou_loss: 1 + centre_gap2 / diag2,
        ciou_loss: 1 + centre_gap2 / diag2 + alpha * v,
    }
    for loss, expected in cases.items():
        assert float(loss(a, b, eps=1e-12)) == pytest.approx(expected, rel=1e-10)


def test_touching_boxes_have_zero_intersection():
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    b = np.array([[1.0, 0.0, 2.0, 1.0]])  # shares an edge
    assert float(iou_loss(a, b)) == 1.0
    # the enclosing 2 x 1 box is exactly the union: GIoU adds nothing
    assert float(giou_loss(a, b, eps=1e-12)) == pytest.approx(1.0, rel=1e-10)


def test_zero_area_boxes_are_finite_with_finite_gradients():
    pred = torch.tensor(
        [
            [1.0, 1.0, 1.0, 1.0],  # a point
            [0.0, 1.0, 2.0, 1.0],  # a horizontal segment (h = 0)
            [1.0, 0.0, 1.0, 2.0],  # a vertical segment (w = 0)
            [1.0, 1.0, 1.0, 1.0],  # the same point as its target
            [0.0, 0.0, 1.0, 1.0],  # a unit box against a point inside it
        ],
        dtype=torch.float64,
        requires_grad=True,
    )
    target = torch.tensor(
        [
            [0.0, 0.0, 2.0, 2.0],
            [0.0, 0.0, 2.0, 2.0],
            [0.0, 0.0, 2.0, 2.0],
            [1.0, 1.0, 1.0, 1.0],
            [0.5, 0.5, 0.5, 0.5],
        ],
        dtype=torch.float64,
    )
    for loss in BOX_LOSSES:
        values = loss(pred, target, reduction="none")
        (g,) = torch.autograd.grad(values.sum(), pred)
        assert torch.isfinite(values).all(), loss.__name__
        assert torch.isfinite(g).all(), loss.__name__
    # every pair has zero intersection: IoU loss 1
    assert iou_loss(pred, target, reduction="none").tolist() == [1.0] * 5
    # a point on a point: enclosing area 0 and centre distance 0
    assert float(giou_loss(pred[3:4].detach(), target[3:4])) == 1.0
    assert float(diou_loss(pred[3:4].detach(), target[3:4])) == 1.0
    # a horizontal segment has aspect angle atan(w / 0) = pi / 2
    v = 4 / math.pi**2 * (math.atan(1.0) - math.pi / 2) ** 2
    iou = 0.0
    expected = (
        float(diou_loss(pred[1:2].detach(), target[1:2])) + v / (1 - iou + v + 1e-7) * v
    )
    assert float(ciou_loss(pred[1:2].detach(), target[1:2])) == pytest.approx(expected)


def raster(box, lo=-2, hi=12):
    """The unit cells covered by an integer box, on a grid."""
    xs = np.arange(lo, hi)[None, :] + 0.5
    ys = np.arange(lo, hi)[:, None] + 0.5
    x1, y1, x2, y2 = box
    return (xs > x1) & (xs < x2) & (ys > y1) & (ys < y2)


def test_iou_and_giou_match_cell_counts_of_rasterised_integer_boxes(rng):
    corners = rng.integers(0, 10, size=(40, 4))
    boxes = np.column_stack(
        [
            np.minimum(corners[:, 0], corners[:, 2]),
            np.minimum(corners[:, 1], corners[:, 3]),
            np.maximum(corners[:, 0], corners[:, 2]) + 1,
            np.maximum(corners[:, 1], corners[:, 3]) + 1,
        ]
    ).astype(np.float64)
    pred, target = boxes[:20], boxes[20:]
    iou_expected, giou_expected = [], []
    for p, t in zip(pred, target, strict=True):
        a, b = raster(p), raster(t)
        inter, union = (a & b).sum(), (a | b).sum()
        rows, cols = np.nonzero(a | b)
        hull = (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # smallest enclosing box
        iou_expected.append(1 - inter / union)
        giou_expected.append(1 - inter / union + (hull - union) / hull)
    np.testing.assert_allclose(
        iou_loss(pred, target, eps=1e-12, reduction="none"), iou_expected, rtol=1e-10
    )
    np.testing.assert_allclose(
        giou_loss(pred, target, eps=1e-12, reduction="none"), giou_expected, rtol=1e-10
    )


def torchvision_box_losses(p, g, eps):
    """torchvision.ops' box losses (v0.29) transcribed in plain Python."""
    x1, y1, x2, y2 = p
    gx1, gy1, gx2, gy2 = g
    xk1, yk1, xk2, yk2 = max(x1, gx1), max(y1, gy1), min(x2, gx2), min(y2, gy2)
    inter = (xk2 - xk1) * (yk2 - yk1) if (yk2 > yk1 and xk2 > xk1) else 0.0
    union = (x2 - x1) * (y2 - y1) + (gx2 - gx1) * (gy2 - gy1) - inter
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = min(x1, gx1), min(y1, gy1), max(x2, gx2), max(y2, gy2)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    giou = 1 - (iou - (area_c - union) / (area_c + eps))
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    centres = ((x1 + x2) / 2 - (gx1 + gx2) / 2) ** 2 + (
        (y1 + y2) / 2 - (gy1 + gy2) / 2
    ) ** 2
    diou = 1 - iou + centres / diag
    v = (4 / math.pi**2) * (
        math.atan((gx2 - gx1) / (gy2 - gy1)) - math.atan((x2 - x1) / (y2 - y1))
    ) ** 2
    alpha = v / (1 - iou + v + eps)
    return {"iou": 1 - iou, "giou": giou, "diou": diou, "ciou": diou + alpha * v}


def random_boxes(rng, n):
    xy = rng.uniform(-3, 3, size=(n, 2))
    wh = rng.uniform(0.1, 4, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
def test_box_losses_match_torchvision_formulas(loss, backend, reduction, rng):
    pred, target = random_boxes(rng, 12), random_boxes(rng, 12)
    pred[0], pred[1] = target[0], target[1] + 10.0  # identical, disjoint
    pred = pred.astype(backend.dtype).astype(np.float64)
    target = target.astype(backend.dtype).astype(np.float64)
    name = loss.__name__.removesuffix("_loss")
    per_pair = np.array(
        [
            torchvision_box_losses(p, g, 1e-7)[name]
            for p, g in zip(pred, target, strict=True)
        ]
    )
    expected = {"none": per_pair, "sum": per_pair.sum(), "mean": per_pair.mean()}
    got = loss(backend(pred), backend(target), reduction=reduction)
    backend.check_native(got, (12,) if reduction == "none" else ())
    tol = 1e-5 if backend.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(
        backend.numpy(got), expected[reduction], rtol=tol, atol=tol
    )


@pytest.mark.parametrize(
    "loss", [iou_loss, giou_loss, diou_loss], ids=lambda f: f.__name__
)
def test_box_losses_gradcheck(loss, rng):
    # overlapping, non-degenerate boxes with no ties between corners
    target = torch.tensor([[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 4.0, 2.5]])
    pred = target + torch.tensor(rng.uniform(-0.4, 0.4, size=(2, 4)))
    pred = pred.double().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda p: loss(p, target.double(), reduction="none"), (pred,)
    )
    far = torch.tensor([[5.0, 6.0, 7.0, 6.5]], dtype=torch.float64, requires_grad=True)
    if loss is not iou_loss:  # disjoint: IoU is flat, the others still pull
        assert torch.autograd.gradcheck(
            lambda p: loss(p, target[:1].double(), reduction="none"), (far,)
        )


def aspect_term(p, g):
    """CIoU's v, transcribed from the paper with torch.atan."""
    w, h = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    wg, hg = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    return 4 / math.pi**2 * (torch.atan(wg / hg) - torch.atan(w / h)) ** 2


def test_ciou_gradient_holds_alpha_constant(rng):
    # alpha is a detached weight, so the gradient is that of DIoU + alpha0 v
    # with alpha0 frozen at the current boxes (not the full derivative that
    # gradcheck would compare with)
    target = torch.tensor([[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 4.0, 2.5]]).double()
    pred = target + torch.tensor(rng.uniform(-0.4, 0.4, size=(2, 4)))
    pred.requires_grad_(True)
    (got,) = torch.autograd.grad(ciou_loss(pred, target, reduction="sum"), pred)
    with torch.no_grad():
        v = aspect_term(pred, target)
        iou = 1 - iou_loss(pred, target, reduction="none")
        alpha0 = v / (1 - iou + v + 1e-7)
    frozen = (
        diou_loss(pred, target, reduction="sum")
        + (alpha0 * aspect_term(pred, target)).sum()
    )
    (expected,) = torch.autograd.grad(frozen, pred)
    torch.testing.assert_close(got, expected)
    assert torch.autograd.gradcheck(
        lambda p: (
            diou_loss(p, target, reduction="sum")
            + (alpha0 * aspect_term(p, target)).sum()
        ),
        (pred,),
    )


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_losses_numpy_equals_torch(loss, dtype, reduction, rng):
    pred, target = (
        random_boxes(rng, 9).astype(dtype),
        random_boxes(rng, 9).astype(dtype),
    )
    a = loss(pred, target, reduction=reduction)
    b = loss(torch.from_numpy(pred), torch.from_numpy(target), reduction=reduction)
    np.testing.assert_allclose(a, b.numpy(), rtol=16 * np.finfo(dtype).eps, atol=1e-7)


# coordinates on a 0.1 grid: every nonzero side, area and distance is at
# least 0.01 (times the scale squared), so eps = 1e-30 never matters and a
# shift of 50 cannot round a side away
coordinate = st.integers(-500, 500).map(lambda k: k / 10)
size = st.integers(0, 200).map(lambda k: k / 10)
box = st.tuples(coordinate, coordinate, size, size).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
)
box_lists = st.integers(1, 5).flatmap(
    lambda n: st.tuples(
        st.lists(box, min_size=n, max_size=n), st.lists(box, min_size=n, max_size=n)
    )
)


@FEW
@given(pair=box_lists)
def test_box_losses_are_symmetric_bounded_and_finite(pair):
    p, g = np.asarray(pair[0]), np.asarray(pair[1])
    for loss in BOX_LOSSES:
        ab = loss(p, g, reduction="none")
        ba = loss(g, p, reduction="none")
        assert np.all(np.isfinite(ab))
        np.testing.assert_allclose(ab, ba, rtol=1e-12, atol=1e-12)
        assert np.all(ab >= 0)
    assert np.all(iou_loss(p, g, reduction="none") <= 1)
    assert np.all(giou_loss(p, g, reduction="none") < 2)
    assert np.all(diou_loss(p, g, reduction="none") < 2)


@FEW
@given(pair=box_lists, scale=st.floats(0.1, 10), shift=coordinate)
def test_box_losses_are_invariant_to_translation_and_scale(pair, scale, shift):
    # exact up to the eps guard, which is made negligible here
    p, g = np.asarray(pair[0]), np.asarray(pair[1])
    for loss in BOX_LOSSES:
        base = loss(p, g, eps=1e-30, reduction="none")
        moved = loss(scale * p + shift, scale * g + shift, eps=1e-30, reduction="none")
        np.testing.assert_allclose(base, moved, rtol=1e-9, atol=1e-9)


# --- boxes at any scale and in half precision ---


def box_pairs(scale, dtype=torch.float32):
    """Overlapping pairs and a coincident pair of points, times ``scale``."""
    p = torch.tensor([[0, 0, 2, 3], [1, 1, 4, 2.5], [1, 1, 1, 1.0]], dtype=dtype)
    t = torch.tensor([[1, 0.5, 3, 2], [0, 1.5, 3, 3.5], [1, 1, 1, 1.0]], dtype=dtype)
    return p * scale, t * scale


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("dtype", "scale"),
    [
        (torch.float32, 1e20),  # squares overflow float32 from ~1.8e19
        (torch.float32, -7e37),  # sides of ~3e38, at the edge of float32
        (torch.float64, 1e200),
        (torch.float64, 3e307),
    ],
)
def test_huge_finite_boxes_give_the_losses_of_small_ones(loss, dtype, scale):
    # the losses are scale-invariant up to eps (an area: negligible at 1e20)
    p, t = box_pairs(scale, dtype)
    if scale < 0:  # boxes need x2 >= x1: flip the negated ones back
        p, t = p[:, [2, 3, 0, 1]], t[:, [2, 3, 0, 1]]
    p.requires_grad_(True)
    got = loss(p, t, reduction="none")
    unit_p, unit_t = box_pairs(1.0, dtype)
    unit_p.requires_grad_(True)
    expected = loss(unit_p, unit_t, reduction="none")
    assert torch.isfinite(got).all()
    rtol = 1e-6 if dtype == torch.float32 else 1e-7  # eps / union at scale 1
    torch.testing.assert_close(got, expected.detach(), rtol=rtol, atol=0)
    (grad,) = torch.autograd.grad(got.sum(), p)
    (unit_grad,) = torch.autograd.grad(expected.sum(), unit_p)
    assert torch.isfinite(grad).all()
    if scale > 0:  # d loss / d p shrinks as 1 / scale (a point pair has none)
        torch.testing.assert_close(
            grad[:2] * scale, unit_grad[:2], rtol=1e-4, atol=1e-6
        )
    numpy = loss(p.detach().numpy(), t.numpy(), reduction="none")
    np.testing.assert_allclose(numpy, got.detach().numpy(), rtol=rtol)


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
def test_boxes_of_ordinary_size_keep_their_value_to_the_bit(loss):
    # the normalisation of huge pairs divides every other pair by exactly 1:
    # the public loss equals the bare formula, also beside a huge pair
    kernel = getattr(detection, "_" + loss.__name__)
    for dtype in (torch.float32, torch.float64):
        p, t = box_pairs(1.0, dtype)
        p, t = p[:2] * 1e3 + 0.3, t[:2] * 1e3 + 0.3
        bare = kernel(_backend_torch(), p, t, 1e-7)
        assert torch.equal(loss(p, t, reduction="none"), bare)
        huge_p, huge_t = box_pairs(1e300 if dtype == torch.float64 else 1e30, dtype)
        mixed = loss(torch.cat([p, huge_p]), torch.cat([t, huge_t]), reduction="none")
        assert torch.equal(mixed[:2], bare)
        assert torch.isfinite(mixed).all()


def _backend_torch():
    from lossbook import _backend

    return _backend._TORCH


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("size", [250.0, 1e4])
def test_float16_boxes_are_computed_in_float32(loss, size):
    # in float16 a 250 px box has an area beyond 65504: inf, and GIoU = -inf,
    # IoU NaN; lossbook computes in float32 and returns float16
    p, t = box_pairs(size / 2)  # the first box: size x 1.5 size
    p16, t16 = p.half().requires_grad_(True), t.half()
    area = (p16[:, 2] - p16[:, 0]) * (p16[:, 3] - p16[:, 1])
    assert torch.isinf(area[0])  # why float16 arithmetic fails
    got = loss(p16, t16, reduction="none")
    assert got.dtype == torch.float16
    p32 = p16.detach().float().requires_grad_(True)
    expected = loss(p32, t16.float(), reduction="none")
    assert torch.equal(got, expected.half())
    (grad,) = torch.autograd.grad(got.sum(), p16)
    (grad32,) = torch.autograd.grad(expected.sum(), p32)
    assert grad.dtype == torch.float16
    assert torch.isfinite(grad).all()
    assert torch.equal(grad, grad32.half())


# --- boxes: the API contract ---


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
def test_bad_boxes_are_refused_with_the_offending_box(loss):
    good = [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    msg = r"`pred_boxes` must hold finite boxes .* found box 1 = \[2.0, 0.0, 1.0, 1.0\]"
    with pytest.raises(ValueError, match=msg):
        loss([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]], good)  # x2 < x1
    with pytest.raises(ValueError, match=r"`target_boxes` .* found box 0 = \[0.0, 3.0"):
        loss(good, torch.tensor([[0.0, 3.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]).numpy())
    with pytest.raises(ValueError, match=r"`pred_boxes` must hold finite boxes .*nan"):
        loss(torch.tensor([[0.0, 0.0, math.nan, 1.0]]), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"found box 0 = \[0.0, 0.0, inf, 1.0\]"):
        loss([[0.0, 0.0, math.inf, 1.0]], [[0.0, 0.0, 1.0, 1.0]])


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
def test_box_shapes_eps_reduction_and_kinds_are_checked(loss):
    unit = [[0.0, 0.0, 1.0, 1.0]]
    msg = r"`pred_boxes` must have shape \(N, 4\), .* got shape \(1, 3\)"
    with pytest.raises(ValueError, match=msg):
        loss([[0.0, 0.0, 1.0]], unit)
    with pytest.raises(ValueError, match=r"`target_boxes` must have shape \(N, 4\)"):
        loss(unit, [0.0, 0.0, 1.0, 1.0])
    msg = r"`pred_boxes` and `target_boxes` must have the same shape, got \(1, 4\)"
    with pytest.raises(ValueError, match=msg):
        loss(unit, unit * 2)
    with pytest.raises(ValueError, match=r"^eps must be a positive number \(> 0\)"):
        loss(unit, unit, eps=0.0)
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'avg'"):
        loss(unit, unit, reduction="avg")
    with pytest.raises(TypeError, match=r"`target_boxes` is a torch.Tensor but"):
        loss(np.array(unit), torch.tensor(unit))


@pytest.mark.parametrize("loss", BOX_LOSSES, ids=lambda f: f.__name__)
def test_no_boxes(loss, backend):
    empty = backend(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"`pred_boxes` is empty \(shape \(0, 4\)\)"):
        loss(empty, empty)
    total = loss(empty, empty, reduction="sum")
    backend.check_native(total)
    assert float(total) == 0.0
    backend.check_native(loss(empty, empty, reduction="none"), (0,))


# --- Dice ---


def brute_dice(p, t, smooth):
    """Per-sample Dice loss with explicit loops over every element."""
    out = []
    for ps, ts in zip(p, t, strict=True):
        inter = sum(float(a) * float(b) for a, b in zip(ps.flat, ts.flat, strict=True))
        total = sum(float(a) for a in ps.flat) + sum(float(b) for b in ts.flat)
        out.append(1 - (2 * inter + smooth) / (total + smooth))
    return np.array(out)


@pytest.mark.parametrize("smooth", [1.0, 0.1])
def test_dice_matches_a_brute_force_loop(smooth, backend, reduction, rng):
    p = rng.uniform(size=(4, 2, 3, 5))
    t = (rng.uniform(size=p.shape) < 0.4).astype(np.float64)
    p = p.astype(backend.dtype)
    per_sample = brute_dice(p, t, smooth)
    expected = {"none": per_sample, "sum": per_sample.sum(), "mean": per_sample.mean()}
    got = dice(backend(p), backend(t), smooth=smooth, reduction=reduction)
    backend.check_native(got, (4,) if reduction == "none" else ())
    np.testing.assert_allclose(
        backend.numpy(got), expected[reduction], rtol=64 * backend.eps, atol=0
    )


def test_dice_on_empty_and_perfect_masks(backend):
    empty = np.zeros((1, 3, 3))
    full = np.zeros((1, 3, 3))
    full[0, 1, :] = 1.0
    zero = backend(empty)
    # an empty prediction of an empty mask: (0 + s) / (0 + s) = 1, loss 0
    assert float(dice(zero, zero)) == 0.0
    assert float(dice(zero, zero, smooth=0.0)) == 0.0  # defined, not 0/0
    # a perfect hard mask: (2S + s) / (2S + s)
    assert float(dice(backend(full), backend(full))) == 0.0
    # nothing predicted, 3 pixels to find: 1 - s / (3 + s)
    assert float(dice(zero, backend(full), smooth=1.0)) == pytest.approx(1 - 1 / 4)
    assert float(dice(zero, backend(full), smooth=0.0)) == 1.0


def test_dice_gradcheck_and_finite_gradient_on_empty_masks(rng):
    p = torch.tensor(rng.uniform(0.1, 0.9, size=(3, 4)), requires_grad=True)
    t = torch.tensor((rng.uniform(size=(3, 4)) < 0.5).astype(np.float64))
    for smooth in (1.0, 0.0):
        assert torch.autograd.gradcheck(
            lambda x, s=smooth: dice(x, t, smooth=s, reduction="none"), (p,)
        )
    zero = torch.zeros(2, 5, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(dice(zero, torch.zeros(2, 5), smooth=0.0), zero)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dice_numpy_equals_torch(dtype, reduction, rng):
    p = rng.uniform(size=(3, 7)).astype(dtype)
    t = (rng.uniform(size=(3, 7)) < 0.5).astype(dtype)
    a = dice(p, t, reduction=reduction)
    b = dice(torch.from_numpy(p), torch.from_numpy(t), reduction=reduction)
    np.testing.assert_allclose(a, b.numpy(), rtol=8 * np.finfo(dtype).eps)


unit_interval = st.floats(0.0, 1.0)


@FEW
@given(
    values=st.lists(st.tuples(unit_interval, unit_interval), min_size=1, max_size=12),
    smooth=st.floats(0.0, 5.0),
)
def test_dice_lies_in_0_1_and_is_zero_for_a_perfect_hard_mask(values, smooth):
    p = np.array([[a for a, _ in values]])
    t = np.array([[b for _, b in values]])
    d = float(dice(p, t, smooth=smooth))
    assert -1e-12 <= d <= 1 + 1e-12
    hard = np.round(t)
    assert float(dice(hard, hard, smooth=smooth)) == pytest.approx(0.0, abs=1e-12)


def test_dice_bad_inputs():
    ok = np.full((2, 3), 0.5)
    with pytest.raises(
        ValueError, match=r"`prob` must hold probabilities in \[0, 1\], found 1.5"
    ):
        dice(np.full((2, 3), 1.5), ok)
    with pytest.raises(
        ValueError, match=r"`target` must hold mask values in \[0, 1\], found -1.0"
    ):
        dice(ok, -ok * 2)
    with pytest.raises(
        ValueError, match=r"^smooth must be a non-negative number \(>= 0\), got -1.0$"
    ):
        dice(ok, ok, smooth=-1.0)
    with pytest.raises(
        ValueError, match=r"`prob` must have shape \(N, \.\.\.\) with a batch axis"
    ):
        dice(0.5, 0.5)
    # one mask of shape (H,) or (H, W) is not a batch: refused, with the fix
    with pytest.raises(
        ValueError,
        match=r"and at least one more, got shape \(3,\); for a single sample pass "
        r"`prob\[None\]`",
    ):
        dice(np.full(3, 0.5), np.ones(3))
    np.testing.assert_allclose(
        dice(np.full(3, 0.5)[None], np.ones(3)[None]), 1 - (3 + 1) / (4.5 + 1)
    )
    with pytest.raises(
        ValueError, match=r"`prob` and `target` must have the same shape"
    ):
        dice(ok, ok[:, :2])
    with pytest.raises(ValueError, match=r"`prob` holds no samples \(shape \(0, 3\)\)"):
        dice(np.zeros((0, 3)), np.zeros((0, 3)))
    assert float(dice(np.zeros((0, 3)), np.zeros((0, 3)), reduction="sum")) == 0.0
    # N samples of zero pixels: a mean exists (each sample is empty-vs-empty)
    assert float(dice(np.zeros((2, 0)), np.zeros((2, 0)))) == 0.0
    with pytest.raises(TypeError, match=r"`target` is a torch.Tensor but `prob` is"):
        dice(ok, torch.tensor(ok))


# --- focal: the API contract ---


def test_focal_bad_inputs():
    z = np.zeros(3)
    with pytest.raises(
        ValueError, match=r"`target` must hold labels in \[0, 1\], found 1.5"
    ):
        focal(z, [0.0, 1.5, 1.0])
    with pytest.raises(ValueError, match=r"found nan"):
        focal(z, [0.0, math.nan, 1.0])
    with pytest.raises(TypeError, match=r"^alpha must be a Python number, got a"):
        focal(torch.zeros(3), torch.zeros(3), alpha=torch.tensor(0.25))
    with pytest.raises(TypeError, match=r"^gamma must be a Python number"):
        focal(z, z, gamma=np.array(2.0))
    with pytest.raises(
        ValueError, match=r"^gamma must be a non-negative number \(>= 0\), got -1.0$"
    ):
        focal(z, z, gamma=-1.0)
    for alpha in (1.5, math.nan, math.inf, "0.25", True):
        with pytest.raises(
            ValueError,
            match=r"^alpha must be a number in \[0, 1\], or negative to disable",
        ):
            focal(z, z, alpha=alpha)
    with pytest.raises(
        ValueError,
        match=r"`logits` and `target` must have the same shape, got \(3,\) and \(1, 3",
    ):
        focal(z, z[None])
    with pytest.raises(ValueError, match=r"`logits` is empty"):
        focal(np.zeros(0), np.zeros(0))
    with pytest.raises(
        TypeError, match=r"`logits` is a torch.Tensor but `target` is a numpy.ndarray"
    ):
        focal(torch.zeros(3), z)


def test_focal_keeps_dtype_and_autograd():
    z = torch.zeros(2, dtype=torch.float32, requires_grad=True)
    out = focal(z, torch.tensor([0, 1]))
    assert out.dtype == torch.float32 and out.requires_grad
    assert focal(np.zeros(2, np.float32), [0, 1]).dtype == np.float32
    assert focal([0, 0], [0, 1]).dtype == np.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_detection_losses_stay_on_the_cuda_device():
    z = torch.randn(4, device="cuda")
    assert focal(z, (z > 0).float()).device == z.device
    b = torch.tensor([[0.0, 0.0, 1.0, 2.0]], device="cuda")
    for loss in BOX_LOSSES:
        assert loss(b, b + 0.5).device == b.device
    assert (
        dice(torch.rand(2, 3, device="cuda"), torch.ones(2, 3, device="cuda")).device
        == z.device
    )


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in detection.__all__:
        assert getattr(lb, name) is getattr(detection, name)
        assert name in lb.__all__


def test_focal_reuses_the_bce_kernel():
    # one formula: at gamma = 0 and alpha < 0 focal *is* the BCE kernel
    z = np.linspace(-30, 30, 13)
    y = (z > 3).astype(np.float64)
    np.testing.assert_array_equal(
        focal(z, y, alpha=-1, gamma=0.0, reduction="none"),
        classification._bce_logits(np, z, y, None),
    )
