"""Analytic gradients: ``dL/d(first argument)`` for the smooth and piecewise losses.

Each function takes the same arguments as its loss and honours ``reduction``
(with ``"mean"`` the 1/N factor is included). The derivative kernels live beside
their losses; this module only wires them to the shared reduction factor. A
gradient has the dtype autograd gives it, the first argument's (float16 and
bfloat16 inputs are computed in float32 and the gradient cast back).
"""

from __future__ import annotations

import numpy as np

from . import _checks, classification, regression
from ._backend import _is_torch, scale_for

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "exponential",
    "hinge",
    "huber",
    "log_cosh",
    "mae",
    "mse",
    "pinball",
    "smooth_l1",
]


def _as_first(xp, g, first):
    """``g`` in the dtype autograd gives the gradient of ``first``: its own
    floating dtype (a float16 ``first``, computed in float32, or a float32
    one beside float64 options); lists and integers keep ``g``'s dtype."""
    dtype = getattr(first, "dtype", None)
    if _is_torch(first):
        floating = first.is_floating_point()
    else:
        floating = dtype is not None and np.dtype(dtype).kind == "f"
    return xp.astype(g, dtype) if floating and g.dtype != dtype else g


def _scaled(xp, reduction, g, first):
    """The per-element derivative ``g`` times the reduction's factor, in the
    dtype of the gradient of ``first`` (see :func:`_as_first`)."""
    return _as_first(xp, scale_for(reduction, g), first)


def mse(pred, target, *, reduction="mean"):
    r"""Gradient of ``mse``: :math:`2(\hat y - y)`, over N for the mean.

    See :func:`~lossbook.regression.mse`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.mse([1.2, 0.3, 0.7], [1.0, 0.0, 1.0], reduction="none")
    array([ 0.4,  0.6, -0.6])
    """
    xp, r = regression._residual(pred, target, reduction)
    return _scaled(xp, reduction, regression._d_mse(xp, r), pred)


def mae(pred, target, *, reduction="mean"):
    r"""Gradient of ``mae``: :math:`\operatorname{sign}(\hat y - y)`.

    See :func:`~lossbook.regression.mae`.

    At :math:`\hat y = y` it returns 0, the subgradient autograd returns.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.mae([1.2, 0.3, 1.0], [1.0, 0.0, 1.0], reduction="none")
    array([1., 1., 0.])
    """
    xp, r = regression._residual(pred, target, reduction)
    return _scaled(xp, reduction, regression._d_mae(xp, r), pred)


def huber(pred, target, *, delta=1.0, reduction="mean"):
    r"""Gradient of ``huber``: :math:`\mathrm{clip}(r, -\delta, \delta)`.

    See :func:`~lossbook.regression.huber`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.huber([1.2, 3.0], [1.0, 1.0], delta=0.5, reduction="none")
    array([0.2, 0.5])
    """
    delta = _checks.hyper("delta", delta, "positive")
    xp, r = regression._residual(pred, target, reduction)
    return _scaled(xp, reduction, regression._d_huber(xp, r, delta), pred)


def smooth_l1(pred, target, *, beta=1.0, reduction="mean"):
    r"""Gradient of ``smooth_l1``: :math:`\mathrm{clip}(r/\beta, -1, 1)`.

    See :func:`~lossbook.regression.smooth_l1`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.smooth_l1([0.5, 3.0], [0.0, 0.0], beta=2.0, reduction="none")
    array([0.25, 1.  ])
    """
    beta = _checks.hyper("beta", beta, "nonnegative")
    xp, r = regression._residual(pred, target, reduction)
    return _scaled(xp, reduction, regression._d_smooth_l1(xp, r, beta), pred)


def log_cosh(pred, target, *, reduction="mean"):
    r"""Gradient of ``log_cosh``: :math:`\tanh(\hat y - y)`.

    See :func:`~lossbook.regression.log_cosh`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.log_cosh([0.0, 1e300], [0.0, 0.0], reduction="none")
    array([0., 1.])
    """
    xp, r = regression._residual(pred, target, reduction)
    return _scaled(xp, reduction, regression._d_log_cosh(xp, r), pred)


def pinball(pred, target, *, quantile=0.5, reduction="mean"):
    r"""Gradient of ``pinball``: :math:`-q` below the target, :math:`1 - q` above.

    See :func:`~lossbook.regression.pinball`.

    At :math:`\hat y = y` it returns :math:`1/2 - q`, the midpoint of the
    subdifferential, which autograd returns through the loss's ``maximum``.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.pinball([0.0, 0.0, 0.0], [1.0, -1.0, 0.0], quantile=0.9,
    ...                 reduction="none")
    array([-0.9,  0.1, -0.4])
    """
    q = _checks.hyper("quantile", quantile, "open_unit")
    xp, r = regression._residual(pred, target, reduction)
    return _scaled(xp, reduction, regression._d_pinball(xp, r, q), pred)


def binary_cross_entropy_with_logits(
    logits, target, *, weight=None, pos_weight=None, reduction="mean"
):
    r"""Gradient of ``binary_cross_entropy_with_logits``.

    See :func:`~lossbook.classification.binary_cross_entropy_with_logits`.

    :math:`w\,[(1-y)\,\sigma(z) - p_w\, y\,\sigma(-z)]`, which is
    :math:`\sigma(z) - y` without weights.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.binary_cross_entropy_with_logits([0.0, 2.0], [1.0, 0.0],
    ...                                          reduction="none")
    array([-0.5       ,  0.88079708])
    """
    xp, z, y, w, pw = classification._pair(
        logits, target, ("logits", "target"), reduction,
        weight=weight, pos_weight=pos_weight,
    )  # fmt: skip
    _checks.in_range(y, "target", 0.0, 1.0, "labels")
    g = classification._d_bce_logits(xp, z, y, pw)
    return _scaled(xp, reduction, g if w is None else w * g, logits)


def cross_entropy(
    logits,
    target,
    *,
    weight=None,
    label_smoothing=0.0,
    ignore_index=None,
    reduction="mean",
):
    r"""Gradient of ``cross_entropy`` with respect to the logits.

    See :func:`~lossbook.classification.cross_entropy`.

    Row i is :math:`(\sum_k q_{ik})\,\operatorname{softmax}(z_i) - q_i`; for a
    one-hot target without weights, :math:`p_i - y_i`; 0 for an ignored
    target. ``(N, K, d1, ...)`` logits get a gradient of their shape.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.cross_entropy([[0.0, 0.0]], [1], reduction="sum")
    array([[ 0.5, -0.5]])
    >>> lb.grad.cross_entropy([[0.0, 0.0], [0.0, 0.0]], [1, -100],
    ...                       ignore_index=-100)
    array([[ 0.5, -0.5],
           [ 0. ,  0. ]])
    """
    xp, z, q, denom, shape = classification._ce_setup(
        logits, target, weight, label_smoothing, ignore_index, reduction
    )
    g = classification._d_cross_entropy(xp, z, q)
    if reduction == "mean" and denom is None:
        g = g / z.shape[0]
    elif reduction == "mean":  # a mean over no target: gradient 0, as autograd's
        empty = denom == 0
        g = xp.where(empty, 0.0, g / xp.where(empty, 1.0, denom))
    k = z.shape[1]
    g = classification._classes_back(xp, g, (shape[0], k, *shape[1:]))
    return _as_first(xp, g, logits)


def hinge(scores, target, *, margin=1.0, reduction="mean"):
    r"""Gradient of ``hinge``: :math:`-y` where :math:`y s < m`, else 0.

    See :func:`~lossbook.classification.hinge`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.hinge([2.0, 0.5], [1, -1], reduction="none")
    array([0., 1.])
    """
    margin = _checks.hyper("margin", margin, "positive")
    xp, s, y = classification._signed(scores, target, reduction)
    return _scaled(xp, reduction, classification._d_hinge(xp, s, y, margin), scores)


def exponential(scores, target, *, reduction="mean"):
    r"""Gradient of ``exponential``: :math:`-y\,e^{-y s}`.

    See :func:`~lossbook.classification.exponential`.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.grad.exponential([0.0], [1], reduction="none")
    array([-1.])
    """
    xp, s, y = classification._signed(scores, target, reduction)
    return _scaled(xp, reduction, classification._d_exponential(xp, s, y), scores)
