"""Tests of lossbook.experiments.landscape against brute force and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments.landscape import (
    chord_gap,
    constant_loss_curve,
    line_loss_grid,
)

RNG = np.random.default_rng(12345)
X = np.linspace(-1.0, 2.0, 7)
Y = 1.5 * X - 0.5 + RNG.standard_normal(7)
W = np.linspace(-2.0, 3.0, 5)
B = np.linspace(-1.0, 1.0, 4)


@pytest.mark.parametrize(
    ("loss", "kwargs"),
    [(lb.mse, {}), (lb.mae, {}), (lb.huber, {"delta": 0.7}), (lb.log_cosh, {})],
)
def test_grid_equals_a_loop_of_the_reduced_loss(loss, kwargs):
    Z = line_loss_grid(X, Y, loss, W, B, **kwargs)
    assert Z.shape == (len(B), len(W))
    for j, b in enumerate(B):
        for k, w in enumerate(W):
            expected = float(loss(w * X + b, Y, **kwargs))
            assert Z[j, k] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_grid_of_mse_equals_the_closed_form_quadratic():
    # mean (w x + b - y)^2 expanded by hand, an independent formula
    Wg, Bg = np.meshgrid(W, B)
    expected = (
        Wg**2 * np.mean(X**2)
        + 2 * Wg * Bg * np.mean(X)
        + Bg**2
        - 2 * Wg * np.mean(X * Y)
        - 2 * Bg * np.mean(Y)
        + np.mean(Y**2)
    )
    np.testing.assert_allclose(line_loss_grid(X, Y, lb.mse, W, B), expected)


def test_grid_minimum_is_the_least_squares_line():
    w = np.linspace(0.0, 3.0, 301)
    b = np.linspace(-2.0, 1.0, 301)
    Z = line_loss_grid(X, Y, lb.mse, w, b)
    j, k = np.unravel_index(np.argmin(Z), Z.shape)
    slope, intercept = np.polyfit(X, Y, 1)
    assert abs(w[k] - slope) <= 0.01
    assert abs(b[j] - intercept) <= 0.01


def test_constant_curve_minimisers_are_mean_and_median():
    y = np.array([0.3, 1.1, 1.9, 2.2, 40.0])
    c = np.linspace(-1.0, 41.0, 42001)
    step = c[1] - c[0]
    r_mse = constant_loss_curve(y, lb.mse, c)
    r_mae = constant_loss_curve(y, lb.mae, c)
    assert abs(c[np.argmin(r_mse)] - np.mean(y)) <= step
    assert abs(c[np.argmin(r_mae)] - np.median(y)) <= step
    # and the values themselves: brute force
    for i in (0, 1234, 42000):
        assert r_mae[i] == pytest.approx(np.mean(np.abs(c[i] - y)))


def test_constant_curve_passes_loss_kwargs():
    y = [0.0, 3.0]
    c = [0.0, 1.0]
    np.testing.assert_allclose(
        constant_loss_curve(y, lb.huber, c, delta=0.5),
        [float(lb.huber([ci, ci], y, delta=0.5)) for ci in c],
    )


def test_loss_options_named_like_grid_arguments_pass_through():
    # laplace_nll's scale is called `b`, like the grid of intercepts
    from lossbook.likelihood import laplace_nll

    Z = line_loss_grid(X, Y, laplace_nll, W, B, b=2.0)
    assert Z[1, 2] == pytest.approx(float(laplace_nll(W[2] * X + B[1], Y, b=2.0)))
    c = np.array([0.0, 1.0])
    np.testing.assert_allclose(
        constant_loss_curve(Y, laplace_nll, c, b=2.0),
        [float(laplace_nll(np.full_like(Y, ci), Y, b=2.0)) for ci in c],
    )


@pytest.mark.parametrize(
    ("loss", "kwargs"), [(lb.mse, {}), (lb.mae, {}), (lb.huber, {"delta": 1.0})]
)
def test_chord_gap_is_nonnegative_for_convex_losses(loss, kwargs):
    target = RNG.standard_normal(6)
    t = np.linspace(0.0, 1.0, 21)
    for _ in range(20):
        a, b = 3 * RNG.standard_normal((2, 6))
        gap = chord_gap(lambda p: loss(p, target, **kwargs), a, b, t)
        assert gap.shape == t.shape
        assert gap[0] == 0.0 and gap[-1] == 0.0
        assert np.all(gap >= -1e-12)


def test_chord_gap_of_mse_is_the_closed_form():
    # for f = mean (p - y)^2: gap = t (1 - t) mean (a - b)^2
    target = RNG.standard_normal(4)
    a, b = RNG.standard_normal((2, 4))
    t = np.linspace(0.0, 1.0, 11)
    gap = chord_gap(lambda p: lb.mse(p, target), a, b, t)
    np.testing.assert_allclose(gap, t * (1 - t) * np.mean((a - b) ** 2), atol=1e-12)


def test_chord_gap_detects_a_nonconvex_function():
    # MSE of a sigmoid model, as a function of its weight: not convex
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    y = torch.ones(3, dtype=torch.float64)

    def f(w):
        return lb.mse(torch.sigmoid(torch.as_tensor(w) * x), y)

    gap = chord_gap(f, [-6.0], [6.0], np.linspace(0.0, 1.0, 11))
    assert gap.min() < -0.01


def test_chord_gap_accepts_torch_valued_functions():
    target = torch.zeros(2, dtype=torch.float64)
    gap = chord_gap(
        lambda p: lb.mse(torch.as_tensor(p), target), [2.0, 0.0], [0.0, 2.0], [0.5]
    )
    np.testing.assert_allclose(gap, [1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": [[0.0, 1.0]], "y": [0.0, 1.0]}, "`x` must be a non-empty 1-D"),
        ({"x": [0.0, 1.0], "y": [0.0]}, "`x` and `y` must have the same shape"),
        ({"w": []}, "`w` must be a non-empty 1-D"),
        ({"b": [[0.0]]}, "`b` must be a non-empty 1-D"),
    ],
)
def test_line_loss_grid_rejects_bad_shapes(kwargs, message):
    args = {"x": X, "y": Y, "w": W, "b": B, **kwargs}
    with pytest.raises(ValueError, match=message):
        line_loss_grid(args["x"], args["y"], lb.mse, args["w"], args["b"])


def test_constant_curve_rejects_bad_grid():
    with pytest.raises(ValueError, match="`c` must be a non-empty 1-D"):
        constant_loss_curve([1.0], lb.mse, 2.0)


def test_chord_gap_rejects_bad_inputs():
    def f(p):
        return lb.mse(p, [0.0, 0.0])

    with pytest.raises(ValueError, match="`a` and `b` must have the same shape"):
        chord_gap(f, [0.0, 0.0], [0.0], [0.5])
    with pytest.raises(ValueError, match=r"in \[0, 1\], found 1.5"):
        chord_gap(f, [0.0, 0.0], [1.0, 1.0], [0.5, 1.5])
    with pytest.raises(ValueError, match="`t` must be a non-empty 1-D"):
        chord_gap(f, [0.0, 0.0], [1.0, 1.0], [])
