"""Expected answers for chapter 2, the geometry and statistics of losses."""

import numpy as np

from .. import classification, likelihood, regression
from ..experiments.datasets import line_with_outliers
from ..experiments.landscape import constant_loss_curve
from . import register

RESIDUALS = [0.5, -1.0, 2.0, -0.5, 0.0]
SAMPLE = [2.1, 1.9, 2.4, 2.0, 12.0]
LOGITS = [[2.0, 0.5, -1.0]]
LABEL = [1]


@register(
    "ch02.1",
    hint=(
        "Set the derivative of each mean NLL with respect to its scale to zero; "
        "answer [sigma, b]."
    ),
)
def _noise_scales():
    # each mean NLL minimised numerically over its scale (the chapter's
    # solution uses the closed forms sqrt(MSE) and MAE)
    from scipy.optimize import minimize_scalar

    zeros = np.zeros(len(RESIDUALS))

    def best_scale(nll, name):
        return minimize_scalar(
            lambda s: float(nll(zeros, RESIDUALS, **{name: s})),
            bounds=(1e-3, 10.0),
            method="bounded",
            options={"xatol": 1e-10},
        ).x

    return np.array(
        [
            best_scale(likelihood.gaussian_nll, "sigma"),
            best_scale(likelihood.laplace_nll, "b"),
        ]
    )


@register(
    "ch02.2",
    hint="Minimise each NLL over the constant c; answer [Gaussian, Laplace].",
)
def _location_mles():
    c = np.arange(min(SAMPLE), max(SAMPLE), 1e-4)
    nll_gauss = constant_loss_curve(SAMPLE, likelihood.gaussian_nll, c)
    nll_laplace = constant_loss_curve(SAMPLE, likelihood.laplace_nll, c)
    return np.array([c[np.argmin(nll_gauss)], c[np.argmin(nll_laplace)]])


@register(
    "ch02.3",
    hint="-log softmax(z)_y = log(sum_j exp z_j) - z_y.",
)
def _categorical():
    return float(likelihood.categorical_nll(np.array(LOGITS), np.array(LABEL)))


@register(
    "ch02.4",
    hint=(
        "The mean MSE of a line is quadratic in (w, b); gradient descent on it "
        "converges for lr < 2 / (largest eigenvalue of its Hessian) and does not "
        "for lr >= that threshold."
    ),
)
def _lr_threshold():
    import torch

    x, y, _ = line_with_outliers(seed=0)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    hessian = torch.autograd.functional.hessian(
        lambda p: regression.mse(p[0] * xt + p[1], yt),
        torch.zeros(2, dtype=torch.float64),
    )
    return 2.0 / float(np.linalg.eigvalsh(hessian.numpy()).max())


# exercise 5: entropy, cross-entropy and KL divergence of one prediction
TARGET_DISTRIBUTION = [[0.5, 0.3, 0.2]]
KL_LOGITS = [[1.0, 0.0, -1.0]]


@register(
    "ch02.5",
    hint=(
        "H(q) = -sum q log q; the cross-entropy is log sum exp(z) - sum q z; "
        "their difference is the KL divergence. Answer [H, cross-entropy, KL]."
    ),
)
def _entropy_cross_entropy_kl():
    q = np.array(TARGET_DISTRIBUTION)
    z = np.array(KL_LOGITS)
    # the entropy is the cross-entropy of q against itself (logits log q)
    entropy = float(classification.cross_entropy(np.log(q), q))
    return np.array(
        [
            entropy,
            float(classification.cross_entropy(z, q)),
            float(classification.kl_div(z, q)),
        ]
    )


# exercise 6: a constant under per-sample Gaussian noise scales
WEIGHTED_SAMPLE = [1.0, 2.0, 10.0]
WEIGHTED_SIGMA = [0.5, 0.5, 5.0]


@register(
    "ch02.6",
    hint=(
        "Minimise sum (y_i - c)^2 / (2 sigma_i^2): the mean weighted by 1 / sigma_i^2."
    ),
)
def _weighted_location():
    from scipy.optimize import minimize_scalar

    y = np.array(WEIGHTED_SAMPLE)
    sigma = np.array(WEIGHTED_SIGMA)
    return minimize_scalar(
        lambda c: float(likelihood.gaussian_nll(np.full(3, c), y, sigma=sigma)),
        bounds=(min(WEIGHTED_SAMPLE), max(WEIGHTED_SAMPLE)),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
