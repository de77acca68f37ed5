"""Tests of lossbook.experiments.fitting.fit_line: GD through any lossbook loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments.datasets import line_with_outliers
from lossbook.experiments.fitting import fit_line


def test_fit_line_recovers_the_line_on_clean_data_under_mse():
    x, y, _ = line_with_outliers(20, slope=-1.5, intercept=0.5, noise=0.0,
                                 n_outliers=0)  # fmt: skip
    path, losses = fit_line(x, y, lb.mse, lr=0.5, steps=3000)
    np.testing.assert_allclose(path[-1], [-1.5, 0.5], atol=1e-6)
    assert losses[-1] < 1e-12


def test_path_and_losses_have_one_row_per_step_plus_the_start():
    path, losses = fit_line([0.0, 1.0], [1.0, 3.0], lb.mse, steps=7, init=(0.5, -1.0))
    assert path.shape == (8, 2)
    assert losses.shape == (8,)
    np.testing.assert_array_equal(path[0], [0.5, -1.0])


def test_each_loss_is_the_loss_at_its_row_of_the_path():
    x, y, _ = line_with_outliers(15, seed=2)
    path, losses = fit_line(x, y, lb.huber, lr=0.3, steps=20, delta=0.5)
    for (w, b), value in zip(path, losses, strict=True):
        assert value == pytest.approx(
            float(lb.huber(w * x + b, y, delta=0.5)), rel=1e-14
        )


def test_the_steps_are_gradient_steps():
    x, y, _ = line_with_outliers(15, seed=2)
    path, _ = fit_line(x, y, lb.mse, lr=0.2, steps=3)
    for k in range(3):
        w, b = path[k]
        g = lb.grad.mse(w * x + b, y)  # dL/dpred, then the chain rule
        np.testing.assert_allclose(
            path[k + 1], path[k] - 0.2 * np.array([g @ x, g.sum()]), rtol=1e-13
        )


@pytest.mark.parametrize(
    ("loss", "kw"),
    [(lb.mse, {}), (lb.huber, {"delta": 1.0}), (lb.log_cosh, {}), (lb.mae, {})],
)
def test_the_loss_decreases(loss, kw):
    x, y, _ = line_with_outliers(30, n_outliers=0, seed=0)
    _, losses = fit_line(x, y, loss, lr=0.05, steps=200, **kw)
    assert losses[-1] < 0.5 * losses[0]
    if loss is not lb.mae:  # smooth losses with a small step: monotone descent
        assert np.all(np.diff(losses) <= 1e-12)


def test_robust_losses_resist_the_outliers_that_pull_mse():
    x, y, out = line_with_outliers(40, noise=0.2, n_outliers=4, shift=15.0, seed=0)
    w_mse = fit_line(x, y, lb.mse, lr=0.5, steps=2000)[0][-1, 0]
    w_huber = fit_line(x, y, lb.huber, lr=0.5, steps=2000, delta=0.5)[0][-1, 0]
    w_clean = fit_line(x[~out], y[~out], lb.mse, lr=0.5, steps=2000)[0][-1, 0]
    assert abs(w_huber - w_clean) < 0.5 * abs(w_mse - w_clean)


def test_accepts_lists_and_leaves_torch_grad_mode_alone():
    assert torch.is_grad_enabled()
    path, _ = fit_line([0, 1, 2], [1, 3, 5], lb.mse, steps=2)
    assert path.dtype == np.float64
    assert torch.is_grad_enabled()
