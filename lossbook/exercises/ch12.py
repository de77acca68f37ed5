"""Expected answers for chapter 12, implementing losses in PyTorch.

Every answer is computed with ``lossbook``: Smooth L1 and Huber values with
:mod:`lossbook.regression`, cross-entropies with
:func:`~lossbook.classification.cross_entropy`, float32 binary cross-entropies
and their autograd gradients with :mod:`lossbook.classification`, and the
Cauchy loss's derivative with :func:`lossbook.experiments.robust.psi`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import classification, regression
from ..experiments import robust
from . import register

# the worked example of notes §9
PRED = [1.2, 0.3, 0.7]
TARGET = [1.0, 0.0, 1.0]

# ch12.1: Smooth L1 with a small threshold
BETA = 0.1

# ch12.2: four rows of logits, the third target ignored
LOGITS = [[2.0, 0.5, -1.0], [0.0, 1.0, 3.0], [1.0, 1.0, 1.0], [-1.0, 2.0, 0.0]]
LABELS = [0, 2, -100, 1]

# ch12.3: a positive example with a very wrong float32 logit
BAD_LOGIT = -120.0

# ch12.4: the number of classes of the double softmax
NUM_CLASSES = 10

# ch12.5 and ch12.6: the Cauchy loss's scales
CAUCHY_PEAK_C = 2.0
CAUCHY_C = 1.0


@register(
    "ch12.1",
    hint="Every |r| exceeds 0.1: Smooth L1 is |r| - beta/2, Huber delta (|r| - "
    "delta/2). Answer [smooth_l1, huber].",
)
def _smooth_l1_vs_huber():
    smooth = regression.smooth_l1(PRED, TARGET, beta=BETA)
    huber = regression.huber(PRED, TARGET, delta=BETA)
    return np.array([float(smooth), float(huber)])


@register(
    "ch12.2",
    hint="The mean divides the three kept losses by 3; .mean() over reduction='none' "
    "divides by 4. Answer [correct, naive].",
)
def _ignore_index():
    kept_mean = classification.cross_entropy(LOGITS, LABELS, ignore_index=-100)
    per_row = classification.cross_entropy(
        LOGITS, LABELS, ignore_index=-100, reduction="none"
    )
    return np.array([float(kept_mean), float(np.mean(per_row))])


def _float32_bce(use_logits):
    z = torch.tensor([BAD_LOGIT], dtype=torch.float32, requires_grad=True)
    one = torch.ones(1)
    if use_logits:
        loss = classification.binary_cross_entropy_with_logits(z, one)
    else:  # log clamped at -100, as torch.nn.functional.binary_cross_entropy
        loss = classification.binary_cross_entropy(torch.sigmoid(z), one)
    (g,) = torch.autograd.grad(loss, z)
    return [float(loss.detach()), float(g)]


@register(
    "ch12.3",
    hint="sigmoid(-120) underflows to 0 in float32; BCE clamps log 0 at -100 and the "
    "sigmoid's derivative there is 0. From the logit: softplus(120) and "
    "sigmoid(z) - 1. Answer [loss_prob, grad_prob, loss_logit, grad_logit].",
)
def _float32_confident_mistake():
    return np.array(_float32_bce(False) + _float32_bce(True))


@register(
    "ch12.4",
    hint="The best a softmax output can do is one-hot: the loss of logits "
    "(1, 0, ..., 0) for class 0, log(e + K - 1) - 1.",
)
def _double_softmax_floor():
    one_hot = np.eye(NUM_CLASSES)[:1]
    return classification.cross_entropy(one_hot, [0])


@register(
    "ch12.5",
    hint="psi(r) = r / (1 + r^2 / c^2); set its derivative to 0. Answer "
    "[r_star, psi(r_star)].",
)
def _cauchy_peak():
    # the maximiser of the Cauchy influence function, by golden-section search
    lo, hi = 0.0, 10.0 * CAUCHY_PEAK_C
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(200):
        a, b = hi - inv_phi * (hi - lo), lo + inv_phi * (hi - lo)
        psi_a, psi_b = robust.psi("cauchy", [a, b], c=CAUCHY_PEAK_C)
        if psi_a > psi_b:
            hi = b
        else:
            lo = a
    r_star = 0.5 * (lo + hi)
    return np.array([r_star, float(robust.psi("cauchy", r_star, c=CAUCHY_PEAK_C))])


@register(
    "ch12.6",
    hint="The gradient of the mean is psi(y_hat - y) / N, psi(r) = r / (1 + r^2) "
    "for c = 1; three entries, one per prediction.",
)
def _cauchy_mean_grad():
    r = np.subtract(PRED, TARGET)
    return robust.psi("cauchy", r, c=CAUCHY_C) / len(r)
