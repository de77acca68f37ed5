"""Robust line fits for the regression chapter's experiments.

- :func:`mad_scale`: a robust estimate of the noise level, the scaled median
  absolute deviation.
- :func:`theil_sen_line`: the median of the pairwise slopes, a fit that one
  far-away point cannot move.
- :func:`fit_line_exact`: the exact minimiser of a loss that is convex and
  piecewise linear in the residual (:func:`~lossbook.regression.mae`,
  :func:`~lossbook.regression.pinball`), by enumerating the lines through two
  data points.
- :func:`irls_line`: M-estimation of a line by iteratively reweighted least
  squares, for Huber's loss and two non-convex, redescending losses (Tukey's
  biweight and the Cauchy loss) that are not part of the public loss API.
- :func:`rho`, :func:`psi`, :func:`weight`: those three losses, their
  derivatives and their IRLS weights, per element.

Everything runs on NumPy arrays and is deterministic. The helpers are sized for
the book's toy data sets (a few hundred points), not for production use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import grad, regression

__all__ = [
    "CAUCHY_C",
    "HUBER_C",
    "MAD_TO_SIGMA",
    "TUKEY_C",
    "RobustLine",
    "fit_line_exact",
    "irls_line",
    "mad_scale",
    "psi",
    "rho",
    "theil_sen_line",
    "weight",
]

# 1 / Phi^{-1}(3/4): makes the MAD of Gaussian data estimate its sigma
MAD_TO_SIGMA = 1.482602218505602
# tuning constants with 95% asymptotic efficiency at the Gaussian
HUBER_C = 1.345
TUKEY_C = 4.685
CAUCHY_C = 2.385

_LOSSES = ("huber", "tukey", "cauchy")
_DEFAULT_C = {"huber": HUBER_C, "tukey": TUKEY_C, "cauchy": CAUCHY_C}


def _vector(v, name):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D array, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"`{name}` must be finite, found a NaN or an infinity")
    return v


def _xy(x, y):
    x, y = _vector(x, "x"), _vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape, got {x.shape} and {y.shape}"
        )
    if np.ptp(x) == 0:
        raise ValueError("`x` must hold at least two distinct values to fit a line")
    return x, y


def _loss_and_c(loss, c):
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    c = _DEFAULT_C[loss] if c is None else c
    if isinstance(c, bool) or not isinstance(c, int | float) or not c > 0:
        raise ValueError(f"c must be a positive number, got {c!r}")
    return float(c)


# --- scale ---


def mad_scale(residuals):
    r"""The normalised median absolute deviation, a robust noise level.

    .. math::

        \hat\sigma = 1.4826\, \operatorname{median}_i
        \big|r_i - \operatorname{median}_j r_j\big|

    Parameters
    ----------
    residuals : array_like
        Residuals (or any sample), shape ``(N,)``.

    Returns
    -------
    float
        :math:`\hat\sigma`; for Gaussian data it estimates the standard
        deviation, and up to half the sample may be arbitrary outliers
        before it breaks down.

    Raises
    ------
    ValueError
        If ``residuals`` is not a non-empty, finite 1-D array.

    References
    ----------
    .. [1] F. R. Hampel, "The influence curve and its role in robust
       estimation", *JASA* 69(346), 383-393, 1974.

    Examples
    --------
    >>> from lossbook.experiments.robust import mad_scale
    >>> round(mad_scale([-1.0, 0.0, 1.0, 100.0]), 4)
    1.4826
    """
    r = _vector(residuals, "residuals")
    return MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r))))


# --- fits that need no optimiser ---


def _pairs(x, y):
    i, j = np.triu_indices(x.size, k=1)
    keep = x[j] != x[i]
    i, j = i[keep], j[keep]
    slopes = (y[j] - y[i]) / (x[j] - x[i])
    return slopes, y[i] - slopes * x[i]


def theil_sen_line(x, y):
    r"""The Theil-Sen line: the median of the slopes between pairs of points.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(N,)``, with at least two distinct ``x``.

    Returns
    -------
    slope, intercept : float
        The median pairwise slope :math:`w`, and the median of
        :math:`y_i - w x_i`.

    Raises
    ------
    ValueError
        If the inputs are malformed or ``x`` is constant.

    Notes
    -----
    Its breakdown point is :math:`1 - 1/\sqrt 2 \approx 29\%`: corrupting
    fewer than that fraction of the points, wherever they are (large
    :math:`x` included), cannot move the slope arbitrarily far.

    References
    ----------
    .. [1] P. K. Sen, "Estimates of the regression coefficient based on
       Kendall's tau", *JASA* 63(324), 1379-1389, 1968.

    Examples
    --------
    >>> from lossbook.experiments.robust import theil_sen_line
    >>> theil_sen_line([0.0, 1.0, 2.0, 3.0, 10.0], [1.0, 3.0, 5.0, 7.0, -50.0])
    (2.0, 1.0)
    """
    x, y = _xy(x, y)
    slopes, _ = _pairs(x, y)
    w = float(np.median(slopes))
    return w, float(np.median(y - w * x))


def fit_line_exact(x, y, loss, *, chunk=4096, **loss_kwargs):
    r"""Exactly minimise a piecewise-linear convex loss of a line's residuals.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(N,)``, with at least two distinct ``x``.
    loss : callable
        :func:`~lossbook.regression.mae` or
        :func:`~lossbook.regression.pinball` (any loss convex and piecewise
        linear in the residual), called as ``loss(pred, target,
        reduction="none", **loss_kwargs)``.
    chunk : int, default 4096
        Candidate lines evaluated at once (memory: ``chunk * N`` floats).
    **loss_kwargs
        Passed on to ``loss`` (e.g. ``quantile=0.9``).

    Returns
    -------
    slope, intercept : float
        A minimiser of the mean loss of :math:`y_i - (w x_i + b)`.

    Raises
    ------
    ValueError
        If the inputs are malformed or ``x`` is constant.

    Notes
    -----
    Minimising such a loss over :math:`(w, b)` is a linear program; an
    optimum sits at a vertex of its feasible set, where two residuals are
    zero: a line through two data points. Trying all :math:`O(N^2)` of them,
    at :math:`O(N)` each, finds it exactly (ties go to the first pair in
    index order). This is how Koenker and Bassett characterise regression
    quantiles [1]_.

    References
    ----------
    .. [1] R. Koenker and G. Bassett, "Regression quantiles", *Econometrica*
       46(1), 33-50, 1978.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook.experiments.robust import fit_line_exact
    >>> fit_line_exact([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 30.0], lb.mae)
    (1.0, 0.0)
    """
    x, y = _xy(x, y)
    slopes, intercepts = _pairs(x, y)
    best, best_k = math.inf, -1
    for start in range(0, slopes.size, chunk):
        w = slopes[start : start + chunk, None]
        b = intercepts[start : start + chunk, None]
        pred = w * x + b
        values = loss(
            pred, np.broadcast_to(y, pred.shape), reduction="none", **loss_kwargs
        )
        totals = np.mean(values, axis=1)
        k = int(np.argmin(totals))
        if totals[k] < best:
            best, best_k = float(totals[k]), start + k
    return float(slopes[best_k]), float(intercepts[best_k])


# --- M-estimation by iteratively reweighted least squares ---


def rho(loss, u, *, c=None):
    r"""The robust loss :math:`\rho(u)` of a standardised residual :math:`u`.

    .. math::

        \rho_{\text{huber}}(u) = \begin{cases} u^2/2 & |u| \le c \\
        c\,(|u| - c/2) & |u| > c \end{cases}, \qquad
        \rho_{\text{cauchy}}(u) = \frac{c^2}{2} \log\!\Big(1 + \frac{u^2}{c^2}\Big),

        \rho_{\text{tukey}}(u) = \frac{c^2}{6} \begin{cases}
        1 - \big(1 - u^2/c^2\big)^3 & |u| \le c \\ 1 & |u| > c \end{cases}

    Parameters
    ----------
    loss : {"huber", "tukey", "cauchy"}
        Which loss. Huber's is convex (it is :func:`lossbook.huber` with
        ``delta=c``); the other two are not, and level off.
    u : array_like
        Standardised residuals :math:`u = r / s`.
    c : float, optional
        Tuning constant; the default gives 95% efficiency at the Gaussian
        (1.345, 4.685, 2.385).

    Returns
    -------
    numpy.ndarray
        :math:`\rho(u)`, the shape of ``u``. All three behave like
        :math:`u^2/2` near 0.

    Raises
    ------
    ValueError
        If ``loss`` is unknown or ``c`` is not positive.

    Examples
    --------
    >>> from lossbook.experiments.robust import rho
    >>> rho("tukey", [0.0, 10.0], c=3.0).tolist()
    [0.0, 1.5]
    """
    c = _loss_and_c(loss, c)
    u = np.asarray(u, dtype=np.float64)
    if loss == "huber":
        return regression.huber(u, np.zeros_like(u), delta=c, reduction="none")
    if loss == "cauchy":
        return 0.5 * c * c * np.log1p((u / c) ** 2)
    inside = np.clip(1.0 - (u / c) ** 2, 0.0, None)  # 0 beyond c: rho is flat
    return c * c / 6.0 * (1.0 - inside**3)


def psi(loss, u, *, c=None):
    r"""The influence :math:`\psi(u) = \rho'(u)` of a standardised residual.

    Huber's :math:`\psi` is :math:`\operatorname{clip}(u, -c, c)`: bounded
    but never returning to zero. Tukey's :math:`u (1 - u^2/c^2)^2` is zero
    beyond :math:`c` and Cauchy's :math:`u / (1 + u^2/c^2)` decays like
    :math:`c^2/u`: both *redescend*, so a gross outlier stops pulling.

    Parameters
    ----------
    loss : {"huber", "tukey", "cauchy"}
    u : array_like
        Standardised residuals.
    c : float, optional
        Tuning constant (defaults as in :func:`rho`).

    Returns
    -------
    numpy.ndarray
        :math:`\psi(u)`, the shape of ``u``.

    Raises
    ------
    ValueError
        If ``loss`` is unknown or ``c`` is not positive.

    Examples
    --------
    >>> from lossbook.experiments.robust import psi
    >>> psi("huber", [0.5, 5.0], c=1.0).tolist()
    [0.5, 1.0]
    """
    c = _loss_and_c(loss, c)
    u = np.asarray(u, dtype=np.float64)
    if loss == "huber":
        return grad.huber(u, np.zeros_like(u), delta=c, reduction="none")
    return u * weight(loss, u, c=c)


def weight(loss, u, *, c=None):
    r"""The IRLS weight :math:`w(u) = \psi(u) / u` (with :math:`w(0) = 1`).

    Parameters
    ----------
    loss : {"huber", "tukey", "cauchy"}
    u : array_like
        Standardised residuals.
    c : float, optional
        Tuning constant (defaults as in :func:`rho`).

    Returns
    -------
    numpy.ndarray
        Weights in [0, 1], the shape of ``u``.

    Raises
    ------
    ValueError
        If ``loss`` is unknown or ``c`` is not positive.

    Examples
    --------
    >>> from lossbook.experiments.robust import weight
    >>> weight("tukey", [0.0, 1.0, 5.0], c=2.0).tolist()
    [1.0, 0.5625, 0.0]
    """
    c = _loss_and_c(loss, c)
    u = np.asarray(u, dtype=np.float64)
    if loss == "huber":
        # min(1, c/|u|) without dividing by zero
        return c / np.maximum(np.abs(u), c)
    if loss == "cauchy":
        return 1.0 / (1.0 + (u / c) ** 2)
    return np.clip(1.0 - (u / c) ** 2, 0.0, None) ** 2


@dataclass(frozen=True)
class RobustLine:
    """A line fitted by :func:`irls_line`.

    Attributes
    ----------
    slope, intercept : float
        The fitted line :math:`w x + b`.
    scale : float
        The residual scale :math:`s` the residuals were divided by.
    weights : numpy.ndarray
        Final IRLS weights :math:`w(r_i / s)`, shape ``(N,)``; 0 means the
        point is ignored.
    n_iter : int
        Iterations taken.
    converged : bool
        Whether the parameters changed by less than ``tol`` at the end.
    """

    slope: float
    intercept: float
    scale: float
    weights: np.ndarray
    n_iter: int
    converged: bool


def irls_line(x, y, *, loss="tukey", c=None, init, scale=None, max_iter=200, tol=1e-12):
    r"""M-estimate of a line by iteratively reweighted least squares (IRLS).

    Minimises :math:`\sum_i \rho\big((y_i - w x_i - b)/s\big)` (see
    :func:`rho`) over :math:`(w, b)` with the scale :math:`s` held fixed.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(N,)``.
    loss : {"tukey", "cauchy", "huber"}, default "tukey"
        The robust loss.
    c : float, optional
        Tuning constant (defaults as in :func:`rho`).
    init : tuple of float
        Starting ``(slope, intercept)``. For a redescending loss the result
        depends on it: IRLS finds the local minimum near the start, so start
        from a fit that outliers cannot break (:func:`theil_sen_line`).
    scale : float, optional
        The residual scale :math:`s`; by default :func:`mad_scale` of the
        residuals of ``init``.
    max_iter : int, default 200
        Most iterations.
    tol : float, default 1e-12
        Stop when no parameter changes by more than ``tol`` times
        ``1 + |parameter|``.

    Returns
    -------
    RobustLine

    Raises
    ------
    ValueError
        If the inputs are malformed, ``loss`` is unknown, ``c`` or ``scale``
        is not positive, or fewer than two distinct ``x`` keep a positive
        weight.

    Notes
    -----
    Setting the gradient of the objective to zero gives
    :math:`\sum_i \psi(u_i) (x_i, 1) = 0`, that is
    :math:`\sum_i w(u_i)\, u_i\, (x_i, 1) = 0`: the normal equations of
    weighted least squares with weights :math:`w(u_i) = \psi(u_i)/u_i`.
    IRLS alternates between computing the weights at the current line and
    solving that weighted least-squares problem [1]_. For Huber's convex loss
    it converges to the global minimum; for Tukey's and Cauchy's
    non-convex losses the objective still decreases at every step (their
    :math:`\rho(\sqrt v)` is concave in :math:`v`), to a stationary point
    near the start. An MM-estimate is exactly this, started from a
    high-breakdown fit with a high-breakdown scale [2]_.

    References
    ----------
    .. [1] P. W. Holland and R. E. Welsch, "Robust regression using
       iteratively reweighted least-squares", *Communications in Statistics
       - Theory and Methods* 6(9), 813-827, 1977.
    .. [2] V. J. Yohai, "High breakdown-point and high efficiency robust
       estimates for regression", *Annals of Statistics* 15(2), 642-656,
       1987.

    Examples
    --------
    >>> from lossbook.experiments.robust import irls_line
    >>> x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    >>> y = [0.1, 0.9, 2.1, 2.9, 4.1, 40.0]
    >>> fit = irls_line(x, y, loss="tukey", init=(1.0, 0.0))
    >>> round(fit.slope, 3), float(fit.weights[-1])
    (1.0, 0.0)
    """
    x, y = _xy(x, y)
    c = _loss_and_c(loss, c)
    w, b = (float(v) for v in init)
    if scale is None:
        scale = mad_scale(y - (w * x + b))
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    scale = float(scale)
    design = np.column_stack([x, np.ones_like(x)])
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (reported in the result)
        wts = weight(loss, (y - (w * x + b)) / scale, c=c)
        if np.unique(x[wts > 0]).size < 2:
            raise ValueError(
                "fewer than two distinct x keep a positive weight; start from a "
                "better `init` or use a larger `c` or `scale`"
            )
        # weighted least squares: solve (X^T W X) beta = X^T W y
        sw = np.sqrt(wts)
        solution = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
        w_new, b_new = solution[0]
        step = max(abs(w_new - w) / (1 + abs(w)), abs(b_new - b) / (1 + abs(b)))
        w, b = float(w_new), float(b_new)
        if step <= tol:
            converged = True
            break
    final = weight(loss, (y - (w * x + b)) / scale, c=c)
    return RobustLine(w, b, scale, final, n_iter, converged)
