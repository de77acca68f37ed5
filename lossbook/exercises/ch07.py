"""Expected answers for reinforcement learning (``chapters/07_reinforcement_learning``).

Every answer is computed with ``lossbook`` (autograd through its losses, or the
experiment helpers the chapter uses), never typed in.
"""

import math

import numpy as np

from .. import rl
from ..experiments import bandit, ppo
from . import register

# exercise 1 and 2: a three-armed bandit with pi = (1/6, 2/6, 3/6)
THETA = [0.0, math.log(2.0), math.log(3.0)]
ARM, REWARD, BASELINE = 0, 4.0, 1.0
MEANS = [1.0, 2.0, 4.0]
# exercise 3: PPO's clipped loss on four samples
RATIOS = [0.7, 1.3, 0.7, 1.3]
ADVANTAGES = [2.0, 2.0, -2.0, -2.0]
# exercise 4: two categorical policies
P_OLD = [0.5, 0.3, 0.2]
P_NEW = [0.4, 0.4, 0.2]
# exercise 5: one three-step episode that terminates
GAE_REWARDS = [1.0, 1.0, 1.0]
GAE_VALUES = [0.5, 0.4, 0.3]


@register(
    "ch07.1",
    hint="The estimate is (r - b) (e_a - pi) with pi = (1/6, 1/3, 1/2); it is "
    "minus the gradient of policy_gradient(log_pi[a], r - b).",
)
def _reinforce_estimate():
    import torch

    theta = torch.tensor(THETA, dtype=torch.float64, requires_grad=True)
    log_pi = torch.log_softmax(theta, -1)
    loss = rl.policy_gradient(log_pi[ARM : ARM + 1], torch.tensor([REWARD - BASELINE]))
    (g,) = torch.autograd.grad(loss, theta)
    return -g.numpy()  # the loss descends; the estimate ascends J


@register(
    "ch07.2",
    hint="b* = sum_a pi_a mu_a ||e_a - pi||^2 / sum_a pi_a ||e_a - pi||^2, with "
    "||e_a - pi||^2 = (1 - pi_a)^2 + sum_{j != a} pi_j^2.",
)
def _optimal_baseline():
    return bandit.optimal_baseline(THETA, bandit.GaussianBandit(MEANS))


@register(
    "ch07.3",
    hint="Where the clipped term is the minimum and differs from r A the "
    "gradient is 0; elsewhere it is -r A.",
)
def _ppo_gradient():
    import torch

    lp = torch.tensor(np.log(RATIOS), requires_grad=True)
    old = torch.zeros(4, dtype=torch.float64)
    adv = torch.tensor(ADVANTAGES, dtype=torch.float64)
    rl.ppo_clip(lp, old, adv, clip_eps=0.2, reduction="sum").backward()
    return lp.grad.numpy()


@register(
    "ch07.4",
    hint="KL(p || q) = sum_a p_a log(p_a / q_a); only the first two actions "
    "contribute.",
)
def _kl_old_new():
    return ppo.categorical_kl(np.log([P_OLD]), np.log([P_NEW]))


@register(
    "ch07.5",
    hint="delta_t = r_t + gamma V(s_{t+1}) - V(s_t) with V = 0 after the "
    "terminal step; then A_t = delta_t + gamma lam A_{t+1}, from the end.",
)
def _gae():
    rewards = np.array(GAE_REWARDS)[:, None]
    values = np.array(GAE_VALUES)[:, None]
    next_values = np.array([*GAE_VALUES[1:], 0.0])[:, None]
    terminated = np.array([False, False, True])[:, None]
    adv = ppo.gae(
        rewards, values, next_values, terminated, terminated, gamma=0.9, lam=0.8
    )
    return adv[:, 0]
