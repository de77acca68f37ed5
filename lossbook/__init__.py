"""lossbook: loss functions for machine learning, one formula for NumPy and PyTorch.

The library of the *lossbook* textbook. Every loss accepts NumPy arrays (lists
and scalars are converted) or torch tensors and returns the same kind.
"""

from . import classification, grad, regression
from .classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    exponential,
    hinge,
    smooth_labels,
    zero_one,
)
from .regression import huber, log_cosh, mae, mse, smooth_l1

__version__ = "0.1.0"

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "classification",
    "cross_entropy",
    "exponential",
    "grad",
    "hinge",
    "huber",
    "log_cosh",
    "mae",
    "mse",
    "regression",
    "smooth_l1",
    "smooth_labels",
    "zero_one",
]
