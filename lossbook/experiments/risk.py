r"""Risk: empirical-risk minimisers, held-out error and population minimisers.

The expected risk :math:`R(f) = \mathbb E\,\ell(f(X), Y)` is what a model
should make small; training can only minimise the empirical risk, its average
over a sample. The helpers here give the book's experiments on the gap between
the two their data and their exact minimisers:

- :func:`sine_data`, a seeded regression problem with a known noise floor;
- :func:`fit_polynomial` and :func:`predict_polynomial`, the exact minimiser
  of the mean squared error (optionally plus a ridge penalty) over
  polynomials, in a well-conditioned Legendre basis;
- :func:`lad_line`, the exact minimiser of the mean absolute error over lines;
- :func:`best_constant`, the constant that minimises the empirical risk of any
  element-wise ``lossbook`` loss, by brute force.

The losses themselves are ``lossbook``'s; these functions only call them or
solve for their minimisers.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "best_constant",
    "fit_polynomial",
    "lad_line",
    "predict_polynomial",
    "sine_data",
]


def _vector(value, name):
    """A finite, non-empty 1-D float64 array, or a ``ValueError`` naming it."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got {arr!r}")
    return arr


def _pair(x, y):
    x, y = _vector(x, "x"), _vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape, got {x.shape} and {y.shape}"
        )
    return x, y


def sine_data(n, *, noise=0.3, seed=0):
    r"""Noisy samples of one period of a sine.

    .. math::

        x_i \sim \mathcal U(0, 1), \qquad
        y_i = \sin(2\pi x_i) + \varepsilon_i, \quad
        \varepsilon_i \sim \mathcal N(0, \sigma^2)

    The regression function is :math:`\sin(2\pi x)`, so no predictor has an
    expected squared error below :math:`\sigma^2` (the noise floor).

    Parameters
    ----------
    n : int
        Number of samples, at least 1.
    noise : float, default 0.3
        Noise standard deviation :math:`\sigma \ge 0`.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; draw the training and the
        held-out set with different seeds.

    Returns
    -------
    x, y : numpy.ndarray
        Float64 arrays of shape ``(n,)``, ``x`` sorted.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer or ``noise`` is negative.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*,
       Springer, 2006, sec. 1.1.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.risk import sine_data
    >>> x, y = sine_data(5, noise=0.0)
    >>> bool(np.allclose(y, np.sin(2 * np.pi * x)))
    True
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"`n` must be a positive integer, got {n!r}")
    if not noise >= 0.0:
        raise ValueError(f"`noise` must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    y = np.sin(2.0 * np.pi * x) + noise * rng.standard_normal(n)
    return x, y


def _design(x, degree):
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer):
        raise ValueError(f"`degree` must be an integer >= 0, got {degree!r}")
    if degree < 0:
        raise ValueError(f"`degree` must be an integer >= 0, got {degree!r}")
    # Legendre polynomials of u = 2x - 1 on [-1, 1]: the same function space as
    # 1, x, ..., x^degree, but far better conditioned than the monomials
    return np.polynomial.legendre.legvander(2.0 * x - 1.0, int(degree))


def fit_polynomial(x, y, degree, *, lam=0.0):
    r"""The polynomial of a given degree that minimises the (ridge) MSE.

    .. math::

        \hat\theta = \arg\min_\theta \frac1N \sum_{i=1}^N
        \bigl(p_\theta(x_i) - y_i\bigr)^2 + \lambda \sum_{k \ge 1} \theta_k^2,
        \qquad p_\theta(x) = \sum_{k=0}^{d} \theta_k P_k(2x - 1)

    with :math:`P_k` the Legendre polynomials. The constant coefficient
    :math:`\theta_0` is not penalised.

    Parameters
    ----------
    x, y : array_like
        Inputs in [0, 1] and targets, shape ``(N,)``.
    degree : int
        Degree :math:`d \ge 0` of the polynomial.
    lam : float, default 0.0
        Ridge weight :math:`\lambda \ge 0`.

    Returns
    -------
    coef : numpy.ndarray
        Shape ``(degree + 1,)``: the Legendre coefficients :math:`\theta`.

    Raises
    ------
    ValueError
        If the shapes differ, a value is not finite, ``degree`` is not a
        non-negative integer or ``lam`` is negative.

    Notes
    -----
    The minimiser solves the least-squares problem of the stacked system
    :math:`[V; \sqrt{N\lambda}\,D]\,\theta \approx [y; 0]`, with :math:`V` the
    design matrix and :math:`D` the identity without its first row, by
    :func:`numpy.linalg.lstsq` (no normal equations, which would square the
    condition number). With ``lam=0`` and ``degree + 1 >= N`` the solution
    interpolates the data (minimum-norm when there are more coefficients
    than points).

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.risk import fit_polynomial, predict_polynomial
    >>> x = np.linspace(0.0, 1.0, 6)
    >>> coef = fit_polynomial(x, 3.0 * x**2 - 1.0, 2)
    >>> bool(np.allclose(predict_polynomial(coef, x), 3.0 * x**2 - 1.0))
    True
    """
    x, y = _pair(x, y)
    if not lam >= 0.0:
        raise ValueError(f"`lam` must be >= 0, got {lam!r}")
    V = _design(x, degree)
    if lam > 0.0:
        penalty = np.sqrt(len(x) * lam) * np.eye(V.shape[1])[1:]
        V = np.vstack([V, penalty])
        y = np.concatenate([y, np.zeros(penalty.shape[0])])
    coef, *_ = np.linalg.lstsq(V, y, rcond=None)
    return coef


def predict_polynomial(coef, x):
    """Evaluate a polynomial fitted by :func:`fit_polynomial` at ``x``.

    Parameters
    ----------
    coef : array_like
        Legendre coefficients, shape ``(degree + 1,)``.
    x : array_like
        Points in [0, 1], shape ``(M,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(M,)``.

    Examples
    --------
    >>> from lossbook.experiments.risk import predict_polynomial
    >>> predict_polynomial([1.0, 2.0], [0.0, 0.5, 1.0]).tolist()  # 1 + 2 (2x - 1)
    [-1.0, 1.0, 3.0]
    """
    coef = _vector(coef, "coef")
    x = _vector(x, "x")
    return np.polynomial.legendre.legval(2.0 * x - 1.0, coef)


def lad_line(x, y):
    r"""The line that minimises the mean absolute error, by brute force.

    .. math::

        (\hat w, \hat c) = \arg\min_{w, c} \frac1N \sum_{i=1}^N
        |w x_i + c - y_i|

    The objective is convex and piecewise linear in :math:`(w, c)`; a
    minimiser lies at a vertex, where two residuals are zero, so the best
    line through two of the data points is a minimiser. This tries all
    :math:`\binom N2` pairs with distinct :math:`x`.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(N,)``, with at least two distinct ``x``.

    Returns
    -------
    coef : numpy.ndarray
        ``[w, c]``: slope and intercept.
    pair : tuple of int
        The indices of the two data points the line passes through.

    Raises
    ------
    ValueError
        If the shapes differ, a value is not finite, or fewer than two
        distinct ``x`` are given.

    Notes
    -----
    The search evaluates all :math:`\binom N2` candidate lines on all
    :math:`N` points at once, :math:`O(N^3)` time and memory: meant for the
    book's small data sets (:math:`N = 40` takes 31 200 residuals). For
    large :math:`N` solve the linear program, or use quantile regression
    at :math:`q = 1/2`.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, *The Elements of
       Statistical Learning*, 2nd ed., Springer, 2009, sec. 10.6.

    Examples
    --------
    >>> from lossbook.experiments.risk import lad_line
    >>> coef, pair = lad_line([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 40.0])
    >>> coef.tolist(), pair
    ([2.0, 1.0], (0, 1))
    """
    x, y = _pair(x, y)
    i, j = np.array(list(itertools.combinations(range(len(x)), 2))).T.reshape(2, -1)
    keep = x[i] != x[j]
    i, j = i[keep], j[keep]
    if i.size == 0:
        raise ValueError("`x` must hold at least two distinct values")
    w = (y[j] - y[i]) / (x[j] - x[i])
    c = y[i] - w * x[i]
    # mean absolute residual of every candidate line at once: (pairs, N)
    risk = np.abs(w[:, None] * x[None, :] + c[:, None] - y[None, :]).mean(axis=1)
    k = int(np.argmin(risk))
    return np.array([w[k], c[k]]), (int(i[k]), int(j[k]))


def best_constant(loss, target, candidates, /, *, chunk=256, **loss_kwargs):
    r"""The candidate constant with the smallest empirical risk.

    .. math::

        \hat c = \arg\min_{c \in C} \frac1N \sum_{i=1}^N \ell(c, y_i)

    Parameters
    ----------
    loss : callable
        An element-wise ``lossbook`` loss ``loss(pred, target,
        reduction="none", **loss_kwargs)``, prediction first.
    target : array_like
        The sample :math:`y_1, \dots, y_N`, shape ``(N,)``; any dtype the loss
        accepts (integer class labels for :func:`~lossbook.zero_one`).
    candidates : array_like
        The constants to try, shape ``(M,)``, of the dtype the loss expects
        for its prediction.
    chunk : int, default 256
        Candidates evaluated per call of ``loss``; bounds the memory to
        ``chunk * N`` elements.
    **loss_kwargs
        Passed on to ``loss`` (e.g. ``quantile=0.9``).

    Returns
    -------
    best : numpy scalar
        The minimising candidate (the first one on ties).
    risk : numpy.ndarray
        Shape ``(M,)``: the empirical risk of every candidate.

    Raises
    ------
    ValueError
        If ``target`` or ``candidates`` is not a non-empty 1-D array, or
        ``chunk`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> import lossbook as lb
    >>> from lossbook.experiments.risk import best_constant
    >>> best, _ = best_constant(lb.mae, [1.0, 2.0, 9.0], np.linspace(0, 10, 101))
    >>> float(best)  # the median
    2.0
    """
    target = np.asarray(target)
    candidates = np.asarray(candidates)
    for name, arr in (("target", target), ("candidates", candidates)):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"`{name}` must be a non-empty 1-D array, got shape {arr.shape}"
            )
    is_int = isinstance(chunk, int | np.integer) and not isinstance(chunk, bool)
    if not is_int or chunk < 1:
        raise ValueError(f"`chunk` must be a positive integer, got {chunk!r}")
    risk = np.empty(len(candidates))
    for start in range(0, len(candidates), chunk):
        block = candidates[start : start + chunk]
        pred = np.repeat(block[:, None], len(target), axis=1)
        tgt = np.broadcast_to(target, pred.shape)
        values = loss(pred, tgt, reduction="none", **loss_kwargs)
        risk[start : start + len(block)] = np.asarray(values).mean(axis=1)
    return candidates[int(np.argmin(risk))], risk
