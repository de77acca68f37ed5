"""Tests of lossbook.experiments.bandit: exact gradient against autograd, the
REINFORCE estimator unbiased (exactly, by enumeration, and by Monte Carlo), its
closed-form variance against sampling, the baselines, and the training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments.bandit import (
    GaussianBandit,
    estimator_variance,
    exact_gradient,
    expected_reward,
    optimal_baseline,
    reinforce_samples,
    sample_actions,
    score,
    softmax,
    train_reinforce,
)

BANDIT = GaussianBandit([1.0, -0.5, 2.0, 0.3], noise=0.7)
THETA = np.array([0.4, -1.0, 0.2, 1.1])


def enumerate_mean_and_second_moment(theta, bandit, b):
    """E[g] and E[||g||^2] of one estimate, summing over arms exactly."""
    pi = softmax(theta)
    mean = np.zeros(bandit.k)
    second = 0.0
    for a in range(bandit.k):
        s = np.eye(bandit.k)[a] - pi
        mean += pi[a] * (bandit.means[a] - b) * s
        # E[(r - b)^2] = (mu - b)^2 + sigma^2 for a Gaussian reward
        second += pi[a] * ((bandit.means[a] - b) ** 2 + bandit.noise**2) * (s @ s)
    return mean, second


def test_softmax_matches_torch_and_survives_large_logits():
    theta = np.array([[1000.0, 999.0, -5.0], [0.0, 0.0, 0.0]])
    expected = torch.softmax(torch.tensor(theta), -1).numpy()
    np.testing.assert_allclose(softmax(theta), expected, rtol=1e-14)


def test_exact_gradient_is_autograds_gradient_of_the_expected_reward():
    theta = torch.tensor(THETA, requires_grad=True)
    j = torch.softmax(theta, -1) @ torch.tensor(BANDIT.means)
    (g,) = torch.autograd.grad(j, theta)
    np.testing.assert_allclose(exact_gradient(THETA, BANDIT), g.numpy(), rtol=1e-13)
    assert expected_reward(THETA, BANDIT) == pytest.approx(j.item(), rel=1e-14)


def test_score_is_autograds_gradient_of_the_log_probability():
    theta = torch.tensor(THETA, requires_grad=True)
    log_pi = torch.log_softmax(theta, -1)
    for a in range(4):
        (g,) = torch.autograd.grad(log_pi[a], theta, retain_graph=True)
        np.testing.assert_allclose(score(THETA, [a])[0], g.numpy(), atol=1e-15)


@pytest.mark.parametrize("b", [0.0, 1.5, -3.0, 10.0])
def test_reinforce_is_exactly_unbiased_for_any_constant_baseline(b):
    mean, _ = enumerate_mean_and_second_moment(THETA, BANDIT, b)
    np.testing.assert_allclose(mean, exact_gradient(THETA, BANDIT), atol=1e-14)


def test_a_baseline_that_depends_on_the_arm_biases_the_estimate():
    # the test above can fail: b_a = mu_a / 2 (it depends on the arm) halves E[g]
    pi = softmax(THETA)
    mean = sum(pi[a] * (BANDIT.means[a] / 2) * (np.eye(4)[a] - pi) for a in range(4))
    assert not np.allclose(mean, exact_gradient(THETA, BANDIT))


@pytest.mark.parametrize("b", [0.0, 5.0])
def test_monte_carlo_mean_is_within_four_standard_errors(b):
    rng = np.random.default_rng(0)
    g = reinforce_samples(THETA, BANDIT, 200_000, baseline=b, rng=rng)
    se = g.std(axis=0) / np.sqrt(len(g))
    assert np.all(np.abs(g.mean(axis=0) - exact_gradient(THETA, BANDIT)) < 4 * se)


@pytest.mark.parametrize("b", [0.0, 0.8, 5.0])
def test_closed_form_variance_matches_enumeration_and_sampling(b):
    mean, second = enumerate_mean_and_second_moment(THETA, BANDIT, b)
    exact = estimator_variance(THETA, BANDIT, b)
    assert exact == pytest.approx(second - mean @ mean, rel=1e-13)
    g = reinforce_samples(
        THETA, BANDIT, 200_000, baseline=b, rng=np.random.default_rng(1)
    )
    assert g.var(axis=0).sum() == pytest.approx(exact, rel=0.02)


def test_the_baseline_reduces_variance_and_the_optimal_one_minimises_it():
    bandit = BANDIT.shifted(10.0)  # large rewards: the raw estimator is noisy
    v0 = estimator_variance(THETA, bandit, 0.0)
    vj = estimator_variance(THETA, bandit, expected_reward(THETA, bandit))
    b_star = optimal_baseline(THETA, bandit)
    v_star = estimator_variance(THETA, bandit, b_star)
    assert v_star <= vj < v0 / 50
    # the variance is a parabola in b: its minimum is at b_star
    for db in (-0.1, -1e-3, 1e-3, 0.1):
        assert estimator_variance(THETA, bandit, b_star + db) > v_star


def test_optimal_baseline_is_the_expected_reward_for_a_uniform_policy():
    theta = np.zeros(4)
    assert optimal_baseline(theta, BANDIT) == pytest.approx(
        expected_reward(theta, BANDIT), rel=1e-14
    )


def test_shifting_rewards_does_not_change_the_gradient_but_grows_the_variance():
    far = BANDIT.shifted(100.0)
    np.testing.assert_allclose(
        exact_gradient(THETA, far), exact_gradient(THETA, BANDIT), atol=1e-12
    )
    assert estimator_variance(THETA, far) > 100 * estimator_variance(THETA, BANDIT)


def test_sample_actions_follows_the_probabilities():
    probs = np.array([[0.1, 0.6, 0.3], [1.0, 0.0, 0.0]])
    actions = sample_actions(probs, 100_000, np.random.default_rng(2))
    assert actions.shape == (2, 100_000)
    freq = np.stack([np.bincount(row, minlength=3) / row.size for row in actions])
    np.testing.assert_allclose(freq[0], probs[0], atol=0.005)
    np.testing.assert_array_equal(freq[1], probs[1])
    assert sample_actions(probs[0], 7, np.random.default_rng(0)).shape == (7,)


def test_policy_gradient_loss_gives_minus_the_mean_reinforce_estimate():
    rng = np.random.default_rng(3)
    actions = sample_actions(softmax(THETA), 64, rng)
    rewards = BANDIT.pull(actions, rng)
    theta = torch.tensor(THETA, requires_grad=True)
    log_probs = torch.log_softmax(theta, -1)[torch.from_numpy(actions)]
    lb.policy_gradient(log_probs, torch.from_numpy(rewards - 1.0)).backward()
    by_hand = ((rewards - 1.0)[:, None] * score(THETA, actions)).mean(axis=0)
    np.testing.assert_allclose(theta.grad.numpy(), -by_hand, atol=1e-14)


def test_training_is_reproducible_and_starts_from_the_uniform_policy():
    a = train_reinforce(BANDIT, steps=20, n_runs=3, seed=4, baseline="learned")
    b = train_reinforce(BANDIT, steps=20, n_runs=3, seed=4, baseline="learned")
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 21)
    np.testing.assert_allclose(a[:, 0], BANDIT.means.mean(), rtol=1e-14)
    assert not np.array_equal(a[0], a[1])  # independent runs


def test_first_step_is_a_gradient_step_on_the_policy_gradient_loss():
    # one run, one step: redo it by hand with the same random stream
    curve = train_reinforce(BANDIT, steps=1, batch=5, lr=0.3, seed=7)
    rng = np.random.default_rng(7)
    actions = sample_actions(softmax(np.zeros(4))[None], 5, rng)[0]
    rewards = BANDIT.pull(actions[None], rng)[0]
    theta1 = 0.3 * (rewards[:, None] * score(np.zeros(4), actions)).mean(axis=0)
    assert curve[0, 1] == pytest.approx(expected_reward(theta1, BANDIT), rel=1e-13)


@pytest.mark.parametrize("baseline", ["none", "learned"])
def test_training_improves_the_expected_reward(baseline):
    curve = train_reinforce(BANDIT, steps=200, lr=0.3, n_runs=20, baseline=baseline)
    assert np.median(curve[:, -1]) > 1.8  # best arm 2.0, uniform policy 0.7


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="baseline must be 'none' or 'learned'"):
        train_reinforce(BANDIT, baseline="mean")
    with pytest.raises(ValueError, match="means must be a 1-D array"):
        GaussianBandit([1.0])
    with pytest.raises(ValueError, match="noise must be >= 0"):
        GaussianBandit([1.0, 2.0], noise=-1.0)


def test_random_bandit_is_seeded():
    a = GaussianBandit.random(5, offset=3.0, seed=1)
    b = GaussianBandit.random(5, offset=3.0, seed=1)
    np.testing.assert_array_equal(a.means, b.means)
    assert a.k == 5 and abs(a.means.mean() - 3.0) < 2.0
