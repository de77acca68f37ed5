"""Tests of lossbook.experiments.ppo: the cart-pole's equations against Lagrange's
equations and the linearised pendulum, the environment's rules, GAE against a
brute-force sum, the logged PPO diagnostics on hand-made inputs (and against
autograd's zero gradients and the exact KL), and a short training run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook.experiments import ppo
from lossbook.experiments.ppo import (
    CartPole,
    cartpole_accelerations,
    cartpole_step,
    categorical_kl,
    gae,
    ppo_diagnostics,
    train_ppo,
)

G, MC, MP, L = 9.8, 1.0, 0.1, 0.5  # CartPole-v1's constants, typed independently


def lagrange_accelerations(state, force):
    """Solve Lagrange's equations of a cart with a uniform rod (half-length L).

    T = M x'^2 / 2 + m L cos(th) x' th' + (4/3) m L^2 th'^2 / 2, V = m g L cos(th):
      M x'' + m L cos(th) th'' - m L sin(th) th'^2 = F
      m L cos(th) x'' + (4/3) m L^2 th'' - m g L sin(th) = 0
    """
    _, _, th, w = state
    mass = np.array(
        [[MC + MP, MP * L * math.cos(th)], [MP * L * math.cos(th), 4 / 3 * MP * L**2]]
    )
    rhs = np.array([force + MP * L * math.sin(th) * w**2, MP * G * L * math.sin(th)])
    return np.linalg.solve(mass, rhs)


def test_accelerations_solve_lagranges_equations():
    rng = np.random.default_rng(0)
    for _ in range(50):
        state = rng.uniform(-3, 3, size=4)
        force = rng.uniform(-10, 10)
        x_acc, th_acc = cartpole_accelerations(state, force)
        np.testing.assert_allclose(
            [x_acc, th_acc], lagrange_accelerations(state, force), rtol=1e-12
        )


def test_accelerations_are_vectorised():
    rng = np.random.default_rng(1)
    states = rng.uniform(-1, 1, size=(6, 4))
    forces = rng.uniform(-10, 10, size=6)
    x_acc, th_acc = cartpole_accelerations(states, forces)
    for i in range(6):
        one = cartpole_accelerations(states[i], forces[i])
        assert (x_acc[i], th_acc[i]) == pytest.approx(one, rel=1e-15)


def test_no_force_keeps_the_centre_of_mass_still_and_energy_constant():
    # with F = 0 the horizontal momentum and the energy are conserved:
    # d^2/dt^2 (x + (m/M) L sin th) = 0 and dE/dt = F x' = 0
    rng = np.random.default_rng(2)
    total = MC + MP
    for _ in range(20):
        x, v, th, w = rng.uniform(-2, 2, size=4)
        x_acc, th_acc = cartpole_accelerations(np.array([x, v, th, w]), 0.0)
        com_acc = x_acc + MP / total * L * (math.cos(th) * th_acc - math.sin(th) * w**2)
        assert abs(com_acc) < 1e-12
        cos, sin = math.cos(th), math.sin(th)
        coupling = MP * L * (cos * (x_acc * w + v * th_acc) - sin * v * w * w)
        de_dt = (
            total * v * x_acc
            + coupling
            + 4 / 3 * MP * L**2 * w * th_acc
            - MP * G * L * sin * w
        )
        assert abs(de_dt) < 1e-11


def test_small_angles_fall_like_the_linearised_inverted_pendulum():
    # theta'' = lam^2 theta with lam^2 = g / (L (4/3 - m/M)): theta = theta0 cosh(lam t)
    lam = math.sqrt(G / (L * (4 / 3 - MP / (MC + MP))))
    state = np.array([0.0, 0.0, 1e-6, 0.0])
    tau, t_end = 1e-4, 0.5
    for _ in range(round(t_end / tau)):
        state = cartpole_step(state, 0.0, tau=tau)
    assert state[2] == pytest.approx(1e-6 * math.cosh(lam * t_end), rel=1e-3)


def test_euler_step_moves_positions_with_the_old_velocities():
    state = np.array([0.1, -0.2, 0.05, 0.3])
    x_acc, th_acc = cartpole_accelerations(state, -10.0)
    expected = [0.1 + 0.02 * -0.2, -0.2 + 0.02 * x_acc, 0.05 + 0.02 * 0.3,
                0.3 + 0.02 * th_acc]  # fmt: skip
    np.testing.assert_allclose(cartpole_step(state, -10.0), expected, rtol=1e-15)


def test_push_from_rest_by_hand():
    # theta = 0: th'' = -(F/M) / (L (4/3 - m/M)), x'' = F/M - (m L / M) th''
    total = MC + MP
    th_acc = -(10.0 / total) / (L * (4 / 3 - MP / total))
    x_acc = 10.0 / total - MP * L * th_acc / total
    assert cartpole_accelerations(np.zeros(4), 10.0) == pytest.approx(
        (x_acc, th_acc), rel=1e-14
    )


def test_environment_terminates_like_a_step_by_step_simulation():
    env = CartPole(1, seed=3)
    state = env.reset()[0]
    length = 0
    while True:  # always push right: the pole falls to the left
        length += 1
        state = cartpole_step(state, 10.0)
        if abs(state[0]) > 2.4 or abs(state[2]) > 12 * math.pi / 180:
            break
    for t in range(1, length + 1):
        obs, reward, term, trunc, final = env.step(np.array([1]))
        assert reward[0] == 1.0
        assert bool(term[0]) == (t == length) and not trunc[0]
    assert abs(final[0, 2]) > 12 * math.pi / 180  # the state that ended it
    assert np.all(np.abs(obs) <= 0.05)  # the copy has been reset
    assert 5 < length < 50


def test_time_limit_truncates_and_resets():
    env = CartPole(4, seed=0, max_steps=3)
    env.reset()
    actions = np.array([0, 1, 0, 1])
    for t in range(3):
        obs, _, term, trunc, final = env.step(actions)
        assert not term.any()
        assert trunc.all() == (t == 2)
    assert np.all(np.abs(obs) <= 0.05) and not np.allclose(obs, final)
    assert np.all(env.steps == 0)


def test_environment_rejects_bad_actions():
    env = CartPole(2)
    env.reset()
    with pytest.raises(ValueError, match=r"actions must be 2 values in \{0, 1\}"):
        env.step(np.array([0, 2]))
    with pytest.raises(ValueError, match="actions must be 2 values"):
        env.step(np.array([1]))


def brute_force_gae(rewards, values, next_values, terminated, done, gamma, lam):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, summed up to the end of the episode."""
    T, N = rewards.shape
    delta = rewards + gamma * (1 - terminated) * next_values - values
    adv = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            for k in range(t, T):
                adv[t, n] += (gamma * lam) ** (k - t) * delta[k, n]
                if done[k, n]:
                    break
    return adv


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_matches_the_brute_force_sum(lam):
    rng = np.random.default_rng(4)
    T, N = 9, 3
    rewards, values, next_values = rng.standard_normal((3, T, N))
    terminated = rng.random((T, N)) < 0.15
    done = terminated | (rng.random((T, N)) < 0.15)
    got = gae(rewards, values, next_values, terminated, done, gamma=0.9, lam=lam)
    expected = brute_force_gae(rewards, values, next_values, terminated, done, 0.9, lam)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_gae_with_lambda_one_is_the_monte_carlo_return_minus_the_value():
    rewards = np.array([[1.0], [2.0], [3.0]])
    values = np.array([[0.5], [0.2], [0.1]])
    next_values = np.array([[0.2], [0.1], [4.0]])  # bootstrap V = 4 at the end
    no = np.zeros((3, 1), bool)
    adv = gae(rewards, values, next_values, no, no, gamma=0.5, lam=1.0)
    returns = [1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4, 2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4]
    np.testing.assert_allclose(adv[:, 0] + values[:, 0], returns, rtol=1e-15)


def test_diagnostics_on_hand_made_ratios():
    ratio = np.array([1.5, 0.5, 1.1, 0.7, 1.3, 1.0])
    adv = np.array([1.0, 1.0, -1.0, -2.0, -1.0, 3.0])
    d = ppo_diagnostics(np.log(ratio), np.zeros(6), adv, clip_eps=0.2)
    # |r - 1| > 0.2 for 1.5, 0.5, 0.7, 1.3; the gradient vanishes for
    # (1.5, A > 0) and (0.7, A < 0) only
    assert d["clip_fraction"] == pytest.approx(4 / 6, abs=1e-15)
    assert d["active_clip_fraction"] == pytest.approx(2 / 6, abs=1e-15)
    k3 = np.mean(ratio - 1 - np.log(ratio))
    assert d["approx_kl"] == pytest.approx(k3, rel=1e-12)


def test_diagnostics_accept_tensors_and_check_shapes():
    lp = torch.tensor([0.1, -0.3], dtype=torch.float64, requires_grad=True)
    d = ppo_diagnostics(lp, torch.zeros(2), torch.ones(2))
    assert d == ppo_diagnostics([0.1, -0.3], [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="must have one shape"):
        ppo_diagnostics([0.1, 0.2], [0.0], [1.0, 1.0])


def test_active_clip_fraction_is_where_ppo_clips_gradient_vanishes():
    rng = np.random.default_rng(5)
    old = np.log(rng.uniform(0.05, 1, 500))
    lp = torch.tensor(old + rng.normal(0, 0.4, 500), requires_grad=True)
    adv = rng.standard_normal(500)
    lb.ppo_clip(lp, torch.tensor(old), torch.tensor(adv), reduction="sum").backward()
    zero = (lp.grad == 0).double().mean().item()
    d = ppo_diagnostics(lp, old, adv, clip_eps=0.2)
    assert d["active_clip_fraction"] == pytest.approx(zero, abs=1e-15)
    assert 0.05 < zero < d["clip_fraction"]


def test_k3_is_an_unbiased_estimate_of_the_kl_from_old_to_new():
    # E_{a ~ p}[(q/p - 1) - log(q/p)] = sum q - 1 + KL(p || q) = KL(p || q)
    rng = np.random.default_rng(6)
    old_logits, new_logits = rng.standard_normal((2, 7, 5))
    p = torch.softmax(torch.tensor(old_logits), -1).numpy()
    log_r = torch.log_softmax(torch.tensor(new_logits), -1).numpy() - np.log(p)
    expectation = (p * (np.expm1(log_r) - log_r)).sum(-1).mean()
    assert expectation == pytest.approx(
        categorical_kl(old_logits, new_logits), rel=1e-12
    )


def test_categorical_kl_matches_torch_distributions():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 4, 3))
    expected = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=torch.tensor(a)),
        torch.distributions.Categorical(logits=torch.tensor(b)),
    ).mean()
    assert categorical_kl(a, b) == pytest.approx(expected.item(), rel=1e-12)


def test_short_training_run_logs_consistent_numbers():
    log = train_ppo(iterations=3, n_envs=4, n_steps=32, seed=1)
    np.testing.assert_array_equal(log.env_steps, [128, 256, 384])
    for name in ("clip_fraction", "active_clip_fraction", "approx_kl", "exact_kl"):
        values = getattr(log, name)
        assert values.shape == (3,) and np.all(values >= 0), name
    assert np.all(log.active_clip_fraction <= log.clip_fraction)
    assert np.all(log.exact_kl < 0.1)
    assert len(log.episode_returns) == len(log.episode_ends) > 0
    assert np.all(np.diff(log.episode_ends) >= 0)
    again = train_ppo(iterations=3, n_envs=4, n_steps=32, seed=1)
    np.testing.assert_array_equal(log.episode_returns, again.episode_returns)


def test_ppo_learns_to_balance():
    log = train_ppo(iterations=15, seed=0)
    assert log.mean_return[0] < 40  # a random policy keeps the pole up ~20 steps
    assert log.mean_return[-1] > 100


def test_adam_steps_like_torch_optim_adam():
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(3, 2, generator=gen, dtype=torch.float64, requires_grad=True)]
    ref = [ours[0].detach().clone().requires_grad_()]
    mine = ppo._Adam(ours, lr=0.1, eps=1e-5)
    theirs = torch.optim.Adam(ref, lr=0.1, eps=1e-5)
    for step in range(5):
        for params, opt in ((ours, mine), (ref, theirs)):
            opt.zero_grad()
            loss = (params[0] ** 3).sum() + step * params[0].sum()
            loss.backward()
            opt.step()
        torch.testing.assert_close(ours[0], ref[0], rtol=1e-14, atol=1e-15)
    assert not torch.equal(ours[0], ref[0].detach() * 0)


def test_module_constants_are_cartpole_v1s():
    masses = (ppo.MASS_CART, ppo.MASS_POLE)
    assert (ppo.GRAVITY, *masses, ppo.HALF_LENGTH) == (G, MC, MP, L)
    assert (ppo.FORCE_MAG, ppo.TAU, ppo.X_LIMIT) == (10.0, 0.02, 2.4)
    assert ppo.THETA_LIMIT == pytest.approx(math.radians(12))
