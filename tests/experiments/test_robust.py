"""Tests of lossbook.experiments.robust: robust scale, Theil-Sen, exact LAD and
quantile lines, and IRLS M-estimation with Huber, Tukey and Cauchy losses.

References are independent of the code under test: scipy.stats for the MAD
and Theil-Sen, a linear program (scipy's HiGHS) for the piecewise-linear
fits, scipy.optimize for the M-estimates, closed forms and finite differences
for rho, psi and the weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

import lossbook as lb
from lossbook.experiments.datasets import line_with_outliers
from lossbook.experiments.robust import (
    CAUCHY_C,
    HUBER_C,
    MAD_TO_SIGMA,
    TUKEY_C,
    fit_line_exact,
    irls_line,
    mad_scale,
    psi,
    rho,
    theil_sen_line,
    weight,
)

LOSSES = ["huber", "tukey", "cauchy"]


def _lp_line(x, y, q):
    """Quantile regression as a linear program: min sum q u+ + (1-q) u-."""
    n = x.size
    # variables: w, b, u+ (n), u- (n); y - (w x + b) = u+ - u-
    c = np.concatenate([[0.0, 0.0], np.full(n, q), np.full(n, 1 - q)]) / n
    a_eq = np.column_stack([x, np.ones(n), np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * n)
    res = optimize.linprog(c, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    assert res.success
    return res.x[:2], res.fun


# --- scale and Theil-Sen ---


def test_mad_constant_is_the_gaussian_consistency_factor():
    assert MAD_TO_SIGMA == pytest.approx(1 / stats.norm.ppf(0.75), rel=1e-15)


def test_mad_scale_matches_scipy_and_ignores_outliers():
    rng = np.random.default_rng(0)
    r = rng.normal(scale=2.0, size=2001)
    ref = stats.median_abs_deviation(r, scale="normal")
    assert mad_scale(r) == pytest.approx(ref, rel=1e-12)
    assert mad_scale(r) == pytest.approx(2.0, rel=0.05)
    spoiled = r.copy()
    spoiled[:400] = 1e6  # 20% gross outliers
    assert mad_scale(spoiled) < 3.0
    assert np.std(spoiled) > 1e5


def test_theil_sen_matches_scipy():
    x, y, _ = line_with_outliers(30, seed=4)
    w, b = theil_sen_line(x, y)
    ref = stats.theilslopes(y, x, method="joint")
    assert w == pytest.approx(ref.slope, rel=1e-12)
    assert b == pytest.approx(ref.intercept, rel=1e-12)


def test_theil_sen_resists_a_leverage_point_that_breaks_least_squares():
    x, y, _ = line_with_outliers(40, noise=0.2, n_outliers=0, seed=1)
    x, y = np.append(x, 10.0), np.append(y, 0.0)
    assert abs(np.polyfit(x, y, 1)[0] - 2.0) > 1.5
    assert abs(theil_sen_line(x, y)[0] - 2.0) < 0.3


# --- exact piecewise-linear fits ---


@pytest.mark.parametrize("q", [0.05, 0.5, 0.9])
def test_fit_line_exact_solves_the_quantile_lp(q):
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 35)
    y = 1 + 2 * x + (0.2 + x) * rng.standard_normal(35)
    w, b = fit_line_exact(x, y, lb.pinball, quantile=q, chunk=97)
    _, best = _lp_line(x, y, q)
    ours = float(lb.pinball(w * x + b, y, quantile=q))
    assert ours == pytest.approx(best, rel=1e-10, abs=1e-12)


def test_fit_line_exact_with_mae_is_lad_and_passes_through_two_points():
    x, y, _ = line_with_outliers(25, seed=2)
    w, b = fit_line_exact(x, y, lb.mae)
    _, best = _lp_line(x, y, 0.5)  # pinball at 1/2 is half the absolute error
    assert float(lb.mae(w * x + b, y)) == pytest.approx(2 * best, rel=1e-10)
    assert np.sum(np.abs(y - (w * x + b)) < 1e-9) >= 2


def test_fit_line_exact_rejects_constant_x():
    with pytest.raises(ValueError, match="two distinct values"):
        fit_line_exact([1.0, 1.0, 1.0], [0.0, 1.0, 2.0], lb.mae)


# --- rho, psi, weight ---


def test_default_constants():
    assert (HUBER_C, TUKEY_C, CAUCHY_C) == (1.345, 4.685, 2.385)


@pytest.mark.parametrize("loss", LOSSES)
def test_psi_is_the_derivative_of_rho_and_weight_is_psi_over_u(loss):
    u = np.linspace(-8.0, 8.0, 161) + 0.013  # avoid the kinks exactly
    h = 1e-6
    numeric = (rho(loss, u + h) - rho(loss, u - h)) / (2 * h)
    np.testing.assert_allclose(psi(loss, u), numeric, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(weight(loss, u) * u, psi(loss, u), rtol=1e-13)
    assert weight(loss, [0.0])[0] == 1.0


@pytest.mark.parametrize("loss", LOSSES)
def test_rho_is_quadratic_near_zero(loss):
    u = np.array([1e-3, -2e-3])
    np.testing.assert_allclose(rho(loss, u), u**2 / 2, rtol=1e-5)


def test_closed_forms():
    c = 2.0
    assert rho("tukey", [1.0], c=c)[0] == pytest.approx(c * c / 6 * (1 - 0.75**3))
    assert rho("tukey", [5.0], c=c)[0] == pytest.approx(c * c / 6)
    assert rho("cauchy", [2.0], c=c)[0] == pytest.approx(2.0 * np.log(2.0))
    assert rho("huber", [3.0], c=c)[0] == pytest.approx(c * (3.0 - c / 2))
    # redescending: Tukey's psi is 0 beyond c, Cauchy's decays like c^2 / u
    assert psi("tukey", [2.5, -7.0], c=c).tolist() == [0.0, 0.0]
    assert psi("cauchy", [1e6], c=c)[0] == pytest.approx(c * c / 1e6, rel=1e-6)
    assert psi("huber", [1e6], c=c)[0] == c


def test_bad_loss_or_c():
    with pytest.raises(ValueError, match="loss must be one of"):
        rho("welsch", [1.0])
    with pytest.raises(ValueError, match="c must be a positive"):
        weight("tukey", [1.0], c=0.0)


# --- IRLS ---


def _objective(loss, x, y, s, c=None):
    return lambda t: float(np.sum(rho(loss, (y - t[0] * x - t[1]) / s, c=c)))


def test_irls_huber_is_the_global_minimum():
    x, y, _ = line_with_outliers(40, seed=0)
    fit = irls_line(x, y, loss="huber", init=(0.0, 0.0), scale=0.5)
    assert fit.converged
    ref = optimize.minimize(
        _objective("huber", x, y, 0.5), [0.0, 0.0], method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000},
    )  # fmt: skip
    np.testing.assert_allclose([fit.slope, fit.intercept], ref.x, atol=1e-6)


def test_irls_huber_equals_gradient_descent_on_lb_huber():
    # sum of rho(r / s) with c is s^-2 times lb.huber with delta = c s
    x, y, _ = line_with_outliers(30, seed=3)
    s = 0.4
    fit = irls_line(x, y, loss="huber", init=(0.0, 0.0), scale=s)
    g = lb.grad.huber(fit.slope * x + fit.intercept, y, delta=HUBER_C * s)
    assert abs(np.sum(g * x)) < 1e-10 and abs(np.sum(g)) < 1e-10


@pytest.mark.parametrize("loss", ["tukey", "cauchy"])
def test_irls_redescending_is_stationary_and_decreases_the_objective(loss):
    x, y, _ = line_with_outliers(40, seed=6)
    init = theil_sen_line(x, y)
    fit = irls_line(x, y, loss=loss, init=init)
    assert fit.converged
    u = (y - fit.slope * x - fit.intercept) / fit.scale
    p = psi(loss, u)
    assert abs(np.sum(p * x)) < 1e-8 and abs(np.sum(p)) < 1e-8
    f = _objective(loss, x, y, fit.scale)
    assert f([fit.slope, fit.intercept]) <= f(init)
    # a local minimum: no small perturbation does better
    rng = np.random.default_rng(0)
    for d in rng.normal(scale=1e-3, size=(50, 2)):
        assert (
            f([fit.slope + d[0], fit.intercept + d[1]])
            >= f([fit.slope, fit.intercept]) - 1e-12
        )


def test_tukey_ignores_gross_outliers_completely():
    x, y, out = line_with_outliers(40, noise=0.3, shift=30.0, seed=2)
    fit = irls_line(x, y, loss="tukey", init=theil_sen_line(x, y))
    assert np.all(fit.weights[out] == 0.0)
    again = irls_line(x[~out], y[~out], loss="tukey", init=(fit.slope, fit.intercept),
                      scale=fit.scale)  # fmt: skip
    assert again.slope == pytest.approx(fit.slope, abs=1e-9)
    assert abs(fit.slope - 2.0) < 0.5


def test_redescending_fit_depends_on_the_start():
    x, y, _ = line_with_outliers(40, noise=0.3, n_outliers=0, seed=1)
    x, y = np.append(x, 10.0), np.append(y, 0.0)
    from_ls = irls_line(x, y, loss="tukey", init=tuple(np.polyfit(x, y, 1)))
    from_ts = irls_line(x, y, loss="tukey", init=theil_sen_line(x, y))
    assert abs(from_ls.slope - 2.0) > 1.5  # stuck near least squares
    assert abs(from_ts.slope - 2.0) < 0.3
    assert from_ts.weights[-1] == 0.0


def test_irls_input_errors():
    with pytest.raises(ValueError, match="scale must be a positive"):
        irls_line([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], init=(1.0, 0.0), scale=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        irls_line([0.0, 1.0], [0.0, 1.0, 2.0], init=(1.0, 0.0))
    with pytest.raises(ValueError, match="fewer than two distinct"):
        irls_line([0.0, 1.0, 2.0], [0.0, 100.0, -100.0], init=(0.0, 0.0), scale=1.0,
                  c=0.5)  # fmt: skip
