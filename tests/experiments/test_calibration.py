"""Tests of lossbook.experiments.calibration: logistic regression by Newton's
method and Platt scaling.

References: scikit-learn's LogisticRegression (lbfgs), the stationarity
condition of the likelihood, and a direct scipy minimisation of Platt's
objective with smoothed targets.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from sklearn.linear_model import LogisticRegression

from lossbook.experiments.calibration import fit_logistic, platt_scaling
from lossbook.experiments.datasets import two_blobs


def test_logistic_matches_sklearn_unpenalised():
    X, y = two_blobs(150, distance=2.0, seed=0)
    model = fit_logistic(X, y)
    assert model.converged
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(model.w, ref.coef_[0], rtol=1e-6)
    assert model.b == pytest.approx(ref.intercept_[0], abs=1e-6)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X)[:, 1],
                               atol=1e-7)  # fmt: skip


def test_logistic_matches_sklearn_with_l2():
    X, y = two_blobs(100, distance=1.0, seed=1)
    lam = 0.1
    model = fit_logistic(X, y, l2=lam)
    # sklearn minimises C sum(log loss) + |w|^2 / 2: C = 1 / (N lam)
    ref = LogisticRegression(C=1 / (len(y) * lam), tol=1e-12, max_iter=10_000)
    ref.fit(X, y)
    np.testing.assert_allclose(model.w, ref.coef_[0], rtol=1e-6)
    assert model.b == pytest.approx(ref.intercept_[0], abs=1e-6)


def test_logistic_gradient_vanishes_and_base_rate_is_matched():
    X, y = two_blobs(80, distance=1.5, seed=2)
    model = fit_logistic(X, y)
    p = model.predict_proba(X)
    # stationarity in the bias: mean prediction equals the base rate
    assert np.mean(p) == pytest.approx(np.mean(y), abs=1e-10)
    np.testing.assert_allclose(X.T @ (p - y), 0.0, atol=1e-8)


def test_logistic_probabilities_do_not_overflow():
    model = fit_logistic([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    p = model.predict_proba([[-1e6], [1e6]])
    assert np.all(np.isfinite(p)) and p[0] < 1e-100 and p[1] == 1.0


def test_platt_scaling_minimises_its_objective():
    rng = np.random.default_rng(3)
    s = rng.normal(size=300)
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-3 * s + 0.5))).astype(float)
    calib = platt_scaling(s, y)
    n_pos, n_neg = y.sum(), (1 - y).sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def objective(ab):
        z = ab[0] * s + ab[1]
        return float(np.mean(np.logaddexp(0, z) - t * z))

    ref = optimize.minimize(
        objective, [1.0, 0.0], method="BFGS", options={"gtol": 1e-12}
    )
    np.testing.assert_allclose([calib.A, calib.B], ref.x, atol=1e-6)
    assert 2.0 < calib.A < 4.0  # recovers the generating slope, roughly


def test_platt_scaling_stays_finite_on_separable_scores():
    calib = platt_scaling([-2.0, -1.0, 1.0, 2.0], [0, 0, 1, 1])
    assert np.isfinite(calib.A) and calib.A > 0
    with pytest.raises(ValueError, match="hard labels"):
        platt_scaling([0.0, 1.0], [0.5, 1.0])


def test_input_errors():
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        fit_logistic([0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match="labels 0 or 1"):
        fit_logistic([[0.0], [1.0]], [0, 2])
    with pytest.raises(ValueError, match="l2 must be"):
        fit_logistic([[0.0], [1.0]], [0, 1], l2=-1.0)
