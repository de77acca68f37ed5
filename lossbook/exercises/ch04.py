"""Expected answers for chapter 4, classification losses.

Every answer is computed with ``lossbook``: minimisers by a ternary search on a
``lossbook`` loss, AdaBoost's numbers by running
:func:`lossbook.experiments.classifiers.adaboost`.
"""

from __future__ import annotations

import numpy as np

from .. import classification
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
