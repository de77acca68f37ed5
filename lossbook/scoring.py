"""Proper scoring rules and calibration: Brier score, ECE, reliability curves.

A scoring rule rates a predicted distribution by the outcome that happened; it
is *proper* when reporting the true distribution gives the best expected
score. The Brier score and the log loss
(:func:`~lossbook.classification.cross_entropy`) are proper. Calibration is
a different question: of the predictions made with confidence about c, is a
fraction c right? :func:`reliability_curve` answers it bin by bin and
:func:`expected_calibration_error` summarises it in one number.

Two input conventions serve every function here:

- **binary**: ``prob`` holds :math:`P(y = 1)`, any shape, and ``target`` the
  labels 0 or 1 (integer, boolean or floating), same shape;
- **multi-class**: ``prob`` is ``(N, K)``, each row a distribution over K
  classes, and ``target`` the integer class indices, shape ``(N,)``.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from . import _checks, classification
from ._backend import (
    _is_torch,
    _kind,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    device,
    reduce,
    result,
)

__all__ = ["brier", "expected_calibration_error", "reliability_curve"]


def _integral(x) -> bool:
    if _is_torch(x):
        import torch

        return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)
    return x.dtype.kind in "iu"


def _predictions(prob, target, reduction):
    """The family's checker; returns ``(xp, p, y, multiclass)``.

    Multi-class when ``prob`` has one more dimension than ``target``: then
    ``prob`` must be ``(N, K)`` with rows summing to 1 and ``target`` integer
    indices ``(N,)``. Otherwise the shapes must be equal and ``target`` hold
    binary labels, returned in ``prob``'s dtype.
    """
    check_reduction(reduction)
    xp, p, y = arrays(prob=prob, target=target)
    if p.ndim == y.ndim + 1:
        if not _integral(y):
            raise ValueError(
                f"`target` of shape {tuple(y.shape)} beside `prob` of shape "
                f"{tuple(p.shape)} must be class indices, and class indices must "
                f"be an integer dtype, got {y.dtype}"
            )
        _checks.ndim(p, "prob", 2, "(N, K): N rows of K class probabilities")
        if y.shape[0] != p.shape[0]:
            raise ValueError(
                f"`target` must have shape (N,) = ({p.shape[0]},), one class "
                f"index per row of `prob`, got {tuple(y.shape)}"
            )
        _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
        _checks.sums_to_one(p, "prob", 1, "rows of class probabilities", xp=xp)
        _checks.class_indices(y, "target", p.shape[1])
        return xp, p, y, True
    _checks.same_shape(p, y, ("prob", "target"))
    _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
    y = xp.astype(y, p.dtype)
    _checks.in_set(y, "target", (0.0, 1.0), "binary labels")
    return xp, p, y, False


def _n_bins(n_bins) -> int:
    if _is_torch(n_bins) or isinstance(n_bins, np.ndarray):
        raise TypeError(f"n_bins must be a Python number (an int), got {_kind(n_bins)}")
    if (
        isinstance(n_bins, bool)
        or not isinstance(n_bins, numbers.Integral)
        or n_bins < 1
    ):
        raise ValueError(f"n_bins must be a positive integer (>= 1), got {n_bins!r}")
    return int(n_bins)


def _confidence(prob, target):
    """Top-class confidence and correctness (0.0 / 1.0) of every prediction."""
    xp, p, y, multiclass = _predictions(prob, target, "none")
    if multiclass:
        conf = xp.max(p, axis=-1)
        correct = xp.argmax(p, axis=-1) == y  # ties: the first maximal class
    else:
        p, y = xp.reshape(p, (-1,)), xp.reshape(y, (-1,))
        conf = xp.maximum(p, 1 - p)  # the binary prediction's own probability
        correct = (p >= 0.5) == (y == 1)  # p = 0.5 predicts class 1
    return xp, conf, xp.astype(correct, conf.dtype)


def _bins(xp, conf, correct, n_bins):
    """Per bin: count, sum of confidences, sum of correct predictions."""
    on = device(conf)
    edges = xp.arange(n_bins + 1, dtype=conf.dtype, device=on) / n_bins
    # bin b holds (edges[b], edges[b + 1]]; a confidence of exactly 0 joins bin 0
    index = xp.clip(xp.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    member = index[:, None] == xp.arange(n_bins, device=on)  # (N, B)
    count = xp.sum(xp.astype(member, xp.int64), axis=0)
    # one (B, N) @ (N, 2) product gives both sums without a Python loop
    sums = xp.matmul(
        xp.permute_dims(xp.astype(member, conf.dtype), (1, 0)),
        xp.stack([conf, correct], axis=1),
    )
    return count, sums[:, 0], sums[:, 1]


class ReliabilityCurve(NamedTuple):
    """Per-bin statistics of a reliability diagram (unpacks as a 3-tuple)."""

    confidence: object
    """Mean top-class confidence in each bin (NaN where the bin is empty)."""
    accuracy: object
    """Fraction of correct predictions in each bin (NaN where empty)."""
    count: object
    """Number of predictions in each bin (integer; 0 where empty)."""


def brier(prob, target, *, reduction="mean"):
    r"""Brier score: the squared error of predicted probabilities.

    .. math::

        \text{binary: } \ell_i = (p_i - y_i)^2, \qquad
        \text{multi-class: } \ell_i = \sum_{k=1}^K
        \big(p_{ik} - \mathbb 1[k = y_i]\big)^2

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Binary: :math:`P(y = 1)`, any shape. Multi-class: ``(N, K)`` rows of
        class probabilities, each summing to 1 (to 1e-3).
    target : array_like or torch.Tensor
        Binary: labels 0 or 1, same shape as ``prob``. Multi-class: integer
        class indices, shape ``(N,)``.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element (binary) or per-row (multi-class) scores are
        combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``prob`` (binary) or ``(N,)``
        (multi-class).

    Raises
    ------
    ValueError
        If ``prob`` leaves [0, 1] or its rows do not sum to 1, labels are not
        0 or 1, indices fall outside ``[0, K)`` or are floating, the shapes do
        not fit, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    A strictly proper scoring rule: the expected score
    :math:`\mathbb E_{y \sim q} \sum_k (p_k - \mathbb 1[k = y])^2 = \|p -
    q\|^2 + 1 - \|q\|^2` is minimised only at :math:`p = q`. Unlike the log
    loss it is bounded (at most 2, or 1 binary), so one confident mistake
    cannot dominate the mean. The binary form is half Brier's two-class sum,
    :math:`(p - y)^2 + ((1 - p) - (1 - y))^2 = 2 (p - y)^2`, and its mean
    equals ``sklearn.metrics.brier_score_loss``.

    References
    ----------
    .. [1] G. W. Brier, "Verification of forecasts expressed in terms of
       probability", *Monthly Weather Review* 78(1), 1-3, 1950.
    .. [2] T. Gneiting and A. E. Raftery, "Strictly proper scoring rules,
       prediction, and estimation", *JASA* 102(477), 359-378, 2007.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.brier([0.9, 0.2], [1, 1], reduction="none")
    array([0.01, 0.64])
    >>> lb.brier([[0.7, 0.2, 0.1]], [0], reduction="none")
    array([0.14])
    """
    xp, p, y, multiclass = _predictions(prob, target, reduction)
    check_not_empty_for_mean(p, reduction, "prob")
    if multiclass:
        d = p - classification._one_hot(xp, y, p.shape[1], p.dtype)
        return reduce(xp, xp.sum(d * d, axis=-1), reduction)
    d = p - y
    return reduce(xp, d * d, reduction)


def reliability_curve(prob, target, *, n_bins=15):
    r"""Per-bin confidence, accuracy and count: the data of a reliability diagram.

    The top-class confidence of each prediction falls into one of ``n_bins``
    equal-width bins; bin :math:`b` holds confidences in
    :math:`(b/B, (b+1)/B]` (a confidence of exactly 0 joins the first bin).

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Binary: :math:`P(y = 1)`, any shape; the prediction is class 1 where
        :math:`p \ge 0.5`, its confidence :math:`\max(p, 1 - p)`.
        Multi-class: ``(N, K)`` rows of class probabilities; the prediction is
        the most probable class (the first on ties), its confidence that
        probability.
    target : array_like or torch.Tensor
        Binary: labels 0 or 1, same shape. Multi-class: integer class indices,
        shape ``(N,)``.
    n_bins : int, default 15
        Number :math:`B \ge 1` of equal-width bins on [0, 1].

    Returns
    -------
    curve : ReliabilityCurve
        A named tuple ``(confidence, accuracy, count)`` of arrays (or
        tensors) of length ``n_bins``: the mean confidence and the fraction
        of correct predictions in each bin, in ``prob``'s floating dtype, and
        the integer number of predictions in each bin. **An empty bin gives
        NaN confidence and accuracy and a count of 0**, so a plot skips it.

    Raises
    ------
    ValueError
        As :func:`brier`, or if ``n_bins`` is not a positive integer.
    TypeError
        If NumPy and torch inputs are mixed, or ``n_bins`` is an array.

    Notes
    -----
    A calibrated classifier has accuracy equal to confidence in every bin: its
    reliability diagram (accuracy against confidence) lies on the diagonal.
    Binary confidences are at least 1/2, so the bins below 1/2 stay empty;
    multi-class ones are at least :math:`1/K`. With ``n_bins`` beyond the
    data's resolution many bins are empty or noisy. Memory is
    :math:`O(N B)`.

    References
    ----------
    .. [1] M. H. DeGroot and S. E. Fienberg, "The comparison and evaluation
       of forecasters", *The Statistician* 32(1/2), 12-22, 1983.
    .. [2] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of
       modern neural networks", *ICML*, 2017.

    Examples
    --------
    >>> import lossbook as lb
    >>> conf, acc, count = lb.reliability_curve([0.9, 0.8, 0.3, 0.6],
    ...                                         [1, 0, 0, 1], n_bins=2)
    >>> conf, acc, count
    (array([  nan, 0.75]), array([ nan, 0.75]), array([0, 4]))
    """
    n_bins = _n_bins(n_bins)
    xp, conf, correct = _confidence(prob, target)
    count, conf_sum, correct_sum = _bins(xp, conf, correct, n_bins)
    filled = count > 0
    n = xp.astype(xp.where(filled, count, 1), conf.dtype)  # no 0/0 in empty bins
    nan = xp.asarray(float("nan"), dtype=conf.dtype, device=device(n))
    return ReliabilityCurve(
        result(xp, xp.where(filled, conf_sum / n, nan)),  # in the input dtype
        result(xp, xp.where(filled, correct_sum / n, nan)),
        count,
    )


def expected_calibration_error(prob, target, *, n_bins=15):
    r"""Expected calibration error (ECE) over equal-width confidence bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{N}
        \big|\operatorname{acc}_b - \operatorname{conf}_b\big|
        = \frac1N \sum_{b=1}^{B} \Big|\sum_{i \in b}
        (c_i - \hat c_i)\Big|

    with :math:`c_i \in \{0, 1\}` whether prediction :math:`i` is right and
    :math:`\hat c_i` its confidence; the bins are those of
    :func:`reliability_curve`.

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Binary :math:`P(y = 1)` (any shape) or ``(N, K)`` class probabilities,
        as in :func:`reliability_curve`.
    target : array_like or torch.Tensor
        Binary labels 0 or 1 of the same shape, or integer class indices
        ``(N,)``.
    n_bins : int, default 15
        Number :math:`B \ge 1` of equal-width bins on [0, 1] (15 as in Guo et
        al.).

    Returns
    -------
    ece : numpy.ndarray or torch.Tensor
        0-d, in [0, 1], in ``prob``'s floating dtype.

    Raises
    ------
    ValueError
        As :func:`reliability_curve`, or if there are no predictions.
    TypeError
        If NumPy and torch inputs are mixed, or ``n_bins`` is an array.

    Notes
    -----
    Computed from the per-bin sums, so empty bins contribute 0 and nothing
    is divided by a bin count. ECE is a summary, not a proper scoring rule:
    always predicting the base rate has ECE 0. It depends on ``n_bins``
    (small bins add sampling noise, an upward bias; wide bins hide
    miscalibration within them) and on the binning convention, so compare
    values only at the same ``n_bins``.

    References
    ----------
    .. [1] M. P. Naeini, G. F. Cooper and M. Hauskrecht, "Obtaining well
       calibrated probabilities using Bayesian binning", *AAAI*, 2015.
    .. [2] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of
       modern neural networks", *ICML*, 2017.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.expected_calibration_error([[0.9, 0.1], [0.6, 0.4]], [0, 1],
    ...                                     n_bins=10))
    0.35
    """
    n_bins = _n_bins(n_bins)
    xp, conf, correct = _confidence(prob, target)
    if conf.shape[0] == 0:
        raise ValueError(
            "`prob` holds no predictions; the calibration error of zero "
            "predictions is undefined"
        )
    _, conf_sum, correct_sum = _bins(xp, conf, correct, n_bins)
    return result(xp, xp.sum(xp.abs(correct_sum - conf_sum)) / conf.shape[0])
