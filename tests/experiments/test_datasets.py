"""Tests of lossbook.experiments.datasets: seeded, shaped, outliers as stated."""

from __future__ import annotations

import numpy as np
import pytest

from lossbook.experiments.datasets import line_with_outliers, two_blobs


def test_line_with_outliers_shapes_and_dtypes():
    x, y, out = line_with_outliers(25, n_outliers=3)
    assert x.shape == y.shape == out.shape == (25,)
    assert x.dtype == y.dtype == np.float64
    assert out.dtype == bool
    np.testing.assert_array_equal(x, np.linspace(0.0, 1.0, 25))


def test_line_with_outliers_is_seeded():
    a = line_with_outliers(seed=3)
    b = line_with_outliers(seed=3)
    c = line_with_outliers(seed=4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(a[0], c[0])  # x does not depend on the seed


def test_the_outliers_are_the_last_points_shifted_by_shift():
    x, y, out = line_with_outliers(
        10, slope=-1.5, intercept=0.25, noise=0.0, n_outliers=3, shift=7.0
    )
    np.testing.assert_array_equal(out, [False] * 7 + [True] * 3)
    np.testing.assert_allclose(y, -1.5 * x + 0.25 + 7.0 * out, rtol=0, atol=1e-15)


def test_the_noise_has_the_stated_scale():
    x, y, out = line_with_outliers(4000, noise=0.5, n_outliers=0, seed=1)
    residual = y - (2.0 * x + 1.0)
    assert not out.any()
    assert abs(residual.mean()) < 0.05  # 0.5 / sqrt(4000) = 0.008 per sigma
    assert abs(residual.std() - 0.5) < 0.03


@pytest.mark.parametrize("k", [0, 1, 10])
def test_every_outlier_count_from_none_to_all(k):
    _, _, out = line_with_outliers(10, n_outliers=k)
    assert int(out.sum()) == k


@pytest.mark.parametrize("k", [-1, 11])
def test_outlier_count_outside_0_n_is_rejected(k):
    with pytest.raises(
        ValueError, match=rf"n_outliers must be in \[0, n=10\], got {k}"
    ):
        line_with_outliers(10, n_outliers=k)


def test_two_blobs_shapes_labels_and_seed():
    X, y = two_blobs(7, seed=2)
    assert X.shape == (14, 2)
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [0] * 7 + [1] * 7)
    X2, _ = two_blobs(7, seed=2)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, two_blobs(7, seed=3)[0])


def test_two_blobs_means_are_distance_apart():
    X, y = two_blobs(3000, distance=3.0, seed=0)
    m0, m1 = X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)
    # unit-variance blobs: each mean is within 0.02 (one sigma) of its centre
    np.testing.assert_allclose(m0, [-1.5, 0.0], atol=0.08)
    np.testing.assert_allclose(m1, [1.5, 0.0], atol=0.08)
    np.testing.assert_allclose(X[y == 1].std(axis=0), [1.0, 1.0], atol=0.05)
