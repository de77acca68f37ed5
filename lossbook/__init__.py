"""lossbook: loss functions for machine learning, one formula for NumPy and PyTorch.

The library of the *lossbook* textbook. Every loss accepts NumPy arrays (lists
and scalars are converted) or torch tensors and returns the same kind.
"""

from . import grad, regression
from .regression import huber, log_cosh, mae, mse, smooth_l1

__version__ = "0.1.0"

__all__ = [
    "grad",
    "huber",
    "log_cosh",
    "mae",
    "mse",
    "regression",
    "smooth_l1",
]
