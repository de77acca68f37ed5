"""Expected answers for chapter 4, classification losses.

Every answer is computed with ``lossbook``: minimisers by a ternary search on a
``lossbook`` loss, AdaBoost's numbers by running
:func:`lossbook.experiments.classifiers.adaboost`, scores and calibration errors
by :mod:`lossbook.scoring`.
"""

from __future__ import annotations

import numpy as np

from .. import classification, scoring
from ..experiments.classifiers import adaboost
from . import register

# ch04.1: the optimal logit gap under PyTorch's label smoothing
NUM_CLASSES = 10
EPSILON = 0.1

# ch04.2: the population minimiser of the exponential loss
P_POSITIVE = 0.8

# ch04.3: one AdaBoost round on five points, where the best stump errs on one
STUMP_X = [[0.0], [1.0], [2.0], [3.0], [4.0]]
STUMP_Y = [-1, -1, 1, 1, -1]

# ch04.4: the expected Brier score of a forecast 0.6 when the truth is 0.3
BRIER_FORECAST = 0.6
BRIER_ETA = 0.3

# ch04.5: the population minimiser of the hinge loss at P(y = +1) = 0.3
HINGE_ETA = 0.3

# ch04.7: an expected calibration error by hand
ECE_PROB = [0.92, 0.85, 0.72, 0.55, 0.25, 0.08]
ECE_LABELS = [1, 1, 0, 1, 0, 1]
ECE_BINS = 5


def _argmin_convex(f, lo, hi, *, iters=200):
    """The minimiser of a convex function on ``[lo, hi]`` by ternary search."""
    for _ in range(iters):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if f(a) < f(b):
            hi = b
        else:
            lo = a
    return 0.5 * (lo + hi)


@register(
    "ch04.1",
    hint=(
        "At the optimum the softmax equals the smoothed target: p_y = 1 - eps + eps/K "
        "with z_y = s and the other logits 0."
    ),
    rtol=1e-4,
)
def _optimal_gap_spread_all():
    target = np.array([0])

    def loss(s):
        logits = np.zeros((1, NUM_CLASSES))
        logits[0, 0] = s
        return float(
            classification.cross_entropy(logits, target, label_smoothing=EPSILON)
        )

    return _argmin_convex(loss, 0.0, 50.0)


@register(
    "ch04.2",
    hint="Minimise p exp(-F) + (1 - p) exp(F) over F: set the derivative to zero.",
    rtol=1e-4,
)
def _exponential_population_minimiser():
    def risk(F):
        plus = float(classification.exponential([F], [1]))
        minus = float(classification.exponential([F], [-1]))
        return P_POSITIVE * plus + (1 - P_POSITIVE) * minus

    return _argmin_convex(risk, -20.0, 20.0)


@register(
    "ch04.3",
    hint="alpha = log((1 - eps) / eps) / 2 and Z = 2 sqrt(eps (1 - eps)), eps = 1/5.",
)
def _adaboost_first_round():
    model = adaboost(STUMP_X, STUMP_Y, rounds=1)
    return np.array([model.alphas[0], model.normalisers[0]])


@register(
    "ch04.4",
    hint="E(p - y)^2 = eta (p - 1)^2 + (1 - eta) p^2 = (p - eta)^2 + eta (1 - eta).",
)
def _expected_brier():
    pos = float(scoring.brier([BRIER_FORECAST], [1.0], reduction="sum"))
    neg = float(scoring.brier([BRIER_FORECAST], [0.0], reduction="sum"))
    return BRIER_ETA * pos + (1 - BRIER_ETA) * neg


@register(
    "ch04.5",
    hint=(
        "On [-1, 1] the expected hinge loss is 1 + (1 - 2 eta) s; answer "
        "[s_star, R_star]."
    ),
    rtol=1e-3,
    atol=1e-3,
)
def _hinge_population_minimiser():
    def risk(s):
        plus = float(classification.hinge([s], [1]))
        minus = float(classification.hinge([s], [-1]))
        return HINGE_ETA * plus + (1 - HINGE_ETA) * minus

    s_star = _argmin_convex(risk, -5.0, 5.0)
    return np.array([s_star, risk(s_star)])


@register(
    "ch04.6",
    hint="At p = q the KL term vanishes: the floor is the entropy H(q) of the target.",
)
def _smoothed_entropy_floor():
    q = classification.smooth_labels(
        np.array([0]), NUM_CLASSES, epsilon=EPSILON, spread="others"
    )
    # softmax(log q) = q, so the cross-entropy of q with itself is H(q)
    return float(classification.cross_entropy(np.log(q), q))


@register(
    "ch04.7",
    hint=(
        "Confidence max(p, 1 - p); bins (0.4, 0.6], (0.6, 0.8], (0.8, 1]; weight "
        "each |accuracy - mean confidence| by the bin's share of the six forecasts."
    ),
)
def _ece_by_hand():
    return float(
        scoring.expected_calibration_error(ECE_PROB, ECE_LABELS, n_bins=ECE_BINS)
    )
