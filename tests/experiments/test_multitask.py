"""Tests of lossbook.experiments.multitask: data, fixed and learned task weights."""

from __future__ import annotations

import numpy as np
import pytest

from lossbook.experiments.multitask import train_multitask, two_task_regression


def test_two_task_regression_has_the_stated_noise_levels():
    x, y, f = two_task_regression(20_000, noise=(0.3, 1.5), seed=4)
    assert x.shape == (20_000, 4)
    assert y.shape == f.shape == (20_000, 2)
    np.testing.assert_allclose((y - f).std(axis=0), [0.3, 1.5], rtol=0.02)
    np.testing.assert_allclose((y - f).mean(axis=0), 0.0, atol=0.03)


def test_two_task_regression_is_seeded_and_noise_free_at_zero():
    a = two_task_regression(50, seed=1)
    b = two_task_regression(50, seed=1)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    x, y, f = two_task_regression(50, noise=(0.0, 0.0, 0.0), dim=3, seed=2)
    assert x.shape == (50, 3)
    np.testing.assert_array_equal(y, f)


@pytest.mark.parametrize("noise", [(), (0.1, -1.0)])
def test_two_task_regression_rejects_bad_noise(noise):
    with pytest.raises(ValueError, match="noise"):
        two_task_regression(10, noise=noise)


def test_first_adam_step_moves_log_sigma_against_the_sign_of_its_gradient():
    """d/d log sigma [exp(-2 s) L / 2 + s] = 1 - L at s = 0: Adam's first step
    is lr times the sign of the gradient, so log sigma rises where L > 1."""
    x, y, _ = two_task_regression(200, noise=(0.1, 3.0), seed=0)
    run = train_multitask(x, y, steps=1, lr=0.05)
    np.testing.assert_array_equal(run.sigma[0], [1.0, 1.0])
    expected = 0.05 * np.sign(run.task_losses[0] - 1.0)
    np.testing.assert_allclose(np.log(run.sigma[1]), expected, rtol=1e-6)


def test_learned_sigmas_recover_the_noise_levels_and_their_ratio():
    x, y, _ = two_task_regression(1000, noise=(0.2, 1.0), seed=0)
    run = train_multitask(x, y, steps=800)
    assert run.sigma.shape == run.task_losses.shape == (801, 2)
    # stationarity in log sigma: sigma_k^2 equals the task's training MSE
    np.testing.assert_allclose(run.sigma[-1] ** 2, run.task_losses[-1], rtol=0.02)
    np.testing.assert_allclose(run.sigma[-1], [0.2, 1.0], rtol=0.1)
    assert run.sigma[-1, 1] / run.sigma[-1, 0] == pytest.approx(5.0, rel=0.1)


def test_fixed_weights_are_used():
    """With weights (1, 0) the second output's layer gets no gradient at all."""
    x, y, _ = two_task_regression(200, seed=3)
    untrained = train_multitask(x, y, weighting="sum", steps=0, seed=7)
    run = train_multitask(x, y, weighting="sum", weights=[1.0, 0.0], steps=50, seed=7)
    assert run.sigma is None
    head0 = untrained.model[2].weight.detach().numpy()
    head = run.model[2].weight.detach().numpy()
    np.testing.assert_array_equal(head[1], head0[1])
    assert not np.array_equal(head[0], head0[0])
    assert run.task_losses[-1, 0] < 0.5 * run.task_losses[0, 0]
    assert run.predict(x).shape == (200, 2)


def test_train_multitask_rejects_bad_arguments():
    x, y, _ = two_task_regression(20)
    with pytest.raises(ValueError, match="weighting"):
        train_multitask(x, y, weighting="gradnorm")
    with pytest.raises(ValueError, match="learned"):
        train_multitask(x, y, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="same n"):
        train_multitask(x, y[:-1])
