"""Regression losses: functions of the residual ``r = pred - target``.

Each loss is an element-wise kernel of the residual plus the library's single
reduction. The derivative kernels beside them (``_d_*``) serve
:mod:`lossbook.grad`.
"""

from __future__ import annotations

import math

from . import _checks, _fast
from ._backend import reduce

__all__ = ["huber", "log_cosh", "mae", "mse", "pinball", "smooth_l1"]

_LOG2 = math.log(2.0)


def _residual(pred, target, reduction):
    """The input checker of the regression family; returns ``(xp, r)``."""
    xp, pred, target = _checks.inputs(reduction, pred=pred, target=target)
    return xp, pred - target


# --- element-wise kernels: value and derivative with respect to ``pred`` ---


def _mse(xp, r):
    return r * r


def _d_mse(xp, r):
    return 2 * r


def _mae(xp, r):
    return xp.abs(r)


def _d_mae(xp, r):
    return xp.sign(r)  # sign(0) = 0: the subgradient autograd picks at the kink


def _huber(xp, r, delta):
    # clip form: 0.5 c^2 + delta (|r| - |c|), c = clip(r, -delta, delta), is the
    # two-branch formula without where() (slow on mixed masks) and, c being
    # bounded, without overflow; the linear part is exactly 0 inside the zone
    c = xp.clip(r, -delta, delta)
    return 0.5 * c * c + delta * (xp.abs(r) - xp.abs(c))


def _d_huber(xp, r, delta):
    return xp.clip(r, -delta, delta)


def _smooth_l1(xp, r, beta):
    if beta == 0:
        return xp.abs(r)  # the beta -> 0 limit is L1; avoids 0/0
    return _huber(xp, r, beta) / beta  # smooth_l1(beta) = huber(delta=beta) / beta


def _d_smooth_l1(xp, r, beta):
    if beta == 0:
        return xp.sign(r)
    return xp.clip(r / beta, -1.0, 1.0)


def _log_cosh(xp, r):
    a = xp.abs(r)
    near = a < 1.0
    # double where: each branch only ever sees inputs where it is finite,
    # so neither the value nor autograd meets inf * 0
    r_near = xp.where(near, r, 0.0)
    a_far = xp.where(near, 1.0, a)
    # log1p(2 sinh^2(r/2)) = log cosh r without cancellation at tiny r
    s = xp.sinh(0.5 * r_near)
    small = xp.log1p(2.0 * s * s)
    # |r| - log 2 + log1p(exp(-2|r|)) = log cosh r with no overflow of cosh
    e = xp.exp(-a_far)  # exp(-|r|)^2, not exp(-2|r|): -2|r| overflows at 1e308
    large = a_far - _LOG2 + xp.log1p(e * e)
    return xp.where(near, small, large)


def _d_log_cosh(xp, r):
    return xp.tanh(r)


def _pinball(xp, r, q):
    # u = -r = target - pred; max(q u, (q - 1) u) rounds each product once
    # (no cancellation, unlike |u|/2 + (q - 1/2) u). At u = 0 torch.maximum
    # splits the gradient between the tied branches: 1/2 - q, as _d_pinball.
    u = -r
    return xp.maximum(q * u, (q - 1) * u)


def _d_pinball(xp, r, q):
    # d/dpred: -q where target > pred, 1 - q where target < pred, and the
    # midpoint 1/2 - q of the subdifferential [-q, 1 - q] at the kink
    # (sign + 1) / 2 is exactly 0, 1/2 or 1: one rounding, in the subtraction
    return (xp.sign(r) + 1) * 0.5 - q


# --- public losses ---


def mse(pred, target, *, reduction="mean"):
    r"""Mean squared error (L2 loss).

    .. math::

        \ell_i = (\hat y_i - y_i)^2

    Parameters
    ----------
    pred : array_like or torch.Tensor
        Predictions :math:`\hat y`, any shape.
    target : array_like or torch.Tensor
        Targets :math:`y`, same shape as ``pred``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``; same kind and floating
        dtype as ``pred``.

    Raises
    ------
    ValueError
        If the shapes differ, ``reduction`` is unknown, or the input is empty
        with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The maximum-likelihood loss under Gaussian noise (see
    :func:`lossbook.likelihood.gaussian_nll`). No factor 1/2: the gradient is
    :math:`2(\hat y - y)`, divided by :math:`N` under the mean. Matches
    ``torch.nn.functional.mse_loss``.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, *The Elements of
       Statistical Learning*, 2nd ed., Springer, 2009, sec. 2.4.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.mse([1.2, 0.3, 0.7], [1.0, 0.0, 1.0]))
    0.07333
    """
    if (fast := _fast.mse(pred, target, reduction)) is not None:
        return fast
    xp, r = _residual(pred, target, reduction)
    return reduce(xp, _mse(xp, r), reduction)


def mae(pred, target, *, reduction="mean"):
    r"""Mean absolute error (L1 loss).

    .. math::

        \ell_i = |\hat y_i - y_i|

    Parameters
    ----------
    pred : array_like or torch.Tensor
        Predictions, any shape.
    target : array_like or torch.Tensor
        Targets, same shape as ``pred``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If the shapes differ, ``reduction`` is unknown, or the input is empty
        with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The maximum-likelihood loss under Laplace noise; its minimiser over a
    constant is the median. The derivative with respect to the prediction is
    :math:`\operatorname{sign}(\hat y - y)` (not :math:`\operatorname{sign}(y -
    \hat y)`), with the subgradient 0 at :math:`r = 0`, as autograd returns.
    Matches ``torch.nn.functional.l1_loss``.

    References
    ----------
    .. [1] P. J. Huber and E. M. Ronchetti, *Robust Statistics*, 2nd ed.,
       Wiley, 2009.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.mae([1.2, 0.3, 0.7], [1.0, 0.0, 1.0]))
    0.26667
    """
    if (fast := _fast.mae(pred, target, reduction)) is not None:
        return fast
    xp, r = _residual(pred, target, reduction)
    return reduce(xp, _mae(xp, r), reduction)


def huber(pred, target, *, delta=1.0, reduction="mean"):
    r"""Huber loss: quadratic for small residuals, linear for large ones.

    .. math::

        \ell_i = \begin{cases}
            \tfrac12 r_i^2 & |r_i| \le \delta \\
            \delta\,(|r_i| - \tfrac12\delta) & \text{otherwise}
        \end{cases}, \qquad r_i = \hat y_i - y_i

    Parameters
    ----------
    pred : array_like or torch.Tensor
        Predictions, any shape.
    target : array_like or torch.Tensor
        Targets, same shape as ``pred``.
    delta : float, default 1.0
        Where the quadratic branch hands over to the linear one; > 0.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If ``delta <= 0``, the shapes differ, ``reduction`` is unknown, or
        the input is empty with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The derivative is :math:`\operatorname{clip}(r, -\delta, \delta)`: the
    loss is once, not twice, differentiable. Matches
    ``torch.nn.functional.huber_loss``. ``smooth_l1(beta=b)`` equals
    ``huber(delta=b) / b``; the two coincide only at 1.

    References
    ----------
    .. [1] P. J. Huber, "Robust estimation of a location parameter", *Annals
       of Mathematical Statistics* 35(1), 73-101, 1964.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.huber([1.2, 0.3, 3.0], [1.0, 0.0, 1.0], delta=0.5, reduction="none")
    array([0.02 , 0.045, 0.875])
    """
    delta = _checks.hyper("delta", delta, "positive")
    if (fast := _fast.huber(pred, target, delta, reduction)) is not None:
        return fast
    xp, r = _residual(pred, target, reduction)
    return reduce(xp, _huber(xp, r, delta), reduction)


def smooth_l1(pred, target, *, beta=1.0, reduction="mean"):
    r"""Smooth L1 loss (Fast R-CNN), Huber rescaled by ``1/beta``.

    .. math::

        \ell_i = \begin{cases}
            \tfrac12 r_i^2/\beta & |r_i| < \beta \\
            |r_i| - \tfrac12\beta & \text{otherwise}
        \end{cases}

    Parameters
    ----------
    pred : array_like or torch.Tensor
        Predictions, any shape.
    target : array_like or torch.Tensor
        Targets, same shape as ``pred``.
    beta : float, default 1.0
        Width of the quadratic zone, >= 0; ``beta=0`` gives the L1 loss.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If ``beta < 0``, the shapes differ, ``reduction`` is unknown, or the
        input is empty with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    ``smooth_l1(beta=b) == huber(delta=b) / b`` for ``b > 0``: the linear
    branch has slope 1 whatever ``beta`` is, Huber's has slope ``delta``.
    Matches ``torch.nn.functional.smooth_l1_loss``.

    References
    ----------
    .. [1] R. Girshick, "Fast R-CNN", *ICCV*, 2015.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.smooth_l1([0.5, 3.0], [0.0, 0.0], beta=2.0, reduction="none")
    array([0.0625, 2.    ])
    """
    beta = _checks.hyper("beta", beta, "nonnegative")
    if (fast := _fast.smooth_l1(pred, target, beta, reduction)) is not None:
        return fast
    xp, r = _residual(pred, target, reduction)
    return reduce(xp, _smooth_l1(xp, r, beta), reduction)


def log_cosh(pred, target, *, reduction="mean"):
    r"""Log-cosh loss: smooth everywhere, quadratic near 0, linear far out.

    .. math::

        \ell_i = \log\cosh(\hat y_i - y_i)

    Parameters
    ----------
    pred : array_like or torch.Tensor
        Predictions, any shape.
    target : array_like or torch.Tensor
        Targets, same shape as ``pred``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If the shapes differ, ``reduction`` is unknown, or the input is empty
        with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Computed as :math:`\log(1 + 2\sinh^2(r/2))` for :math:`|r| < 1` (no
    cancellation at tiny residuals) and as :math:`|r| - \log 2 +
    \log(1 + e^{-2|r|})` beyond (``cosh`` would overflow from
    :math:`|r| \approx 710` in float64 and 89 in float32). Near 0 it is
    :math:`r^2/2`, far out :math:`|r| - \log 2`; its derivative is
    :math:`\tanh r`.

    References
    ----------
    .. [1] P. Chen, G. Chen and S. Zhang, "Log hyperbolic cosine loss improves
       variational auto-encoder", 2019 (OpenReview rkglvsC9Ym).

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.log_cosh([1e-8, 1e300], [0.0, 0.0], reduction="none")
    array([5.00000000e-017, 1.00000000e+300])
    """
    if (fast := _fast.log_cosh(pred, target, reduction)) is not None:
        return fast
    xp, r = _residual(pred, target, reduction)
    return reduce(xp, _log_cosh(xp, r), reduction)


def pinball(pred, target, *, quantile=0.5, reduction="mean"):
    r"""Pinball (quantile) loss: the loss whose minimiser is a quantile.

    .. math::

        \ell_i = \max\big(q\,u_i,\; (q - 1)\,u_i\big), \qquad
        u_i = y_i - \hat y_i

    Parameters
    ----------
    pred : array_like or torch.Tensor
        Predicted quantiles :math:`\hat y`, any shape.
    target : array_like or torch.Tensor
        Targets :math:`y`, same shape as ``pred``.
    quantile : float, default 0.5
        The quantile level :math:`q \in (0, 1)`.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If ``quantile`` is not in (0, 1), the shapes differ, ``reduction`` is
        unknown, or the input is empty with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed, or ``quantile`` is an array.

    Notes
    -----
    An under-prediction (:math:`u > 0`) costs :math:`q u`, an
    over-prediction :math:`(1 - q)|u|`; the expected loss is minimised by
    the :math:`q`-quantile of the target's distribution. At :math:`q = 1/2`
    it is half the absolute error, whose minimiser is the median. The
    derivative with respect to ``pred`` is :math:`-q` (under-prediction) or
    :math:`1 - q` (over-prediction); at :math:`u = 0` it is the midpoint
    :math:`1/2 - q` of the subdifferential, which is what autograd returns
    through ``maximum`` (0 at :math:`q = 1/2`, as for the absolute error).
    The mean equals ``sklearn.metrics.mean_pinball_loss(target, pred,
    alpha=q)`` on 1-D inputs.

    References
    ----------
    .. [1] R. Koenker and G. Bassett, "Regression quantiles",
       *Econometrica* 46(1), 33-50, 1978.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.pinball([0.0, 0.0], [2.0, -2.0], quantile=0.9, reduction="none")
    array([1.8, 0.2])
    """
    q = _checks.hyper("quantile", quantile, "open_unit")
    xp, r = _residual(pred, target, reduction)
    return reduce(xp, _pinball(xp, r, q), reduction)
