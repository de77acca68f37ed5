"""Tests of lossbook.experiments.boxes: the box-regression simulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments.boxes import (
    ASPECT_RATIOS,
    SCALES,
    anchor_target_pairs,
    cxcywh_to_xyxy,
    regress_boxes,
)


def test_cxcywh_to_xyxy_numpy_and_torch_with_autograd():
    b = np.array([[1.0, 2.0, 4.0, 2.0], [0.0, 0.0, 1.0, 3.0]])
    expected = np.array([[-1.0, 1.0, 3.0, 3.0], [-0.5, -1.5, 0.5, 1.5]])
    np.testing.assert_array_equal(cxcywh_to_xyxy(b), expected)
    bt = torch.tensor(b, requires_grad=True)
    out = cxcywh_to_xyxy(bt)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    out[:, 2].sum().backward()  # x2 = cx + w / 2
    np.testing.assert_array_equal(bt.grad[:, :4].numpy(), [[1, 0, 0.5, 0]] * 2)


def test_pairs_cover_every_target_scale_and_ratio_at_every_centre():
    anchors, targets = anchor_target_pairs(3, radius=2.0, centre=(5.0, 7.0), seed=1)
    assert anchors.shape == targets.shape == (3 * 7 * 7 * 7, 4)
    # targets: area 1, the seven ratios, at the centre
    np.testing.assert_allclose(targets[:, 2] * targets[:, 3], 1.0)
    np.testing.assert_allclose(
        sorted(set(np.round(targets[:, 2] / targets[:, 3], 12))), ASPECT_RATIOS
    )
    np.testing.assert_array_equal(
        targets[:, :2], np.tile([5.0, 7.0], (len(targets), 1))
    )
    # anchors: each (scale, ratio) once per centre and target
    shapes = {
        (round(w * h, 10), round(w / h, 10)) for w, h in anchors[:, 2:]
    }  # fmt: skip
    assert shapes == {
        (round(s, 10), round(r, 10)) for s in SCALES for r in ASPECT_RATIOS
    }
    centres = np.unique(anchors[:, :2], axis=0)
    assert len(centres) == 3
    assert (np.hypot(centres[:, 0] - 5.0, centres[:, 1] - 7.0) <= 2.0).all()
    # ordered by target first
    ratio = targets[:, 2] / targets[:, 3]
    assert (np.diff(ratio) >= 0).all()


def test_pairs_are_seeded_and_centres_fill_the_disc_uniformly():
    a1, _ = anchor_target_pairs(4, seed=2)
    a2, _ = anchor_target_pairs(4, seed=2)
    np.testing.assert_array_equal(a1, a2)
    a, _ = anchor_target_pairs(4000, seed=0)
    d = np.hypot(a[::343, 0] - 10.0, a[::343, 1] - 10.0)
    # uniform over the area: P(d < r) = (r / R)^2
    assert abs(np.mean(d < 1.5) - 0.25) < 0.03


def test_first_record_is_the_anchors_error_and_iou():
    anchors, targets = anchor_target_pairs(2, seed=3)
    run = regress_boxes(anchors, targets, lb.giou_loss, schedule=((3, 0.1),))
    assert run.error.shape == run.iou.shape == (4,)
    assert run.error[0] == pytest.approx(np.abs(anchors - targets).sum(1).mean())
    iou0 = 1 - lb.iou_loss(
        cxcywh_to_xyxy(anchors), cxcywh_to_xyxy(targets), reduction="none"
    )
    assert run.iou[0] == pytest.approx(iou0.mean())
    assert run.boxes.shape == anchors.shape


def _finite_difference_grad(loss, box, target, h=1e-6):
    g = np.zeros(4)
    for k in range(4):
        up, down = box.copy(), box.copy()
        up[k] += h
        down[k] -= h
        g[k] = (
            float(loss(cxcywh_to_xyxy(up[None]), cxcywh_to_xyxy(target[None])))
            - float(loss(cxcywh_to_xyxy(down[None]), cxcywh_to_xyxy(target[None])))
        ) / (2 * h)
    return g


def _aspect_v(box, target):
    gap = np.arctan(target[2] / target[3]) - np.arctan(box[2] / box[3])
    return 4 / np.pi**2 * gap**2


def _ciou_alpha_fixed(box, target):
    """CIoU with its weight alpha held at its value at ``box``, as autograd sees it."""
    iou = 1 - float(
        lb.iou_loss(cxcywh_to_xyxy(box[None]), cxcywh_to_xyxy(target[None]))
    )
    v0 = _aspect_v(box, target)
    alpha = v0 / (1 - iou + v0 + 1e-7)

    def loss(p, t):
        b = np.array([(p[0, 0] + p[0, 2]) / 2, (p[0, 1] + p[0, 3]) / 2,
                      p[0, 2] - p[0, 0], p[0, 3] - p[0, 1]])  # fmt: skip
        return float(lb.diou_loss(p, t)) + alpha * _aspect_v(b, target)

    return loss


@pytest.mark.parametrize("name", ["iou_loss", "giou_loss", "diou_loss", "ciou_loss"])
def test_one_step_is_the_papers_update_with_a_finite_difference_gradient(name):
    box = np.array([10.3, 9.1, 0.8, 1.7])
    target = np.array([10.0, 10.0, 1.0, 1.0])
    loss = getattr(lb, name)
    run = regress_boxes(box[None], target[None], loss, schedule=((1, 0.1),))
    # CIoU's weight alpha is a constant in the gradient (detached, as the paper)
    reference = _ciou_alpha_fixed(box, target) if name == "ciou_loss" else loss
    g = _finite_difference_grad(reference, box, target)
    iou = 1 - float(
        lb.iou_loss(cxcywh_to_xyxy(box[None]), cxcywh_to_xyxy(target[None]))
    )
    np.testing.assert_allclose(run.boxes[0], box - 0.1 * (2 - iou) * g, atol=1e-8)
    plain = regress_boxes(
        box[None], target[None], loss, schedule=((1, 0.1),), iou_factor=False
    )
    np.testing.assert_allclose(plain.boxes[0], box - 0.1 * g, atol=1e-8)


def test_the_iou_loss_cannot_move_a_disjoint_anchor_but_the_others_can():
    anchor = np.array([[13.0, 10.0, 1.0, 1.0]])
    target = np.array([[10.0, 10.0, 1.0, 1.0]])
    stuck = regress_boxes(anchor, target, lb.iou_loss)
    np.testing.assert_array_equal(stuck.boxes, anchor)
    assert (stuck.error == 3.0).all()
    for loss in (lb.giou_loss, lb.diou_loss, lb.ciou_loss):
        run = regress_boxes(anchor, target, loss)
        assert run.error[-1] < 0.05, loss.__name__
        assert run.iou[-1] > 0.95, loss.__name__


def test_sizes_stay_positive_and_cases_are_independent():
    anchors, targets = anchor_target_pairs(2, seed=4)
    run = regress_boxes(anchors, targets, lb.giou_loss, schedule=((20, 0.5),))
    assert (run.boxes[:, 2:] >= 1e-3).all()
    single = regress_boxes(
        anchors[5:6], targets[5:6], lb.giou_loss, schedule=((20, 0.5),)
    )
    np.testing.assert_allclose(run.boxes[5], single.boxes[0], rtol=1e-12)


def test_regress_boxes_rejects_bad_shapes_and_sizes():
    with pytest.raises(ValueError, match=r"\(M, 4\)"):
        regress_boxes(np.zeros((2, 4)), np.zeros((3, 4)), lb.iou_loss)
    with pytest.raises(ValueError, match="positive"):
        regress_boxes([[0.0, 0.0, 0.0, 1.0]], [[0.0, 0.0, 1.0, 1.0]], lb.iou_loss)
