"""Tests of lossbook.experiments.penalties: lasso, ridge and elastic-net solvers.

References: scikit-learn's ``lasso_path``/``enet_path`` (through the documented
mapping of penalty strengths), ridge's closed form, the orthonormal-design
closed forms, brute-force minimisation on a grid, and torch autograd.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import ElasticNet, Lasso, enet_path, lasso_path

import lossbook as lb
from lossbook.experiments.penalties import (
    coordinate_descent,
    coordinate_descent_path,
    correlated_regression,
    enet_objective,
    from_sklearn,
    kkt_violation,
    l1_max,
    proximal_gradient,
    soft_threshold,
    subgradient_descent,
    to_sklearn,
)


@pytest.fixture(scope="module")
def data():
    return correlated_regression(120, seed=3)


# --- data ---


def test_correlated_regression_is_standardised_centred_and_blockwise():
    X, y, coef = correlated_regression(4000, block_size=3, rho=0.8, seed=1)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose((X**2).mean(axis=0), 1.0, rtol=1e-12)
    assert abs(y.mean()) < 1e-12
    corr = np.corrcoef(X.T)
    same_block = np.arange(9)[:, None] // 3 == np.arange(9)[None, :] // 3
    off_diagonal = same_block & ~np.eye(9, dtype=bool)
    np.testing.assert_allclose(corr[off_diagonal], 0.8, atol=0.03)
    np.testing.assert_allclose(corr[~same_block], 0.0, atol=0.1)
    # the noise is what remains after the true coefficients
    assert np.std(y - X @ coef) == pytest.approx(1.0, rel=0.05)


def test_correlated_regression_is_reproducible_and_seeded():
    a = correlated_regression(30, seed=5)
    b = correlated_regression(30, seed=5)
    c = correlated_regression(30, seed=6)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 1}, "n must be"),
        ({"coef": []}, "coef"),
        ({"block_size": 0}, "block_size"),
        ({"rho": 1.0}, "rho"),
        ({"noise": -1.0}, "noise"),
    ],
)
def test_correlated_regression_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        correlated_regression(**kwargs)


# --- conventions ---


def test_sklearn_mapping_round_trips():
    for l1, l2 in [(0.3, 0.1), (0.2, 0.0), (0.0, 0.7)]:
        alpha, ratio = to_sklearn(l1, l2)
        assert isinstance(alpha, float)
        np.testing.assert_allclose(from_sklearn(alpha, ratio), (l1, l2), rtol=1e-15)
    l1, l2 = np.array([0.3, 0.2, 0.0]), np.array([0.1, 0.0, 0.7])
    np.testing.assert_allclose(from_sklearn(*to_sklearn(l1, l2)), (l1, l2), rtol=1e-15)


def test_our_objective_is_twice_sklearns(data):
    X, y, _ = data
    alpha, ratio = to_sklearn(0.3, 0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = rng.standard_normal(X.shape[1])
        theirs = (
            np.sum((y - X @ w) ** 2) / (2 * len(y))
            + alpha * ratio * np.abs(w).sum()
            + 0.5 * alpha * (1 - ratio) * np.sum(w**2)
        )
        ours = float(enet_objective(X, y, w, l1=0.3, l2=0.1))
        assert ours == pytest.approx(2 * theirs, rel=1e-13)


def test_sklearn_mapping_rejects_bad_values():
    with pytest.raises(ValueError, match="both 0"):
        to_sklearn(0.0, 0.0)
    with pytest.raises(ValueError, match="l1"):
        to_sklearn(-0.1, 0.0)
    with pytest.raises(ValueError, match="l2"):
        to_sklearn([0.1, 0.2], [0.0, np.nan])
    with pytest.raises(ValueError, match="l1_ratio"):
        from_sklearn(0.1, 1.5)
    with pytest.raises(ValueError, match="alpha"):
        from_sklearn(0.0, 0.5)


# --- building blocks ---


def test_soft_threshold_is_the_proximal_map_of_the_absolute_value():
    grid = np.linspace(-4, 4, 80001)  # brute force: argmin 0.5 (x - z)^2 + t |x|
    for z in [-2.5, -0.7, -0.2, 0.0, 0.4, 1.3, 3.0]:
        for t in [0.0, 0.5, 1.0]:
            brute = grid[np.argmin(0.5 * (grid - z) ** 2 + t * np.abs(grid))]
            assert soft_threshold(z, t) == pytest.approx(brute, abs=1e-4)
    out = soft_threshold([-0.5, 0.5, 0.9], 1.0)
    assert np.all(out == 0.0)
    with pytest.raises(ValueError, match="t must be"):
        soft_threshold([1.0], -1.0)


def test_one_coordinate_update_is_the_exact_coordinate_minimiser(data):
    """One sweep over a single feature equals brute force on J along it."""
    X, y, _ = data
    x1 = X[:, :1]
    w, _ = coordinate_descent(x1, y, l1=0.5, l2=0.2, max_sweeps=1)
    grid = np.linspace(-5, 5, 100001)
    values = [float(enet_objective(x1, y, [g], l1=0.5, l2=0.2)) for g in grid]
    assert w[0] == pytest.approx(grid[np.argmin(values)], abs=2e-4)


def test_analytic_smooth_gradient_matches_autograd(data):
    """kkt_violation's gradient is the autograd gradient of the smooth part."""
    X, y, _ = data
    w = torch.tensor(np.random.default_rng(1).standard_normal(X.shape[1]))
    w.requires_grad_(True)
    smooth = lb.mse(torch.as_tensor(X) @ w, torch.as_tensor(y)) + lb.l2_penalty(
        w, lam=0.3
    )
    (g,) = torch.autograd.grad(smooth, w)
    # with l1 = 0 and every w_j != 0 the violation is max |gradient|
    wn = w.detach().numpy()
    assert kkt_violation(X, y, wn, l1=0.0, l2=0.3) == pytest.approx(
        float(g.abs().max()), rel=1e-12
    )


def test_l1_max_is_where_the_path_leaves_zero(data):
    X, y, _ = data
    top = l1_max(X, y)
    w, _ = coordinate_descent(X, y, l1=top, l2=0.4)
    assert np.all(w == 0.0)
    w, _ = coordinate_descent(X, y, l1=0.99 * top, l2=0.4)
    assert np.count_nonzero(w) == 1


# --- solvers against references ---


def test_ridge_matches_the_closed_form(data):
    X, y, _ = data
    n, p = X.shape
    for l2 in [0.01, 0.5, 10.0]:
        w, _ = coordinate_descent(X, y, l1=0.0, l2=l2, tol=1e-14)
        closed = np.linalg.solve(X.T @ X / n + l2 * np.eye(p), X.T @ y / n)
        np.testing.assert_allclose(w, closed, atol=1e-11)


def test_orthonormal_design_gives_the_closed_forms():
    rng = np.random.default_rng(2)
    n, p = 50, 6
    Q, _ = np.linalg.qr(rng.standard_normal((n, p)))
    X = np.sqrt(n) * Q  # X^T X / n = I
    y = X @ np.array([2.0, -1.0, 0.3, -0.1, 0.0, 1.2]) + rng.standard_normal(n)
    ols = X.T @ y / n
    for l1, l2 in [(0.5, 0.0), (0.5, 0.5), (0.0, 1.0), (1.2, 0.3)]:
        w, sweeps = coordinate_descent(X, y, l1=l1, l2=l2)
        np.testing.assert_allclose(
            w, soft_threshold(ols, l1 / 2) / (1 + l2), atol=1e-13
        )
        assert sweeps <= 2  # coordinates are decoupled: one sweep solves it


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.2])
def test_path_matches_scikit_learn(data, l1_ratio):
    X, y, _ = data
    alphas = l1_max(X, y) / (2 * l1_ratio) * np.logspace(0, -3, 25)
    l1, l2 = from_sklearn(alphas, l1_ratio)
    ours, _ = coordinate_descent_path(X, y, l1, l2, tol=1e-13)
    if l1_ratio == 1.0:
        _, theirs, _ = lasso_path(X, y, alphas=alphas, tol=1e-14, max_iter=100_000)
    else:
        _, theirs, _ = enet_path(
            X, y, l1_ratio=l1_ratio, alphas=alphas, tol=1e-14, max_iter=100_000
        )
    np.testing.assert_allclose(ours, theirs.T, atol=1e-9)
    # and the zeros are the same zeros
    np.testing.assert_array_equal(ours == 0.0, np.abs(theirs.T) < 1e-12)


def test_single_fits_match_scikit_learn_estimators(data):
    X, y, _ = data
    w, _ = coordinate_descent(X, y, l1=0.3, l2=0.0, tol=1e-13)
    lasso = Lasso(alpha=0.15, fit_intercept=False, tol=1e-14, max_iter=100_000)
    np.testing.assert_allclose(w, lasso.fit(X, y).coef_, atol=1e-9)
    alpha, ratio = to_sklearn(0.3, 0.1)
    w, _ = coordinate_descent(X, y, l1=0.3, l2=0.1, tol=1e-13)
    enet = ElasticNet(
        alpha=alpha, l1_ratio=ratio, fit_intercept=False, tol=1e-14, max_iter=100_000
    )
    np.testing.assert_allclose(w, enet.fit(X, y).coef_, atol=1e-9)


def test_solutions_satisfy_the_optimality_conditions(data):
    X, y, _ = data
    l1 = l1_max(X, y) * np.array([0.5, 0.1, 0.01])
    coefs, _ = coordinate_descent_path(X, y, l1, 0.05, tol=1e-13)
    for w, a in zip(coefs, l1, strict=True):
        assert kkt_violation(X, y, w, l1=a, l2=0.05) < 1e-10
        # a perturbation off the optimum violates them
        assert kkt_violation(X, y, w + 1e-3, l1=a, l2=0.05) > 1e-5


def test_warm_starts_save_sweeps_and_change_nothing(data):
    X, y, _ = data
    l1 = l1_max(X, y) * np.logspace(0, -2, 20)
    warm, warm_sweeps = coordinate_descent_path(X, y, l1, 0.0, tol=1e-12)
    cold = [coordinate_descent(X, y, l1=a, l2=0.0, tol=1e-12) for a in l1]
    np.testing.assert_allclose(warm, [w for w, _ in cold], atol=1e-9)
    assert warm_sweeps.sum() < sum(k for _, k in cold)


def test_proximal_gradient_converges_to_the_same_sparse_solution(data):
    X, y, _ = data
    l1 = 0.2 * l1_max(X, y)
    w_cd, _ = coordinate_descent(X, y, l1=l1, l2=0.0, tol=1e-13)
    path = proximal_gradient(X, y, l1=l1, l2=0.0, steps=3000)
    assert path.shape == (3001, X.shape[1])
    np.testing.assert_allclose(path[-1], w_cd, atol=1e-8)
    np.testing.assert_array_equal(path[-1] == 0.0, w_cd == 0.0)
    assert np.count_nonzero(w_cd == 0.0) > 0


def test_subgradient_descent_takes_autograd_steps_and_misses_exact_zeros(data):
    X, y, _ = data
    l1 = 0.2 * l1_max(X, y)
    path = subgradient_descent(X, y, l1=l1, l2=0.1, steps=3, lr=0.05)
    for k in range(3):  # each step is w - lr * (smooth gradient + l1 sign(w))
        w = path[k]
        g = -2 / len(y) * X.T @ (y - X @ w) + 2 * 0.1 * w + l1 * np.sign(w)
        np.testing.assert_allclose(path[k + 1], w - 0.05 * g, rtol=1e-12, atol=1e-15)
    long = subgradient_descent(X, y, l1=l1, l2=0.0, steps=2000, lr=0.02)
    w_cd, _ = coordinate_descent(X, y, l1=l1, l2=0.0)
    assert np.count_nonzero(w_cd == 0.0) > 0
    assert np.count_nonzero(long[-1] == 0.0) == 0
    gap = float(enet_objective(X, y, long[-1], l1=l1, l2=0.0)) - float(
        enet_objective(X, y, w_cd, l1=l1, l2=0.0)
    )
    assert 0.0 <= gap < 0.05  # close in value, not in sparsity


def test_solvers_reject_bad_input(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="y must have shape"):
        coordinate_descent(X, y[:-1], l1=0.1, l2=0.0)
    with pytest.raises(ValueError, match="X must be 2-D"):
        coordinate_descent(y, y, l1=0.1, l2=0.0)
    with pytest.raises(ValueError, match="l2 must be"):
        proximal_gradient(X, y, l1=0.1, l2=-1.0, steps=1)
    with pytest.raises(ValueError, match="w0 must have shape"):
        coordinate_descent(X, y, l1=0.1, l2=0.0, w0=[0.0])
    with pytest.raises(ValueError, match="lr must be"):
        subgradient_descent(X, y, l1=0.1, l2=0.0, steps=1, lr=0.0)
