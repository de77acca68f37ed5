"""Negative log-likelihoods: the bridge from a noise model to a loss.

Minimising the negative log-likelihood of the targets under a noise model
centred on the prediction is maximum likelihood; each familiar loss is one
noise model: Gaussian -> squared error, Laplace -> absolute error, Bernoulli
-> binary cross-entropy, categorical -> softmax cross-entropy.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks, classification, regression
from ._backend import (
    _is_torch,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    device,
    reduce,
)

__all__ = [
    "bernoulli_nll",
    "categorical_nll",
    "gaussian_nll",
    "laplace_nll",
    "poisson_nll",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def _location_scale(pred, target, scale, name, reduction):
    """Checker of the location-scale family; returns ``(xp, residual, scale)``.

    ``scale`` is a positive number, or an array/tensor that broadcasts to
    ``pred``'s shape (a learnable scale, or heteroscedastic noise); gradients
    flow to a tensor scale.
    """
    check_reduction(reduction)
    if _is_torch(scale) or isinstance(scale, (np.ndarray, list, tuple)):
        xp, p, t, s = arrays(
            pred=pred, target=target, **{name: scale}, float_args=("target", name)
        )
        _checks.broadcastable(s, p, name, "pred")
        _checks.positive_values(s, name)
    else:
        value = _checks.hyper(name, scale, "positive")
        xp, p, t = arrays(pred=pred, target=target, float_args=("target",))
        # one code path: the number becomes a 0-d array of pred's dtype and device
        s = xp.asarray(value, dtype=p.dtype, device=device(p))
    _checks.same_shape(p, t, ("pred", "target"))
    check_not_empty_for_mean(p, reduction)
    return xp, p - t, s


def gaussian_nll(pred, target, *, sigma=1.0, reduction="mean"):
    r"""Negative log-likelihood of Gaussian noise around the prediction.

    .. math::

        \ell_i = -\log \mathcal N(y_i \mid \hat y_i, \sigma^2)
        = \tfrac12 \log(2\pi\sigma^2) + \frac{(y_i - \hat y_i)^2}{2\sigma^2}

    Parameters
    ----------
    pred : array_like or torch.Tensor
        The mean :math:`\hat y`, any shape.
    target : array_like or torch.Tensor
        Observations :math:`y`, same shape.
    sigma : float or array_like or torch.Tensor, default 1.0
        Noise standard deviation :math:`\sigma > 0`: a number, or an array
        (a tensor for torch inputs) that broadcasts to ``pred``'s shape: 0-d
        for a learnable scale, per element for heteroscedastic noise (e.g. a
        second output of the network, through ``exp`` or ``softplus``). Its
        gradient flows for torch tensors.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If ``sigma`` is not positive and finite or does not broadcast to
        ``pred``, the shapes of ``pred`` and ``target`` differ,
        ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed (``sigma`` included).

    Notes
    -----
    For a fixed :math:`\sigma` the loss is :math:`\mathrm{MSE}/(2\sigma^2)`
    plus a constant: the same minimiser, which is why squared error is the
    maximum-likelihood loss under Gaussian noise. Computed as
    :math:`\tfrac12\log 2\pi + \log\sigma + \tfrac12 (r/\sigma)^2`, which
    never forms :math:`\sigma^2` (no overflow for huge :math:`\sigma`).
    ``torch.nn.functional.gaussian_nll_loss(pred, target, var=sigma**2,
    full=True)`` is the same function of the variance (it clamps the
    variance at its ``eps``); with ``full=False`` it drops the constant.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*,
       Springer, 2006, sec. 1.2.5 and 3.1.1.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.gaussian_nll([0.0, 0.0], [0.0, 2.0], sigma=2.0, reduction="none")
    array([1.61208571, 2.11208571])
    """
    xp, r, sigma = _location_scale(pred, target, sigma, "sigma", reduction)
    # log sigma + (r / sigma)^2 / 2 never squares sigma itself
    loss = _HALF_LOG_2PI + xp.log(sigma) + 0.5 * regression._mse(xp, r / sigma)
    return reduce(xp, loss, reduction)


def laplace_nll(pred, target, *, b=1.0, reduction="mean"):
    r"""Negative log-likelihood of Laplace noise around the prediction.

    .. math::

        \ell_i = -\log \frac{1}{2b} e^{-|y_i - \hat y_i| / b}
        = \log(2b) + \frac{|y_i - \hat y_i|}{b}

    Parameters
    ----------
    pred : array_like or torch.Tensor
        The location :math:`\hat y`, any shape.
    target : array_like or torch.Tensor
        Observations :math:`y`, same shape.
    b : float or array_like or torch.Tensor, default 1.0
        Scale :math:`b > 0` (the mean absolute deviation): a number, or an
        array (a tensor for torch inputs) that broadcasts to ``pred``'s shape
        (learnable or per element, as ``sigma`` of :func:`gaussian_nll`).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``pred``.

    Raises
    ------
    ValueError
        If ``b`` is not positive and finite or does not broadcast to
        ``pred``, the shapes of ``pred`` and ``target`` differ,
        ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed (``b`` included).

    Notes
    -----
    For fixed :math:`b` the loss is :math:`\mathrm{MAE}/b` plus a
    constant: absolute error is the maximum-likelihood loss under Laplace
    noise, and its minimiser over a constant prediction is the median. The
    maximum-likelihood :math:`b` is the mean absolute residual. Equals
    ``-torch.distributions.Laplace(pred, b).log_prob(target)``.

    References
    ----------
    .. [1] K. P. Murphy, *Probabilistic Machine Learning: An Introduction*,
       MIT Press, 2022, sec. 2.7.3 and 11.6.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.laplace_nll([0.0, 0.0], [0.0, 2.0], b=0.5, reduction="none")
    array([0., 4.])
    """
    xp, r, b = _location_scale(pred, target, b, "b", reduction)
    # log 2 + log b: no overflow of 2 b
    loss = _LOG_2 + xp.log(b) + regression._mae(xp, r / b)
    return reduce(xp, loss, reduction)


def _lgamma(x):
    """log Gamma(x), element-wise: torch's kernel, SciPy's for NumPy."""
    if _is_torch(x):
        return x.lgamma()
    from scipy.special import gammaln  # imported on first use, like torch

    return gammaln(x)


def poisson_nll(log_rate, target, *, reduction="mean"):
    r"""Negative log-likelihood of Poisson counts with a predicted log-rate.

    With :math:`P(y \mid \lambda) = \lambda^y e^{-\lambda} / y!` and
    :math:`\lambda = e^{s}`,

    .. math::

        \ell_i = -\log P(y_i \mid e^{s_i})
        = e^{s_i} - y_i s_i + \log \Gamma(y_i + 1)

    Parameters
    ----------
    log_rate : array_like or torch.Tensor
        The predicted log-rate :math:`s = \log\lambda`, any shape (a linear
        output: the rate :math:`e^s` is positive by construction).
    target : array_like or torch.Tensor
        Observed counts :math:`y \ge 0`, same shape (non-integer values are
        allowed; :math:`\log\Gamma(y + 1)` extends :math:`\log y!`).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``log_rate``.

    Raises
    ------
    ValueError
        If ``target`` holds negative (or NaN) counts, the shapes differ,
        ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The gradient is :math:`e^{s} - y`: zero where the predicted rate equals
    the count, as for the squared error of a Gaussian model. The term
    :math:`\log\Gamma(y + 1)` does not depend on the prediction, so it
    changes no gradient; with it, the loss is the exact negative
    log-likelihood (and sums to the log-likelihood of a data set).
    ``torch.nn.functional.poisson_nll_loss(log_input=True, full=False)``
    drops it; ``full=True`` adds Stirling's approximation
    :math:`y \log y - y + \tfrac12 \log(2\pi y)` for :math:`y > 1` only.
    Near the optimum the three terms cancel, so the absolute error is a
    few ulps of the largest term, :math:`\max(e^s, |y s|, \log\Gamma(y+1))`.
    Equals ``-torch.distributions.Poisson(rate=exp(s)).log_prob(y)``.

    References
    ----------
    .. [1] P. McCullagh and J. A. Nelder, *Generalized Linear Models*, 2nd
       ed., Chapman and Hall, 1989, sec. 6.2.

    Examples
    --------
    >>> import math
    >>> import lossbook as lb
    >>> lb.poisson_nll([0.0, math.log(3.0)], [0.0, 3.0], reduction="none")
    array([1.       , 1.4959226])
    """
    xp, s, y = _checks.inputs(reduction, log_rate=log_rate, target=target)
    _checks.in_range(y, "target", 0.0, math.inf, "counts")
    loss = xp.exp(s) - y * s + _lgamma(y + 1)
    return reduce(xp, loss, reduction)


def bernoulli_nll(prob, target, *, reduction="mean"):
    r"""Negative log-likelihood of Bernoulli labels: binary cross-entropy.

    With :math:`P(y \mid p) = p^y (1-p)^{1-y}` for :math:`y \in \{0, 1\}`,

    .. math::

        \ell_i = -\log P(y_i \mid p_i) = -\big[y_i \log p_i + (1 - y_i)
        \log(1 - p_i)\big]

    which is :func:`~lossbook.classification.binary_cross_entropy`; this
    function calls it.

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Predicted probabilities :math:`p \in [0, 1]`, any shape.
    target : array_like or torch.Tensor
        Labels in [0, 1], same shape.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``prob``.

    Raises
    ------
    ValueError
        As :func:`~lossbook.classification.binary_cross_entropy`.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Each log is clamped at -100, as in PyTorch. With soft targets the value
    is the cross-entropy :math:`H(y, p)`, no longer a log-likelihood, but it
    has the same minimiser :math:`p = y`.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*,
       Springer, 2006, sec. 4.3.2.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.bernoulli_nll([0.8, 0.8], [1.0, 0.0], reduction="none")
    array([0.22314355, 1.60943791])
    """
    return classification.binary_cross_entropy(prob, target, reduction=reduction)


def categorical_nll(logits, target, *, reduction="mean"):
    r"""Negative log-likelihood of a categorical label: softmax cross-entropy.

    With :math:`P(y = k \mid z) = \operatorname{softmax}(z)_k =
    e^{z_k} / \sum_j e^{z_j}`,

    .. math::

        \ell_i = -\log P(y_i \mid z_i) = -z_{i, y_i} + \log \sum_j e^{z_{ij}}

    which is :func:`~lossbook.classification.cross_entropy`; this function calls it.

    Parameters
    ----------
    logits : array_like or torch.Tensor
        Shape ``(N, K)``: unnormalised class scores.
    target : array_like or torch.Tensor
        Class indices of shape ``(N,)`` (or probabilities of shape ``(N, K)``).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the N per-sample losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        As :func:`~lossbook.classification.cross_entropy`.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The log-sum-exp is computed around the largest logit, so logits of
    :math:`10^4` are fine. The gradient with respect to the logits is
    :math:`\operatorname{softmax}(z) - \mathrm{onehot}(y)`.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*, MIT
       Press, 2016, sec. 6.2.2.3.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.categorical_nll([[0.0, 0.0], [1e4, 0.0]], [1, 0], reduction="none")
    array([0.69314718, 0.        ])
    """
    return classification.cross_entropy(logits, target, reduction=reduction)
