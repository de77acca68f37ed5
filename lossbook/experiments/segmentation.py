"""A synthetic segmentation task: noisy images of small discs, and pixel features.

- :func:`blob_images`: images with a few bright discs (the foreground) in
  Gaussian noise, and their masks; some images have no disc at all;
- :func:`pixel_features`: each pixel's intensity and its local means over
  square windows, the fixed filters of a one-layer convolutional network.

A per-pixel logistic model on these features, fitted by
:func:`~lossbook.experiments.imbalance.fit_linear_logits` with Dice, BCE or
their sum, is the book's tiny segmentation network.
"""

from __future__ import annotations

import numpy as np

__all__ = ["blob_images", "box_mean", "pixel_features"]


def blob_images(n, *, size=48, noise=1.5, radius=(2.0, 5.0), max_blobs=3, seed=0):
    r"""Images of 0 to ``max_blobs`` discs of intensity 1 in Gaussian noise.

    Image :math:`i` is :math:`x_i = m_i + \sigma \varepsilon_i` with the
    binary mask :math:`m_i` (union of the discs) and white noise
    :math:`\varepsilon_i \sim \mathcal N(0, I)`.

    Parameters
    ----------
    n : int
        Number of images.
    size : int, default 48
        Height and width in pixels.
    noise : float, default 1.5
        Standard deviation :math:`\sigma` of the noise.
    radius : tuple of float, default (2.0, 5.0)
        Disc radii are uniform on this interval, in pixels.
    max_blobs : int, default 3
        Each image has a number of discs uniform on ``0, ..., max_blobs``.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    images, masks : numpy.ndarray
        Shape ``(n, size, size)``, float64; masks hold 0 and 1.

    Raises
    ------
    ValueError
        If ``size`` is too small for the largest disc, or ``max_blobs < 0``.

    Examples
    --------
    >>> from lossbook.experiments.segmentation import blob_images
    >>> images, masks = blob_images(3, size=16, radius=(1.0, 2.0), seed=0)
    >>> images.shape, sorted(set(masks.ravel().tolist()))
    ((3, 16, 16), [0.0, 1.0])
    """
    margin = float(radius[1]) + 1.0
    if size <= 2 * margin or max_blobs < 0:
        raise ValueError(
            f"need size > 2 * (radius[1] + 1) = {2 * margin} and max_blobs >= 0, "
            f"got size={size!r}, max_blobs={max_blobs!r}"
        )
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    masks = np.zeros((n, size, size))
    for i in range(n):
        for _ in range(rng.integers(0, max_blobs + 1)):
            cy, cx = rng.uniform(margin, size - margin, 2)
            r = rng.uniform(*radius)
            masks[i][(rows - cy) ** 2 + (cols - cx) ** 2 <= r * r] = 1.0
    images = masks + noise * rng.standard_normal(masks.shape)
    return images, masks


def box_mean(images, k):
    """Mean over the ``k`` x ``k`` window centred on each pixel (``k`` odd).

    The border is mirrored (``numpy.pad(mode="reflect")``, SciPy's
    ``mode="mirror"``); the window sums come from a 2-D cumulative sum, so the
    cost does not grow with ``k``.

    Parameters
    ----------
    images : array_like
        Shape ``(n, h, w)``.
    k : int
        Odd window side, at most ``min(h, w)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, h, w)``, float64.

    Raises
    ------
    ValueError
        If ``k`` is not odd and positive or exceeds the image.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.segmentation import box_mean
    >>> box_mean(np.arange(9.0).reshape(1, 3, 3), 3)[0, 1, 1]
    np.float64(4.0)
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3 or k < 1 or k % 2 == 0 or k > min(x.shape[1:]):
        raise ValueError(
            f"need images of shape (n, h, w) and an odd window 1 <= k <= "
            f"min(h, w), got shape {x.shape} and k={k!r}"
        )
    r = k // 2
    padded = np.pad(x, ((0, 0), (r, r), (r, r)), mode="reflect")
    # summed-area table with a zero first row and column
    table = np.pad(padded.cumsum(axis=1).cumsum(axis=2), ((0, 0), (1, 0), (1, 0)))
    sums = table[:, k:, k:] - table[:, :-k, k:] - table[:, k:, :-k] + table[:, :-k, :-k]
    return sums / (k * k)


def pixel_features(images, *, windows=(3, 5, 9)):
    """Each pixel's intensity and its local means: shape ``(n, h, w, 1 + len)``.

    Parameters
    ----------
    images : array_like
        Shape ``(n, h, w)``.
    windows : sequence of int, default (3, 5, 9)
        Odd window sides of :func:`box_mean`.

    Returns
    -------
    numpy.ndarray
        Feature 0 is the intensity, feature ``j`` the mean over
        ``windows[j - 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.segmentation import pixel_features
    >>> pixel_features(np.zeros((2, 12, 12))).shape
    (2, 12, 12, 4)
    """
    x = np.asarray(images, dtype=np.float64)
    return np.stack([x, *(box_mean(x, k) for k in windows)], axis=-1)
