"""Classification losses: 0-1, binary and softmax cross-entropy, hinge, exponential.

Element-wise kernels (``_name``) and their derivatives (``_d_name``, used by
:mod:`lossbook.grad`) sit beside the public functions.
"""

from __future__ import annotations

import numpy as np

from . import _checks, _fast
from ._backend import (
    _is_torch,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    device,
    namespace_of,
    reduce,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "exponential",
    "hinge",
    "kl_div",
    "smooth_labels",
    "zero_one",
]

_LOG_FLOOR = -100.0  # torch's clamp of log(p) in binary_cross_entropy


# --- input checkers of the family ---


def _pair(first, target, names, reduction, **extra):
    """Check a same-shape (scores, target) pair plus optional broadcast weights."""
    named = {names[0]: first, names[1]: target, **extra}
    return _checks.inputs(reduction, broadcast=tuple(extra), **named)


# --- kernels ---


def _softplus(xp, x):
    # max(x, 0) + log1p(exp(-|x|)): no overflow, and log1p keeps tiny values exact
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp, x):
    # exp(-softplus(-x)) never overflows and is accurate in both tails
    return xp.exp(-_softplus(xp, -x))


def _safe_log(xp, x, positive):
    # double where: log only ever sees valid inputs, so no -inf and no NaN gradient
    return xp.where(positive, xp.log(xp.where(positive, x, 1.0)), _LOG_FLOOR)


def _bce(xp, p, y):
    """Per-element BCE on probabilities, each log clamped at -100 as torch does."""
    log_p = xp.maximum(_safe_log(xp, p, p > 0), _LOG_FLOOR)
    # log1p(-p) is exact for small p where log(1 - p) would round
    q = xp.where(p < 1, p, 0.0)
    log_q = xp.where(p < 1, xp.maximum(xp.log1p(-q), _LOG_FLOOR), _LOG_FLOOR)
    return y * -log_p + (1 - y) * -log_q  # negated terms: an exact 0 is +0.0


def _bce_logits(xp, z, y, pos_weight):
    # y softplus(-z) + (1 - y) softplus(z) = -[y log s(z) + (1-y) log s(-z)],
    # with no cancellation for either label (torch's form loses tiny losses at y=0)
    pos = y * _softplus(xp, -z)
    if pos_weight is not None:
        pos = pos_weight * pos
    return pos + (1 - y) * _softplus(xp, z)


def _d_bce_logits(xp, z, y, pos_weight):
    pos = y * _sigmoid(xp, -z)
    if pos_weight is not None:
        pos = pos_weight * pos
    return (1 - y) * _sigmoid(xp, z) - pos


def _neg_log_softmax(xp, z):
    """-log softmax over the last axis (>= 0), exact for tiny losses and huge logits."""
    if _is_torch(z):
        return _neg_log_softmax_rows(xp, z)
    # NumPy warns where a gap between two logits overflows (to -inf, which
    # the formula handles, see err below); torch computes the same silently
    with np.errstate(over="ignore", invalid="ignore"):
        return _neg_log_softmax_rows(xp, z)


def _neg_log_softmax_rows(xp, z):
    k = z.shape[-1]
    top = xp.argmax(z, axis=-1, keepdims=True)
    is_top = xp.arange(k, device=device(z)) == top
    # z_top picked by a mask (not max) so autograd routes its gradient correctly
    z_top = xp.sum(xp.where(is_top, z, 0.0), axis=-1, keepdims=True)
    d = z - z_top  # <= 0: exp never overflows
    # TwoSum: err is the rounding error of d, so d + err = z - z_top exactly
    # (to first order); without it a gap of 100 costs ~100 ulps. No gradient
    # flows through err's value (it is 0 in exact arithmetic).
    back = d - z
    err = (z - (d - back)) + (-z_top - back)
    # a gap beyond the largest float makes d = -inf and err = -inf - -inf =
    # NaN; such a class has probability 0 (err 0 keeps exp(d) = 0, and d + err
    # = -inf is its true log-ratio), so a finite row keeps a finite loss
    err = xp.where(d > -np.inf, err, 0.0)
    # the top class contributes exactly exp(0) = 1: leave it out of the sum and
    # use log1p, so a dominant class gives an exact tiny loss
    rest = xp.sum(xp.where(is_top, 0.0, xp.exp(d) * (1 + err)), axis=-1, keepdims=True)
    return xp.log1p(rest) - (d + err)


def _one_hot(xp, index, k, dtype):
    classes = xp.arange(k, device=device(index))
    return xp.astype(index[:, None] == classes, dtype)


def _classes_last(xp, x):
    """(N, K, d1, ...) -> (N d1 ..., K): one row per prediction, classes last."""
    if x.ndim == 2:
        return x
    order = (0, *range(2, x.ndim), 1)
    return xp.reshape(xp.permute_dims(x, order), (-1, x.shape[1]))


def _classes_back(xp, rows, shape):
    """The inverse of :func:`_classes_last` for an array of ``shape``."""
    if len(shape) == 2:
        return rows
    moved = xp.reshape(rows, (shape[0], *shape[2:], shape[1]))
    return xp.permute_dims(moved, (0, len(shape) - 1, *range(1, len(shape) - 1)))


def _ce_setup(logits, target, weight, label_smoothing, ignore_index, reduction):
    """Checker of softmax cross-entropy; returns ``(xp, z, q, denom, shape)``.

    ``z`` holds one row of K logits per prediction (the class axis 1 of
    ``(N, K, d1, ...)`` logits moved last and the rest flattened); ``q`` is
    the matrix of per-class coefficients of the same shape, so that the loss
    of row i is ``-sum_k q_ik log_softmax(z_i)_k`` (rows of ignored targets
    are 0); ``denom`` is what the mean divides by when it is not the number
    of rows (class weights or ignored targets, as
    ``torch.nn.functional.cross_entropy``); ``shape`` is ``(N, d1, ...)``.
    """
    check_reduction(reduction)
    eps = _checks.hyper("label_smoothing", label_smoothing, "unit")
    _checks.index_or_none("ignore_index", ignore_index)
    extra = {} if weight is None else {"weight": weight}
    xp, z, t, *w = arrays(logits=logits, target=target, **extra, float_args=("weight",))
    if z.ndim < 2:
        raise ValueError(
            "`logits` must be (N, K) or (N, K, d1, ...): N samples of K class "
            f"scores (classes on axis 1), got shape {tuple(z.shape)}"
        )
    k = z.shape[1]
    shape = (z.shape[0], *z.shape[2:])
    check_not_empty_for_mean(z, reduction, "logits")
    if w:
        (w,) = w
        if tuple(w.shape) != (k,):
            raise ValueError(
                f"`weight` must have shape (K,) = ({k},), one weight per class, got "
                f"{tuple(w.shape)}"
            )
    else:
        w = None
    floating = xp.isdtype(t.dtype, "real floating")
    if tuple(t.shape) == tuple(z.shape):  # probabilities, one per logit
        if not floating:
            raise ValueError(
                f"`target` of the logits' shape {tuple(z.shape)} holds class "
                "probabilities, and probability targets must be floating "
                f"(one-hot? use .float()), got dtype {t.dtype}"
            )
        if ignore_index is not None:  # torch raises too
            raise ValueError(
                "ignore_index applies to class indices, not to probability "
                f"targets; got ignore_index={ignore_index!r} with `target` of "
                f"the logits' shape {tuple(z.shape)}"
            )
        _checks.in_range(t, "target", 0.0, 1.0, "class probabilities")
        _checks.sums_to_one(t, "target", 1, "class probabilities")
        dist, denom = _classes_last(xp, xp.astype(t, z.dtype)), None
    elif tuple(t.shape) == shape:  # class indices, one per prediction
        if floating or not xp.isdtype(t.dtype, "integral"):
            raise ValueError(
                f"`target` of shape {tuple(t.shape)} holds class indices, and "
                f"class indices must be an integer dtype, got {t.dtype} "
                "(use .long() or .astype(int))"
            )
        t = xp.reshape(t, (-1,))
        if ignore_index is None:
            _checks.class_indices(t, "target", k)
            dist = _one_hot(xp, t, k, z.dtype)
        else:
            keep = t != ignore_index
            t = xp.where(keep, t, 0)  # ignored entries: any valid class, masked
            _checks.class_indices(t, "target", k)
            dist = _one_hot(xp, t, k, z.dtype) * xp.astype(keep, z.dtype)[:, None]
        if w is not None:
            denom = xp.sum(dist * w)  # sum of w[y] over the kept targets
        elif ignore_index is not None:
            denom = xp.sum(dist)  # the number of kept targets
        else:
            denom = None
        if eps:  # smoothing only on kept rows: an ignored row stays all 0
            kept = xp.sum(dist, axis=-1, keepdims=True)
            dist = (1 - eps) * dist + eps / k * kept
        q = dist if w is None else dist * w
        return xp, _classes_last(xp, z), q, denom, shape
    else:
        n = "(N,)" if z.ndim == 2 else "(N, d1, ...)"
        raise ValueError(
            f"`target` must be class indices of shape {n} = {shape} or "
            f"probabilities of shape {tuple(z.shape)}, got {tuple(t.shape)}"
        )
    if eps:
        dist = (1 - eps) * dist + eps / k
    q = dist if w is None else dist * w
    return xp, _classes_last(xp, z), q, denom, shape


# --- public losses ---


def _hard_labels(name, x):
    """``x`` as an array, unless it is floating: labels are integers or bools."""
    xp, x = namespace_of(x)
    if not xp.isdtype(x.dtype, ("bool", "integral")):
        raise ValueError(
            f"`{name}` must hold integer or boolean labels, got dtype {x.dtype}; "
            "threshold scores or probabilities first, e.g. `prob >= 0.5`, "
            "`scores.argmax(-1)` or `np.where(score >= 0, 1, -1)`"
        )
    return x


def zero_one(pred_labels, target_labels, *, reduction="mean"):
    r"""The 0-1 loss: 1 where the predicted label is wrong, else 0.

    .. math::

        \ell_i = \mathbb 1[\hat y_i \ne y_i]

    Parameters
    ----------
    pred_labels : array_like or torch.Tensor
        Predicted labels: integers (class indices, signed labels) or booleans.
    target_labels : array_like or torch.Tensor
        True labels, integer or boolean, same shape.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` gives the error rate.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        Floating 0-d value or per-element 0.0 / 1.0 (float64 for NumPy,
        torch's default dtype for tensors).

    Raises
    ------
    ValueError
        If a label array is floating (scores or probabilities: threshold them
        first, e.g. ``prob >= 0.5`` or ``logits.argmax(-1)``), the shapes
        differ, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Piecewise constant: its gradient is zero almost everywhere, so it is a
    measure of performance, not a training objective; convex surrogates
    (hinge, logistic, exponential) bound it from above.

    References
    ----------
    .. [1] P. L. Bartlett, M. I. Jordan and J. D. McAuliffe, "Convexity,
       classification, and risk bounds", *JASA* 101(473), 138-156, 2006.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.zero_one([1, 0, 1, 1], [1, 1, 1, 0]))
    0.5
    """
    a = _hard_labels("pred_labels", pred_labels)
    b = _hard_labels("target_labels", target_labels)
    xp, a_float, _ = _checks.inputs(reduction, pred_labels=a, target_labels=b)
    # compare the labels themselves (int64 beyond 2^53 stays exact)
    return reduce(xp, xp.astype(a != b, a_float.dtype), reduction)


def binary_cross_entropy(prob, target, *, weight=None, reduction="mean"):
    r"""Binary cross-entropy on probabilities.

    .. math::

        \ell_i = -w_i\,[\,y_i \log p_i + (1 - y_i) \log(1 - p_i)\,]

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Predicted probabilities :math:`p \in [0, 1]`, any shape.
    target : array_like or torch.Tensor
        Targets :math:`y \in [0, 1]` (hard or soft labels), same shape.
    weight : array_like or torch.Tensor, optional
        Per-element weights, broadcastable to ``prob``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined; the mean divides by the
        number of elements, not by the weights.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``prob``.

    Raises
    ------
    ValueError
        If ``prob`` or ``target`` leaves [0, 1], shapes mismatch, ``weight``
        does not broadcast, ``reduction`` is unknown, or the input is empty
        with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The negative log-likelihood of a Bernoulli variable. As in
    ``torch.nn.functional.binary_cross_entropy``, each log is clamped at
    :math:`-100`, so a confident mistake costs at most 100 instead of
    infinity. Prefer :func:`binary_cross_entropy_with_logits` for training:
    a probability that has rounded to 0 or 1 has lost the information the
    logit still had.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*,
       Springer, 2006, sec. 4.3.2.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.binary_cross_entropy([0.8, 0.3, 0.6], [1.0, 0.0, 1.0]))
    0.36354
    """
    fast = _fast.binary_cross_entropy(prob, target, weight, reduction)
    if fast is not None:
        return fast
    xp, p, y, w = _pair(prob, target, ("prob", "target"), reduction, weight=weight)
    _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
    _checks.in_range(y, "target", 0.0, 1.0, "labels")
    loss = _bce(xp, p, y)
    return reduce(xp, loss if w is None else w * loss, reduction)


def binary_cross_entropy_with_logits(
    logits, target, *, weight=None, pos_weight=None, reduction="mean"
):
    r"""Binary cross-entropy of :math:`\sigma(z)`, computed from the logits.

    .. math::

        \ell_i = w_i\,[\,p_w\, y_i \operatorname{softplus}(-z_i) + (1 - y_i)
        \operatorname{softplus}(z_i)\,], \qquad
        \operatorname{softplus}(x) = \log(1 + e^x)

    which equals :math:`-w_i [p_w y_i \log\sigma(z_i) + (1 - y_i)\log(1 -
    \sigma(z_i))]`.

    Parameters
    ----------
    logits : array_like or torch.Tensor
        Scores :math:`z`, any shape.
    target : array_like or torch.Tensor
        Targets :math:`y \in [0, 1]`, same shape.
    weight : array_like or torch.Tensor, optional
        Per-element weights, broadcastable to ``logits``.
    pos_weight : array_like or torch.Tensor, optional
        Weight :math:`p_w` of the positive term, broadcastable to ``logits``
        (e.g. one per class along the last axis).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``logits``.

    Raises
    ------
    ValueError
        If ``target`` leaves [0, 1], shapes mismatch, a weight does not
        broadcast, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Written as :math:`y\,\mathrm{softplus}(-z) + (1-y)\,\mathrm{softplus}(z)`
    with a softplus that never overflows, the loss is finite at logits of
    :math:`\pm 10^4` and keeps its relative accuracy when it is tiny for
    either label; ``torch.nn.functional.binary_cross_entropy_with_logits``
    computes :math:`(1-y) z + \mathrm{softplus}(-z)` and loses the digits of
    a tiny loss at :math:`y = 0`. The gradient is :math:`\sigma(z) - y`
    (without weights).

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*,
       Springer, 2006, sec. 4.3.2.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.binary_cross_entropy_with_logits([1e4, -1e4, 0.0], [0.0, 0.0, 1.0],
    ...                                     reduction="none")
    array([1.00000000e+04, 0.00000000e+00, 6.93147181e-01])
    """
    fast = _fast.binary_cross_entropy_with_logits(
        logits, target, weight, pos_weight, reduction
    )
    if fast is not None:
        return fast
    xp, z, y, w, pw = _pair(
        logits, target, ("logits", "target"), reduction,
        weight=weight, pos_weight=pos_weight,
    )  # fmt: skip
    _checks.in_range(y, "target", 0.0, 1.0, "labels")
    loss = _bce_logits(xp, z, y, pw)
    return reduce(xp, loss if w is None else w * loss, reduction)


def cross_entropy(
    logits,
    target,
    *,
    weight=None,
    label_smoothing=0.0,
    ignore_index=None,
    reduction="mean",
):
    r"""Softmax cross-entropy between logits and class indices or probabilities.

    .. math::

        \ell_i = -\sum_{k=1}^K q_{ik} \log \operatorname{softmax}(z_i)_k,
        \qquad q_{ik} = w_k\big[(1-\varepsilon)\, t_{ik} + \varepsilon / K\big]

    with :math:`t_i` the one-hot row of the class index (or the given
    probabilities) and :math:`\varepsilon` the label smoothing. Each sample
    :math:`i` is a row of ``(N, K)`` logits, or a position of
    ``(N, K, d1, ...)`` logits (segmentation: classes on axis 1).

    Parameters
    ----------
    logits : array_like or torch.Tensor
        Shape ``(N, K)``: N rows of K unnormalised class scores; or
        ``(N, K, d1, ...)``, K scores at every position (the layout of
        ``torch.nn.functional.cross_entropy``).
    target : array_like or torch.Tensor
        Integer class indices in ``[0, K)`` of shape ``(N,)`` (or
        ``(N, d1, ...)``), or floating class probabilities of the logits'
        shape, summing to 1 over the class axis (to 1e-3).
    weight : array_like or torch.Tensor, optional
        Per-class weights :math:`w_k`, shape ``(K,)``.
    label_smoothing : float, default 0.0
        :math:`\varepsilon \in [0, 1)`: mixes the target with the uniform
        distribution (PyTorch's convention, ``eps / K`` on every class).
    ignore_index : int, optional
        A class index whose targets are left out: they add 0 to the sum and
        are not counted by the mean (e.g. -100, or a "void" label of a
        segmentation). Applies to class indices only: with probability
        targets it raises, as PyTorch does.
    reduction : {"mean", "sum", "none"}, default "mean"
        With class indices, the mean divides by the number of targets kept,
        or by :math:`\sum_i w_{y_i}` over them with ``weight``, as PyTorch
        does; with probabilities, by the number of samples.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)`` (or ``(N, d1, ...)``), 0 at
        ignored targets.

    Raises
    ------
    ValueError
        If ``logits`` has fewer than 2 dimensions, ``target`` has neither
        shape, class indices are not integers ("class indices must be an
        integer dtype") or fall outside ``[0, K)``, probability targets are
        not floating ("probability targets must be floating") or leave
        [0, 1] or do not sum to 1, ``weight`` is not ``(K,)``,
        ``label_smoothing`` is outside [0, 1), ``ignore_index`` is not an
        integer or comes with probability targets, ``reduction`` is unknown,
        or the input is empty with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed, or ``label_smoothing`` or
        ``ignore_index`` is an array or a tensor (pass a Python number).

    Notes
    -----
    The log-softmax is computed around the largest logit, with that class's
    term (exactly 1) kept out of the sum and ``log1p`` applied to the rest:
    no overflow at logits of :math:`10^4` and full relative accuracy when
    the loss is tiny. The gradient with respect to the logits is
    :math:`(\sum_k q_{ik})\,\operatorname{softmax}(z_i) - q_i`, i.e.
    :math:`p - y` for a one-hot target. Matches
    ``torch.nn.functional.cross_entropy``, including its mean when every
    target is ignored (0/0: NaN, with a gradient of 0 as torch's; also when
    the kept targets' class weights sum to 0). For the notes' smoothing
    convention (:math:`\varepsilon/(K-1)` on the other classes) pass
    ``smooth_labels(target, K, epsilon=eps, spread="others")`` as target.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, *Deep Learning*, MIT
       Press, 2016, sec. 6.2.2.3.
    .. [2] C. Szegedy et al., "Rethinking the Inception architecture for
       computer vision", *CVPR*, 2016 (label smoothing).

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.cross_entropy([[2.0, 0.0, -1.0], [1e4, 0.0, 0.0]], [0, 0],
    ...                  reduction="none")
    array([0.16984602, 0.        ])
    """
    fast = _fast.cross_entropy(
        logits, target, weight, label_smoothing, ignore_index, reduction
    )
    if fast is not None:
        return fast
    xp, z, q, denom, shape = _ce_setup(
        logits, target, weight, label_smoothing, ignore_index, reduction
    )
    # a class of weight 0 adds 0 even where its -log p overflows to inf
    # (a gap beyond the largest float): 0 * inf would be NaN
    nls = _neg_log_softmax(xp, z)
    loss = xp.sum(q * xp.where(q > 0, nls, 0.0), axis=-1)
    if reduction == "none":
        return reduce(xp, xp.reshape(loss, shape), reduction)
    if reduction == "mean" and denom is not None:
        # every target ignored (or of weight 0): the mean is 0/0, NaN as in
        # torch, but with a gradient of 0 (torch's), not NaN: a batch of void
        # pixels must not poison the parameters
        empty = denom == 0
        loss = xp.where(empty, float("nan"), loss)
        denom = xp.where(empty, 1.0, denom)
    return reduce(xp, loss, reduction, denom=denom)


def _d_cross_entropy(xp, z, q):
    softmax = xp.exp(-_neg_log_softmax(xp, z))
    return xp.sum(q, axis=-1, keepdims=True) * softmax - q


def _kl_setup(logits, target, reduction):
    """Checker of ``kl_div``; returns ``(xp, z, q)`` with ``q`` in z's dtype."""
    check_reduction(reduction)
    xp, z, q = arrays(logits=logits, target=target)
    _checks.ndim(z, "logits", 2, "(N, K): a batch of N rows of K class scores")
    if not xp.isdtype(q.dtype, "real floating"):
        raise ValueError(
            "`target` must hold class probabilities of the logits' shape, and "
            "probability targets must be floating (one-hot? use .float()), got "
            f"dtype {q.dtype}"
        )
    _checks.same_shape(z, q, ("logits", "target"))
    check_not_empty_for_mean(z, reduction, "logits")
    _checks.in_range(q, "target", 0.0, 1.0, "class probabilities")
    _checks.sums_to_one(q, "target", 1, "rows of class probabilities")
    return xp, z, xp.astype(q, z.dtype)


def kl_div(logits, target, *, reduction="mean"):
    r"""Kullback-Leibler divergence from a target distribution to softmax(logits).

    .. math::

        \ell_i = \mathrm{KL}\big(q_i \,\|\, \operatorname{softmax}(z_i)\big)
        = \sum_{k=1}^K q_{ik}\,\big(\log q_{ik} -
        \log\operatorname{softmax}(z_i)_k\big), \qquad 0 \log 0 = 0

    Parameters
    ----------
    logits : array_like or torch.Tensor
        Shape ``(N, K)``: N rows of K unnormalised class scores :math:`z`.
    target : array_like or torch.Tensor
        Floating class probabilities :math:`q` of shape ``(N, K)``, each row
        summing to 1 (to 1e-3).
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over the N rows (PyTorch's ``"batchmean"``, the
        true mean KL per sample), ``"sum"`` adds them.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``logits`` is not 2-D, ``target`` is not floating or not of the
        logits' shape, leaves [0, 1] or has rows not summing to 1,
        ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    :math:`\mathrm{KL}(q \| p) = H(q, p) - H(q)`: the cross-entropy
    (:func:`cross_entropy` with probability targets) minus the target's
    entropy, a constant for the logits, so both losses have the same
    gradient :math:`\operatorname{softmax}(z) - q` and the same minimiser;
    KL is 0 exactly at :math:`\operatorname{softmax}(z) = q`, which makes it
    the natural loss for distillation. Classes with :math:`q_k = 0` add
    nothing (and get a finite gradient); the log-softmax is the one of
    :func:`cross_entropy`, so logits of :math:`10^4` are fine. Takes
    **logits**, unlike ``torch.nn.functional.kl_div``, which takes
    log-probabilities: ``kl_div(z, q)`` equals ``F.kl_div(F.log_softmax(z,
    -1), q, reduction="batchmean")``.

    References
    ----------
    .. [1] S. Kullback and R. A. Leibler, "On information and sufficiency",
       *Annals of Mathematical Statistics* 22(1), 79-86, 1951.
    .. [2] G. Hinton, O. Vinyals and J. Dean, "Distilling the knowledge in a
       neural network", arXiv:1503.02531, 2015.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.kl_div([[0.0, 0.0], [1e4, 0.0]], [[0.5, 0.5], [1.0, 0.0]],
    ...           reduction="none")
    array([0., 0.])
    >>> float(lb.kl_div([[0.0, 0.0]], [[1.0, 0.0]]))  # log 2
    0.69315
    """
    xp, z, q = _kl_setup(logits, target, reduction)
    positive = q > 0
    # double where: log sees no 0, so 0 log 0 = 0 with a finite gradient; one
    # term per class, q (log q - log softmax), not H(q, p) - H(q) (two sums)
    log_q = xp.log(xp.where(positive, q, 1.0))
    # the inner where also keeps 0 * inf (a gap beyond the largest float) out
    nls = xp.where(positive, _neg_log_softmax(xp, z), 0.0)
    terms = q * (log_q + nls)  # 0 at q = 0: log_q and nls are 0 there
    return reduce(xp, xp.sum(terms, axis=-1), reduction)


def smooth_labels(target, num_classes, *, epsilon, spread="all"):
    r"""Label-smoothed target distributions, in either convention.

    .. math::

        \text{"all"}:\; q_k = (1-\varepsilon)\,\mathbb 1[k = y] +
        \varepsilon / K; \qquad
        \text{"others"}:\; q_y = 1 - \varepsilon,\;
        q_{k \ne y} = \varepsilon / (K - 1)

    Parameters
    ----------
    target : array_like or torch.Tensor
        Integer class indices, shape ``(N,)``.
    num_classes : int
        :math:`K \ge 2`.
    epsilon : float
        Smoothing :math:`\varepsilon \in [0, 1)`.
    spread : {"all", "others"}, default "all"
        ``"all"`` is PyTorch's, Keras' and optax's convention (the true class
        keeps :math:`1 - \varepsilon + \varepsilon/K`); ``"others"`` is the
        notes' (the true class keeps exactly :math:`1-\varepsilon`).

    Returns
    -------
    q : numpy.ndarray or torch.Tensor
        Shape ``(N, K)``, rows summing to 1; float64 for NumPy, torch's
        default dtype for tensors.

    Raises
    ------
    ValueError
        If ``num_classes < 2``, ``epsilon`` is outside [0, 1), ``spread`` is
        unknown, or ``target`` holds values outside ``[0, K)``.
    TypeError
        If ``num_classes`` or ``epsilon`` is an array or a tensor (pass a
        Python number).

    Notes
    -----
    The conventions coincide when :math:`\varepsilon_{\text{all}} =
    \varepsilon_{\text{others}}\, K / (K - 1)`.

    References
    ----------
    .. [1] C. Szegedy et al., "Rethinking the Inception architecture for
       computer vision", *CVPR*, 2016.
    .. [2] R. Müller, S. Kornblith and G. Hinton, "When does label smoothing
       help?", *NeurIPS*, 2019.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.smooth_labels([0], 4, epsilon=0.3, spread="others")
    array([[0.7, 0.1, 0.1, 0.1]])
    >>> lb.smooth_labels([0], 4, epsilon=0.3, spread="all")
    array([[0.775, 0.075, 0.075, 0.075]])
    """
    _checks.not_an_array("num_classes", num_classes, "a Python number (an int)", "int")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    eps = _checks.hyper("epsilon", epsilon, "unit")
    if spread not in ("all", "others"):
        raise ValueError(f"spread must be 'all' or 'others', got {spread!r}")
    xp, t = namespace_of(target)
    if _is_torch(t):
        import torch

        dtype = torch.get_default_dtype()
    else:
        dtype = xp.float64
    _checks.ndim(t, "target", 1, "(N,): one class index per sample")
    _checks.class_indices(t, "target", num_classes)
    hot = _one_hot(xp, t, num_classes, dtype)
    if spread == "all":
        return (1 - eps) * hot + eps / num_classes
    return (1 - eps) * hot + eps / (num_classes - 1) * (1 - hot)


def _signed(scores, target, reduction):
    """Checker of the margin losses: ``target`` must be -1 or +1."""
    xp, s, y = _pair(scores, target, ("scores", "target"), reduction)
    _checks.in_set(y, "target", (-1.0, 1.0), "signed labels")
    return xp, s, y


def _hinge(xp, s, y, margin):
    m = margin - y * s
    return xp.where(m > 0, m, 0.0)  # relu: subgradient 0 at the kink, as autograd


def _d_hinge(xp, s, y, margin):
    return xp.where(margin - y * s > 0, -y, 0.0)


def hinge(scores, target, *, margin=1.0, reduction="mean"):
    r"""Hinge loss of a margin classifier (SVM).

    .. math::

        \ell_i = \max(0,\; m - y_i s_i), \qquad y_i \in \{-1, +1\}

    Parameters
    ----------
    scores : array_like or torch.Tensor
        Real-valued scores :math:`s = f(x)`, any shape.
    target : array_like or torch.Tensor
        Signed labels in {-1, +1}, same shape.
    margin : float, default 1.0
        The margin :math:`m > 0`.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``scores``.

    Raises
    ------
    ValueError
        If ``target`` holds values other than -1 and +1, ``margin <= 0``,
        shapes mismatch, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Labels are signed (-1/+1), not 0/1. The subgradient at the kink
    :math:`y s = m` is taken as 0, as autograd does for ``relu``.

    References
    ----------
    .. [1] C. Cortes and V. Vapnik, "Support-vector networks", *Machine
       Learning* 20(3), 273-297, 1995.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.hinge([2.0, 0.5, -1.0], [1, 1, 1], reduction="none")
    array([0. , 0.5, 2. ])
    """
    margin = _checks.hyper("margin", margin, "positive")
    xp, s, y = _signed(scores, target, reduction)
    return reduce(xp, _hinge(xp, s, y, margin), reduction)


def _exponential(xp, s, y):
    return xp.exp(-y * s)


def _d_exponential(xp, s, y):
    return -y * xp.exp(-y * s)


def exponential(scores, target, *, reduction="mean"):
    r"""Exponential loss, the loss AdaBoost minimises stagewise.

    .. math::

        \ell_i = e^{-y_i s_i}, \qquad y_i \in \{-1, +1\}

    Parameters
    ----------
    scores : array_like or torch.Tensor
        Real-valued scores :math:`s = f(x)`, any shape.
    target : array_like or torch.Tensor
        Signed labels in {-1, +1}, same shape.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``scores``.

    Raises
    ------
    ValueError
        If ``target`` holds values other than -1 and +1, shapes mismatch,
        ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Grows exponentially with a wrong margin, which makes boosting sensitive
    to label noise; it overflows only where its true value exceeds the
    largest float.

    References
    ----------
    .. [1] Y. Freund and R. E. Schapire, "A decision-theoretic generalization
       of on-line learning and an application to boosting", *JCSS* 55(1),
       119-139, 1997.
    .. [2] J. Friedman, T. Hastie and R. Tibshirani, "Additive logistic
       regression: a statistical view of boosting", *Annals of Statistics*
       28(2), 337-407, 2000.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.exponential([0.0, 1.0], [1, -1], reduction="none")
    array([1.        , 2.71828183])
    """
    xp, s, y = _signed(scores, target, reduction)
    return reduce(xp, _exponential(xp, s, y), reduction)
