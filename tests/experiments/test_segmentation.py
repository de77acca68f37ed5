"""Tests of lossbook.experiments.segmentation: blob images and pixel features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import label, uniform_filter

import lossbook as lb
from lossbook.experiments.imbalance import fit_linear_logits, precision_recall_at
from lossbook.experiments.segmentation import blob_images, box_mean, pixel_features


def test_blob_images_are_seeded_and_masks_binary():
    a = blob_images(4, size=20, radius=(1.0, 3.0), seed=1)
    b = blob_images(4, size=20, radius=(1.0, 3.0), seed=1)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    images, masks = a
    assert images.shape == masks.shape == (4, 20, 20)
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert not np.array_equal(images, blob_images(4, size=20, seed=2)[0])


def test_the_noise_is_the_image_minus_its_mask():
    images, masks = blob_images(200, size=24, noise=0.8, radius=(1.0, 3.0), seed=0)
    residual = images - masks
    assert abs(residual.mean()) < 0.01
    assert abs(residual.std() - 0.8) < 0.01


def test_blob_counts_and_sizes_are_as_stated():
    _, masks = blob_images(300, size=40, noise=0.0, radius=(2.0, 4.0), max_blobs=3)
    counts = []
    for m in masks:
        _, k = label(m)  # touching discs merge: count at most the discs drawn
        counts.append(k)
        assert m.sum() <= 3 * np.pi * (4 + 1) ** 2
    counts = np.array(counts)
    assert counts.max() <= 3
    assert 0.15 < np.mean(counts == 0) < 0.35  # 1 / 4 of the images are empty
    single = masks[counts == 1].sum(axis=(1, 2))
    assert single.min() >= np.pi * (2 - 1) ** 2  # a pixelised disc of radius >= 2


def test_no_disc_touches_the_border():
    _, masks = blob_images(100, size=20, noise=0.0, radius=(2.0, 5.0))
    assert masks[:, 0].sum() == masks[:, -1].sum() == 0
    assert masks[:, :, 0].sum() == masks[:, :, -1].sum() == 0


def test_blob_images_rejects_a_too_small_image():
    with pytest.raises(ValueError, match="size"):
        blob_images(1, size=10, radius=(2.0, 5.0))


@pytest.mark.parametrize("k", [1, 3, 5, 9])
def test_box_mean_is_scipys_uniform_filter_with_mirrored_borders(k):
    x = np.random.default_rng(k).normal(size=(2, 11, 13))
    expected = uniform_filter(x, size=(1, k, k), mode="mirror")
    np.testing.assert_allclose(box_mean(x, k), expected, atol=1e-12)


@pytest.mark.parametrize("k", [0, 2, 15])
def test_box_mean_rejects_bad_windows(k):
    with pytest.raises(ValueError, match="odd window"):
        box_mean(np.zeros((1, 12, 12)), k)


def test_pixel_features_stack_the_intensity_and_the_means():
    x = np.random.default_rng(0).normal(size=(3, 15, 15))
    f = pixel_features(x, windows=(3, 7))
    assert f.shape == (3, 15, 15, 3)
    np.testing.assert_array_equal(f[..., 0], x)
    np.testing.assert_allclose(f[..., 2], box_mean(x, 7))


def test_a_pixel_classifier_trained_with_dice_plus_bce_segments_the_discs():
    images, masks = blob_images(8, size=32, noise=0.5, seed=0)
    test_images, test_masks = blob_images(8, size=32, noise=0.5, seed=1)

    def loss(z, t):
        return lb.dice(torch.sigmoid(z), t) + lb.binary_cross_entropy_with_logits(z, t)

    w, b = fit_linear_logits(pixel_features(images), masks, loss)
    scores = pixel_features(test_images) @ w + b
    precision, recall = precision_recall_at(scores, test_masks, 0.0)
    assert precision > 0.8 and recall > 0.8
