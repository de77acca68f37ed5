"""Tests of lossbook.experiments.heteroscedastic against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments.heteroscedastic import (
    fit_gaussian_line,
    heteroscedastic_line,
)


def _least_squares(x, y, weights=None):
    # (weighted) least squares in closed form: an independent reference
    weights = np.ones_like(x) if weights is None else weights
    A = np.column_stack([x, np.ones_like(x)]) * np.sqrt(weights)[:, None]
    return np.linalg.lstsq(A, y * np.sqrt(weights), rcond=None)[0]


def test_data_are_seeded_and_have_the_stated_noise_scale():
    x, y, sigma = heteroscedastic_line(50, seed=4)
    _, y2, _ = heteroscedastic_line(50, seed=4)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_allclose(sigma, 0.1 * np.exp(3.0 * x), rtol=1e-14)
    x, y, sigma = heteroscedastic_line(40000, log_scale=(2.0, -1.0), seed=1)
    z = (y - 2.0 * x - 1.0) / sigma  # standardised noise
    assert abs(z.std() - 1.0) < 0.02 and abs(z.mean()) < 0.02


@pytest.mark.parametrize("n", [0, -3, 1.5, True])
def test_data_reject_a_bad_size(n):
    with pytest.raises(ValueError, match="`n` must be a positive integer"):
        heteroscedastic_line(n)


@pytest.mark.parametrize("seed", range(3))
def test_a_global_scale_leaves_the_least_squares_line(seed):
    x, y, _ = heteroscedastic_line(80, seed=seed)
    w, c, a, d = fit_gaussian_line(x, y, scale="global")
    np.testing.assert_allclose([w, c], _least_squares(x, y), rtol=1e-7, atol=1e-9)
    assert a == 0.0
    # the learned variance is the mean squared residual
    assert math.exp(2 * d) == pytest.approx(np.mean((y - w * x - c) ** 2), rel=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_a_linear_log_scale_gives_weighted_least_squares(seed):
    x, y, _ = heteroscedastic_line(120, seed=seed)
    w, c, a, d = fit_gaussian_line(x, y, scale="linear")
    sigma = np.exp(a * x + d)
    # the line is the weighted least-squares line with weights 1 / sigma^2
    np.testing.assert_allclose(
        [w, c], _least_squares(x, y, sigma**-2.0), rtol=1e-6, atol=1e-8
    )
    # the scale conditions: the standardised squared residuals average to 1,
    # also when weighted by x (d/dd and d/da of the NLL vanish)
    u = ((y - w * x - c) / sigma) ** 2
    assert np.mean(1 - u) == pytest.approx(0.0, abs=1e-6)
    assert np.mean(x * (1 - u)) == pytest.approx(0.0, abs=1e-6)


def test_the_fit_is_a_stationary_point_of_lossbooks_gaussian_nll():
    x, y, _ = heteroscedastic_line(100, seed=7)
    params = torch.tensor(fit_gaussian_line(x, y), requires_grad=True)
    xt = torch.as_tensor(x)
    sigma = torch.exp(params[2] * xt + params[3])
    lb.gaussian_nll(
        params[0] * xt + params[1], torch.as_tensor(y), sigma=sigma
    ).backward()
    assert float(params.grad.abs().max()) < 1e-6


def test_the_true_parameters_are_recovered_from_many_points():
    x, y, _ = heteroscedastic_line(20000, seed=3)
    w, c, a, d = fit_gaussian_line(x, y)
    assert w == pytest.approx(2.0, abs=0.02)
    assert c == pytest.approx(1.0, abs=0.01)
    assert a == pytest.approx(3.0, abs=0.05)
    assert d == pytest.approx(math.log(0.1), abs=0.05)


def test_homoscedastic_data_give_a_flat_scale_and_nearly_the_same_line():
    x, y, _ = heteroscedastic_line(4000, log_scale=(0.0, math.log(0.3)), seed=2)
    w, c, a, _ = fit_gaussian_line(x, y)
    assert abs(a) < 0.15
    np.testing.assert_allclose([w, c], _least_squares(x, y), atol=0.02)


def test_fit_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`scale` must be one of"):
        fit_gaussian_line([0.0, 1.0], [0.0, 1.0], scale="quadratic")
    with pytest.raises(ValueError, match="same shape"):
        fit_gaussian_line([0.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        fit_gaussian_line([0.0, 1.0], [0.0, np.inf])
    with pytest.raises(ValueError, match="two distinct values"):
        fit_gaussian_line([1.0, 1.0], [0.0, 1.0])
