"""Bounding-box regression by gradient descent: the simulation of Zheng et al.

Zheng et al. (2020) compared the IoU losses by moving anchor boxes towards
target boxes with plain gradient descent on each loss and recording the
regression error per iteration. :func:`anchor_target_pairs` builds their set
of cases at a smaller size and :func:`regress_boxes` runs their update,
differentiating ``lossbook``'s losses exactly with autograd (the original
MATLAB code hand-codes the gradients).

Boxes here are ``(cx, cy, w, h)`` rows (centre, width, height), the
parameters the simulation updates; :func:`cxcywh_to_xyxy` converts them to
the ``(x1, y1, x2, y2)`` corners the losses take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._backend import _is_torch

__all__ = [
    "ASPECT_RATIOS",
    "SCALES",
    "SCHEDULE",
    "BoxRegression",
    "anchor_target_pairs",
    "cxcywh_to_xyxy",
    "regress_boxes",
]

#: Width / height of the targets and anchors (1:4 ... 4:1), as in the paper.
ASPECT_RATIOS = (1 / 4, 1 / 3, 1 / 2, 1.0, 2.0, 3.0, 4.0)
#: Areas of the anchors relative to the target's area of 1, as in the paper.
SCALES = (0.5, 0.67, 0.75, 1.0, 1.33, 1.5, 2.0)
#: The paper's step sizes: 160 iterations at 0.1, 20 at 0.01, 20 at 0.001.
SCHEDULE = ((160, 0.1), (20, 0.01), (20, 0.001))


def cxcywh_to_xyxy(boxes):
    """``(cx, cy, w, h)`` rows to ``(x1, y1, x2, y2)`` corners.

    Parameters
    ----------
    boxes : numpy.ndarray or torch.Tensor
        Shape ``(..., 4)``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Same kind and shape; autograd flows through a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.boxes import cxcywh_to_xyxy
    >>> cxcywh_to_xyxy(np.array([[1.0, 2.0, 2.0, 4.0]]))
    array([[0., 0., 2., 4.]])
    """
    cx, cy, w, h = (boxes[..., k] for k in range(4))
    corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if _is_torch(boxes):
        import torch

        return torch.stack(corners, dim=-1)
    return np.stack(corners, axis=-1)


def anchor_target_pairs(n_centres=20, *, radius=3.0, centre=(10.0, 10.0), seed=0):
    r"""The regression cases of Zheng et al. (2020), with fewer anchor centres.

    Seven targets of area 1 and aspect ratios :data:`ASPECT_RATIOS` sit at
    ``centre``. Anchor centres are drawn uniformly from the disc of
    ``radius`` around it; at each centre, anchors of every area in
    :data:`SCALES` and every aspect ratio are regressed towards every target:
    :math:`7 \times 7 \times 7` cases per centre (the paper uses 5000
    centres, 1 715 000 cases).

    Parameters
    ----------
    n_centres : int, default 20
        Number of anchor centres.
    radius : float, default 3.0
        Radius of the disc of centres.
    centre : tuple of float, default (10.0, 10.0)
        Centre of the targets.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    anchors, targets : numpy.ndarray
        Shape ``(343 * n_centres, 4)``, ``(cx, cy, w, h)`` rows, float64;
        row ``i`` of ``anchors`` is regressed towards row ``i`` of
        ``targets``. Cases are ordered by target, then centre, scale and
        aspect ratio.

    Examples
    --------
    >>> from lossbook.experiments.boxes import anchor_target_pairs
    >>> anchors, targets = anchor_target_pairs(2)
    >>> anchors.shape, float((targets[:, 2] * targets[:, 3]).max())
    ((686, 4), 1.0)
    """
    rng = np.random.default_rng(seed)
    # sqrt of a uniform number: uniform over the disc's area, not its radius
    r = radius * np.sqrt(rng.random(n_centres))
    phi = 2 * np.pi * rng.random(n_centres)
    cx, cy = centre[0] + r * np.cos(phi), centre[1] + r * np.sin(phi)
    ratios = np.asarray(ASPECT_RATIOS)
    scales = np.asarray(SCALES)
    # a box of area a and aspect ratio q = w / h has w = sqrt(a q), h = sqrt(a / q)
    t_w, t_h = np.sqrt(ratios), np.sqrt(1 / ratios)
    a_w = np.sqrt(scales[:, None] * ratios[None, :]).ravel()
    a_h = np.sqrt(scales[:, None] / ratios[None, :]).ravel()
    n_target, n_shape = len(ratios), len(a_w)
    anchors = np.stack(
        [
            np.tile(np.repeat(cx, n_shape), n_target),
            np.tile(np.repeat(cy, n_shape), n_target),
            np.tile(a_w, n_target * n_centres),
            np.tile(a_h, n_target * n_centres),
        ],
        axis=1,
    )
    per_target = n_centres * n_shape
    targets = np.stack(
        [
            np.full(n_target * per_target, float(centre[0])),
            np.full(n_target * per_target, float(centre[1])),
            np.repeat(t_w, per_target),
            np.repeat(t_h, per_target),
        ],
        axis=1,
    )
    return anchors, targets


@dataclass(frozen=True)
class BoxRegression:
    """The record of :func:`regress_boxes`.

    Attributes
    ----------
    error : numpy.ndarray
        Shape ``(T + 1,)``: mean over the cases of the L1 distance
        :math:`|B - G|_1` of ``(cx, cy, w, h)`` before each step and at the
        end (the paper plots the sum over the cases: multiply by ``M``).
    iou : numpy.ndarray
        Shape ``(T + 1,)``: mean IoU at the same times.
    boxes : numpy.ndarray
        Shape ``(M, 4)``: the final boxes, ``(cx, cy, w, h)``.
    """

    error: np.ndarray
    iou: np.ndarray
    boxes: np.ndarray


def regress_boxes(
    anchors, targets, loss, *, schedule=SCHEDULE, iou_factor=True, min_size=1e-3
):
    r"""Move every anchor towards its target by gradient descent on ``loss``.

    Each case is its own problem: box :math:`B_i = (c_x, c_y, w, h)` takes
    the step

    .. math::

        B_i \leftarrow B_i - \eta_t\, (2 - \mathrm{IoU}_i)\,
        \nabla_{B_i} \ell(B_i, G_i),

    the update of Zheng et al. (2020), whose factor :math:`2 - \mathrm{IoU}`
    takes larger steps while the boxes overlap little. The gradient is
    autograd's, through :func:`cxcywh_to_xyxy` and the loss, in float64.

    Parameters
    ----------
    anchors, targets : array_like
        Shape ``(M, 4)``: ``(cx, cy, w, h)`` rows with positive sizes.
    loss : callable
        A loss of boxes with ``lossbook``'s signature, e.g.
        :func:`~lossbook.detection.diou_loss`; called with
        ``reduction="sum"``, so each case gets its own loss's gradient.
    schedule : sequence of (int, float), default :data:`SCHEDULE`
        ``(iterations, step size)`` pairs, run in order.
    iou_factor : bool, default True
        Multiply each step by :math:`2 - \mathrm{IoU}_i`.
    min_size : float, default 1e-3
        Widths and heights are clamped to at least this after each step,
        so that every box stays a box (:math:`x_2 > x_1`).

    Returns
    -------
    BoxRegression
        Mean L1 error and mean IoU per iteration, and the final boxes.

    Raises
    ------
    ValueError
        If the shapes differ or are not ``(M, 4)``, or a size is not positive.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook.experiments.boxes import regress_boxes
    >>> run = regress_boxes([[0.0, 0.0, 1.0, 1.0]], [[0.5, 0.0, 1.0, 1.0]],
    ...                     lb.diou_loss)
    >>> run.error.shape, bool(run.error[-1] < 0.01 * run.error[0])
    ((201,), True)
    """
    import torch

    from ..detection import iou_loss

    a = np.asarray(anchors, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 4 or a.shape != t.shape:
        raise ValueError(
            f"anchors and targets must both have shape (M, 4), got "
            f"{a.shape} and {t.shape}"
        )
    if not ((a[:, 2:] > 0).all() and (t[:, 2:] > 0).all()):
        raise ValueError("widths and heights (columns 2 and 3) must be positive")
    box = torch.tensor(a, requires_grad=True)
    goal = torch.tensor(t)
    goal_corners = cxcywh_to_xyxy(goal)
    steps = [lr for count, lr in schedule for _ in range(count)]
    error = np.empty(len(steps) + 1)
    iou = np.empty(len(steps) + 1)
    for k in range(len(steps) + 1):
        corners = cxcywh_to_xyxy(box)
        with torch.no_grad():
            overlap = 1 - iou_loss(corners, goal_corners, reduction="none")
            error[k] = float((box - goal).abs().sum(dim=1).mean())
            iou[k] = float(overlap.mean())
        if k == len(steps):
            break
        (grad,) = torch.autograd.grad(loss(corners, goal_corners, reduction="sum"), box)
        factor = (2 - overlap)[:, None] if iou_factor else 1.0
        with torch.no_grad():
            box -= steps[k] * factor * grad
            box[:, 2:].clamp_(min=min_size)
    return BoxRegression(error=error, iou=iou, boxes=box.detach().numpy().copy())
