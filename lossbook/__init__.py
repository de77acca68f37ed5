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


def __getattr__(name):
    # lossbook.nn needs torch: import it on first use, so NumPy-only users
    # of the functions never pay for importing torch
    if name == "nn":
        import importlib

        return importlib.import_module(".nn", __name__)
    raise AttributeError(f"module 'lossbook' has no attribute {name!r}")


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
    "nn",
    "regression",
    "smooth_l1",
    "smooth_labels",
    "zero_one",
]
