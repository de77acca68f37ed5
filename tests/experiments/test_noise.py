"""Tests of lossbook.experiments.noise: heteroscedastic data and Gaussian
likelihood fits of a line with a learned scale.

References: ordinary and weighted least squares (numpy.polyfit), the closed
form of the constant-scale MLE (the RMS residual), the stationarity
conditions of the likelihood, and scipy.optimize on the same objective
written out independently.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from lossbook.experiments.noise import fit_gaussian_line, heteroscedastic_line


def _nll(theta, x, y):
    a, b, c, d = theta
    log_s = c + d * x
    r = (y - a - b * x) / np.exp(log_s)
    return float(np.mean(0.5 * np.log(2 * np.pi) + log_s + 0.5 * r * r))


def test_data_shapes_and_noise_level():
    x, y, sigma = heteroscedastic_line(5000, sigma0=0.2, sigma1=2.0, seed=3)
    assert x.shape == y.shape == sigma.shape == (5000,)
    assert np.all(np.diff(x) >= 0)
    np.testing.assert_allclose(sigma, 0.2 + 1.8 * x)
    z = (y - 1.0 - 2.0 * x) / sigma
    assert abs(np.std(z) - 1) < 0.05


def test_data_rejects_bad_arguments():
    with pytest.raises(ValueError, match="positive integer"):
        heteroscedastic_line(0)
    with pytest.raises(ValueError, match="positive"):
        heteroscedastic_line(5, sigma0=0.0)


def test_constant_scale_gives_least_squares_and_the_rms_residual():
    x, y, _ = heteroscedastic_line(150, seed=1)
    fit = fit_gaussian_line(x, y, scale="constant")
    w, b = np.polyfit(x, y, 1)
    assert fit.slope == pytest.approx(w, abs=1e-8)
    assert fit.intercept == pytest.approx(b, abs=1e-8)
    rms = np.sqrt(np.mean((y - w * x - b) ** 2))
    assert fit.sigma([0.3])[0] == pytest.approx(rms, rel=1e-8)
    assert fit.log_sigma[1] == 0.0


def test_learned_scale_is_weighted_least_squares_and_stationary():
    x, y, _ = heteroscedastic_line(200, seed=2)
    fit = fit_gaussian_line(x, y)
    sigma = fit.sigma(x)
    w, b = np.polyfit(x, y, 1, w=1 / sigma)  # polyfit weights the residuals
    assert fit.slope == pytest.approx(w, abs=1e-7)
    assert fit.intercept == pytest.approx(b, abs=1e-7)
    # d/dc and d/dd of the NLL: mean of (1 - z^2) and of (1 - z^2) x vanish
    z2 = ((y - fit.mean(x)) / sigma) ** 2
    assert abs(np.mean(1 - z2)) < 1e-7
    assert abs(np.mean((1 - z2) * x)) < 1e-7


def test_learned_scale_matches_scipy_and_tracks_the_true_noise():
    x, y, _ = heteroscedastic_line(400, sigma0=0.1, sigma1=1.0, seed=4)
    fit = fit_gaussian_line(x, y)
    ref = optimize.minimize(_nll, [1.0, 2.0, 0.0, 0.0], args=(x, y), method="BFGS",
                            options={"gtol": 1e-10})  # fmt: skip
    ours = [fit.intercept, fit.slope, *fit.log_sigma]
    np.testing.assert_allclose(ours, ref.x, atol=1e-5)
    assert fit.nll == pytest.approx(ref.fun, abs=1e-10)
    assert fit.sigma([0.05])[0] < 0.3 < 0.6 < fit.sigma([0.95])[0]


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="scale must be"):
        fit_gaussian_line([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], scale="quadratic")
    with pytest.raises(ValueError, match="same shape"):
        fit_gaussian_line([0.0, 1.0, 2.0], [0.0, 1.0])
