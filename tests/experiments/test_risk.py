"""Tests of lossbook.experiments.risk against independent solvers and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

import lossbook as lb
from lossbook.experiments.risk import (
    best_constant,
    fit_polynomial,
    lad_line,
    predict_polynomial,
    sine_data,
)

# --- sine_data ---


def test_sine_data_is_seeded_sorted_and_noiseless_on_request():
    x, y = sine_data(50, seed=3)
    x2, y2 = sine_data(50, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == y.shape == (50,)
    assert np.all(np.diff(x) >= 0) and 0.0 <= x[0] and x[-1] <= 1.0
    x0, y0 = sine_data(20, noise=0.0, seed=1)
    np.testing.assert_allclose(y0, np.sin(2 * np.pi * x0), atol=1e-15)
    assert not np.array_equal(sine_data(50, seed=4)[0], x)


def test_sine_data_noise_has_the_requested_scale():
    x, y = sine_data(20000, noise=0.3, seed=0)
    residual = y - np.sin(2 * np.pi * x)
    assert abs(residual.std() - 0.3) < 0.01
    assert abs(residual.mean()) < 0.01


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_sine_data_rejects_a_bad_size(n):
    with pytest.raises(ValueError, match="`n` must be a positive integer"):
        sine_data(n)


def test_sine_data_rejects_negative_noise():
    with pytest.raises(ValueError, match="`noise` must be >= 0"):
        sine_data(5, noise=-0.1)


# --- fit_polynomial / predict_polynomial ---


def test_unpenalised_fit_equals_numpy_polyfit_in_the_monomial_basis():
    x, y = sine_data(30, seed=2)
    for degree in range(6):
        ours = predict_polynomial(fit_polynomial(x, y, degree), x)
        reference = np.polyval(np.polyfit(x, y, degree), x)
        np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-10)


def test_predict_uses_the_legendre_polynomials_of_2x_minus_1():
    x = np.linspace(0.0, 1.0, 7)
    u = 2 * x - 1
    # P0 = 1, P1 = u, P2 = (3u^2 - 1) / 2, written out by hand
    expected = 0.5 - 2.0 * u + 3.0 * (3 * u**2 - 1) / 2
    np.testing.assert_allclose(predict_polynomial([0.5, -2.0, 3.0], x), expected)


def test_a_full_degree_fit_interpolates():
    x, y = sine_data(8, seed=5)
    coef = fit_polynomial(x, y, 7)
    np.testing.assert_allclose(predict_polynomial(coef, x), y, atol=1e-9)


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.1, 10.0])
def test_the_fit_is_a_stationary_point_of_mse_plus_ridge(lam):
    # autograd through lb.mse and lb.l2_penalty: the gradient vanishes there
    x, y = sine_data(15, seed=1)
    coef = torch.tensor(fit_polynomial(x, y, 6, lam=lam), requires_grad=True)
    V = torch.as_tensor(np.polynomial.legendre.legvander(2 * x - 1, 6))
    objective = lb.mse(V @ coef, torch.as_tensor(y)) + lb.l2_penalty(coef[1:], lam=lam)
    objective.backward()
    assert float(coef.grad.abs().max()) < 1e-9


def test_a_huge_ridge_leaves_only_the_mean():
    x, y = sine_data(25, seed=6)
    coef = fit_polynomial(x, y, 5, lam=1e12)
    assert coef[0] == pytest.approx(y.mean(), abs=1e-6)
    np.testing.assert_allclose(coef[1:], 0.0, atol=1e-6)


def test_ridge_shrinks_the_coefficients_monotonically():
    x, y = sine_data(12, seed=0)
    norms = [
        np.linalg.norm(fit_polynomial(x, y, 9, lam=lam)[1:])
        for lam in (0.0, 1e-4, 1e-2, 1.0)
    ]
    assert norms == sorted(norms, reverse=True)


@pytest.mark.parametrize("degree", [-1, 1.5, True])
def test_fit_rejects_a_bad_degree(degree):
    with pytest.raises(ValueError, match="`degree` must be an integer >= 0"):
        fit_polynomial([0.1, 0.2], [1.0, 2.0], degree)


def test_fit_rejects_negative_lam_and_bad_shapes():
    with pytest.raises(ValueError, match="`lam` must be >= 0"):
        fit_polynomial([0.1, 0.2], [1.0, 2.0], 1, lam=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        fit_polynomial([0.1, 0.2], [1.0, 2.0, 3.0], 1)
    with pytest.raises(ValueError, match="`y` must be finite"):
        fit_polynomial([0.1, 0.2], [1.0, np.nan], 1)
    with pytest.raises(ValueError, match="`x` must be a non-empty 1-D array"):
        fit_polynomial([], [], 1)


# --- lad_line ---


def _lad_by_linear_programming(x, y):
    # min sum t_i  s.t.  -t_i <= w x_i + c - y_i <= t_i: an independent solver
    n = len(x)
    cost = np.concatenate([[0.0, 0.0], np.ones(n)])
    A = np.column_stack([x, np.ones(n)])
    A_ub = np.block([[A, -np.eye(n)], [-A, -np.eye(n)]])
    b_ub = np.concatenate([y, -y])
    bounds = [(None, None), (None, None)] + [(0, None)] * n
    result = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    return result.fun / n


@pytest.mark.parametrize("seed", range(5))
def test_lad_line_reaches_the_linear_programming_optimum(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, 25)
    y = 1.5 * x - 0.3 + rng.standard_t(1.5, 25)
    coef, (i, j) = lad_line(x, y)
    ours = float(lb.mae(coef[0] * x + coef[1], y))
    assert ours == pytest.approx(_lad_by_linear_programming(x, y), rel=1e-9)
    # the line passes through the two reported points: two residuals are zero
    residual = coef[0] * x + coef[1] - y
    assert abs(residual[i]) < 1e-12 and abs(residual[j]) < 1e-12


def test_lad_line_ignores_outliers_in_y():
    x = np.arange(10.0)
    y = 2.0 * x + 1.0
    y[-2:] += 100.0
    coef, _ = lad_line(x, y)
    np.testing.assert_allclose(coef, [2.0, 1.0], atol=1e-12)


def test_lad_line_needs_two_distinct_inputs():
    with pytest.raises(ValueError, match="two distinct values"):
        lad_line([1.0, 1.0, 1.0], [0.0, 1.0, 2.0])


# --- best_constant ---

SAMPLE = np.random.default_rng(7).exponential(1.0, 501)
GRID = np.linspace(0.0, 4.0, 4001)
STEP = GRID[1] - GRID[0]


@pytest.mark.parametrize(
    ("loss", "kwargs", "statistic"),
    [
        (lb.mse, {}, np.mean),
        (lb.mae, {}, np.median),
        (lb.pinball, {"quantile": 0.9}, lambda s: np.quantile(s, 0.9)),
        (lb.pinball, {"quantile": 0.25}, lambda s: np.quantile(s, 0.25)),
    ],
)
def test_best_constant_finds_the_statistic_the_loss_estimates(loss, kwargs, statistic):
    best, risk = best_constant(loss, SAMPLE, GRID, **kwargs)
    assert risk.shape == GRID.shape
    # np.quantile interpolates between order statistics; any point between the two
    # neighbouring order statistics minimises the pinball risk
    lo = np.quantile(SAMPLE, kwargs.get("quantile", 0.5), method="lower")
    hi = np.quantile(SAMPLE, kwargs.get("quantile", 0.5), method="higher")
    if loss is lb.mse:
        lo = hi = statistic(SAMPLE)
    assert lo - STEP <= float(best) <= hi + STEP


def test_best_constant_of_the_zero_one_loss_is_the_mode():
    labels = np.array([0, 2, 2, 1, 2, 0, 1, 2])
    best, risk = best_constant(lb.zero_one, labels, np.array([0, 1, 2]))
    assert int(best) == 2
    np.testing.assert_allclose(risk, 1.0 - np.bincount(labels) / len(labels))


def test_best_constant_risk_equals_a_loop_and_ignores_the_chunk_size():
    grid = np.linspace(-1.0, 3.0, 37)
    _, risk = best_constant(lb.huber, SAMPLE[:40], grid, delta=0.5, chunk=5)
    _, risk_one = best_constant(lb.huber, SAMPLE[:40], grid, delta=0.5, chunk=1000)
    loop = [float(lb.huber(np.full(40, c), SAMPLE[:40], delta=0.5)) for c in grid]
    np.testing.assert_allclose(risk, loop, rtol=1e-13)
    np.testing.assert_array_equal(risk, risk_one)


def test_best_constant_of_the_logistic_loss_is_the_log_odds():
    labels = np.array([1.0] * 30 + [0.0] * 10)  # p = 3/4
    grid = np.linspace(-3.0, 3.0, 6001)
    best, _ = best_constant(lb.binary_cross_entropy_with_logits, labels, grid)
    assert float(best) == pytest.approx(np.log(3.0), abs=2e-3)
    signed = 2.0 * labels - 1.0
    best, _ = best_constant(lb.exponential, signed, grid)
    assert float(best) == pytest.approx(0.5 * np.log(3.0), abs=2e-3)


def test_best_constant_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`target` must be a non-empty 1-D"):
        best_constant(lb.mse, np.zeros((2, 2)), GRID)
    with pytest.raises(ValueError, match="`candidates` must be a non-empty 1-D"):
        best_constant(lb.mse, SAMPLE, [])
    for chunk in (0, 2.5, True):
        with pytest.raises(ValueError, match="`chunk` must be a positive integer"):
            best_constant(lb.mse, SAMPLE, GRID, chunk=chunk)


def test_best_constant_accepts_a_numpy_integer_chunk():
    _, risk = best_constant(lb.mse, SAMPLE, GRID, chunk=np.int64(7))
    _, reference = best_constant(lb.mse, SAMPLE, GRID)
    np.testing.assert_array_equal(risk, reference)
