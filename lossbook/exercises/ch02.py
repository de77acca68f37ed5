"""Expected answers for chapter 2, the geometry and statistics of losses."""

import numpy as np

from .. import likelihood, regression
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
    zeros = np.zeros(len(RESIDUALS))
    sigma = np.sqrt(float(regression.mse(RESIDUALS, zeros)))
    b = float(regression.mae(RESIDUALS, zeros))
    return np.array([sigma, b])


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
