"""Expected answers for chapter 5, metric learning and similarity losses.

Every answer is computed with ``lossbook``: Hadsell et al.'s loss through
:func:`~lossbook.metric.contrastive`, the batch-hard loss through
:func:`lossbook.experiments.embedding.batch_hard_triplets` and
:func:`~lossbook.metric.triplet`, InfoNCE's gradient by autograd through
:func:`~lossbook.classification.cross_entropy`, and the InfoNCE ceiling
:math:`\\log N` as :func:`~lossbook.metric.info_nce` at uniform similarity.
"""

from __future__ import annotations

import numpy as np

from .. import classification, metric
from ..experiments.embedding import batch_hard_triplets
from . import register

# ch05.1: three pairs in Hadsell et al.'s convention (Y = 0: similar)
HADSELL_X1 = [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
HADSELL_X2 = [[0.6, 0.8], [1.0, 1.5], [0.6, 0.0]]
HADSELL_Y = [0, 1, 1]
HADSELL_MARGIN = 1.0

# ch05.2: a batch of six 1-D embeddings and their classes
BATCH = [[0.0], [0.6], [1.0], [1.5], [2.1], [3.0]]
BATCH_LABELS = [0, 0, 1, 0, 1, 1]
BATCH_MARGIN = 0.5

# ch05.3: InfoNCE at uniform similarity
N_UNIFORM, TAU = 8, 0.1

# ch05.4: W ranks of B pairs each
WORLD, PER_RANK = 8, 64


@register(
    "ch05.1",
    hint="Hadsell's Y = 0 marks a similar pair: lossbook's same = 1 - Y, and "
    "Hadsell's loss has a factor 1/2. Average the three pairs.",
)
def _hadsell_loss():
    same = 1 - np.asarray(HADSELL_Y, dtype=float)
    return 0.5 * metric.contrastive(HADSELL_X1, HADSELL_X2, same, margin=HADSELL_MARGIN)


@register(
    "ch05.2",
    hint="For each anchor: the farthest point of its class minus the nearest "
    "point of another class, plus the margin, floored at 0; average the six.",
)
def _batch_hard_loss():
    emb = np.asarray(BATCH)
    a, p, n = batch_hard_triplets(emb, BATCH_LABELS)
    return metric.triplet(emb[a], emb[p], emb[n], margin=BATCH_MARGIN)


@register(
    "ch05.3",
    hint="d loss_i / d s_ij = (p_ij - [i = j]) / tau, and at uniform similarity "
    "p_ij = 1/N.",
)
def _infonce_grad_uniform():
    import torch

    sim = torch.zeros(N_UNIFORM, N_UNIFORM, dtype=torch.float64, requires_grad=True)
    labels = torch.arange(N_UNIFORM)
    loss = classification.cross_entropy(sim / TAU, labels, reduction="none")[0]
    (grad,) = torch.autograd.grad(loss, sim)
    return grad[0, 0]


@register(
    "ch05.4",
    hint="The bound is log N - L with L >= 0, and with gathered keys N = W B.",
)
def _infonce_ceiling():
    n = WORLD * PER_RANK
    # InfoNCE at uniform similarity is log N, the largest the bound can give
    return metric.info_nce(np.ones((n, 2)), np.ones((n, 2)), temperature=1.0)
