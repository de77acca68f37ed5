r"""Learned noise scales: a line fitted by the Gaussian NLL with a learned sigma.

With the noise scale fixed, the Gaussian negative log-likelihood is the squared
error up to constants. Learning the scale changes that: one global
:math:`\sigma` leaves the fitted line unchanged and only reports the noise
level, while an input-dependent :math:`\sigma(x)` weights every residual by
:math:`1/\sigma(x)^2` and so moves the line. The helpers here give the book's
experiment its data (:func:`heteroscedastic_line`) and its fitter
(:func:`fit_gaussian_line`), which minimises :func:`lossbook.gaussian_nll`
with a per-element ``sigma`` tensor.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fit_gaussian_line", "heteroscedastic_line"]

_SCALES = ("global", "linear")
_LOG_SCALE = (3.0, math.log(0.1))  # log sigma(x) = 3 x + log 0.1: 0.1 to 2.0


def heteroscedastic_line(n, *, slope=2.0, intercept=1.0, log_scale=_LOG_SCALE, seed=0):
    r"""Points on a line with Gaussian noise whose scale grows with the input.

    .. math::

        x_i \sim \mathcal U(0, 1), \qquad
        \sigma(x) = e^{a x + d}, \qquad
        y_i = w x_i + c + \sigma(x_i)\,\varepsilon_i, \quad
        \varepsilon_i \sim \mathcal N(0, 1)

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    slope, intercept : float
        The true line :math:`w x + c`.
    log_scale : tuple of float, default (3.0, log 0.1)
        :math:`(a, d)`: the log noise scale is :math:`a x + d`. ``a = 0`` gives
        homoscedastic noise of scale :math:`e^d`.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    x, y, sigma : numpy.ndarray
        Float64 arrays of shape ``(n,)``; ``sigma`` is the true noise scale at
        each ``x``.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.heteroscedastic import heteroscedastic_line
    >>> x, y, sigma = heteroscedastic_line(4, log_scale=(0.0, np.log(0.5)))
    >>> sigma.tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"`n` must be a positive integer, got {n!r}")
    a, d = log_scale
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, n)
    sigma = np.exp(a * x + d)
    y = slope * x + intercept + sigma * rng.standard_normal(n)
    return x, y, sigma


def fit_gaussian_line(x, y, *, scale="linear", max_iter=500):
    r"""Fit a line and its noise scale by minimising the Gaussian NLL.

    .. math::

        \min_{w, c, a, d}\; \frac1N \sum_{i=1}^N
        \Bigl[\log \sigma_i + \frac{(y_i - w x_i - c)^2}{2\sigma_i^2}\Bigr]
        + \tfrac12 \log 2\pi,
        \qquad \sigma_i = e^{a x_i + d}

    computed by :func:`lossbook.gaussian_nll` with the per-element tensor
    ``sigma`` (the learned, input-dependent scale), minimised over all four
    parameters in float64 by BFGS (:func:`scipy.optimize.minimize`, gradient
    by autograd), starting from the least-squares line.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(N,)``, with at least two distinct ``x``.
    scale : {"linear", "global"}, default "linear"
        ``"linear"``: :math:`\log \sigma(x) = a x + d` (heteroscedastic);
        ``"global"``: one learned :math:`\sigma = e^d` (``a`` stays 0).
    max_iter : int, default 500
        Iteration limit of BFGS.

    Returns
    -------
    numpy.ndarray
        ``[w, c, a, d]``.

    Raises
    ------
    ValueError
        If ``scale`` is not one of the two options, the shapes differ, a value
        is not finite, or ``x`` has fewer than two distinct values.

    Notes
    -----
    For fixed scales the minimiser in :math:`(w, c)` is the weighted
    least-squares line with weights :math:`1/\sigma_i^2`; with a global scale
    the weights are equal, so the line is the ordinary least-squares line and
    :math:`\hat\sigma^2` is its mean squared residual. With ``"linear"`` the
    scale is fitted to the residuals, so the line and the scale are found
    together.

    References
    ----------
    .. [1] D. A. Nix and A. S. Weigend, "Estimating the mean and variance of
       the target probability distribution", Proc. IEEE ICNN, 1994.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.heteroscedastic import fit_gaussian_line
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> y = 2.0 * x + 1.0 + 0.1 * np.sin(40.0 * x)
    >>> w, c, a, d = fit_gaussian_line(x, y, scale="global")
    >>> bool(np.allclose([w, c], np.polyfit(x, y, 1)))
    True
    """
    import torch
    from scipy.optimize import minimize

    from ..likelihood import gaussian_nll

    if scale not in _SCALES:
        raise ValueError(f"`scale` must be one of {_SCALES}, got {scale!r}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must be 1-D of the same shape, got {x.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("`x` and `y` must be finite")
    if np.unique(x).size < 2:
        raise ValueError("`x` must hold at least two distinct values")
    # start from the least-squares line and the spread of its residuals
    w0, c0 = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)[0]
    spread = max(float(np.std(y - w0 * x - c0)), 1e-8)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    linear = scale == "linear"

    def nll_and_gradient(theta):
        # the loss and its gradient by autograd, for scipy's quasi-Newton method
        params = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        pred = params[0] * xt + params[1]
        log_sigma = params[3] + (params[2] * xt if linear else 0.0)
        # log sigma is linear in x, so sigma = exp(.) stays positive
        loss = gaussian_nll(pred, yt, sigma=torch.exp(log_sigma))
        loss.backward()
        return loss.item(), params.grad.numpy().copy()

    result = minimize(
        nll_and_gradient,
        np.array([w0, c0, 0.0, math.log(spread)]),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-11, "maxiter": max_iter},
    )
    return result.x
