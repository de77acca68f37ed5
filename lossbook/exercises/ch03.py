"""Expected answers for chapter 3, regression losses.

Every answer is computed with ``lossbook``; where the exercise asks for a
root or a minimiser, it is found by bisection on a ``lossbook`` loss or
gradient, never typed in.
"""

from __future__ import annotations

import math

import numpy as np

from .. import grad, regression
from . import register

# ch03.1: Smooth L1 from Huber
RESIDUALS = [0.05, 0.5, 3.0]
BETA = 0.25

# ch03.2: Huber location estimate of a sample with one outlier
SAMPLE = [1.0, 1.3, 0.8, 1.1, 9.0]
DELTA = 1.0

# ch03.3: where log-cosh's linear approximation is within TOL of the loss
TOL = 1e-6


def _bisect(f, lo, hi, *, iters=200):
    """A root of the increasing function ``f`` on ``[lo, hi]`` by bisection."""
    if not f(lo) <= 0 <= f(hi):
        raise ValueError("the bracket [lo, hi] does not enclose a sign change")
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid) <= 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@register(
    "ch03.1",
    hint="Smooth L1 with beta=b is not Huber with delta=b: it is Huber(delta=b) / b.",
)
def _smooth_l1_values():
    zeros = np.zeros(len(RESIDUALS))
    return regression.smooth_l1(RESIDUALS, zeros, beta=BETA, reduction="none")


@register(
    "ch03.2",
    hint=(
        "Set the sum of the Huber gradients clip(c - y_i, -delta, delta) to zero; "
        "the outlier contributes -delta, the inliers c - y_i."
    ),
)
def _huber_location():
    sample = np.asarray(SAMPLE)

    def total_grad(c):
        pred = np.full_like(sample, c)
        # d/dc of the summed loss: the per-element gradients added up
        return float(np.sum(grad.huber(pred, sample, delta=DELTA, reduction="sum")))

    return _bisect(total_grad, float(sample.min()), float(sample.max()))


@register(
    "ch03.3",
    hint="log cosh x - (x - log 2) = log(1 + exp(-2x)) exactly; set it equal to 1e-6.",
    rtol=1e-4,
)
def _log_cosh_linear_threshold():
    def excess(x):
        gap = float(regression.log_cosh([x], [0.0])) - (x - math.log(2.0))
        return TOL - gap  # increasing in x: the gap shrinks as x grows

    return _bisect(excess, 1.0, 20.0, iters=100)
