"""Expected answers for chapter 11, choosing a loss.

Every answer is computed with ``lossbook``: best constants by a ternary search on
the mean of :func:`~lossbook.regression.mse`, :func:`~lossbook.regression.mae`,
:func:`~lossbook.regression.huber`, :func:`~lossbook.regression.pinball` and
:func:`~lossbook.likelihood.poisson_nll` (all convex in the constant), and the
threshold of class weighting from :func:`~lossbook.weighting.balanced_class_weights`
on the detection chapter's imbalanced data.
"""

from __future__ import annotations

import numpy as np

from .. import likelihood, regression, weighting
from ..experiments.imbalance import imbalanced_points
from . import register

# ch11.1: targets with one outlier
OUTLIER_TARGETS = [0.0, 1.0, 1.0, 20.0]
HUBER_DELTA = 1.0

# ch11.2: the training set of the detection chapter's imbalance experiment
IMBALANCED_N = 20_000
IMBALANCED_SEED = 1

# ch11.3: delivery times in minutes, and the promised level
DELIVERY_TIMES = [12.0, 15.0, 17.0, 18.0, 20.0, 22.0, 25.0, 30.0, 35.0, 45.0, 60.0]
QUANTILE = 0.9

# ch11.4: counts for a Poisson rate
COUNTS = [0.0, 2.0, 3.0, 7.0]


def _best_constant(loss, target, lo, hi, *, iters=200, **kwargs):
    """The constant minimising the mean loss on ``[lo, hi]`` (ternary search)."""
    target = np.asarray(target, dtype=np.float64)

    def risk(c):
        return float(loss(np.full_like(target, c), target, **kwargs))

    for _ in range(iters):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if risk(a) < risk(b):
            hi = b
        else:
            lo = a
    return 0.5 * (lo + hi)


@register(
    "ch11.1",
    hint="MSE: the mean; MAE: a median; Huber: set the sum of clip(c - y_i, -1, 1) "
    "to zero. Answer [c_mse, c_mae, c_huber].",
)
def _three_constants():
    lo, hi = min(OUTLIER_TARGETS), max(OUTLIER_TARGETS)
    return np.array(
        [
            _best_constant(regression.mse, OUTLIER_TARGETS, lo, hi),
            _best_constant(regression.mae, OUTLIER_TARGETS, lo, hi),
            _best_constant(
                regression.huber, OUTLIER_TARGETS, lo, hi, delta=HUBER_DELTA
            ),
        ]
    )


@register(
    "ch11.2",
    hint="The weighted logit is logit p + log(w_pos / w_neg) > 0, i.e. "
    "p > w_neg / (w_pos + w_neg); with balanced weights the positive rate.",
)
def _weighting_threshold():
    _, target, _ = imbalanced_points(IMBALANCED_N, seed=IMBALANCED_SEED)
    w_pos, w_neg = (float(w) for w in weighting.balanced_class_weights(target))
    return w_neg / (w_pos + w_neg)


@register(
    "ch11.3",
    hint="Minimise the mean pinball loss with quantile=0.9: the minimiser is an "
    "order statistic, the one with 90 % of the sample at or below it.",
)
def _delivery_bound():
    lo, hi = min(DELIVERY_TIMES), max(DELIVERY_TIMES)
    return _best_constant(regression.pinball, DELIVERY_TIMES, lo, hi, quantile=QUANTILE)


@register(
    "ch11.4",
    hint="The derivative of the mean Poisson NLL in the log-rate is exp(eta) minus "
    "the mean count.",
)
def _poisson_log_rate():
    return _best_constant(likelihood.poisson_nll, COUNTS, -5.0, 5.0)
