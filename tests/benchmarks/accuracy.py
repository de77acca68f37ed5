"""Accuracy of every lossbook loss in ulps, against 50-digit mpmath references.

A script, not a test (pytest does not collect ``tests/benchmarks``)::

    python tests/benchmarks/accuracy.py [--json PATH]

For every loss of the public API it evaluates the per-element losses
(``reduction="none"``; the penalties and ``uncertainty_weighted`` return one
number per call, so they are called once per draw) on seeded random inputs and
on extreme inputs, in float32 and float64, with NumPy arrays and with torch
tensors, and prints the worst error over the elements in ulps::

    ulps = |got - ref| / ulp(ref),  ulp(ref) = np.spacing of the dtype at |ref|

(the smallest subnormal where ``ref`` is 0 or underflows). ``ref`` is computed
here from the formulas of the docstrings and API.md, never by calling
lossbook: every input float is converted exactly (``mp.mpf(float(x))``) and
the formula is evaluated at 50 significant digits, in forms that keep those
digits (``log1p`` of tiny arguments, log-sum-exp around the largest logit,
extra working precision for ``log cosh`` of tiny residuals).

An error of a few ulps is all a careful float formula can promise where the
loss is well-conditioned. Where it is not (a small loss that is the difference
of large inputs, e.g. the cross-entropy of a confident row or the IoU loss of
nearly identical boxes), the inputs' own rounding already moves the exact loss
by ``cond`` ulps. So each row also gets the componentwise relative condition
number ``cond = sum_j |x_j df/dx_j| / |f|`` (perturbing the float inputs, not
the labels or hyperparameters), and its notes give the largest ``cond`` and
the worst ``ulps / max(1, cond)``: values of order 1 are as good as the
inputs allow. The second table measures the ``torch.nn.functional``
counterparts on the same inputs; the last section lists the worst elements of
every result worse than ``DETAIL_ULPS`` condition-scaled ulps.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import torch
import torch.nn.functional as F
from mpmath import mp

import lossbook as lb

mp.dps = 50
N = 200  # elements (rows) of the random inputs
DRAWS = 50  # calls of the losses that return one number per call
DTYPES = (np.float32, np.float64)
BACKENDS = ("numpy", "torch")
H = mp.mpf("1e-25")  # relative step of the condition numbers
DETAIL_ULPS = 4.0  # worst elements shown for results worse than this (/ cond)
JUMP = mp.mpf("1e-8")  # a relative change this large from a step of H: a jump
BOX_EPS = 1e-7  # the default eps of the IoU family
TAU = 0.07  # the default temperature of info_nce


def m(x):
    """The exact value of a float (a float32 is exact in float64 too)."""
    return mp.mpf(float(x))


# --- ulps and condition numbers ---


def ulps(got, ref, dtype) -> float:
    """|got - ref| in units of the spacing of ``dtype`` at |ref|."""
    g = float(got)
    if math.isnan(g):
        return math.inf
    info = np.finfo(dtype)
    a = abs(ref)
    if a > m(info.max):  # ref overflows the dtype: inf is the rounded value
        if math.isinf(g):
            return 0.0 if (g > 0) == (ref > 0) else math.inf
        ulp = float(np.spacing(info.max))
    elif math.isinf(g):
        return math.inf
    else:
        r = dtype(float(a))  # the float below or above |ref|: take the one below
        if m(r) > a:
            r = np.nextafter(r, dtype(0))
        ulp = float(np.spacing(r))  # the smallest subnormal at 0
    return float(abs(m(g) - ref) / ulp)


def perturbed(f, xs, extra, value) -> float:
    """Componentwise relative condition number of ``f`` at ``xs``, numerically.

    Infinite where ``f`` jumps (a clamp or a convention switching on): there
    no error of the inputs' last bit is too large.
    """
    if value == 0:
        return 0.0
    total = mp.mpf(0)
    for j, x in enumerate(xs):
        if x != 0:
            moved = list(xs)
            moved[j] = x * (1 - H)  # towards 0: a probability of 1 stays valid
            change = abs(f(moved, extra) - value)
            if change > JUMP * abs(value):
                return math.inf
            total += change
    return float(total / (H * abs(value)))


# --- references: the formulas of the docstrings at 50 digits ---


def softplus(x):
    """log(1 + e^x); log1p keeps e^x far below 1e-50 exact."""
    return mp.log1p(mp.exp(x))


def log_cosh_ref(xs, _):
    r = xs[0] - xs[1]
    extra = 0 if r == 0 else max(0, -2 * int(mp.floor(mp.log10(abs(r)))))
    with mp.workdps(mp.dps + extra + 10):  # cosh(r) - 1 ~ r^2 / 2 keeps 50 digits
        return +mp.log(mp.cosh(r))


def huber_ref(delta):
    d = m(delta)

    def f(xs, _):
        r = abs(xs[0] - xs[1])
        return r * r / 2 if r <= d else d * (r - d / 2)

    return f


def smooth_l1_ref(beta):
    b = m(beta)

    def f(xs, _):
        r = abs(xs[0] - xs[1])
        return r * r / (2 * b) if r < b else r - b / 2

    return f


def clamped_logs(p):
    """max(log p, -100) and max(log(1 - p), -100): torch's clamp of BCE."""
    return max(mp.log(p), -100), max(mp.log1p(-p), -100)


def bce_ref(xs, y):
    p = xs[0]
    y = xs[1] if y is None else m(y)  # soft labels are inputs, hard ones not
    log_p, log_q = clamped_logs(p)
    return -(y * log_p + (1 - y) * log_q)


def wbce_ref(w_pos, w_neg):
    def f(xs, y):
        log_p, log_q = clamped_logs(xs[0])
        y = m(y)
        return -(m(w_pos) * y * log_p + m(w_neg) * (1 - y) * log_q)

    return f


def bce_logits_ref(pos_weight=1.0):
    def f(xs, y):
        z = xs[0]
        y = xs[1] if y is None else m(y)
        # -[p_w y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], logs as softplus
        return m(pos_weight) * y * softplus(-z) + (1 - y) * softplus(z)

    return f


def softmax_parts(z):
    """(-log softmax(z)_k for every k, softmax(z)): log-sum-exp about the max."""
    top = max(range(len(z)), key=lambda k: z[k])
    e = [mp.exp(v - z[top]) for v in z]
    rest = mp.fsum(v for k, v in enumerate(e) if k != top)
    log_s = mp.log1p(rest)  # a dominant class keeps its tiny loss
    return [log_s + (z[top] - v) for v in z], [v / (1 + rest) for v in e]


def smoothed(k, eps, num):
    """Target distribution: (1 - eps) one-hot + eps / K (PyTorch's convention)."""
    e = m(eps)
    return [(1 - e) * (j == k) + e / num for j in range(num)]


def ce_ref(xs, extra):
    k, eps = extra
    nls, _ = softmax_parts(xs)
    if eps == 0:
        return nls[k]
    return mp.fsum(q * v for q, v in zip(smoothed(k, eps, len(xs)), nls, strict=True))


def ce_grad_terms(z, k, eps, scale=None):
    """sum_j s_j |dL/dz_j| (s_j = |z_j|, or max(|z_j|, scale)): cond's numerator."""
    _, p = softmax_parts(z)
    q = smoothed(k, eps, len(z))
    size = [abs(v) if scale is None else max(abs(v), scale) for v in z]
    return mp.fsum(s * abs(pj - qj) for s, pj, qj in zip(size, p, q, strict=True))


def ce_cond(xs, extra, value):
    k, eps = extra
    return 0.0 if value == 0 else float(ce_grad_terms(xs, k, eps) / value)


def corners(xs):
    return xs[:4], xs[4:]


def box_parts(xs):
    """IoU with eps, union, enclosing width and height of a pair of boxes."""
    (x1, y1, x2, y2), (g1, h1, g2, h2) = corners(xs)
    iw = min(x2, g2) - max(x1, g1)
    ih = min(y2, h2) - max(y1, h1)
    inter = iw * ih if iw > 0 and ih > 0 else mp.mpf(0)
    union = (x2 - x1) * (y2 - y1) + (g2 - g1) * (h2 - h1) - inter
    iou = inter / (union + m(BOX_EPS))
    return iou, union, max(x2, g2) - min(x1, g1), max(y2, h2) - min(y1, h1)


def iou_ref(xs, _):
    return 1 - box_parts(xs)[0]


def giou_ref(xs, _):
    iou, union, cw, ch = box_parts(xs)
    area = cw * ch
    return 1 - iou + (area - union) / (area + m(BOX_EPS))


def diou_ref(xs, _):
    iou, _, cw, ch = box_parts(xs)
    (x1, y1, x2, y2), (g1, h1, g2, h2) = corners(xs)
    rho2 = ((x1 + x2) / 2 - (g1 + g2) / 2) ** 2 + ((y1 + y2) / 2 - (h1 + h2) / 2) ** 2
    return 1 - iou + rho2 / (cw * cw + ch * ch + m(BOX_EPS))


def angle(w, h):
    """arctan(w / h) as the docstring defines it: pi/2 at h = 0, 0 for a point."""
    return mp.mpf(0) if w == 0 and h == 0 else mp.atan2(w, h)


def ciou_ref(xs, _):
    iou = box_parts(xs)[0]
    (x1, y1, x2, y2), (g1, h1, g2, h2) = corners(xs)
    v = 4 / mp.pi**2 * (angle(g2 - g1, h2 - h1) - angle(x2 - x1, y2 - y1)) ** 2
    alpha = v / (1 - iou + v + m(BOX_EPS))
    return diou_ref(xs, None) + alpha * v


def focal_ref(alpha, gamma):
    def f(xs, y):
        zt = xs[0] if y == 1 else -xs[0]  # the logit of the true class
        minus_log_pt = softplus(-zt)
        one_minus_pt = 1 / (1 + mp.exp(zt))
        loss = one_minus_pt ** m(gamma) * minus_log_pt
        if alpha >= 0:
            loss *= m(alpha) if y == 1 else 1 - m(alpha)
        return loss

    return f


def dice_ref(smooth):
    def f(xs, target):
        t = [m(v) for v in target]
        total = mp.fsum(xs) + mp.fsum(t) + m(smooth)
        if total == 0:
            return mp.mpf(0)  # an empty prediction of an empty mask
        overlap = mp.fsum(p * v for p, v in zip(xs, t, strict=True))
        return 1 - (2 * overlap + m(smooth)) / total

    return f


def distance(u, v):
    return mp.sqrt(mp.fsum((a - b) ** 2 for a, b in zip(u, v, strict=True)))


def contrastive_ref(margin):
    def f(xs, same):
        half = len(xs) // 2
        d = distance(xs[:half], xs[half:])
        gap = max(m(margin) - d, 0)
        return d * d if same == 1 else gap * gap

    return f


def triplet_ref(margin):
    def f(xs, _):
        k = len(xs) // 3
        a, p, n = xs[:k], xs[k : 2 * k], xs[2 * k :]
        return max(distance(a, p) - distance(a, n) + m(margin), 0)

    return f


def ppo_ref(clip_eps):
    lo, hi = 1 - m(clip_eps), 1 + m(clip_eps)

    def f(xs, _):
        lp, old, adv = xs
        r = mp.exp(lp - old)
        return -min(r * adv, min(max(r, lo), hi) * adv)

    return f


def gaussian_ref(sigma):
    def f(xs, _):
        s = m(sigma) if sigma is not None else xs[2]
        return mp.log(2 * mp.pi * s * s) / 2 + (xs[1] - xs[0]) ** 2 / (2 * s * s)

    return f


def laplace_ref(b):
    def f(xs, _):
        s = m(b) if b is not None else xs[2]
        return mp.log(2 * s) + abs(xs[1] - xs[0]) / s

    return f


def uncertainty_ref(xs, _):
    k = len(xs) // 2
    losses, log_sigma = xs[:k], xs[k:]
    return mp.fsum(
        mp.exp(-2 * s) / 2 * v + s for v, s in zip(losses, log_sigma, strict=True)
    )


# --- elements: the exact float inputs of each output element ---


def pointwise(*arrays):
    """One element per position; every array is a float input."""
    flat = [np.asarray(a).ravel() for a in arrays]
    return [([m(a[i]) for a in flat], None) for i in range(flat[0].size)]


def labelled(labels, *arrays):
    """One element per position; ``labels`` (exact, not perturbed) as the extra."""
    flat = [np.asarray(a).ravel() for a in arrays]
    ys = np.asarray(labels).ravel()
    return [([m(a[i]) for a in flat], float(ys[i])) for i in range(ys.size)]


def rows(*arrays, extra=None):
    """One element per row; the rows of every array concatenated."""
    out = []
    for i in range(arrays[0].shape[0]):
        xs = [m(v) for a in arrays for v in np.asarray(a[i]).ravel()]
        out.append((xs, None if extra is None else extra(i)))
    return out


# --- cases ---


@dataclass
class Case:
    """One loss on one family of inputs."""

    loss: str
    case: str
    make: Callable  # (rng, dtype) -> tuple of NumPy inputs
    call: Callable  # (*inputs of one backend) -> losses
    elements: Callable  # (*NumPy inputs) -> [(xs, extra)], one per output
    ref: Callable  # (xs, extra) -> the exact loss
    cond: Callable | None = perturbed  # (ref, xs, extra, value) -> cond, or None
    torch_name: str = ""  # the torch.nn.functional counterpart, if any
    torch_call: Callable | None = None
    note: str = ""

    def rng(self):
        seed = zlib.crc32(f"{self.loss}|{self.case}".encode())
        return np.random.default_rng(seed)


def cast(dtype, *arrays):
    return tuple(np.asarray(a, dtype=dtype) for a in arrays)


def span(dtype, f64, f32):
    """Decimal exponent range for the dtype."""
    return f64 if dtype is np.float64 else f32


def signed_logspace(rng, n, lo, hi):
    return rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(lo, hi, n)


def hard(rng, n):
    return rng.integers(0, 2, n).astype(np.float64)


def regression_cases():
    def random(rng, dtype):
        return cast(dtype, 2 * rng.standard_normal(N), 2 * rng.standard_normal(N))

    def wide(f64, f32):
        def make(rng, dtype):
            lo, hi = span(dtype, f64, f32)
            return cast(dtype, signed_logspace(rng, N, lo, hi), np.zeros(N))

        return make

    def unit_zone(rng, dtype):  # both sides of |r| = 1, where log_cosh switches form
        return cast(
            dtype, rng.choice([-1, 1], N) * rng.uniform(0.9, 1.1, N), np.zeros(N)
        )

    def none(fn, **kw):
        return lambda p, t: fn(p, t, **kw, reduction="none")

    out = []
    specs = [
        ("mse", none(lb.mse), lambda xs, _: (xs[0] - xs[1]) ** 2,
         "F.mse_loss", none(F.mse_loss), ((-150, 150), (-18, 18))),
        ("mae", none(lb.mae), lambda xs, _: abs(xs[0] - xs[1]),
         "F.l1_loss", none(F.l1_loss), ((-300, 308), (-44, 38))),
        ("huber", none(lb.huber, delta=0.5), huber_ref(0.5),
         "F.huber_loss", none(F.huber_loss, delta=0.5), ((-150, 300), (-18, 38))),
        ("smooth_l1", none(lb.smooth_l1, beta=0.5), smooth_l1_ref(0.5),
         "F.smooth_l1_loss", none(F.smooth_l1_loss, beta=0.5),
         ((-150, 300), (-18, 38))),
        ("log_cosh", none(lb.log_cosh), log_cosh_ref, "", None,
         ((-300, 308), (-44, 38))),
    ]  # fmt: skip
    for name, call, ref, tname, tcall, (f64, f32) in specs:
        out.append(Case(name, "random N(0,4) pairs", random, call, pointwise, ref,
                        torch_name=tname, torch_call=tcall))  # fmt: skip
        rng_note = f"|r| in 1e{f64[0]}..1e{f64[1]} (f32 1e{f32[0]}..1e{f32[1]})"
        out.append(Case(name, "wide residuals", wide(f64, f32), call, pointwise, ref,
                        torch_name=tname, torch_call=tcall, note=rng_note))  # fmt: skip
    out.append(Case("log_cosh", "|r| in [0.9, 1.1]", unit_zone,
                    none(lb.log_cosh), pointwise, log_cosh_ref))  # fmt: skip
    return out


def classification_cases():
    out = []

    def zo_make(rng, dtype):  # integer labels whatever the dtype (floats raise)
        return rng.integers(0, 3, N), rng.integers(0, 3, N)

    def label_pairs(a, b):  # exact labels: nothing to perturb
        return [([], (float(x), float(y))) for x, y in zip(a, b, strict=True)]

    out.append(Case("zero_one", "random labels in {0,1,2}", zo_make,
                    lambda a, b: lb.zero_one(a, b, reduction="none"), label_pairs,
                    lambda xs, e: mp.mpf(e[0] != e[1]), cond=None))  # fmt: skip

    # binary cross-entropy on probabilities
    def bce_random(rng, dtype):
        return cast(dtype, rng.uniform(0, 1, N), hard(rng, N))

    def bce_soft(rng, dtype):
        return cast(dtype, rng.uniform(0, 1, N), rng.uniform(0, 1, N))

    def bce_tiny(rng, dtype):
        lo = span(dtype, -300, -44)
        return cast(dtype, 10.0 ** rng.uniform(lo, -1, N), hard(rng, N))

    def bce_near_one(rng, dtype):
        bits = span(dtype, 53, 24)
        return cast(dtype, 1 - 2.0 ** -rng.integers(1, bits, N), hard(rng, N))

    def bce_ends(rng, dtype):
        return cast(dtype, rng.integers(0, 2, N), hard(rng, N))

    def bce_call(p, y):
        return lb.binary_cross_entropy(p, y, reduction="none")

    def bce_torch(p, y):
        return F.binary_cross_entropy(p, y, reduction="none")

    def hard_labels(p, y):
        return labelled(y, p)

    for case, make, soft, note in [
        ("random p, hard y", bce_random, False, ""),
        ("random p, soft y", bce_soft, True, ""),
        ("p in 1e-300..0.1", bce_tiny, False, "f32: p in 1e-44..0.1"),
        ("p = 1 - 2^-k", bce_near_one, False, ""),
        ("p in {0, 1}", bce_ends, False, "logs clamped at -100 (torch convention)"),
    ]:
        elements = pointwise if soft else hard_labels
        out.append(Case("binary_cross_entropy", case, make, bce_call, elements,
                        bce_ref, torch_name="F.binary_cross_entropy",
                        torch_call=bce_torch, note=note))  # fmt: skip

    # ... with logits
    def bcel_random(rng, dtype):
        return cast(dtype, 3 * rng.standard_normal(N), hard(rng, N))

    def bcel_soft(rng, dtype):
        return cast(dtype, 3 * rng.standard_normal(N), rng.uniform(0, 1, N))

    def bcel_huge(rng, dtype):
        z = rng.choice([-1.0, 1.0], N) * rng.choice([1e4, 1e3, 1e2], N)
        return cast(dtype, z, hard(rng, N))

    def bcel_tiny(rng, dtype):
        y = hard(rng, N)
        zt = rng.uniform(5, span(dtype, 700, 100), N)  # loss ~ e^-zt
        return cast(dtype, (2 * y - 1) * zt, y)

    for case, make, soft, pw, note in [
        ("random N(0,9), hard y", bcel_random, False, None, ""),
        ("random N(0,9), soft y", bcel_soft, True, None, ""),
        ("random, pos_weight=3", bcel_random, False, 3.0, ""),
        ("logits +-1e2..1e4", bcel_huge, False, None, ""),
        ("tiny losses e^-700..e^-5", bcel_tiny, False, None, "f32: e^-100..e^-5"),
    ]:

        def bcel_call(z, y, pw=pw):
            return lb.binary_cross_entropy_with_logits(
                z, y, pos_weight=None if pw is None else pw + 0 * z, reduction="none"
            )

        def bcel_torch(z, y, pw=pw):
            return F.binary_cross_entropy_with_logits(
                z, y, pos_weight=None if pw is None else pw + 0 * z, reduction="none"
            )

        out.append(Case("binary_cross_entropy_with_logits", case, make, bcel_call,
                        pointwise if soft else hard_labels,
                        bce_logits_ref(1.0 if pw is None else pw),
                        torch_name="F.binary_cross_entropy_with_logits",
                        torch_call=bcel_torch, note=note))  # fmt: skip

    # softmax cross-entropy with class indices
    k = 10

    def ce_random(rng, dtype):
        return (*cast(dtype, 3 * rng.standard_normal((N, k))), rng.integers(0, k, N))

    def ce_huge(rng, dtype):
        return (*cast(dtype, rng.uniform(-1e4, 1e4, (N, k))), rng.integers(0, k, N))

    def ce_tiny(rng, dtype):
        z = rng.standard_normal((N, k))
        t = rng.integers(0, k, N)
        z[np.arange(N), t] += rng.uniform(10, span(dtype, 700, 90), N)
        return (*cast(dtype, z), t)

    for case, make, eps, note in [
        ("random N(0,9), K=10", ce_random, 0.0, ""),
        ("random N(0,9), ls=0.1", ce_random, 0.1, "label_smoothing=0.1"),
        ("logits U(-1e4,1e4)", ce_huge, 0.0, ""),
        ("logits U(-1e4,1e4), ls=0.1", ce_huge, 0.1, "label_smoothing=0.1"),
        ("tiny losses (margin 10..700)", ce_tiny, 0.0, "f32: margin 10..90"),
    ]:

        def call(z, t, eps=eps):
            return lb.cross_entropy(z, t, label_smoothing=eps, reduction="none")

        def tcall(z, t, eps=eps):
            return F.cross_entropy(z, t, label_smoothing=eps, reduction="none")

        def elements(z, t, eps=eps):
            return rows(z, extra=lambda i: (int(t[i]), eps))

        def cond(ref, xs, extra, value):
            return ce_cond(xs, extra, value)

        out.append(Case("cross_entropy", case, make, call, elements, ce_ref,
                        cond=cond, torch_name="F.cross_entropy", torch_call=tcall,
                        note=note))  # fmt: skip

    # margin losses with signed labels
    def signed(scale):
        def make(rng, dtype):
            return cast(dtype, scale(rng), rng.choice([-1.0, 1.0], N))

        return make

    normal = signed(lambda r: 2 * r.standard_normal(N))
    out.append(Case("hinge", "random N(0,4)", normal,
                    lambda s, y: lb.hinge(s, y, reduction="none"),
                    lambda s, y: labelled(y, s),
                    lambda xs, y: max(1 - m(y) * xs[0], 0)))  # fmt: skip

    def large(rng, dtype):
        s = rng.uniform(-1, 1, N) * span(dtype, 700, 85)
        return cast(dtype, s, rng.choice([-1.0, 1.0], N))

    for case, make, note in [
        ("random N(0,4)", normal, ""),
        ("|s| up to 700", large, "f32: |s| up to 85"),
    ]:
        out.append(Case("exponential", case, make,
                        lambda s, y: lb.exponential(s, y, reduction="none"),
                        lambda s, y: labelled(y, s),
                        lambda xs, y: mp.exp(-m(y) * xs[0]), note=note))  # fmt: skip
    return out


def metric_cases():
    out = []
    d = 8

    def pairs(kind):
        def make(rng, dtype):
            x1 = 0.25 * rng.standard_normal((N, d))
            noise = rng.standard_normal((N, d))
            step = {"random": 0.25, "near": span(dtype, 1e-8, 1e-4),
                    "far": span(dtype, 1e150, 1e18)}[kind]  # fmt: skip
            x2 = x1 + step * noise if kind != "random" else step * noise
            return cast(dtype, x1, x2, hard(rng, N))

        return make

    def contrastive_call(a, b, s):
        return lb.contrastive(a, b, s, reduction="none")

    def contrastive_elements(a, b, s):
        return rows(a, b, extra=lambda i: float(s[i]))

    for case, kind, note in [
        ("random N(0,1/16), D=8", "random", ""),
        ("nearly identical (1e-8)", "near", "f32: x2 - x1 ~ 1e-4"),
        ("far apart (1e150)", "far", "f32: 1e18"),
    ]:
        out.append(Case("contrastive", case, pairs(kind), contrastive_call,
                        contrastive_elements, contrastive_ref(1.0),
                        note=note))  # fmt: skip

    def triplets(kind):
        def make(rng, dtype):
            a = 0.3 * rng.standard_normal((N, d))
            step = {"random": 0.3, "near": span(dtype, 1e-8, 1e-4),
                    "far": span(dtype, 1e200, 1e25)}[kind]  # fmt: skip
            p = a + step * rng.standard_normal((N, d))
            n = a + 2 * step * rng.standard_normal((N, d))  # loss about 0 for random
            return cast(dtype, a, p, n)

        return make

    def triplet_call(a, p, n):
        return lb.triplet(a, p, n, reduction="none")

    def triplet_torch(a, p, n):
        return F.triplet_margin_loss(a, p, n, margin=1.0, eps=0.0, reduction="none")

    for case, kind, note in [
        ("random, D=8", "random", "a, p - a ~ N(0, 0.09), n - a ~ N(0, 0.36)"),
        ("nearly identical (1e-8)", "near", "f32: 1e-4"),
        ("far apart (1e200)", "far", "f32: 1e25; squares overflow"),
    ]:
        out.append(Case("triplet", case, triplets(kind), triplet_call,
                        lambda a, p, n: rows(a, p, n), triplet_ref(1.0),
                        torch_name="F.triplet_margin_loss(eps=0)",
                        torch_call=triplet_torch, note=note))  # fmt: skip

    # InfoNCE: the reference needs the whole batch, so the elements carry the
    # rows and columns of the 50-digit similarity matrix
    nb, db = 32, 16

    def views(scale):
        def make(rng, dtype):
            q = rng.standard_normal((nb, db))
            k = q + scale * rng.standard_normal((nb, db))
            return cast(dtype, q, k)

        return make

    def unit(row):
        norm = mp.sqrt(mp.fsum(v * v for v in row))
        return [v / max(norm, mp.mpf(1e-12)) for v in row]

    def nce_elements(tau, symmetric):
        def elements(q, k):
            qn = [unit([m(v) for v in row]) for row in q]
            kn = [unit([m(v) for v in row]) for row in k]
            s = [
                [mp.fsum(a * b for a, b in zip(u, w, strict=True)) / m(tau) for w in kn]
                for u in qn
            ]
            cols = [[s[j][i] for j in range(nb)] for i in range(nb)]
            return [([], (s[i], cols[i] if symmetric else None, i)) for i in range(nb)]

        return elements

    def nce_ref(_, extra):
        row, col, i = extra
        loss = ce_ref(row, (i, 0.0))
        return loss if col is None else (loss + ce_ref(col, (i, 0.0))) / 2

    def nce_cond(tau):
        def cond(ref, xs, extra, value):
            row, col, i = extra
            if value == 0:
                return 0.0
            terms = ce_grad_terms(row, i, 0.0, scale=1 / m(tau))
            if col is not None:
                terms = (terms + ce_grad_terms(col, i, 0.0, scale=1 / m(tau))) / 2
            return float(terms / value)

        return cond

    for case, scale, tau, symmetric in [
        ("random N=32 D=16 tau=0.07", 1.0, TAU, False),
        ("symmetric, tau=0.07", 1.0, TAU, True),
        ("near views, tau=0.01", 1e-3, 0.01, False),
    ]:

        def call(q, k, tau=tau, symmetric=symmetric):
            return lb.info_nce(q, k, temperature=tau, symmetric=symmetric,
                               reduction="none")  # fmt: skip

        note = "cond: logits moved by u max(|z|, 1/tau)"
        out.append(Case("info_nce", case, views(scale), call,
                        nce_elements(tau, symmetric), nce_ref, cond=nce_cond(tau),
                        note=note))  # fmt: skip
    return out


def detection_cases():
    out = []

    def focal_random(rng, dtype):
        return cast(dtype, 3 * rng.standard_normal(N), hard(rng, N))

    def focal_huge(rng, dtype):
        z = rng.choice([-1.0, 1.0], N) * rng.choice([1e4, 1e3, 1e2], N)
        return cast(dtype, z, hard(rng, N))

    def focal_tiny(rng, dtype):
        y = hard(rng, N)
        zt = rng.uniform(2, span(dtype, 230, 28), N)  # loss ~ e^-3zt
        return cast(dtype, (2 * y - 1) * zt, y)

    for case, make, gamma, note in [
        ("random N(0,9)", focal_random, 2.0, "alpha=0.25 gamma=2"),
        ("random N(0,9), gamma=0.5", focal_random, 0.5, ""),
        ("logits +-1e2..1e4", focal_huge, 2.0, ""),
        ("tiny losses e^-690..e^-6", focal_tiny, 2.0, "f32: e^-84..e^-6"),
    ]:

        def call(z, y, gamma=gamma):
            return lb.focal(z, y, gamma=gamma, reduction="none")

        out.append(Case("focal", case, make, call, lambda z, y: labelled(y, z),
                        focal_ref(0.25, gamma), note=note))  # fmt: skip

    def boxes(rng, n, lo=0.5, hi=5.0):
        xy = rng.uniform(0, 10, (n, 2))
        wh = rng.uniform(lo, hi, (n, 2))
        return np.concatenate([xy, xy + wh], axis=1)

    def box_random(rng, dtype):
        p, t = boxes(rng, N), boxes(rng, N)
        t[:, :2] = p[:, :2] + rng.uniform(-2, 2, (N, 2))
        t[:, 2:] = t[:, :2] + rng.uniform(0.5, 5, (N, 2))
        return cast(dtype, p, t)

    def box_zero_area(rng, dtype):
        p, t = boxes(rng, N), boxes(rng, N, 0.5, 2.0)
        t[:, :2] = p[:, :2] + rng.uniform(-1, 1, (N, 2))
        t[:, 2:] = t[:, :2] + rng.uniform(0.5, 2, (N, 2))
        for b in (p, t):  # zero width, zero height or a point, each by chance
            kind = rng.integers(0, 4, N)
            b[kind == 1, 2] = b[kind == 1, 0]
            b[kind == 2, 3] = b[kind == 2, 1]
            b[kind == 3, 2:] = b[kind == 3, :2]
        return cast(dtype, p, t)

    def box_disjoint(rng, dtype):
        p = boxes(rng, N)
        shift = rng.choice([-1.0, 1.0], (N, 2)) * 10.0 ** rng.uniform(2, 6, (N, 2))
        return cast(dtype, p, p + np.concatenate([shift, shift], axis=1))

    def box_touching(rng, dtype):
        p = boxes(rng, N)
        t = boxes(rng, N)
        w = t[:, 2] - t[:, 0]
        gap = rng.uniform(-1, 1, N) * span(dtype, 1e-9, 1e-5)  # overlap or gap
        t[:, 0] = p[:, 2] + gap
        t[:, 2] = t[:, 0] + w
        return cast(dtype, p, t)

    def box_identical(rng, dtype):
        p = boxes(rng, N)
        t = p + span(dtype, 1e-9, 1e-5) * rng.standard_normal((N, 4))
        t[:, 2:] = np.maximum(t[:, 2:], t[:, :2])
        return cast(dtype, p, t)

    box_makes = [
        ("random, overlapping or not", box_random, ""),
        ("zero-area boxes", box_zero_area, "widths/heights 0, points"),
        ("disjoint, 1e2..1e6 apart", box_disjoint, ""),
        ("nearly touching (gap 1e-9)", box_touching, "f32: 1e-5"),
        ("nearly identical (1e-9)", box_identical, "f32: 1e-5"),
    ]
    for name, fn, ref in [
        ("iou_loss", lb.iou_loss, iou_ref),
        ("giou_loss", lb.giou_loss, giou_ref),
        ("diou_loss", lb.diou_loss, diou_ref),
        ("ciou_loss", lb.ciou_loss, ciou_ref),
    ]:
        for case, make, note in box_makes:

            def call(p, t, fn=fn):
                return fn(p, t, reduction="none")

            out.append(Case(name, case, make, call, lambda p, t: rows(p, t), ref,
                            note=note))  # fmt: skip

    px = 16

    def dice_random(rng, dtype):
        return cast(dtype, rng.uniform(0, 1, (N, px)), hard(rng, (N, px)))

    def dice_near(rng, dtype):
        t = hard(rng, (N, px))
        off = span(dtype, 1e-6, 1e-3) * rng.uniform(0, 1, (N, px))
        return cast(dtype, np.abs(t - off), t)

    def dice_empty(rng, dtype):
        p = np.zeros((N, px))
        some = rng.integers(0, 2, N) == 1
        p[some] = 10.0 ** rng.uniform(span(dtype, -300, -40), -1, (int(some.sum()), px))
        return cast(dtype, p, np.zeros((N, px)))

    for case, make, smooth, note in [
        ("random p, hard masks, 16 px", dice_random, 1.0, "smooth=1"),
        ("near-perfect (1e-6 off)", dice_near, 1.0, "f32: 1e-3 off"),
        ("empty masks, smooth=0", dice_empty, 0.0, "loss 0 or 1 exactly"),
    ]:

        def call(p, t, smooth=smooth):
            return lb.dice(p, t, smooth=smooth, reduction="none")

        def elements(p, t):
            return [([m(v) for v in p[i]], t[i]) for i in range(p.shape[0])]

        out.append(Case("dice", case, make, call, elements, dice_ref(smooth),
                        note=note))  # fmt: skip
    return out


def rl_cases():
    def random2(rng, dtype):
        return cast(dtype, 2 * rng.standard_normal(N), 2 * rng.standard_normal(N))

    def log_probs(rng, dtype):
        return cast(dtype, -rng.exponential(1.0, N), rng.standard_normal(N))

    def ppo_random(rng, dtype):
        lp = -1 + 0.3 * rng.standard_normal(N)
        old = -1 + 0.3 * rng.standard_normal(N)
        return cast(dtype, lp, old, rng.standard_normal(N))

    def ppo_wide(rng, dtype):
        return cast(dtype, rng.uniform(-60, 0, N), rng.uniform(-60, 0, N),
                    rng.standard_normal(N))  # fmt: skip

    def ppo_call(lp, old, a):
        return lb.ppo_clip(lp, old, a, reduction="none")

    return [
        Case("value_loss", "random N(0,4)", random2,
             lambda v, r: lb.value_loss(v, r, reduction="none"), pointwise,
             lambda xs, _: (xs[0] - xs[1]) ** 2),
        Case("policy_gradient", "random", log_probs,
             lambda lp, a: lb.policy_gradient(lp, a, reduction="none"), pointwise,
             lambda xs, _: -xs[0] * xs[1]),
        Case("ppo_clip", "random, |log ratio| ~ 0.4", ppo_random, ppo_call,
             pointwise, ppo_ref(0.2), note="clip_eps=0.2"),
        Case("ppo_clip", "log-probs U(-60,0)", ppo_wide, ppo_call, pointwise,
             ppo_ref(0.2)),
    ]  # fmt: skip


def per_draw(fn):
    """Call ``fn`` on row i of every input: one output per draw."""

    def call(*arrays):
        return [fn(*(a[i] for a in arrays)) for i in range(arrays[0].shape[0])]

    return call


def weighting_cases():
    out = []

    def params(rng, dtype):
        return cast(dtype, rng.standard_normal((DRAWS, N)))

    def params_wide(rng, dtype):
        lo, hi = span(dtype, (-150, 150), (-18, 18))
        return cast(dtype, signed_logspace(rng, DRAWS * N, lo, hi).reshape(DRAWS, N))

    lam, l1, l2 = 0.01, 0.01, 0.001
    specs = [
        ("l1_penalty", lambda t: lb.l1_penalty(t, lam=lam),
         lambda xs, _: m(lam) * mp.fsum(abs(v) for v in xs)),
        ("l2_penalty", lambda t: lb.l2_penalty(t, lam=lam),
         lambda xs, _: m(lam) * mp.fsum(v * v for v in xs)),
        ("elastic_net_penalty", lambda t: lb.elastic_net_penalty(t, l1=l1, l2=l2),
         lambda xs, _: m(l1) * mp.fsum(abs(v) for v in xs)
         + m(l2) * mp.fsum(v * v for v in xs)),
    ]  # fmt: skip
    for name, fn, ref in specs:
        for case, make in [
            (f"{DRAWS} draws of {N} N(0,1)", params),
            ("magnitudes 1e-150..1e150", params_wide),
        ]:
            note = "one sum per draw; cond <= 2"
            if make is params_wide:
                note += "; f32: 1e-18..1e18"
            out.append(Case(name, case, make, per_draw(fn), lambda a: rows(a), ref,
                            cond=None, note=note))  # fmt: skip

    def wbce_random(rng, dtype):
        return cast(dtype, rng.uniform(0, 1, N), hard(rng, N))

    def wbce_tiny(rng, dtype):
        return cast(dtype, 10.0 ** rng.uniform(span(dtype, -300, -44), -1, N),
                    hard(rng, N))  # fmt: skip

    def wbce_call(p, y):
        return lb.weighted_binary_cross_entropy(p, y, w_pos=0.75, w_neg=0.25,
                                                reduction="none")  # fmt: skip

    for case, make, note in [
        ("random p, hard y", wbce_random, "w_pos=0.75 w_neg=0.25"),
        ("p in 1e-300..0.1", wbce_tiny, "f32: p in 1e-44..0.1"),
    ]:
        out.append(Case("weighted_binary_cross_entropy", case, make, wbce_call,
                        lambda p, y: labelled(y, p), wbce_ref(0.75, 0.25),
                        note=note))  # fmt: skip

    def tasks(scale):
        def make(rng, dtype):
            s = rng.uniform(-1, 1, (DRAWS, 4)) * span(dtype, *scale)
            return cast(dtype, rng.uniform(0, 10, (DRAWS, 4)), s)

        return make

    for case, scale, note in [
        ("4 tasks, log_sigma U(-1,1)", (1.0, 1.0), f"one value per draw, {DRAWS}"),
        ("log_sigma U(-300,300)", (300.0, 40.0), "f32: U(-40,40)"),
    ]:
        out.append(Case("uncertainty_weighted", case, tasks(scale),
                        per_draw(lb.uncertainty_weighted), lambda v, s: rows(v, s),
                        uncertainty_ref, note=note))  # fmt: skip

    # likelihoods: a scale given as a number, as an array, and over a wide range
    def loc(rng, dtype):
        return cast(dtype, rng.standard_normal(N), rng.standard_normal(N))

    def loc_scale(lo, hi, log=False):
        def make(rng, dtype):
            if log:
                a, b = span(dtype, (lo, hi), (-15, 15))
                s = 10.0 ** rng.uniform(a, b, N)
            else:
                s = rng.uniform(lo, hi, N)
            pred = rng.standard_normal(N) * s
            return cast(dtype, pred, pred + s * rng.standard_normal(N), s)

        return make

    for name, fn, refs, key, value in [
        ("gaussian_nll", lb.gaussian_nll, gaussian_ref, "sigma", 0.5),
        ("laplace_nll", lb.laplace_nll, laplace_ref, "b", 0.25),
    ]:

        def number(p, t, fn=fn, key=key, value=value):
            return fn(p, t, **{key: value}, reduction="none")

        def array(p, t, s, fn=fn, key=key):
            return fn(p, t, **{key: s}, reduction="none")

        out += [
            Case(name, f"random, {key}={value}", loc, number, pointwise,
                 refs(value)),
            Case(name, f"{key} array U(0.05, 5)", loc_scale(0.05, 5.0), array,
                 pointwise, refs(None)),
            Case(name, f"{key} in 1e-100..1e100", loc_scale(-100, 100, log=True),
                 array, pointwise, refs(None), note=f"f32: {key} in 1e-15..1e15"),
        ]  # fmt: skip
    return out


# --- measuring ---


def to_floats(out) -> list[float]:
    if isinstance(out, list):
        return [float(v) for v in out]
    if isinstance(out, torch.Tensor):
        out = out.detach().numpy()
    return [float(v) for v in np.asarray(out).ravel()]


def on(backend, inputs):
    if backend == "numpy":
        return inputs
    return tuple(torch.from_numpy(np.array(a)) for a in inputs)


@dataclass
class Result:
    worst: float  # max ulps
    scaled: float  # max ulps / max(1, cond)
    at: int  # element of the scaled worst
    got: list


def measure(outputs, refs, conds, dtype) -> Result:
    errs = [ulps(g, r, dtype) for g, r in zip(outputs, refs, strict=True)]
    scaled = [e / max(1.0, c) for e, c in zip(errs, conds, strict=True)]
    at = int(np.argmax(scaled)) if scaled else 0
    return Result(max(errs, default=0.0), max(scaled, default=0.0), at, outputs)


def run_case(case: Case):
    """{(kind, dtype): Result} for lossbook (numpy, torch) and torch F, plus cond."""
    results, conds, details = {}, {}, {}
    for dtype in DTYPES:
        inputs = case.make(case.rng(), dtype)
        elements = case.elements(*inputs)
        refs = [case.ref(xs, extra) for xs, extra in elements]
        if case.cond is None:
            cond = [1.0] * len(refs)
        else:
            cond = [case.cond(case.ref, xs, e, v)
                    for (xs, e), v in zip(elements, refs, strict=True)]  # fmt: skip
        conds[dtype] = cond
        details[dtype] = (elements, refs)
        calls = [(b, case.call) for b in BACKENDS]
        if case.torch_call is not None:
            calls.append(("F", case.torch_call))
        for kind, fn in calls:
            with np.errstate(all="ignore"):
                got = to_floats(
                    fn(*on("numpy" if kind == "numpy" else "torch", inputs))
                )
            results[kind, dtype] = measure(got, refs, cond, dtype)
    return results, conds, details


def fmt(v: float) -> str:
    if math.isinf(v):
        return "inf"
    return f"{v:.2f}" if v < 1000 else f"{v:.1e}"


def cond_note(results, conds, kinds) -> str:
    finite = [c for cs in conds.values() for c in cs if math.isfinite(c)]
    jumps = max(sum(math.isinf(c) for c in cs) for cs in conds.values())
    top = max(finite, default=0.0)
    note = []
    if top >= 10:
        scaled = max(results[k, d].scaled for k in kinds for d in DTYPES)
        note.append(f"cond<={top:.0e}, ulps/cond<={scaled:.2g}")
    if jumps:
        note.append(f"cond=inf (f jumps) at {jumps} elements")
    return "; ".join(note)


def _worst(v: float):
    """A worst ulp count for JSON: a number, or "inf" (non-finite or NaN)."""
    return "inf" if math.isinf(v) else round(v, 4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--formulas",
        action="store_true",
        help="torch tensors take the array API formulas, not lossbook._fast",
    )
    args = parser.parse_args(argv)
    if args.formulas:
        from lossbook import _fast

        with _fast.disabled():
            return _main(args)
    return _main(args)


def _main(args):
    started = datetime.datetime.now(datetime.timezone.utc)
    records = []
    torch.set_num_threads(1)
    if args.formulas:
        print("(fast paths off: the formulas on torch tensors)")
    cases = (
        regression_cases()
        + classification_cases()
        + metric_cases()
        + detection_cases()
        + rl_cases()
        + weighting_cases()
    )
    print(
        f"lossbook {lb.__version__}, torch {torch.__version__}, numpy "
        f"{np.__version__}, mpmath {mpmath.__version__} ({mp.dps} digits), "
        f"{platform.machine()}"
    )
    print(
        "worst |got - ref| / ulp(ref) over the elements (reduction='none'), "
        f"{N} elements or rows per case;\nnp / torch: lossbook on NumPy arrays / "
        "on torch tensors; cond: see the module docstring\n"
    )
    header = (
        f"{'loss':<33}{'case':<30}{'np f32':>9}{'np f64':>9}{'torch f32':>10}"
        f"{'torch f64':>10}  notes"
    )
    print(header)
    print("-" * len(header))
    torch_rows, slow = [], []
    for case in cases:
        results, conds, details = run_case(case)
        kinds = BACKENDS
        notes = [n for n in (case.note, cond_note(results, conds, kinds)) if n]
        bad = [f"{k} {np.dtype(d).name}" for k in kinds for d in DTYPES
               if math.isinf(results[k, d].worst)]  # fmt: skip
        if bad:
            notes.append("non-finite or NaN: " + ", ".join(bad))
        cells = "".join(
            f"{fmt(results[k, d].worst):>{9 if k == 'numpy' else 10}}"
            for k in kinds
            for d in DTYPES
        )
        print(f"{case.loss:<33}{case.case:<30}{cells}  {'; '.join(notes)}")
        records.append({
            "loss": case.loss,
            "case": case.case,
            "torch_function": case.torch_name or None,
            **{f"{k} {np.dtype(d).name}": _worst(r.worst)
               for (k, d), r in results.items()},
            "max_cond": max((c for cs in conds.values() for c in cs
                             if math.isfinite(c)), default=0.0),
            "notes": "; ".join(notes),
        })  # fmt: skip
        if case.torch_call is not None:
            torch_rows.append((case, results, conds))
        for k in (*kinds, "F"):
            for d in DTYPES:
                r = results.get((k, d))
                if r is not None and r.scaled > DETAIL_ULPS:
                    slow.append((case, k, d, r, conds[d], details[d]))

    print(
        "\ntorch.nn.functional (F) on the same inputs, beside lossbook on tensors (lb)",
        end="\n\n",
    )
    header = (
        f"{'torch function':<36}{'case':<30}{'F f32':>9}{'F f64':>9}"
        f"{'lb f32':>9}{'lb f64':>9}  notes"
    )
    print(header)
    print("-" * len(header))
    for case, results, conds in torch_rows:
        cells = "".join(
            f"{fmt(results[k, d].worst):>9}" for k in ("F", "torch") for d in DTYPES
        )
        notes = [n for n in (cond_note(results, conds, ("F",)),) if n]
        bad = [np.dtype(d).name for d in DTYPES if math.isinf(results["F", d].worst)]
        if bad:
            notes.append("F non-finite or NaN: " + ", ".join(bad))
        print(f"{case.torch_name:<36}{case.case:<30}{cells}  {'; '.join(notes)}")

    print(f"\nworst elements where ulps / max(1, cond) > {DETAIL_ULPS:g}\n")
    for case, kind, dtype, r, cond, (elements, refs) in slow:
        xs, extra = elements[r.at]
        shown = ", ".join(f"{float(v):.17g}" for v in xs[:8])
        if len(xs) > 8:
            shown += ", ..."
        if isinstance(extra, np.ndarray):
            extra = [int(v) for v in extra]  # a dice mask
        shown_extra = isinstance(extra, float | int | list) or (
            isinstance(extra, tuple) and len(extra) == 2
        )  # labels, masks, (class, smoothing); not info_nce's matrix rows
        extra_s = f" extra={extra}" if shown_extra else ""
        name = "torch F" if kind == "F" else kind
        print(
            f"{case.loss} [{case.case}] {name} {np.dtype(dtype).name}: "
            f"{fmt(r.scaled)} ulps/cond (cond {cond[r.at]:.3g}) at element {r.at}: "
            f"got {r.got[r.at]!r}, exact {mp.nstr(refs[r.at], 17)}; "
            f"inputs [{shown}]{extra_s}"
        )
    if not slow:
        print("(none)")
    print(f"\n{len(cases)} cases")
    if args.json:
        report = {
            "what": (
                "worst |got - ref| / ulp(ref) per case (reduction='none'), "
                "lossbook on NumPy and torch, torch.nn.functional (F) beside"
            ),
            "date": started.isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "machine": platform.machine()},
            "versions": {"lossbook": lb.__version__, "torch": torch.__version__,
                         "numpy": np.__version__, "mpmath": mpmath.__version__},
            "elements_per_case": N,
            "torch_path": "formulas" if args.formulas else "fast paths",
            "results": records,
        }  # fmt: skip
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"written: {args.json}")


if __name__ == "__main__":
    main()
