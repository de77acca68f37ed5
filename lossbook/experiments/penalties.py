r"""Penalised least squares: lasso, ridge and elastic-net fits and their paths.

The objective, in the convention of :mod:`lossbook` (the data term is
:func:`~lossbook.regression.mse`, the penalty
:func:`~lossbook.weighting.elastic_net_penalty`), is

.. math::

    J(w) = \frac1N \lVert y - X w \rVert_2^2 + \lambda_1 \lVert w \rVert_1
    + \lambda_2 \lVert w \rVert_2^2 .

``l1 = 0`` is ridge regression, ``l2 = 0`` the lasso. There is no intercept:
centre ``X`` and ``y`` first (:func:`correlated_regression` returns centred
data). scikit-learn minimises :math:`\frac{1}{2N}\lVert y - Xw\rVert^2 +
\alpha\rho\lVert w\rVert_1 + \frac{\alpha(1-\rho)}{2}\lVert w\rVert^2`
(:math:`\rho` = ``l1_ratio``), which is :math:`J/2` when
:math:`\lambda_1 = 2\alpha\rho` and :math:`\lambda_2 = \alpha(1-\rho)`; see
:func:`to_sklearn` and :func:`from_sklearn`.

Solvers: :func:`coordinate_descent` (cyclic, exact soft-thresholding
updates, the method of glmnet and scikit-learn), :func:`proximal_gradient`
(ISTA) and, for contrast, :func:`subgradient_descent` (plain gradient descent
with autograd through the library's penalty, which never lands on exact
zeros). :func:`coordinate_descent_path` follows a sequence of penalties with
warm starts. Everything is NumPy and meant for the book's small problems.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from ..regression import mse
from ..weighting import elastic_net_penalty

__all__ = [
    "coordinate_descent",
    "coordinate_descent_path",
    "correlated_regression",
    "enet_objective",
    "from_sklearn",
    "kkt_violation",
    "l1_max",
    "proximal_gradient",
    "soft_threshold",
    "subgradient_descent",
    "to_sklearn",
]


# --- data ---


def correlated_regression(
    n=200,
    coef=(2.0, 2.0, 0.0, -1.5, 0.0, 0.0, 1.0, 0.0, 0.0),
    *,
    block_size=3,
    rho=0.9,
    noise=1.0,
    seed=0,
):
    r"""A linear model with blocks of correlated, standardised features.

    The features come in consecutive blocks of ``block_size``; within a block
    every pair has correlation ``rho``, across blocks none. Each column of
    ``X`` is then centred and scaled to mean square 1 (so
    :math:`\frac1N x_j^\top x_j = 1`), and

    .. math::

        y = X w^\star + \sigma \varepsilon, \quad \varepsilon \sim
        \mathcal N(0, I),

    is centred too, so no intercept is needed.

    Parameters
    ----------
    n : int, default 200
        Number of samples.
    coef : sequence of float
        The true coefficients :math:`w^\star`; their number is the number of
        features.
    block_size : int, default 3
        Features per correlated block (the last block may be shorter).
    rho : float, default 0.9
        Correlation within a block, in [0, 1).
    noise : float, default 1.0
        Noise standard deviation :math:`\sigma \ge 0`.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    X : numpy.ndarray
        Shape ``(n, p)``, centred columns of mean square 1.
    y : numpy.ndarray
        Shape ``(n,)``, centred.
    coef : numpy.ndarray
        Shape ``(p,)``, the true :math:`w^\star`.

    Raises
    ------
    ValueError
        If ``n < 2``, ``coef`` is empty, ``block_size < 1``, ``rho`` is not in
        [0, 1) or ``noise`` is negative.

    Examples
    --------
    >>> from lossbook.experiments.penalties import correlated_regression
    >>> X, y, coef = correlated_regression(50, [1.0, 0.0, 2.0], block_size=2)
    >>> X.shape, y.shape, (X**2).mean(axis=0).round(12).tolist()
    ((50, 3), (50,), [1.0, 1.0, 1.0])
    """
    coef = np.asarray(coef, dtype=np.float64)
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n!r}")
    if coef.ndim != 1 or coef.size == 0:
        raise ValueError(f"coef must be a non-empty 1-D sequence, got {coef!r}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho must be in [0, 1), got {rho!r}")
    noise = _checks.hyper("noise", noise, "nonnegative")
    rng = np.random.default_rng(seed)
    p = coef.size
    block = np.arange(p) // block_size
    # equicorrelated blocks: a shared factor plus independent noise per feature
    shared = rng.standard_normal((n, block[-1] + 1))[:, block]
    X = np.sqrt(rho) * shared + np.sqrt(1.0 - rho) * rng.standard_normal((n, p))
    X = X - X.mean(axis=0)
    X = X / np.sqrt((X**2).mean(axis=0))
    y = X @ coef + noise * rng.standard_normal(n)
    return X, y - y.mean(), coef


# --- conventions ---


def _strengths(**named):
    """Penalty strengths as float64 arrays (numbers stay 0-d), checked finite."""
    out = []
    for name, value in named.items():
        v = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        out.append(v)
    return out


def _plain(v):
    return float(v) if v.ndim == 0 else v


def to_sklearn(l1, l2):
    r"""scikit-learn's ``(alpha, l1_ratio)`` for lossbook's ``(l1, l2)``.

    scikit-learn's ``ElasticNet`` objective is half of :func:`enet_objective`
    when :math:`\alpha = \lambda_1/2 + \lambda_2` and
    :math:`\rho = (\lambda_1/2) / \alpha`; ``Lasso(alpha)`` is ``l1 = 2
    alpha``.

    Parameters
    ----------
    l1, l2 : float or array_like
        :math:`\lambda_1, \lambda_2 \ge 0`, not both 0 (arrays broadcast).

    Returns
    -------
    alpha, l1_ratio : float or numpy.ndarray

    Raises
    ------
    ValueError
        If a strength is negative or both are 0.

    Examples
    --------
    >>> from lossbook.experiments.penalties import to_sklearn
    >>> to_sklearn(0.2, 0.0), to_sklearn(0.1, 0.05)
    ((0.1, 1.0), (0.1, 0.5))
    """
    l1, l2 = _strengths(l1=l1, l2=l2)
    alpha = 0.5 * l1 + l2
    if np.any(alpha == 0.0):
        raise ValueError("l1 and l2 are both 0: scikit-learn needs alpha > 0")
    return _plain(alpha), _plain(0.5 * l1 / alpha)


def from_sklearn(alpha, l1_ratio=1.0):
    r"""lossbook's ``(l1, l2)`` for scikit-learn's ``(alpha, l1_ratio)``.

    The inverse of :func:`to_sklearn`: :math:`\lambda_1 = 2\alpha\rho`,
    :math:`\lambda_2 = \alpha(1-\rho)`.

    Parameters
    ----------
    alpha : float or array_like
        scikit-learn's ``alpha`` (> 0).
    l1_ratio : float or array_like, default 1.0
        scikit-learn's ``l1_ratio`` in [0, 1] (1 is the lasso).

    Returns
    -------
    l1, l2 : float or numpy.ndarray

    Raises
    ------
    ValueError
        If ``alpha`` is not positive or ``l1_ratio`` is not in [0, 1].

    Examples
    --------
    >>> from lossbook.experiments.penalties import from_sklearn
    >>> from_sklearn(0.1, 0.5)
    (0.1, 0.05)
    """
    alpha, ratio = _strengths(alpha=alpha, l1_ratio=l1_ratio)
    if np.any(alpha == 0.0):
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    if np.any(ratio > 1.0):
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
    return _plain(2.0 * alpha * ratio), _plain(alpha * (1.0 - ratio))


# --- objective and optimality ---


def _problem(X, y, l1, l2):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, p), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}"
        )
    l1 = _checks.hyper("l1", l1, "nonnegative")
    l2 = _checks.hyper("l2", l2, "nonnegative")
    return X, y, l1, l2


def _start(w0, p):
    if w0 is None:
        return np.zeros(p)
    w = np.array(w0, dtype=np.float64)
    if w.shape != (p,):
        raise ValueError(f"w0 must have shape ({p},), got {w.shape}")
    return w


def enet_objective(X, y, w, *, l1, l2):
    r"""The objective :math:`J(w)` with :func:`~lossbook.regression.mse` and
    :func:`~lossbook.weighting.elastic_net_penalty`.

    Parameters
    ----------
    X : array_like or torch.Tensor
        Shape ``(n, p)``.
    y : array_like or torch.Tensor
        Shape ``(n,)``.
    w : array_like or torch.Tensor
        Shape ``(p,)``; a torch tensor keeps its gradient.
    l1, l2 : float
        Penalty strengths.

    Returns
    -------
    value : numpy.ndarray or torch.Tensor
        0-d.

    Examples
    --------
    >>> from lossbook.experiments.penalties import enet_objective
    >>> float(enet_objective([[1.0], [-1.0]], [1.0, -1.0], [0.5], l1=0.2, l2=0.4))
    0.45
    """
    if not hasattr(w, "detach"):  # NumPy: lists become float64 arrays
        X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    return mse(X @ w, y) + elastic_net_penalty(w, l1=l1, l2=l2)


def _smooth_gradient(X, y, w, l2):
    # gradient of (1/N) ||y - X w||^2 + l2 ||w||^2
    n = X.shape[0]
    return -2.0 / n * (X.T @ (y - X @ w)) + 2.0 * l2 * w


def kkt_violation(X, y, w, *, l1, l2):
    r"""How far ``w`` is from satisfying the optimality conditions of :math:`J`.

    With :math:`g = \nabla_w[\frac1N\lVert y - Xw\rVert^2 +
    \lambda_2\lVert w\rVert^2]`, ``w`` minimises :math:`J` exactly when
    :math:`0 \in g_j + \lambda_1 \partial|w_j|` for every :math:`j`:
    :math:`g_j = -\lambda_1 \operatorname{sign} w_j` where :math:`w_j \ne 0`
    and :math:`|g_j| \le \lambda_1` where :math:`w_j = 0`.

    Parameters
    ----------
    X, y : array_like
        Shapes ``(n, p)`` and ``(n,)``.
    w : array_like
        Shape ``(p,)``.
    l1, l2 : float
        Penalty strengths.

    Returns
    -------
    violation : float
        :math:`\max_j` of the distance from 0 to the subdifferential of
        :math:`J` in coordinate :math:`j`; 0 at the minimiser.

    Examples
    --------
    >>> from lossbook.experiments.penalties import kkt_violation
    >>> X, y = [[1.0], [-1.0]], [1.0, -1.0]
    >>> round(kkt_violation(X, y, [0.9], l1=0.2, l2=0.0), 12)  # the minimiser
    0.0
    >>> kkt_violation(X, y, [0.0], l1=0.2, l2=0.0)
    1.8
    """
    X, y, l1, l2 = _problem(X, y, l1, l2)
    w = _start(w, X.shape[1])
    g = _smooth_gradient(X, y, w, l2)
    off_zero = np.abs(g + l1 * np.sign(w))
    at_zero = np.maximum(np.abs(g) - l1, 0.0)
    return float(np.max(np.where(w != 0.0, off_zero, at_zero)))


def l1_max(X, y):
    r"""The smallest :math:`\lambda_1` at which :math:`w = 0` minimises :math:`J`.

    At :math:`w = 0` the smooth gradient is :math:`-\frac2N X^\top y`, so
    :math:`w = 0` is optimal for every :math:`\lambda_2` exactly when
    :math:`\lambda_1 \ge \frac2N \lVert X^\top y\rVert_\infty`.

    Parameters
    ----------
    X, y : array_like
        Shapes ``(n, p)`` and ``(n,)``.

    Returns
    -------
    float

    Examples
    --------
    >>> from lossbook.experiments.penalties import l1_max
    >>> l1_max([[1.0, 0.0], [-1.0, 1.0]], [1.0, -1.0])
    2.0
    """
    X, y, _, _ = _problem(X, y, 0.0, 0.0)
    return float(2.0 / X.shape[0] * np.max(np.abs(X.T @ y)))


# --- solvers ---


def soft_threshold(z, t):
    r"""The soft-thresholding operator, the proximal map of :math:`t|\cdot|`.

    .. math::

        S(z, t) = \operatorname{sign}(z) \max(|z| - t, 0)
        = \arg\min_x \tfrac12 (x - z)^2 + t |x| .

    Parameters
    ----------
    z : array_like
        Points.
    t : float
        Threshold :math:`t \ge 0`.

    Returns
    -------
    numpy.ndarray
        Same shape as ``z``; exactly 0 where :math:`|z| \le t`.

    Examples
    --------
    >>> from lossbook.experiments.penalties import soft_threshold
    >>> soft_threshold([-2.0, -0.5, 0.3, 1.5], 1.0)
    array([-1. , -0. ,  0. ,  0.5])
    """
    t = _checks.hyper("t", t, "nonnegative")
    z = np.asarray(z, dtype=np.float64)
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def _soft(z, t):
    # scalar soft-thresholding for the inner loop (no array overhead)
    return math.copysign(max(abs(z) - t, 0.0), z)


def coordinate_descent(X, y, *, l1, l2, w0=None, tol=1e-10, max_sweeps=100_000):
    r"""Minimise :math:`J` by cyclic coordinate descent.

    Each coordinate is set to the exact minimiser of :math:`J` in that
    coordinate with the others fixed,

    .. math::

        w_j \leftarrow \frac{S(\rho_j, \lambda_1/2)}{a_j + \lambda_2},
        \quad a_j = \tfrac1N x_j^\top x_j, \quad
        \rho_j = \tfrac1N x_j^\top (y - X w + x_j w_j),

    using the Gram matrix :math:`X^\top X / N` (cheap for few features).

    Parameters
    ----------
    X, y : array_like
        Shapes ``(n, p)`` and ``(n,)``; centre them (no intercept is fitted).
    l1, l2 : float
        Penalty strengths :math:`\lambda_1, \lambda_2 \ge 0`.
    w0 : array_like, optional
        Starting point (a warm start); zeros by default.
    tol : float, default 1e-10
        Stop after a sweep in which no coordinate moved by more than ``tol``.
    max_sweeps : int, default 100000
        Upper bound on the number of sweeps over all coordinates.

    Returns
    -------
    w : numpy.ndarray
        Shape ``(p,)``, with exact zeros.
    n_sweeps : int
        Sweeps used.

    Raises
    ------
    ValueError
        If the shapes do not match or a strength is negative.

    References
    ----------
    .. [1] J. Friedman, T. Hastie and R. Tibshirani, "Regularization paths
       for generalized linear models via coordinate descent", *Journal of
       Statistical Software* 33(1), 1-22, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.penalties import coordinate_descent
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> w, _ = coordinate_descent(X, [2.0, -2.0, 0.2, -0.2], l1=0.4, l2=0.0)
    >>> w.tolist()  # least squares (2, 0.2), soft-thresholded at (l1/2) / a_j
    [1.6, 0.0]
    """
    X, y, l1, l2 = _problem(X, y, l1, l2)
    n, p = X.shape
    w = _start(w0, p)
    gram = X.T @ X / n
    xty = X.T @ y / n
    gw = gram @ w  # kept equal to gram @ w through the sweeps
    diag = np.diag(gram)
    denom = diag + l2
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        biggest = 0.0
        for j in range(p):
            old = w[j]
            rho = xty[j] - gw[j] + diag[j] * old
            # soft-thresholding solves the 1-D problem exactly, zero included
            new = 0.0 if denom[j] == 0.0 else _soft(rho, 0.5 * l1) / denom[j]
            if new != old:
                gw += gram[:, j] * (new - old)
                w[j] = new
                biggest = max(biggest, abs(new - old))
        if biggest <= tol:
            break
    return w, sweeps


def coordinate_descent_path(X, y, l1, l2, *, tol=1e-10, max_sweeps=100_000):
    r"""Solutions of :math:`J` along a sequence of penalties, with warm starts.

    Each fit starts from the previous solution, which is why paths are
    computed from strong to weak penalties: neighbouring solutions are close
    and each fit needs few sweeps.

    Parameters
    ----------
    X, y : array_like
        Shapes ``(n, p)`` and ``(n,)``, centred.
    l1, l2 : float or array_like
        Penalty strengths, broadcast to one common length ``m``.
    tol, max_sweeps
        As in :func:`coordinate_descent`.

    Returns
    -------
    coefs : numpy.ndarray
        Shape ``(m, p)``, one solution per row.
    n_sweeps : numpy.ndarray
        Shape ``(m,)``, sweeps used by each fit.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.penalties import coordinate_descent_path
    >>> X = np.array([[1.0], [-1.0]])
    >>> coefs, _ = coordinate_descent_path(X, [1.0, -1.0], [2.0, 1.0, 0.0], 0.0)
    >>> coefs.ravel().tolist()
    [0.0, 0.5, 1.0]
    """
    l1s, l2s = np.broadcast_arrays(
        np.atleast_1d(np.asarray(l1, dtype=np.float64)),
        np.atleast_1d(np.asarray(l2, dtype=np.float64)),
    )
    if l1s.ndim != 1:
        raise ValueError(f"l1 and l2 must be numbers or 1-D, got shape {l1s.shape}")
    w = None
    coefs, sweeps = [], []
    for a, b in zip(l1s, l2s, strict=True):
        w, k = coordinate_descent(
            X, y, l1=float(a), l2=float(b), w0=w, tol=tol, max_sweeps=max_sweeps
        )
        coefs.append(w.copy())
        sweeps.append(k)
    return np.array(coefs), np.array(sweeps)


def proximal_gradient(X, y, *, l1, l2, steps, w0=None, step_size=None):
    r"""Minimise :math:`J` by proximal gradient descent (ISTA).

    A gradient step on the smooth part, then the proximal map of the L1 part,

    .. math::

        w \leftarrow S\bigl(w - \eta\, \nabla_w[\tfrac1N\lVert y -
        Xw\rVert^2 + \lambda_2 \lVert w\rVert^2],\; \eta \lambda_1\bigr),

    with :math:`\eta = 1/L` by default, :math:`L = 2\lambda_{\max}(X^\top
    X/N) + 2\lambda_2` the Lipschitz constant of that gradient.

    Parameters
    ----------
    X, y : array_like
        Shapes ``(n, p)`` and ``(n,)``, centred.
    l1, l2 : float
        Penalty strengths.
    steps : int
        Number of iterations.
    w0 : array_like, optional
        Starting point; zeros by default.
    step_size : float, optional
        :math:`\eta`; ``1/L`` by default (any :math:`\eta \le 1/L` converges).

    Returns
    -------
    path : numpy.ndarray
        Shape ``(steps + 1, p)``: the start and every iterate.

    Raises
    ------
    ValueError
        If the shapes do not match, a strength is negative or ``step_size``
        is not positive.

    References
    ----------
    .. [1] N. Parikh and S. Boyd, "Proximal algorithms", *Foundations and
       Trends in Optimization* 1(3), 127-239, 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.penalties import proximal_gradient
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> path = proximal_gradient(X, [2.0, -2.0, 0.2, -0.2], l1=0.4, l2=0.0, steps=50)
    >>> path[-1].round(10).tolist()
    [1.6, 0.0]
    """
    X, y, l1, l2 = _problem(X, y, l1, l2)
    n = X.shape[0]
    if step_size is None:
        lipschitz = 2.0 * np.linalg.eigvalsh(X.T @ X / n)[-1] + 2.0 * l2
        step_size = 1.0 / lipschitz
    step_size = _checks.hyper("step_size", step_size, "positive")
    w = _start(w0, X.shape[1])
    path = [w.copy()]
    for _ in range(steps):
        w = soft_threshold(
            w - step_size * _smooth_gradient(X, y, w, l2), step_size * l1
        )
        path.append(w)
    return np.array(path)


def subgradient_descent(X, y, *, l1, l2, steps, lr, w0=None):
    r"""Minimise :math:`J` by plain gradient descent with autograd.

    The gradient is what ``torch.autograd`` returns for
    :func:`enet_objective`, i.e. :math:`\lambda_1 \operatorname{sign}(w)`
    for the L1 part (0 at :math:`w_j = 0`): a subgradient. This is what a
    training loop that adds :func:`~lossbook.weighting.l1_penalty` to its
    loss does. The iterates hover around zero but do not land on it.

    Parameters
    ----------
    X, y : array_like
        Shapes ``(n, p)`` and ``(n,)``, centred.
    l1, l2 : float
        Penalty strengths.
    steps : int
        Number of iterations.
    lr : float
        Step size (> 0).
    w0 : array_like, optional
        Starting point; zeros by default.

    Returns
    -------
    path : numpy.ndarray
        Shape ``(steps + 1, p)``: the start and every iterate.

    Raises
    ------
    ValueError
        If the shapes do not match, a strength is negative or ``lr`` is not
        positive.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.penalties import subgradient_descent
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> path = subgradient_descent(X, [2.0, -2.0, 0.2, -0.2], l1=0.4, l2=0.0,
    ...                            steps=200, lr=0.3)
    >>> bool(path[-1][1] == 0.0), bool(abs(path[-1][1]) < 0.2)
    (False, True)
    """
    import torch

    X, y, l1, l2 = _problem(X, y, l1, l2)
    lr = _checks.hyper("lr", lr, "positive")
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    w = torch.tensor(_start(w0, X.shape[1]), requires_grad=True)
    path = np.empty((steps + 1, X.shape[1]))
    path[0] = w.detach().numpy()
    for step in range(steps):
        (g,) = torch.autograd.grad(enet_objective(Xt, yt, w, l1=l1, l2=l2), w)
        with torch.no_grad():
            w -= lr * g
        path[step + 1] = w.detach().numpy()
    return path
