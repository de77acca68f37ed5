"""Analytic gradients: ``dL/d(first argument)`` for the smooth and piecewise losses.

Each function takes the same arguments as its loss and honours ``reduction``
(with ``"mean"`` the 1/N factor is included). The derivative kernels live beside
their losses; this module only wires them to the shared reduction factor.
"""

from __future__ import annotations

from . import _checks, regression
from ._backend import scale_for

__all__ = ["huber", "log_cosh", "mae", "mse", "smooth_l1"]


def mse(pred, target, *, reduction="mean"):
    r"""Gradient of :func:`lossbook.mse`: :math:`2(\hat y - y)`, over N for the mean.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.mse([1.2, 0.3, 0.7], [1.0, 0.0, 1.0], reduction="none")
    array([ 0.4,  0.6, -0.6])
    """
    xp, r = regression._residual(pred, target, reduction)
    return scale_for(reduction, regression._d_mse(xp, r))


def mae(pred, target, *, reduction="mean"):
    r"""Gradient of :func:`lossbook.mae`: :math:`\operatorname{sign}(\hat y - y)`.

    At :math:`\hat y = y` it returns 0, the subgradient autograd returns.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.mae([1.2, 0.3, 1.0], [1.0, 0.0, 1.0], reduction="none")
    array([1., 1., 0.])
    """
    xp, r = regression._residual(pred, target, reduction)
    return scale_for(reduction, regression._d_mae(xp, r))


def huber(pred, target, *, delta=1.0, reduction="mean"):
    r"""Gradient of :func:`lossbook.huber`: :math:`\operatorname{clip}(r, -\delta, \delta)`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.huber([1.2, 3.0], [1.0, 1.0], delta=0.5, reduction="none")
    array([0.2, 0.5])
    """
    delta = _checks.hyper("delta", delta, "positive")
    xp, r = regression._residual(pred, target, reduction)
    return scale_for(reduction, regression._d_huber(xp, r, delta))


def smooth_l1(pred, target, *, beta=1.0, reduction="mean"):
    r"""Gradient of :func:`lossbook.smooth_l1`: :math:`\operatorname{clip}(r/\beta, -1, 1)`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.smooth_l1([0.5, 3.0], [0.0, 0.0], beta=2.0, reduction="none")
    array([0.25, 1.  ])
    """
    beta = _checks.hyper("beta", beta, "nonnegative")
    xp, r = regression._residual(pred, target, reduction)
    return scale_for(reduction, regression._d_smooth_l1(xp, r, beta))


def log_cosh(pred, target, *, reduction="mean"):
    r"""Gradient of :func:`lossbook.log_cosh`: :math:`\tanh(\hat y - y)`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.log_cosh([0.0, 1e300], [0.0, 0.0], reduction="none")
    array([0., 1.])
    """
    xp, r = regression._residual(pred, target, reduction)
    return scale_for(reduction, regression._d_log_cosh(xp, r))
