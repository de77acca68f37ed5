"""Learned noise: Gaussian likelihood fits of a line with a learned scale.

- :func:`heteroscedastic_line`: data whose noise grows linearly with ``x``.
- :func:`fit_gaussian_line`: maximum likelihood of :math:`y \\sim \\mathcal
  N(a + b x, \\sigma(x)^2)` with :math:`\\log \\sigma(x) = c + d x` (or a
  constant :math:`\\sigma`), minimising :func:`lossbook.gaussian_nll` with a
  per-element, learnable ``sigma`` tensor.

Deterministic, NumPy in and out (PyTorch only inside the fit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..likelihood import gaussian_nll

__all__ = ["GaussianLine", "fit_gaussian_line", "heteroscedastic_line"]


def heteroscedastic_line(
    n, *, slope=2.0, intercept=1.0, sigma0=0.1, sigma1=1.0, curvature=0.0, seed=0
):
    r"""Points around a line (or parabola) with noise that grows with ``x``.

    .. math::

        y_i = a + b x_i + k x_i^2 + \sigma(x_i)\, \varepsilon_i, \quad
        \sigma(x) = \sigma_0 + (\sigma_1 - \sigma_0)\, x, \quad
        \varepsilon_i \sim \mathcal N(0, 1),

    with :math:`x_i` uniform on [0, 1]. Every conditional quantile
    :math:`a + b x + k x^2 + \sigma(x) z_q` is then linear in :math:`x` when
    :math:`k = 0`, so linear quantile regression is well specified.

    Parameters
    ----------
    n : int
        Number of points.
    slope, intercept : float
        :math:`b` and :math:`a`.
    sigma0, sigma1 : float, default 0.1 and 1.0
        The noise level at :math:`x = 0` and :math:`x = 1` (both > 0).
    curvature : float, default 0.0
        :math:`k`; nonzero makes a straight line a misspecified mean.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    x, y : numpy.ndarray
        Shape ``(n,)``, float64, sorted by ``x``.
    sigma : numpy.ndarray
        The true noise level :math:`\sigma(x_i)`.

    Raises
    ------
    ValueError
        If ``n < 1`` or a noise level is not positive.

    Examples
    --------
    >>> from lossbook.experiments.noise import heteroscedastic_line
    >>> x, y, sigma = heteroscedastic_line(4, seed=1)
    >>> x.shape, bool(((0.1 <= sigma) & (sigma <= 1.0)).all())
    ((4,), True)
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not (sigma0 > 0 and sigma1 > 0):
        raise ValueError(
            f"sigma0 and sigma1 must be positive, got {sigma0!r} and {sigma1!r}"
        )
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    sigma = sigma0 + (sigma1 - sigma0) * x
    y = intercept + slope * x + curvature * x**2 + sigma * rng.standard_normal(n)
    return x, y, sigma


@dataclass(frozen=True)
class GaussianLine:
    r"""A fit of :func:`fit_gaussian_line`.

    Attributes
    ----------
    slope, intercept : float
        The mean :math:`\mu(x) = a + b x` (``intercept`` :math:`a`,
        ``slope`` :math:`b`).
    log_sigma : tuple of float
        :math:`(c, d)` with :math:`\log \sigma(x) = c + d x`; ``d`` is 0 for
        a constant scale.
    nll : float
        The mean negative log-likelihood at the fit.
    """

    slope: float
    intercept: float
    log_sigma: tuple
    nll: float

    def mean(self, x):
        """:math:`\\mu(x)`, NumPy in and out."""
        return self.intercept + self.slope * np.asarray(x, dtype=np.float64)

    def sigma(self, x):
        """:math:`\\sigma(x) = \\exp(c + d x)`, NumPy in and out."""
        c, d = self.log_sigma
        return np.exp(c + d * np.asarray(x, dtype=np.float64))


def fit_gaussian_line(x, y, *, scale="linear", max_iter=500):
    r"""Maximum-likelihood line with a learned (possibly input-dependent) noise.

    Minimises the mean of :func:`lossbook.gaussian_nll`

    .. math::

        \frac1N \sum_{i=1}^N \Big[\tfrac12 \log 2\pi + \log \sigma(x_i)
        + \frac{(y_i - a - b x_i)^2}{2 \sigma(x_i)^2}\Big],
        \qquad \log \sigma(x) = c + d x,

    over :math:`(a, b, c, d)` (over :math:`(a, b, c)` with :math:`d = 0` for
    ``scale="constant"``), by L-BFGS with autograd through the loss and its
    per-element ``sigma`` tensor.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(N,)``.
    scale : {"linear", "constant"}, default "linear"
        The model of :math:`\log \sigma`.
    max_iter : int, default 500
        Most L-BFGS iterations.

    Returns
    -------
    GaussianLine

    Raises
    ------
    ValueError
        If the inputs are malformed or ``scale`` is unknown.

    Notes
    -----
    At any fixed :math:`\sigma(\cdot)` the mean's part of the loss is a
    weighted least-squares problem with weights :math:`1/\sigma(x_i)^2`, so at
    the optimum :math:`(a, b)` is the weighted least-squares line for the
    fitted scale; with a constant :math:`\sigma` the weights are equal and
    the line is ordinary least squares, whatever :math:`\sigma` is. The fit
    starts from least squares and the log of its RMS residual.

    References
    ----------
    .. [1] D. A. Nix and A. S. Weigend, "Estimating the mean and variance of
       the target probability distribution", *Proc. IEEE ICNN* 1, 55-60, 1994.

    Examples
    --------
    >>> from lossbook.experiments.noise import fit_gaussian_line
    >>> fit = fit_gaussian_line([0.0, 1.0, 2.0, 3.0], [1.0, 2.9, 5.2, 7.0],
    ...                         scale="constant")
    >>> round(fit.slope, 2), round(fit.intercept, 2)
    (2.03, 0.98)
    """
    import torch

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 3:
        raise ValueError(
            f"`x` and `y` must be 1-D of the same shape with at least 3 points, "
            f"got {x.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("`x` and `y` must be finite")
    if scale not in ("linear", "constant"):
        raise ValueError(f"scale must be 'linear' or 'constant', got {scale!r}")
    slope, intercept = np.polyfit(x, y, 1)
    rms = float(np.sqrt(np.mean((y - slope * x - intercept) ** 2)))
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    mean_p = torch.tensor([intercept, slope], dtype=torch.float64, requires_grad=True)
    log_s = torch.tensor(
        [np.log(max(rms, 1e-12)), 0.0], dtype=torch.float64, requires_grad=True
    )
    learn_d = scale == "linear"

    def objective():
        d = log_s[1] if learn_d else log_s[1].detach() * 0.0
        sigma = torch.exp(log_s[0] + d * xt)  # one sigma per element
        return gaussian_nll(mean_p[0] + mean_p[1] * xt, yt, sigma=sigma)

    opt = torch.optim.LBFGS(
        [mean_p, log_s],
        max_iter=max_iter,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = objective()
        value.backward()
        return value

    opt.step(closure)
    with torch.no_grad():
        nll = float(objective())
    a, b = (float(v) for v in mean_p.detach())
    c = float(log_s[0].detach())
    d = float(log_s[1].detach()) if learn_d else 0.0
    return GaussianLine(slope=b, intercept=a, log_sigma=(c, d), nll=nll)
