"""Seeded synthetic data sets used by the book's experiments.

Every generator takes a ``seed`` and returns NumPy arrays, so each figure and
table in the book is reproducible on any machine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["line_with_outliers", "two_blobs"]


def line_with_outliers(
    n=40, *, slope=2.0, intercept=1.0, noise=0.5, n_outliers=4, shift=15.0, seed=0
):
    r"""Points on a line with Gaussian noise, a few of them pushed far off.

    .. math::

        y_i = a x_i + b + \varepsilon_i, \quad \varepsilon_i \sim
        \mathcal N(0, \sigma^2),

    then ``n_outliers`` points (the ones with the largest ``x``) get ``shift``
    added to their ``y``.

    Parameters
    ----------
    n : int, default 40
        Number of points, ``x`` evenly spaced on [0, 1].
    slope, intercept : float
        The true line :math:`a x + b`.
    noise : float, default 0.5
        Standard deviation :math:`\sigma` of the Gaussian noise.
    n_outliers : int, default 4
        How many points are corrupted.
    shift : float, default 15.0
        What is added to each corrupted ``y``.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    x, y : numpy.ndarray
        Float64 arrays of shape ``(n,)``.
    is_outlier : numpy.ndarray
        Boolean mask of the corrupted points.

    Raises
    ------
    ValueError
        If ``n_outliers`` is not in ``[0, n]``.

    Examples
    --------
    >>> from lossbook.experiments.datasets import line_with_outliers
    >>> x, y, out = line_with_outliers(10, n_outliers=2, seed=1)
    >>> x.shape, int(out.sum())
    ((10,), 2)
    """
    if not 0 <= n_outliers <= n:
        raise ValueError(f"n_outliers must be in [0, n={n}], got {n_outliers!r}")
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, n)
    y = slope * x + intercept + noise * rng.standard_normal(n)
    is_outlier = np.zeros(n, dtype=bool)
    if n_outliers:
        is_outlier[-n_outliers:] = True
    y = y + shift * is_outlier
    return x, y, is_outlier


def two_blobs(n=100, *, distance=2.0, seed=0):
    """Two Gaussian blobs in the plane, labelled 0 and 1.

    Parameters
    ----------
    n : int, default 100
        Points per class.
    distance : float, default 2.0
        Distance between the two class means (unit-variance blobs).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    X : numpy.ndarray
        Shape ``(2 n, 2)``, float64.
    y : numpy.ndarray
        Shape ``(2 n,)``, int64 labels in {0, 1} (first ``n`` are 0).

    Examples
    --------
    >>> from lossbook.experiments.datasets import two_blobs
    >>> X, y = two_blobs(5)
    >>> X.shape, y.tolist()
    ((10, 2), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    rng = np.random.default_rng(seed)
    centre = np.array([distance / 2.0, 0.0])
    X = np.concatenate(
        [rng.standard_normal((n, 2)) - centre, rng.standard_normal((n, 2)) + centre]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), n)
    return X, y
