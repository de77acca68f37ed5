"""Detection and segmentation losses: focal loss, the IoU family and Dice.

Boxes are ``(x1, y1, x2, y2)`` rows with ``x2 >= x1`` and ``y2 >= y1``; the
IoU losses compare ``pred_boxes[i]`` with ``target_boxes[i]`` (element-wise
pairs, not all pairs) and follow torchvision's formulas, with every ratio
guarded so that zero-area, degenerate and disjoint boxes give finite values
and finite gradients.
"""

from __future__ import annotations

import math
import numbers

from . import _checks, _fast, classification
from ._backend import (
    _is_torch,
    _kind,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    reduce,
    stop_gradient,
)

__all__ = ["ciou_loss", "dice", "diou_loss", "focal", "giou_loss", "iou_loss"]


# --- focal loss ---


def _log_or_minus_inf(xp, x, positive):
    # double where: log only sees positive values, so log 0 = -inf carries no
    # NaN gradient (logaddexp gives the -inf term a weight of exactly 0)
    return xp.where(positive, xp.log(xp.where(positive, x, 1.0)), -math.inf)


def _focal(xp, z, y, alpha, gamma):
    # -log p_t: the stable BCE-with-logits kernel of lossbook.classification
    ce = classification._bce_logits(xp, z, y, None)
    # 1 - p_t = sigmoid(z) (1 - y) + sigmoid(-z) y (torchvision's, soft targets
    # too): a sum of non-negative terms, taken in log space with
    # log sigmoid(+-z) = -softplus(-+z), so it never cancels and the power is
    # exp(gamma log(1 - p_t)), never 0**gamma, whose gradient is NaN for
    # gamma < 1 when p_t -> 1. For hard labels one term is exactly -inf.
    log_1m_pt = xp.logaddexp(
        _log_or_minus_inf(xp, 1 - y, y < 1) - classification._softplus(xp, -z),
        _log_or_minus_inf(xp, y, y > 0) - classification._softplus(xp, z),
    )
    modulating = xp.exp(gamma * log_1m_pt)
    loss = modulating * ce
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


def _check_alpha(alpha):
    if _is_torch(alpha) or (
        hasattr(alpha, "shape") and not isinstance(alpha, numbers.Number)
    ):  # a tensor or an array, not a NumPy scalar
        raise TypeError(
            f"alpha must be a Python number, got {_kind(alpha)}; pass float(alpha)"
        )
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, numbers.Real)
        or not math.isfinite(alpha)
        or alpha > 1
    ):
        raise ValueError(
            "alpha must be a number in [0, 1], or negative to disable the "
            f"class weighting, got {alpha!r}"
        )
    return float(alpha)


def focal(logits, target, *, alpha=0.25, gamma=2.0, reduction="mean"):
    r"""Sigmoid focal loss (RetinaNet): cross-entropy down-weighted on easy examples.

    .. math::

        \ell_i = -\alpha_t\,(1 - p_t)^\gamma \log p_t, \qquad
        p_t = \begin{cases} \sigma(z_i) & y_i = 1 \\ 1 - \sigma(z_i) & y_i = 0
        \end{cases}, \qquad
        \alpha_t = \alpha\, y_i + (1 - \alpha)(1 - y_i)

    Parameters
    ----------
    logits : array_like or torch.Tensor
        Scores :math:`z`, any shape (one binary problem per element).
    target : array_like or torch.Tensor
        Labels in [0, 1], same shape: hard (0 or 1) or soft.
    alpha : float, default 0.25
        Weight of the positives in [0, 1] (negatives get :math:`1 - \alpha`);
        any negative value disables the weighting (:math:`\alpha_t = 1`).
    gamma : float, default 2.0
        Focusing parameter :math:`\gamma \ge 0`; 0 gives (weighted) BCE.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-element losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``logits``.

    Raises
    ------
    ValueError
        If ``target`` leaves [0, 1], ``gamma < 0``, ``alpha > 1``, the
        shapes differ, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed, or ``alpha`` or ``gamma`` is an
        array.

    Notes
    -----
    Computed in log space: :math:`-\log p_t` is the softplus form of
    :func:`~lossbook.classification.binary_cross_entropy_with_logits` and
    :math:`(1-p_t)^\gamma = \exp(-\gamma\,[-\log(1 - p_t)])` with
    :math:`-\log(1-p_t)` the same kernel at :math:`-z`. So the loss and its
    gradient are finite at logits of :math:`\pm 10^4` in float32 and float64
    and for :math:`0 < \gamma < 1`, where ``(1 - p_t) ** gamma`` has a NaN
    gradient once :math:`p_t` rounds to 1.

    Matches ``torchvision.ops.sigmoid_focal_loss`` (same :math:`\alpha_t`,
    same "alpha < 0 disables", the same soft targets: :math:`p_t = p y +
    (1 - p)(1 - y)` and :math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)`
    for :math:`y \in [0, 1]`). The lecture notes' ``FocalLoss`` multiplies every
    sample by :math:`\alpha`; RetinaNet weights positives by :math:`\alpha`
    and negatives by :math:`1-\alpha`, as here. RetinaNet normalises the sum
    by the number of positive anchors: use ``reduction="sum"`` and divide.

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal loss
       for dense object detection", *ICCV*, 2017.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.focal([3.0, 3.0, -1e4], [1, 0, 0], reduction="none")
    array([2.73208311e-05, 2.07471033e+00, 0.00000000e+00])
    """
    gamma = _checks.hyper("gamma", gamma, "nonnegative")
    alpha = _check_alpha(alpha)
    if (fast := _fast.focal(logits, target, alpha, gamma, reduction)) is not None:
        return fast
    xp, z, y = _checks.inputs(reduction, logits=logits, target=target)
    _checks.in_range(y, "target", 0.0, 1.0, "labels")
    return reduce(xp, _focal(xp, z, y, alpha, gamma), reduction)


# --- boxes ---


def _boxes(pred_boxes, target_boxes, eps, reduction):
    """The checker of the IoU family; returns ``(xp, eps, pred, target)``.

    ``eps`` is an array of one value per pair (see :func:`_normalised`).
    """
    check_reduction(reduction)
    eps = _checks.hyper("eps", eps, "positive")
    xp, p, t = arrays(
        pred_boxes=pred_boxes, target_boxes=target_boxes, float_args=("target_boxes",)
    )
    for name, b in (("pred_boxes", p), ("target_boxes", t)):
        if b.ndim != 2 or b.shape[-1] != 4:
            raise ValueError(
                f"`{name}` must have shape (N, 4), N boxes as (x1, y1, x2, y2), "
                f"got shape {tuple(b.shape)}"
            )
    _checks.same_shape(p, t, ("pred_boxes", "target_boxes"))
    check_not_empty_for_mean(p, reduction, "pred_boxes")
    _checks.boxes(xp, p, "pred_boxes")
    _checks.boxes(xp, t, "target_boxes")
    return (xp, *_normalised(xp, p, t, eps))


# by the bytes of a float (float32, float64): where coordinates count as huge
# (sqrt of the largest number / 4: sums of squares of sides stay finite), and
# the smallest normal number
_HUGE = {4: (2.0**62, 2.0**-126), 8: (2.0**510, 2.0**-1022)}


def _normalised(xp, p, t, eps):
    """Pairs of huge boxes in units of their size; returns ``(eps, p, t)``.

    The IoU family squares sides and distances: from |x| ~ 4.6e18 in float32
    (1.7e152 in float64) that overflows to inf and the loss turns NaN. Such a
    pair is divided by its largest |coordinate| m (the losses are
    scale-invariant up to eps), and its eps, an area, becomes the dtype's
    smallest normal number (eps / m^2 would underflow; it guards 0/0 at
    degenerate boxes all the same). Every other pair is divided by exactly 1
    and keeps eps: its value is unchanged to the last bit.
    """
    big, tiny = _HUGE[min(p.dtype.itemsize, 8)]
    # m is held constant for autograd: a pair's loss does not depend on it
    m = stop_gradient(xp.max(xp.abs(xp.concat([p, t], axis=-1)), axis=-1))
    s = xp.where(m > big, m, 1.0)
    eps = xp.maximum(eps / s / s, tiny)
    return eps, p / s[:, None], t / s[:, None]


def _corners(b):
    return b[:, 0], b[:, 1], b[:, 2], b[:, 3]


def _inter_union(xp, p, t):
    x1, y1, x2, y2 = _corners(p)
    gx1, gy1, gx2, gy2 = _corners(t)
    iw = xp.minimum(x2, gx2) - xp.maximum(x1, gx1)
    ih = xp.minimum(y2, gy2) - xp.maximum(y1, gy1)
    # as torchvision: overlap only where both sides are positive (disjoint or
    # touching boxes give 0 with no gradient)
    inter = xp.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = (x2 - x1) * (y2 - y1) + (gx2 - gx1) * (gy2 - gy1) - inter
    return inter, union


def _iou(xp, p, t, eps):
    inter, union = _inter_union(xp, p, t)
    # eps: two zero-area boxes have union 0; their IoU is 0, not 0/0
    return inter / (union + eps), union


def _enclosing_sides(xp, p, t):
    """Width and height of the smallest box enclosing both."""
    x1, y1, x2, y2 = _corners(p)
    gx1, gy1, gx2, gy2 = _corners(t)
    width = xp.maximum(x2, gx2) - xp.minimum(x1, gx1)
    height = xp.maximum(y2, gy2) - xp.minimum(y1, gy1)
    return width, height


def _iou_loss(xp, p, t, eps):
    return 1 - _iou(xp, p, t, eps)[0]


def _giou_loss(xp, p, t, eps):
    iou, union = _iou(xp, p, t, eps)
    cw, ch = _enclosing_sides(xp, p, t)
    area_c = cw * ch
    # eps: two coincident zero-area boxes enclose area 0 (and union 0)
    return 1 - iou + (area_c - union) / (area_c + eps)


def _diou_parts(xp, p, t, eps):
    """``(diou_loss, iou)``: 1 - IoU + (centre distance / enclosing diagonal)^2."""
    iou, _ = _iou(xp, p, t, eps)
    cw, ch = _enclosing_sides(xp, p, t)
    # eps: the enclosing diagonal is 0 when both boxes are the same point
    diagonal2 = cw * cw + ch * ch + eps
    x1, y1, x2, y2 = _corners(p)
    gx1, gy1, gx2, gy2 = _corners(t)
    dx = 0.5 * ((x1 + x2) - (gx1 + gx2))
    dy = 0.5 * ((y1 + y2) - (gy1 + gy2))
    return 1 - iou + (dx * dx + dy * dy) / diagonal2, iou


def _diou_loss(xp, p, t, eps):
    return _diou_parts(xp, p, t, eps)[0]


def _aspect_angle(xp, w, h):
    """``atan(w / h)`` for boxes with w, h >= 0, finite with finite gradients."""
    point = (w == 0) & (h == 0)
    # atan2(w, h) = atan(w / h) for h > 0 and pi/2 at h = 0 without dividing
    # by 0; double where: a point box gets angle 0 and atan2 never sees (0, 0)
    return xp.where(point, 0.0, xp.atan2(w, xp.where(point, 1.0, h)))


def _ciou_loss(xp, p, t, eps):
    diou, iou = _diou_parts(xp, p, t, eps)
    x1, y1, x2, y2 = _corners(p)
    gx1, gy1, gx2, gy2 = _corners(t)
    gap = _aspect_angle(xp, gx2 - gx1, gy2 - gy1) - _aspect_angle(xp, x2 - x1, y2 - y1)
    v = (4 / math.pi**2) * gap * gap
    # alpha is a constant weight, as in the paper and torchvision (no_grad)
    alpha = stop_gradient(v / (1 - iou + v + eps))
    return diou + alpha * v


_IOU_NOTES = r"""
    Parameters
    ----------
    pred_boxes : array_like or torch.Tensor
        Shape ``(N, 4)``: predicted boxes :math:`(x_1, y_1, x_2, y_2)` with
        :math:`x_2 \ge x_1`, :math:`y_2 \ge y_1`.
    target_boxes : array_like or torch.Tensor
        Shape ``(N, 4)``: the matching ground-truth boxes.
    eps : float, default 1e-7
        Positive guard added to every denominator (as torchvision).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the N per-pair losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        If a box is not ``(N, 4)``, has :math:`x_2 < x_1` or :math:`y_2 <
        y_1` or a non-finite corner, ``eps <= 0``, the shapes differ,
        ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.
"""


def _doc(fn):
    """Fill the shared Parameters/Returns/Raises of the IoU family into ``{params}``."""
    fn.__doc__ = fn.__doc__.replace("    {params}\n", _IOU_NOTES.lstrip("\n") + "\n")
    return fn


@_doc
def iou_loss(pred_boxes, target_boxes, *, eps=1e-7, reduction="mean"):
    r"""IoU loss: one minus the intersection over union of matched boxes.

    .. math::

        \ell_i = 1 - \frac{|B_i \cap G_i|}{|B_i \cup G_i| + \varepsilon}

    {params}
    Notes
    -----
    Scale-invariant, but flat (zero gradient) for disjoint boxes: the loss is
    1 however far apart they are. Equals ``1 - torchvision.ops.box_iou(p,
    g).diagonal()`` up to the ``eps``. Boxes that only touch have
    intersection 0.

    References
    ----------
    .. [1] J. Yu, Y. Jiang, Z. Wang, Z. Cao and T. Huang, "UnitBox: an
       advanced object detection network", *ACM Multimedia*, 2016.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.iou_loss([[0, 0, 2, 2], [0, 0, 1, 1]], [[1, 1, 3, 3], [5, 5, 6, 6]],
    ...             reduction="none")
    array([0.85714286, 1.        ])
    """
    xp, eps, p, t = _boxes(pred_boxes, target_boxes, eps, reduction)
    return reduce(xp, _iou_loss(xp, p, t, eps), reduction)


@_doc
def giou_loss(pred_boxes, target_boxes, *, eps=1e-7, reduction="mean"):
    r"""Generalised IoU loss: IoU plus the empty share of the enclosing box.

    .. math::

        \ell_i = 1 - \mathrm{IoU}_i + \frac{|C_i| - |B_i \cup G_i|}
        {|C_i| + \varepsilon}

    with :math:`C_i` the smallest box enclosing :math:`B_i` and :math:`G_i`.

    {params}
    Notes
    -----
    In :math:`[0, 2)`; unlike the IoU loss it keeps decreasing as disjoint
    boxes approach each other. Same formula and ``eps`` placement as
    ``torchvision.ops.generalized_box_iou_loss``.

    References
    ----------
    .. [1] H. Rezatofighi, N. Tsoi, J. Gwak, A. Sadeghian, I. Reid and S.
       Savarese, "Generalized intersection over union: a metric and a loss
       for bounding box regression", *CVPR*, 2019.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.giou_loss([[0, 0, 1, 1], [0, 0, 1, 1]], [[0, 0, 1, 1], [2, 0, 3, 1]],
    ...              reduction="none")
    array([9.99999901e-08, 1.33333332e+00])
    """
    xp, eps, p, t = _boxes(pred_boxes, target_boxes, eps, reduction)
    return reduce(xp, _giou_loss(xp, p, t, eps), reduction)


@_doc
def diou_loss(pred_boxes, target_boxes, *, eps=1e-7, reduction="mean"):
    r"""Distance-IoU loss: IoU plus the normalised distance of the centres.

    .. math::

        \ell_i = 1 - \mathrm{IoU}_i + \frac{\rho^2(b_i, g_i)}{c_i^2 +
        \varepsilon}

    with :math:`\rho` the distance between the box centres and :math:`c_i`
    the diagonal of the smallest enclosing box.

    {params}
    Notes
    -----
    Pulls the centres together directly, so it converges faster than GIoU
    on boxes that contain each other (where GIoU reduces to IoU). Same
    formula as ``torchvision.ops.distance_box_iou_loss``.

    References
    ----------
    .. [1] Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye and D. Ren,
       "Distance-IoU loss: faster and better learning for bounding box
       regression", *AAAI*, 2020.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.diou_loss([[0, 0, 4, 4]], [[1, 1, 3, 3]], reduction="none")
    array([0.75])
    """
    xp, eps, p, t = _boxes(pred_boxes, target_boxes, eps, reduction)
    return reduce(xp, _diou_loss(xp, p, t, eps), reduction)


@_doc
def ciou_loss(pred_boxes, target_boxes, *, eps=1e-7, reduction="mean"):
    r"""Complete-IoU loss: DIoU plus an aspect-ratio consistency term.

    .. math::

        \ell_i = \ell^{\mathrm{DIoU}}_i + \alpha_i v_i, \qquad
        v_i = \frac{4}{\pi^2}\Big(\arctan\frac{w^g_i}{h^g_i} -
        \arctan\frac{w_i}{h_i}\Big)^2, \qquad
        \alpha_i = \frac{v_i}{1 - \mathrm{IoU}_i + v_i + \varepsilon}

    {params}
    Notes
    -----
    :math:`\alpha` is a weight, not differentiated (``torch.no_grad`` in
    torchvision, detached here), as in the paper. Same formula as
    ``torchvision.ops.complete_box_iou_loss``, except at zero height:
    :math:`\arctan(w/h)` is evaluated as ``atan2(w, h)`` (:math:`\pi/2` at
    :math:`h = 0`, and 0 for a point box :math:`w = h = 0`), which keeps the
    value and the gradient finite where torchvision's ``atan(w / h)`` gives
    NaN. The aspect term is discontinuous at degenerate boxes (the angle of a
    box of width :math:`w > 0` and height 0 is :math:`\pi/2` however small
    :math:`w` is, while a point box has angle 0), as :math:`\arctan(w/h)`
    itself is.

    References
    ----------
    .. [1] Z. Zheng, P. Wang, W. Liu, J. Li, R. Ye and D. Ren,
       "Distance-IoU loss: faster and better learning for bounding box
       regression", *AAAI*, 2020.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.ciou_loss([[0, 0, 2, 1]], [[0, 0, 1, 2]], reduction="none")
    array([0.76291834])
    """
    xp, eps, p, t = _boxes(pred_boxes, target_boxes, eps, reduction)
    return reduce(xp, _ciou_loss(xp, p, t, eps), reduction)


# --- segmentation ---


def _dice(xp, p, t, smooth):
    axes = tuple(range(1, p.ndim))  # every non-batch axis: one score per sample
    # 1 - (2 sum pt + s) / (sum p + sum t + s) = sum(p (1-t) + t (1-p)) / (...):
    # the mismatch is summed from non-negative terms, so a near-perfect
    # prediction's tiny loss does not come from cancelling 1 - ratio
    mismatch = xp.sum(p * (1 - t) + t * (1 - p), axis=axes)
    total = xp.sum(p, axis=axes) + xp.sum(t, axis=axes) + smooth
    has_mass = total > 0
    # double where: with smooth = 0 an empty prediction of an empty mask is a
    # perfect score (loss 0) instead of 0/0, and autograd never sees 1/0
    return xp.where(has_mass, mismatch / xp.where(has_mass, total, 1.0), 0.0)


def dice(prob, target, *, smooth=1.0, reduction="mean"):
    r"""Soft Dice loss for segmentation, one score per sample.

    .. math::

        \ell_i = 1 - \frac{2 \sum_j p_{ij} t_{ij} + s}
        {\sum_j p_{ij} + \sum_j t_{ij} + s}

    with :math:`j` running over all non-batch positions (pixels, voxels,
    classes).

    Parameters
    ----------
    prob : array_like or torch.Tensor
        Shape ``(N, ...)`` with at least 2 dimensions (a batch axis first):
        predicted foreground probabilities in [0, 1]. One sample of shape
        ``(H, W)`` is ``prob[None]``.
    target : array_like or torch.Tensor
        Same shape: the masks, values in [0, 1] (hard or soft).
    smooth : float, default 1.0
        Additive smoothing :math:`s \ge 0` in numerator and denominator.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the N per-sample losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``prob`` or ``target`` leaves [0, 1], ``prob`` has fewer than 2
        dimensions, ``smooth < 0``, the shapes differ, ``reduction`` is
        unknown, or the input is empty with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The Dice coefficient :math:`2|P \cap T| / (|P| + |T|)` with sums in
    place of set sizes (the numerator uses :math:`\sum p t`, the
    denominator :math:`\sum p + \sum t`; V-Net squares the terms of the
    denominator). The smoothing makes an all-empty sample score 0 loss and
    keeps the ratio defined; with ``smooth=0`` such a sample is defined to
    have loss 0. It is computed per sample and then reduced, so small
    objects weigh as much as large ones; some codes pool the whole batch
    into one ratio instead.

    References
    ----------
    .. [1] F. Milletari, N. Navab and S.-A. Ahmadi, "V-Net: fully
       convolutional neural networks for volumetric medical image
       segmentation", *3DV*, 2016.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.dice([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], [[1, 0, 0], [0, 0, 0]],
    ...         reduction="none")
    array([0.25, 0.  ])
    """
    check_reduction(reduction)
    smooth = _checks.hyper("smooth", smooth, "nonnegative")
    if (fast := _fast.dice(prob, target, smooth, reduction)) is not None:
        return fast
    xp, p, t = arrays(prob=prob, target=target, float_args=("target",))
    if p.ndim < 2:
        raise ValueError(
            f"`prob` must have shape (N, ...) with a batch axis and at least "
            f"one more, got shape {tuple(p.shape)}; for a single sample pass "
            "`prob[None]` and `target[None]`"
        )
    _checks.same_shape(p, t, ("prob", "target"))
    if reduction == "mean" and p.shape[0] == 0:  # N = 0 samples (not 0 pixels)
        raise ValueError(
            f"`prob` holds no samples (shape {tuple(p.shape)}); the mean of zero "
            "samples is undefined, use reduction='sum' or 'none'"
        )
    _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
    _checks.in_range(t, "target", 0.0, 1.0, "mask values")
    return reduce(xp, _dice(xp, p, t, smooth), reduction)
