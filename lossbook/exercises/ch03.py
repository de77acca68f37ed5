"""Expected answers for chapter 3, regression losses.

Every answer is computed with ``lossbook``; where the exercise asks for a
root or a minimiser, it is found by bisection on a ``lossbook`` loss or
gradient, never typed in.
"""

from __future__ import annotations

import math

import numpy as np

from .. import grad, regression
from ..experiments.robust import HUBER_C, MAD_TO_SIGMA
from . import register

# ch03.1: Smooth L1 from Huber
RESIDUALS = [0.05, 0.5, 3.0]
BETA = 0.25

# ch03.2: Huber location estimate of a sample with one outlier
SAMPLE = [1.0, 1.3, 0.8, 1.1, 9.0]
DELTA = 1.0

# ch03.3: where log-cosh's linear approximation is within TOL of the loss
TOL = 1e-6

# ch03.4: the 0.75-quantile of a small sample, by the pinball loss
QUANTILE_SAMPLE = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0]
QUANTILE = 0.75

# ch03.5: a robust noise scale and Huber's delta from it
ROBUST_RESIDUALS = [0.3, -0.1, 0.4, -0.6, 0.2, 8.0, -0.2]

# ch03.6: the least-squares leverage of one far point
LEVERAGE_X = np.append(np.linspace(0.0, 1.0, 40), 10.0)


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


@register(
    "ch03.4",
    hint=(
        "The minimiser has at most qN points below it and at least qN at or "
        "below it; sort the sample."
    ),
)
def _pinball_minimiser():
    sample = np.asarray(QUANTILE_SAMPLE)

    def risk(c):
        pred = np.full_like(sample, c)
        return float(regression.pinball(pred, sample, quantile=QUANTILE))

    # convex and piecewise linear with kinks at the data: the minimiser is a
    # sample value
    values = np.unique(sample)
    return float(values[int(np.argmin([risk(c) for c in values]))])


@register(
    "ch03.5",
    hint=(
        "sigma_hat = 1.4826 * median(|r - median(r)|) and delta = 1.345 * "
        "sigma_hat; answer [sigma_hat, delta]."
    ),
    rtol=1e-3,
)
def _mad_and_delta():
    r = np.asarray(ROBUST_RESIDUALS)
    sigma_hat = MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r))))
    return np.array([sigma_hat, HUBER_C * sigma_hat])


@register(
    "ch03.6",
    hint="h = 1/N + (x - mean(x))^2 / sum((x_j - mean(x))^2), with N = 41.",
)
def _leverage_far_point():
    # the diagonal of the hat matrix X (X^T X)^-1 X^T, from a linear solve
    design = np.column_stack([LEVERAGE_X, np.ones(len(LEVERAGE_X))])
    far = design[-1]
    return float(far @ np.linalg.solve(design.T @ design, far))
