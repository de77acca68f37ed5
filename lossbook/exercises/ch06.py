"""Expected answers for chapter 6, detection and segmentation losses.

Every answer is computed with ``lossbook``: focal losses with
:func:`~lossbook.detection.focal`, a population minimiser by a ternary search
on it, box losses with the IoU family, Dice values with
:func:`~lossbook.detection.dice` (its gradient by a central difference).
"""

from __future__ import annotations

import math

import numpy as np

from .. import detection
from . import register

# ch06.1: one easy negative anchor, RetinaNet's settings
NEG_LOGIT = 1.0
ALPHA = 0.25
GAMMA = 2.0

# ch06.2: the population minimiser of alpha-balanced cross-entropy
ETA = 0.2

# ch06.3: two disjoint boxes
BOX_PRED = [[0.0, 0.0, 2.0, 2.0]]
BOX_TARGET = [[3.0, 1.0, 5.0, 3.0]]

# ch06.4: a prediction on an empty mask
EMPTY_PROB = [0.1, 0.2, 0.3, 0.4]

# ch06.5: a prediction with 30 true positives, 10 false positives, 20 false
# negatives (and 40 true negatives)
TP, FP, FN, TN = 30, 10, 20, 40


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
    "ch06.1",
    hint="For a negative p_t = 1 - sigmoid(z). RetinaNet weights it by 1 - alpha, "
    "the notes' code by alpha; answer [RetinaNet, notes].",
)
def _focal_negative_anchor():
    retinanet = detection.focal([NEG_LOGIT], [0.0], alpha=ALPHA, gamma=GAMMA)
    unweighted = detection.focal([NEG_LOGIT], [0.0], alpha=-1, gamma=GAMMA)
    return np.array([float(retinanet), ALPHA * float(unweighted)])


@register(
    "ch06.2",
    hint="Set the derivative of eta * alpha * (-log p) + (1 - eta)(1 - alpha) "
    "* (-log(1 - p)) with respect to p to zero.",
)
def _balanced_ce_minimiser():
    def expected(z):
        pos = detection.focal([z], [1.0], alpha=ALPHA, gamma=0.0)
        neg = detection.focal([z], [0.0], alpha=ALPHA, gamma=0.0)
        return ETA * float(pos) + (1 - ETA) * float(neg)

    z_star = _argmin_convex(expected, -20.0, 20.0)
    return 1 / (1 + math.exp(-z_star))


@register(
    "ch06.3",
    hint="The boxes are disjoint, so IoU = 0. The enclosing box is [0, 0, 5, 3]; "
    "the centres are (1, 1) and (4, 2). Answer [GIoU loss, DIoU loss].",
)
def _giou_diou_disjoint():
    return np.array(
        [
            float(detection.giou_loss(BOX_PRED, BOX_TARGET)),
            float(detection.diou_loss(BOX_PRED, BOX_TARGET)),
        ]
    )


@register(
    "ch06.4",
    hint="With t = 0: loss = sum(p) / (sum(p) + s), and the derivative of "
    "x / (x + s) is s / (x + s)^2. Answer [loss, d loss / d p_1].",
)
def _dice_on_empty_mask():
    p = np.array([EMPTY_PROB])
    t = np.zeros_like(p)
    loss = float(detection.dice(p, t, smooth=1.0))
    h = 1e-6
    up, down = p.copy(), p.copy()
    up[0, 0] += h
    down[0, 0] -= h
    slope = (
        float(detection.dice(up, t, smooth=1.0))
        - float(detection.dice(down, t, smooth=1.0))
    ) / (2 * h)
    return np.array([loss, slope])


@register(
    "ch06.5",
    hint="Dice = 2 TP / (2 TP + FP + FN) is the F1 score; Jaccard = TP / (TP + FP "
    "+ FN). Answer [Dice coefficient, Jaccard index].",
)
def _dice_and_jaccard():
    pred = np.array([[1.0] * TP + [1.0] * FP + [0.0] * FN + [0.0] * TN])
    true = np.array([[1.0] * TP + [0.0] * FP + [1.0] * FN + [0.0] * TN])
    dice_coefficient = 1 - float(detection.dice(pred, true, smooth=0.0))
    inter = float(np.sum(pred * true))
    jaccard = inter / float(np.sum(np.maximum(pred, true)))
    return np.array([dice_coefficient, jaccard])
