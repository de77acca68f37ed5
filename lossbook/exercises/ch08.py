"""Expected answers for chapter 8 (``chapters/08_advanced_techniques``)."""

import numpy as np

from .. import classification, likelihood, weighting
from ..experiments import penalties
from . import register

# exercise 1: an orthonormal design (X^T X / N = I) and its least-squares fit
OLS = [2.0, -0.3, 0.8]
L1, L2 = 1.0, 0.5

# exercise 3: noise, prior scales and sample size
SIGMA, LAPLACE_B, GAUSS_TAU, N = 0.5, 0.1, 0.5, 50

# exercise 4: class counts
N_POS, N_NEG = 20, 80

# exercise 5: per-sample MSEs of two tasks, summed over N_TASK samples
TASK_MSE = [0.04, 1.0]
N_TASK = 100


@register(
    "ch08.1",
    hint="With X^T X / N = I the coordinates decouple: soft-threshold each "
    "least-squares coefficient at l1 / 2, then divide by 1 + l2.",
)
def _orthonormal_elastic_net():
    return penalties.soft_threshold(OLS, L1 / 2) / (1 + L2)


@register(
    "ch08.2",
    hint="scikit-learn's objective is half of ours: l1 = 2 alpha l1_ratio and "
    "l2 = alpha (1 - l1_ratio); solve for alpha and l1_ratio.",
)
def _sklearn_parameters():
    return np.array(penalties.to_sklearn(0.3, 0.1))


@register(
    "ch08.3",
    hint="Multiply the negative log-posterior by 2 sigma^2 / N so that its data "
    "term is the MSE; the prior terms become l1 |w|_1 and l2 |w|^2.",
)
def _map_strengths():
    scale = 2 * SIGMA**2 / N  # turns the Gaussian NLL sum into the MSE
    # the prior NLLs per unit |w| and per unit w^2, read off the library
    laplace_slope = float(
        likelihood.laplace_nll(1.0, 0.0, b=LAPLACE_B)
        - likelihood.laplace_nll(0.0, 0.0, b=LAPLACE_B)
    )
    gauss_curv = float(
        likelihood.gaussian_nll(1.0, 0.0, sigma=GAUSS_TAU)
        - likelihood.gaussian_nll(0.0, 0.0, sigma=GAUSS_TAU)
    )
    return np.array([scale * laplace_slope, scale * gauss_curv])


@register(
    "ch08.4",
    hint="At p = 0.5 every per-sample loss is w log 2. The notes divide the "
    "weighted sum by N, torch by the sum of the weights of the targets.",
)
def _weighted_means_at_one_half():
    y = np.r_[np.ones(N_POS), np.zeros(N_NEG)]
    w_pos, w_neg = (float(w) for w in weighting.balanced_class_weights(y))
    notes = weighting.weighted_binary_cross_entropy(
        np.full(y.shape, 0.5), y, w_pos=w_pos, w_neg=w_neg
    )
    logits = np.zeros((len(y), 2))  # softmax of (0, 0) is (0.5, 0.5)
    torch_style = classification.cross_entropy(
        logits, y.astype(np.int64), weight=np.array([w_neg, w_pos])
    )
    return np.array([float(notes), float(torch_style)])


@register(
    "ch08.5",
    hint="The minimum of exp(-2 s) L / 2 + s over s is at exp(2 s) = L, where L "
    "is the loss you pass in, here a sum over the samples.",
    rtol=1e-3,
)
def _sigma_from_summed_losses():
    import torch

    losses = torch.tensor([N_TASK * m for m in TASK_MSE], dtype=torch.float64)
    log_sigma = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    # Newton's method on the (convex in log sigma) uncertainty-weighted loss
    for _ in range(50):
        value = weighting.uncertainty_weighted(losses, log_sigma)
        (g,) = torch.autograd.grad(value, log_sigma, create_graph=True)
        h = torch.stack(
            [
                torch.autograd.grad(g[k], log_sigma, retain_graph=True)[0][k]
                for k in (0, 1)
            ]
        )
        with torch.no_grad():
            log_sigma -= torch.clamp(g / h, -1.0, 1.0)
    return log_sigma.detach().exp().numpy()
