"""Regularisation penalties and the weighting of losses and classes.

Penalties take one array/tensor or an iterable of them (``model.parameters()``)
and return a 0-d value of the same kind; the multi-task combiners take K task
losses as a sequence of 0-d values or a ``(K,)`` array.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from . import _checks, classification, regression
from ._backend import _is_torch, _size, arrays, device, reduce, result

__all__ = [
    "balanced_class_weights",
    "elastic_net_penalty",
    "l1_penalty",
    "l2_penalty",
    "uncertainty_weighted",
    "weighted_binary_cross_entropy",
    "weighted_sum",
]


def _is_array(x) -> bool:
    return _is_torch(x) or isinstance(x, np.ndarray)


# --- penalties ---


def _named(item) -> bool:
    """A (name, array) pair, as ``named_parameters()`` yields them."""
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)


def _params(params):
    """The penalised arrays as ``(xp, [arrays])``.

    ``params`` is one array/tensor, an iterable of them (``parameters()``), a
    mapping of names to them (``state_dict()``) or an iterable of (name,
    array) pairs (``named_parameters()``); names show in error messages.
    """
    if _is_array(params) or isinstance(params, numbers.Number):
        named = {"params": params}
    elif isinstance(params, Mapping):
        named = {f"params[{k!r}]": p for k, p in params.items()}
    else:
        named = {}
        for k, item in enumerate(params):  # a generator is read once
            if _named(item):
                named[f"params[{item[0]!r}]"] = item[1]
            else:
                named[f"params[{k}]"] = item
    if not named:
        raise ValueError(
            "`params` is empty; pass an array/tensor or a non-empty iterable of "
            "them (e.g. model.parameters())"
        )
    xp, *values = arrays(**named, float_args=tuple(named))
    return xp, values


def _penalty_sum(xp, values, kernel):
    total = xp.sum(kernel(xp, values[0]))
    for v in values[1:]:
        total = total + xp.sum(kernel(xp, v))
    return total


def _sum_abs(xp, values):
    # |theta| is the MAE kernel at target 0: one formula for both
    return _penalty_sum(xp, values, regression._mae)


def _sum_squares(xp, values):
    # theta^2 is the MSE kernel at target 0
    return _penalty_sum(xp, values, regression._mse)


def l1_penalty(params, *, lam):
    r"""L1 (lasso) penalty on parameters.

    .. math::

        R(\theta) = \lambda \sum_j |\theta_j|

    Parameters
    ----------
    params : array_like, torch.Tensor, iterable of them, or mapping
        The parameters: ``model.parameters()``, ``model.named_parameters()``
        (pairs of a name and a tensor), a dict such as ``model.state_dict()``
        (whose tensors are detached: no gradient), or one array; the sum runs
        over every element of every array.
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    penalty : numpy.ndarray or torch.Tensor
        0-d, of the parameters' kind and (first) dtype; gradients flow to
        torch parameters.

    Raises
    ------
    ValueError
        If ``lam`` is negative or ``params`` is an empty iterable.
    TypeError
        If NumPy and torch arrays are mixed.

    Notes
    -----
    The MAP penalty of a Laplace prior :math:`p(\theta_j) \propto
    e^{-\lambda|\theta_j|}`. Its subgradient :math:`\lambda
    \operatorname{sign}(\theta)` has constant size, which drives small
    weights to exactly zero (sparsity) under proximal methods; plain
    gradient descent only makes them oscillate around zero.

    References
    ----------
    .. [1] R. Tibshirani, "Regression shrinkage and selection via the lasso",
       *J. R. Statist. Soc. B* 58(1), 267-288, 1996.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.l1_penalty([[1.0, -2.0], [0.5]], lam=0.1))
    0.35
    """
    lam = _checks.hyper("lam", lam, "nonnegative")
    xp, values = _params(params)
    return result(xp, lam * _sum_abs(xp, values))  # float16 in, float16 out


def l2_penalty(params, *, lam):
    r"""L2 (ridge, weight-decay) penalty on parameters.

    .. math::

        R(\theta) = \lambda \sum_j \theta_j^2

    Parameters
    ----------
    params : array_like, torch.Tensor, iterable of them, or mapping
        As :func:`l1_penalty`: ``parameters()``, ``named_parameters()``, a
        ``state_dict()`` or one array.
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    penalty : numpy.ndarray or torch.Tensor
        0-d, of the parameters' kind.

    Raises
    ------
    ValueError
        If ``lam`` is negative or ``params`` is an empty iterable.
    TypeError
        If NumPy and torch arrays are mixed.

    Notes
    -----
    The MAP penalty of a Gaussian prior. No factor 1/2: the gradient is
    :math:`2\lambda\theta`. SGD's ``weight_decay=wd`` adds :math:`wd\,\theta`
    to the gradient, i.e. it corresponds to ``lam = wd / 2`` here (and
    AdamW's decoupled decay is not a penalty at all).

    References
    ----------
    .. [1] A. E. Hoerl and R. W. Kennard, "Ridge regression: biased
       estimation for nonorthogonal problems", *Technometrics* 12(1), 55-67,
       1970.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.l2_penalty([[1.0, -2.0], [0.5]], lam=0.1))
    0.525
    """
    lam = _checks.hyper("lam", lam, "nonnegative")
    xp, values = _params(params)
    return result(xp, lam * _sum_squares(xp, values))


def elastic_net_penalty(params, *, l1, l2):
    r"""Elastic-net penalty: a sum of the L1 and L2 penalties.

    .. math::

        R(\theta) = \lambda_1 \sum_j |\theta_j| + \lambda_2 \sum_j \theta_j^2

    Parameters
    ----------
    params : array_like, torch.Tensor, iterable of them, or mapping
        As :func:`l1_penalty`: ``parameters()``, ``named_parameters()``, a
        ``state_dict()`` or one array.
    l1 : float
        :math:`\lambda_1 \ge 0`.
    l2 : float
        :math:`\lambda_2 \ge 0`.

    Returns
    -------
    penalty : numpy.ndarray or torch.Tensor
        0-d, of the parameters' kind.

    Raises
    ------
    ValueError
        If ``l1`` or ``l2`` is negative or ``params`` is an empty iterable.
    TypeError
        If NumPy and torch arrays are mixed.

    Notes
    -----
    Equals ``l1_penalty(params, lam=l1) + l2_penalty(params, lam=l2)``.
    scikit-learn parametrises it as ``alpha * l1_ratio * |θ|_1 +
    0.5 * alpha * (1 - l1_ratio) * |θ|_2^2`` (and divides the data term by
    2N): ``l1 = alpha * l1_ratio``, ``l2 = alpha * (1 - l1_ratio) / 2``
    relative to that data term.

    References
    ----------
    .. [1] H. Zou and T. Hastie, "Regularization and variable selection via
       the elastic net", *J. R. Statist. Soc. B* 67(2), 301-320, 2005.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.elastic_net_penalty([1.0, -2.0], l1=0.1, l2=0.01))
    0.35
    """
    l1 = _checks.hyper("l1", l1, "nonnegative")
    l2 = _checks.hyper("l2", l2, "nonnegative")
    xp, values = _params(params)
    return result(xp, l1 * _sum_abs(xp, values) + l2 * _sum_squares(xp, values))


# --- class weighting ---


def balanced_class_weights(target):
    r"""Class weights that give both classes of a binary problem equal total weight.

    .. math::

        w_+ = \frac{N_-}{N}, \qquad w_- = \frac{N_+}{N}

    Parameters
    ----------
    target : array_like or torch.Tensor
        Binary labels in {0, 1}, any shape, at least one element.

    Returns
    -------
    w_pos, w_neg : numpy.ndarray or torch.Tensor
        Two 0-d values of the target's kind (float64 for NumPy, torch's
        default dtype for integer tensors), computed on the target's device
        without reading it on the host.

    Raises
    ------
    ValueError
        If ``target`` is empty or holds values other than 0 and 1.

    Notes
    -----
    :math:`N_+ w_+ = N_- w_- = N_+ N_- / N`: the positives and the negatives
    contribute equally to a weighted sum, and :math:`w_+ + w_- = 1`.
    scikit-learn's ``class_weight="balanced"`` gives :math:`N / (2 N_c)`,
    the same ratio :math:`w_+/w_- = N_-/N_+` at a different scale (a factor
    :math:`N^2 / (2 N_+ N_-)`). A class that is absent gets the other class
    zero weight. :func:`weighted_binary_cross_entropy` takes its weights as
    Python numbers: pass ``float(w_pos)`` and ``float(w_neg)`` (one transfer
    to the host, once per data set, not in every training step).

    References
    ----------
    .. [1] H. He and E. A. Garcia, "Learning from imbalanced data", *IEEE
       Transactions on Knowledge and Data Engineering* 21(9), 1263-1284,
       2009.

    Examples
    --------
    >>> import lossbook as lb
    >>> w_pos, w_neg = lb.balanced_class_weights([1, 0, 0, 0])
    >>> float(w_pos), float(w_neg)
    (0.75, 0.25)
    """
    xp, y = arrays(target=target)
    _checks.in_set(y, "target", (0.0, 1.0), "binary labels")
    n = _size(y)
    if n == 0:
        raise ValueError(
            f"`target` is empty (shape {tuple(y.shape)}); class weights need at "
            "least one label"
        )
    n_pos = xp.sum(y)
    return result(xp, (n - n_pos) / n), result(xp, n_pos / n)


def weighted_binary_cross_entropy(prob, target, *, w_pos, w_neg, reduction="mean"):
    r"""Binary cross-entropy with separate weights for the two classes.

    .. math::

        \ell_i = -\big[\,w_+\, y_i \log p_i + w_-\,(1 - y_i) \log(1 - p_i)\,\big]

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Predicted probabilities in [0, 1], any shape.
    target : array_like or torch.Tensor
        Labels in [0, 1] (hard or soft), same shape.
    w_pos, w_neg : float
        Non-negative weights of the positive and negative terms, Python
        numbers, e.g. ``float(w)`` for each ``w`` of
        :func:`balanced_class_weights`.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined (the mean divides by the
        number of elements).

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``prob``.

    Raises
    ------
    ValueError
        If ``prob`` or ``target`` leaves [0, 1], a weight is negative, the
        shapes differ, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed, or a weight is an array or a
        tensor (reading it would synchronise with the device).

    Notes
    -----
    Each log is the clamped one of :func:`~lossbook.classification.binary_cross_entropy`
    (at least -100, as PyTorch). ``w_pos = w_neg = 1`` gives plain BCE. For
    hard labels this equals ``F.binary_cross_entropy(p, y, weight=w_pos * y
    + w_neg * (1 - y))``; ``pos_weight`` of
    ``F.binary_cross_entropy_with_logits`` is the ratio ``w_pos / w_neg``
    with ``w_neg = 1``. The weights are hyperparameters, Python numbers: a
    0-d array or tensor raises ``TypeError`` (reading its value would be a
    host synchronisation, and a graph break under ``torch.compile``).

    References
    ----------
    .. [1] H. He and E. A. Garcia, "Learning from imbalanced data", *IEEE
       Transactions on Knowledge and Data Engineering* 21(9), 1263-1284,
       2009.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.weighted_binary_cross_entropy([0.5, 0.5], [1.0, 0.0], w_pos=3.0,
    ...                                  w_neg=1.0, reduction="none")
    array([2.07944154, 0.69314718])
    """
    w_pos = _checks.hyper("w_pos", w_pos, "nonnegative")
    w_neg = _checks.hyper("w_neg", w_neg, "nonnegative")
    xp, p, y = classification._pair(prob, target, ("prob", "target"), reduction)
    _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
    _checks.in_range(y, "target", 0.0, 1.0, "labels")
    # the BCE kernel at target 1 is -log p and at target 0 is -log(1 - p)
    loss = w_pos * y * classification._bce(xp, p, 1.0) + w_neg * (
        1 - y
    ) * classification._bce(xp, p, 0.0)
    return reduce(xp, loss, reduction)


# --- multi-task weighting ---


def _task_values(value, name):
    """A ``(K,)`` array, or a non-empty sequence of 0-d values, as ``(xp, v)``."""
    if _is_array(value):
        xp, v = arrays(**{name: value})
        _checks.ndim(v, name, 1, "(K,): one value per task")
    else:
        items = list(value)
        named = {f"{name}[{k}]": item for k, item in enumerate(items)}
        if not named:
            raise ValueError(f"`{name}` is empty; pass one value per task")
        xp, *values = arrays(**named, float_args=tuple(named))
        for key, v in zip(named, values, strict=True):
            if v.ndim != 0:
                raise ValueError(
                    f"`{key}` must be a 0-d value (a reduced loss), got shape "
                    f"{tuple(v.shape)}"
                )
        v = xp.stack(values)
    if v.shape[0] == 0:
        raise ValueError(f"`{name}` is empty; pass one value per task")
    return xp, v


def _per_task(losses, other, name):
    """The task losses and a matching per-task vector on their backend."""
    xp, v = _task_values(losses, "losses")
    if not _is_array(other):
        other = list(other)  # a generator is read once
    if not _is_array(other) and all(isinstance(w, numbers.Real) for w in other):
        # plain numbers go to the losses' backend (a list with torch losses)
        w = xp.asarray([float(x) for x in other], dtype=v.dtype, device=device(v))
    else:
        _, w = _task_values(other, name)
    _, v, w = arrays(losses=v, **{name: w}, float_args=(name,))
    if tuple(w.shape) != tuple(v.shape):
        raise ValueError(
            f"`{name}` must hold one value per loss, shape ({v.shape[0]},), got "
            f"shape {tuple(w.shape)}"
        )
    return xp, v, w


def weighted_sum(losses, weights):
    r"""A fixed weighted sum of task losses.

    .. math::

        \mathcal L = \sum_{k=1}^K w_k \mathcal L_k

    Parameters
    ----------
    losses : sequence of 0-d arrays/tensors, or array/tensor of shape (K,)
        The task losses :math:`\mathcal L_k`.
    weights : sequence of numbers, or array/tensor of shape (K,)
        :math:`w_k`; plain numbers are placed on the losses' backend.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d, of the losses' kind.

    Raises
    ------
    ValueError
        If ``losses`` is empty, an entry is not 0-d, or the numbers of
        losses and weights differ.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The weights are hyperparameters: their scale interacts with the
    learning rate, and losses of different units (pixels, nats) need
    weights of matching units. :func:`uncertainty_weighted` learns them
    instead.

    References
    ----------
    .. [1] A. Kendall, Y. Gal and R. Cipolla, "Multi-task learning using
       uncertainty to weigh losses for scene geometry and semantics", *CVPR*,
       2018 (the baseline they compare with).

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.weighted_sum([2.0, 0.5], [1.0, 4.0]))
    4.0
    """
    xp, v, w = _per_task(losses, weights, "weights")
    return result(xp, xp.sum(w * v))


def uncertainty_weighted(losses, log_sigma):
    r"""Multi-task loss weighted by learned homoscedastic uncertainty.

    .. math::

        \mathcal L = \sum_{k=1}^K \frac{1}{2\sigma_k^2}\, \mathcal L_k +
        \log \sigma_k, \qquad \frac{1}{2\sigma_k^2} = \tfrac12
        e^{-2 \log\sigma_k}

    Parameters
    ----------
    losses : sequence of 0-d arrays/tensors, or array/tensor of shape (K,)
        The task losses :math:`\mathcal L_k`.
    log_sigma : sequence of numbers, or array/tensor of shape (K,)
        :math:`\log\sigma_k`, usually a learnable tensor (see
        :class:`lossbook.nn.UncertaintyWeighting`).

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d, of the losses' kind; gradients flow to ``losses`` and
        ``log_sigma``.

    Raises
    ------
    ValueError
        If ``losses`` is empty, an entry is not 0-d, or the numbers of
        losses and ``log_sigma`` values differ.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    For a regression task with squared-error loss :math:`\mathcal L_k`, the
    Gaussian negative log-likelihood with noise :math:`\sigma_k` is, up to a
    constant, :math:`\mathcal L_k / (2\sigma_k^2) + \log\sigma_k`. Setting
    the derivative in :math:`\log\sigma_k` to zero gives
    :math:`\sigma_k^2 = \mathcal L_k` and the minimum
    :math:`\tfrac12 + \tfrac12\log\mathcal L_k`: tasks with large losses get
    small weights, and the :math:`\log\sigma_k` term stops all weights from
    collapsing to zero. Parametrising by :math:`\log\sigma` keeps
    :math:`\sigma > 0` without constraints. Kendall et al. use
    :math:`1/\sigma^2` without the 1/2 for classification tasks; many codes
    learn :math:`s = \log\sigma^2` and write :math:`\tfrac12 (e^{-s}
    \mathcal L + s)`, which is this loss with :math:`s = 2\log\sigma`.

    References
    ----------
    .. [1] A. Kendall, Y. Gal and R. Cipolla, "Multi-task learning using
       uncertainty to weigh losses for scene geometry and semantics", *CVPR*,
       2018.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.uncertainty_weighted([1.0, 3.0], [0.0, 0.0]))
    2.0
    """
    xp, v, s = _per_task(losses, log_sigma, "log_sigma")
    # exp(-2 log sigma) = 1 / sigma^2, with sigma > 0 for any real log sigma.
    # One exp is the accurate form; where e^{-2s} would overflow (s < -44 in
    # float32: a task whose loss reached 0 keeps pushing its log sigma down, and
    # inf * 0 would make the loss NaN) it is (e^{-s} L) e^{-s}, finite where the
    # product is. The direct form sees a harmless s there (double where), so
    # neither branch puts inf or NaN into the gradient.
    safe = s > -0.49 * math.log(xp.finfo(s.dtype).max)
    s_direct = xp.where(safe, s, xp.zeros_like(s))
    e = xp.exp(-s)
    term = xp.where(safe, 0.5 * xp.exp(-2 * s_direct) * v, 0.5 * (e * v) * e)
    return result(xp, xp.sum(term + s))
