"""lossbook: loss functions for machine learning, one formula for NumPy and PyTorch.

The library of the *lossbook* textbook. Every loss accepts NumPy arrays (lists
and scalars are converted) or torch tensors and returns the same kind; torch
inputs keep their dtype, device and autograd graph.

Modules: :mod:`~lossbook.regression`, :mod:`~lossbook.classification`,
:mod:`~lossbook.metric`, :mod:`~lossbook.detection`, :mod:`~lossbook.rl`,
:mod:`~lossbook.weighting`, :mod:`~lossbook.likelihood` (the losses),
:mod:`~lossbook.scoring` (proper scoring rules and calibration),
:mod:`~lossbook.grad` (analytic gradients), :mod:`~lossbook.nn` (PyTorch
modules, imported on first use), :mod:`~lossbook.exercises` (self-checks) and
the helpers of the book's experiments in :mod:`~lossbook.experiments`
(synthetic data, small fitters and training loops).
"""

from . import (
    classification,
    detection,
    experiments,
    grad,
    likelihood,
    metric,
    regression,
    rl,
    scoring,
    weighting,
)
from ._checks import set_value_checks, value_checks
from .classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    exponential,
    hinge,
    kl_div,
    smooth_labels,
    zero_one,
)
from .detection import ciou_loss, dice, diou_loss, focal, giou_loss, iou_loss
from .likelihood import (
    bernoulli_nll,
    categorical_nll,
    gaussian_nll,
    laplace_nll,
    poisson_nll,
)
from .metric import contrastive, info_nce, triplet
from .regression import huber, log_cosh, mae, mse, pinball, smooth_l1
from .rl import policy_gradient, ppo_clip, value_loss
from .scoring import brier, expected_calibration_error, reliability_curve
from .weighting import (
    balanced_class_weights,
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    uncertainty_weighted,
    weighted_binary_cross_entropy,
    weighted_sum,
)

__version__ = "0.1.0"


def __getattr__(name):
    # lossbook.nn and lossbook.distributed need torch: import them on first
    # use, so NumPy-only users of the functions never pay for importing torch
    if name in ("nn", "distributed"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lossbook' has no attribute {name!r}")


__all__ = [
    "balanced_class_weights",
    "bernoulli_nll",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "brier",
    "categorical_nll",
    "ciou_loss",
    "classification",
    "contrastive",
    "cross_entropy",
    "detection",
    "dice",
    "diou_loss",
    "elastic_net_penalty",
    "expected_calibration_error",
    "experiments",
    "exponential",
    "focal",
    "gaussian_nll",
    "giou_loss",
    "grad",
    "hinge",
    "huber",
    "info_nce",
    "iou_loss",
    "kl_div",
    "l1_penalty",
    "l2_penalty",
    "laplace_nll",
    "likelihood",
    "log_cosh",
    "mae",
    "metric",
    "mse",
    "nn",
    "pinball",
    "poisson_nll",
    "policy_gradient",
    "ppo_clip",
    "regression",
    "reliability_curve",
    "rl",
    "scoring",
    "set_value_checks",
    "smooth_l1",
    "smooth_labels",
    "triplet",
    "uncertainty_weighted",
    "value_checks",
    "value_loss",
    "weighted_binary_cross_entropy",
    "weighted_sum",
    "weighting",
    "zero_one",
]
