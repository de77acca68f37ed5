"""Proximal policy optimisation on a vectorised CartPole, in NumPy and PyTorch.

The environment is the classic cart-pole balancing task of Barto, Sutton and
Anderson (1983) [1]_ in its frictionless form, with the constants, Euler step,
termination rule and 500-step time limit of Gymnasium's ``CartPole-v1``. It is
written here in NumPy, vectorised over copies of the environment, so the book
needs no simulator package and a PPO run takes seconds on a CPU.

The PPO loop follows Schulman et al. (2017) [2]_ with the usual implementation
choices (generalised advantage estimation [3]_, advantage normalisation per
minibatch, a value loss and an entropy bonus, gradient-norm clipping); the
policy term is :func:`lossbook.rl.ppo_clip` and the value term
:func:`lossbook.rl.value_loss`.

References
----------
.. [1] A. G. Barto, R. S. Sutton and C. W. Anderson, "Neuronlike adaptive
   elements that can solve difficult learning control problems", *IEEE
   Transactions on Systems, Man, and Cybernetics* SMC-13(5), 834-846, 1983.
.. [2] J. Schulman, F. Wolski, P. Dhariwal, A. Radford and O. Klimov,
   "Proximal policy optimization algorithms", arXiv:1707.06347, 2017.
.. [3] J. Schulman, P. Moritz, S. Levine, M. Jordan and P. Abbeel,
   "High-dimensional continuous control using generalized advantage
   estimation", ICLR, 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import rl

__all__ = [
    "CartPole",
    "PPOLog",
    "cartpole_accelerations",
    "cartpole_step",
    "categorical_kl",
    "gae",
    "ppo_diagnostics",
    "train_ppo",
]

# Gymnasium CartPole-v1's constants (SI units; the pole's length is its half-length)
GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
HALF_LENGTH = 0.5
FORCE_MAG = 10.0
TAU = 0.02
X_LIMIT = 2.4
THETA_LIMIT = 12 * 2 * math.pi / 360


def cartpole_accelerations(state, force):
    r"""Accelerations of the frictionless cart-pole (Barto et al., 1983).

    With :math:`M = m_c + m_p`, pole half-length :math:`l` and
    :math:`u = (F + m_p l \dot\theta^2 \sin\theta) / M`,

    .. math::

        \ddot\theta = \frac{g \sin\theta - u \cos\theta}
        {l\,(4/3 - m_p \cos^2\theta / M)}, \qquad
        \ddot x = u - \frac{m_p l\, \ddot\theta \cos\theta}{M}.

    Parameters
    ----------
    state : numpy.ndarray
        Shape ``(..., 4)``: cart position :math:`x`, cart velocity, pole angle
        :math:`\theta` (radians, 0 upright) and angular velocity.
    force : float or numpy.ndarray
        Horizontal force on the cart, broadcastable to ``state[..., 0]``.

    Returns
    -------
    x_acc, theta_acc : numpy.ndarray
        :math:`\ddot x` and :math:`\ddot\theta`, shape ``state.shape[:-1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.ppo import cartpole_accelerations
    >>> x_acc, theta_acc = cartpole_accelerations(np.zeros(4), 10.0)
    >>> round(float(x_acc), 4), round(float(theta_acc), 4)
    (9.7561, -14.6341)
    """
    state = np.asarray(state, dtype=np.float64)
    theta_dot = state[..., 3]
    cos, sin = np.cos(state[..., 2]), np.sin(state[..., 2])
    total = MASS_CART + MASS_POLE
    pml = MASS_POLE * HALF_LENGTH
    u = (force + pml * theta_dot**2 * sin) / total
    theta_acc = (GRAVITY * sin - cos * u) / (
        HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos**2 / total)
    )
    x_acc = u - pml * theta_acc * cos / total
    return x_acc, theta_acc


def cartpole_step(state, force, *, tau=TAU):
    """One explicit Euler step of the cart-pole, as Gymnasium's ``"euler"``.

    Positions move with the old velocities, then the velocities with the
    accelerations of :func:`cartpole_accelerations`.

    Parameters
    ----------
    state : numpy.ndarray
        Shape ``(..., 4)``, as in :func:`cartpole_accelerations`.
    force : float or numpy.ndarray
        Horizontal force on the cart.
    tau : float, default 0.02
        Time step in seconds.

    Returns
    -------
    numpy.ndarray
        The next state, same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.ppo import cartpole_step
    >>> cartpole_step(np.zeros(4), 10.0).round(4).tolist()
    [0.0, 0.1951, 0.0, -0.2927]
    """
    state = np.asarray(state, dtype=np.float64)
    x_acc, theta_acc = cartpole_accelerations(state, force)
    x, x_dot, theta, theta_dot = np.moveaxis(state, -1, 0)
    return np.stack(
        [
            x + tau * x_dot,
            x_dot + tau * x_acc,
            theta + tau * theta_dot,
            theta_dot + tau * theta_acc,
        ],
        axis=-1,
    )


class CartPole:
    """``n_envs`` independent cart-poles that reset themselves (CartPole-v1 rules).

    Action 1 pushes the cart right with 10 N, action 0 left. Every step
    earns reward 1, including the last; an episode terminates when
    :math:`|x| > 2.4` or :math:`|\\theta| > 12°` and is truncated after
    ``max_steps`` steps. Start states are uniform in ``[-0.05, 0.05]^4``.

    Parameters
    ----------
    n_envs : int
        Number of copies stepped together.
    seed : int, default 0
        Seed of the start states.
    max_steps : int, default 500
        Time limit of an episode.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.ppo import CartPole
    >>> env = CartPole(3, seed=0)
    >>> obs = env.reset()
    >>> obs.shape
    (3, 4)
    >>> obs, reward, terminated, truncated, final_obs = env.step(np.ones(3, int))
    >>> reward.tolist(), terminated.tolist()
    ([1.0, 1.0, 1.0], [False, False, False])
    """

    def __init__(self, n_envs, *, seed=0, max_steps=500):
        self.n_envs = int(n_envs)
        self.max_steps = int(max_steps)
        self._rng = np.random.default_rng(seed)
        self.state = np.zeros((self.n_envs, 4))
        self.steps = np.zeros(self.n_envs, dtype=np.int64)

    def _starts(self, n):
        return self._rng.uniform(-0.05, 0.05, size=(n, 4))

    def reset(self):
        """Start every copy afresh; return the observations, shape (n_envs, 4)."""
        self.state = self._starts(self.n_envs)
        self.steps[:] = 0
        return self.state.copy()

    def step(self, actions):
        """Apply ``actions`` (0 or 1 per copy) for one time step.

        Returns
        -------
        obs : numpy.ndarray
            Next observations; a copy whose episode ended has been reset, and
            ``obs`` is its new start state.
        reward : numpy.ndarray
            1.0 for every copy.
        terminated, truncated : numpy.ndarray of bool
            Whether the episode ended by falling (or leaving the track) or by
            the time limit.
        final_obs : numpy.ndarray
            The state reached by this step, before any reset (for
            bootstrapping a truncated episode).
        """
        actions = np.asarray(actions)
        if (
            actions.shape != (self.n_envs,)
            or not ((actions == 0) | (actions == 1)).all()
        ):
            raise ValueError(
                f"actions must be {self.n_envs} values in {{0, 1}}, got {actions!r}"
            )
        force = np.where(actions == 1, FORCE_MAG, -FORCE_MAG)
        final = cartpole_step(self.state, force)
        self.steps += 1
        terminated = (np.abs(final[:, 0]) > X_LIMIT) | (
            np.abs(final[:, 2]) > THETA_LIMIT
        )
        truncated = ~terminated & (self.steps >= self.max_steps)
        done = terminated | truncated
        self.state = final.copy()
        if done.any():
            self.state[done] = self._starts(int(done.sum()))
            self.steps[done] = 0
        reward = np.ones(self.n_envs)
        return self.state.copy(), reward, terminated, truncated, final


def gae(rewards, values, next_values, terminated, done, *, gamma=0.99, lam=0.95):
    r"""Generalised advantage estimates (Schulman et al., 2016) of a rollout.

    .. math::

        \delta_t = r_t + \gamma (1 - \text{term}_t) V(s_{t+1}) - V(s_t),
        \qquad \hat A_t = \delta_t + \gamma\lambda (1 - \text{done}_t)
        \hat A_{t+1}

    Parameters
    ----------
    rewards, values, next_values : numpy.ndarray
        Shape ``(T, N)``: reward of step ``t``, :math:`V(s_t)`, and the value
        of the state that step ``t`` reached (before any reset; 0 or anything
        where the episode terminated). The last row of ``next_values``
        bootstraps the unfinished episodes.
    terminated, done : numpy.ndarray of bool
        Shape ``(T, N)``: the episode ended in a terminal state at step ``t``;
        it ended for any reason (terminated or truncated). A truncated episode
        is bootstrapped with ``next_values`` but its advantage does not flow
        into the next episode.
    gamma : float, default 0.99
        Discount factor.
    lam : float, default 0.95
        GAE's :math:`\lambda`; 1 gives the Monte Carlo return minus
        :math:`V(s_t)`, 0 the one-step TD error.

    Returns
    -------
    numpy.ndarray
        Advantages, shape ``(T, N)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.ppo import gae
    >>> r = np.ones((3, 1)); v = np.zeros((3, 1)); no = np.zeros((3, 1), bool)
    >>> gae(r, v, v, no, no, gamma=0.5, lam=1.0).ravel().tolist()
    [1.75, 1.5, 1.0]
    """
    rewards, values, next_values = (
        np.asarray(a, dtype=np.float64) for a in (rewards, values, next_values)
    )
    alive = 1.0 - np.asarray(terminated, dtype=np.float64)
    cont = 1.0 - np.asarray(done, dtype=np.float64)
    delta = rewards + gamma * alive * next_values - values
    adv = np.zeros_like(delta)
    running = np.zeros(delta.shape[1:])
    for t in range(delta.shape[0] - 1, -1, -1):
        running = delta[t] + gamma * lam * cont[t] * running
        adv[t] = running
    return adv


def _as_numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def ppo_diagnostics(log_probs, old_log_probs, advantages, *, clip_eps=0.2):
    r"""What PPO implementations log: clipped fractions and an estimate of the KL.

    With :math:`r = \pi_\theta(a\mid s) / \pi_{\text{old}}(a\mid s)` on samples
    drawn from the old policy:

    - ``clip_fraction``: the fraction with :math:`|r - 1| > \epsilon` (the
      quantity CleanRL and Stable-Baselines3 log);
    - ``active_clip_fraction``: the fraction whose clipped term is the
      minimum and differs from :math:`r \hat A`, where the loss's gradient is
      zero (:math:`r > 1 + \epsilon` with :math:`\hat A > 0`, or
      :math:`r < 1 - \epsilon` with :math:`\hat A < 0`);
    - ``approx_kl``: the mean of :math:`(r - 1) - \log r`, an unbiased and
      never negative estimator of :math:`\mathrm{KL}(\pi_{\text{old}}\,\|\,
      \pi_\theta)` (the "k3" estimator of Schulman's note on approximating
      the KL divergence).

    Parameters
    ----------
    log_probs, old_log_probs : array_like or torch.Tensor
        Log-probabilities of the sampled actions under the new and the old
        policy, same shape.
    advantages : array_like or torch.Tensor
        The advantages used in the loss, same shape.
    clip_eps : float, default 0.2
        PPO's :math:`\epsilon`.

    Returns
    -------
    dict
        ``clip_fraction``, ``active_clip_fraction``, ``approx_kl`` as floats.

    Examples
    --------
    >>> import math
    >>> from lossbook.experiments.ppo import ppo_diagnostics
    >>> lp = [math.log(1.5), math.log(0.5), 0.0]
    >>> d = ppo_diagnostics(lp, [0.0, 0.0, 0.0], [1.0, 1.0, -1.0])
    >>> d["clip_fraction"], d["active_clip_fraction"]
    (0.6666666666666666, 0.3333333333333333)
    """
    lp, old, adv = (_as_numpy(a) for a in (log_probs, old_log_probs, advantages))
    if not lp.shape == old.shape == adv.shape:
        raise ValueError(
            f"log_probs, old_log_probs and advantages must have one shape, got "
            f"{lp.shape}, {old.shape} and {adv.shape}"
        )
    log_ratio = lp - old
    ratio = np.exp(log_ratio)
    outside = np.abs(ratio - 1.0) > clip_eps
    active = ((ratio > 1.0 + clip_eps) & (adv > 0)) | (
        (ratio < 1.0 - clip_eps) & (adv < 0)
    )
    return {
        "clip_fraction": float(outside.mean()),
        "active_clip_fraction": float(active.mean()),
        # expm1 - x: (r - 1) - log r without cancellation when r is near 1
        "approx_kl": float((np.expm1(log_ratio) - log_ratio).mean()),
    }


def categorical_kl(old_logits, new_logits):
    r"""Mean over rows of :math:`\mathrm{KL}(\operatorname{softmax}(z_{\text{old}})
    \,\|\, \operatorname{softmax}(z_{\text{new}}))`, exactly.

    Parameters
    ----------
    old_logits, new_logits : array_like or torch.Tensor
        Shape ``(N, K)``.

    Returns
    -------
    float

    Examples
    --------
    >>> from lossbook.experiments.ppo import categorical_kl
    >>> categorical_kl([[0.0, 0.0]], [[0.0, 0.0]])
    0.0
    """
    old, new = _as_numpy(old_logits), _as_numpy(new_logits)
    log_p = old - np.logaddexp.reduce(old, axis=-1, keepdims=True)
    log_q = new - np.logaddexp.reduce(new, axis=-1, keepdims=True)
    return float((np.exp(log_p) * (log_p - log_q)).sum(axis=-1).mean())


@dataclass
class PPOLog:
    """What :func:`train_ppo` records; one entry per iteration unless noted.

    Attributes
    ----------
    env_steps : numpy.ndarray
        Environment steps taken by the end of each iteration.
    mean_return : numpy.ndarray
        Mean return of the last ``window`` finished episodes at the end of
        each iteration (NaN before the first finishes).
    clip_fraction, active_clip_fraction, approx_kl : numpy.ndarray
        :func:`ppo_diagnostics` of the updated policy against the policy
        that collected the iteration's batch, on that whole batch.
    exact_kl : numpy.ndarray
        The exact mean KL between the two policies over the batch's states
        (:func:`categorical_kl`), to compare with ``approx_kl``.
    value_loss : numpy.ndarray
        :func:`lossbook.rl.value_loss` of the updated critic on the batch.
    episode_returns, episode_ends : numpy.ndarray
        Every finished episode's return and the environment step at which it
        ended (one entry per episode).
    """

    env_steps: np.ndarray
    mean_return: np.ndarray
    clip_fraction: np.ndarray
    active_clip_fraction: np.ndarray
    approx_kl: np.ndarray
    exact_kl: np.ndarray
    value_loss: np.ndarray
    episode_returns: np.ndarray = field(repr=False)
    episode_ends: np.ndarray = field(repr=False)


class _Adam:
    """Adam (Kingma and Ba, 2015), step for step as ``torch.optim.Adam``.

    Written out because constructing any ``torch.optim`` optimiser imports
    ``torch._dynamo``, which costs a second or two of a chapter's run time.
    """

    def __init__(self, params, *, lr, betas=(0.9, 0.999), eps=1e-8):
        import torch

        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self):
        import torch

        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t  # bias corrections
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denom = (v.sqrt() / math.sqrt(c2)).add_(self.eps)
                p.addcdiv_(m, denom, value=-self.lr / c1)

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def _actor_critic(torch, hidden, gen):
    nn = torch.nn

    def mlp(out, gain):
        layers = [nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, hidden)]
        layers += [nn.Tanh(), nn.Linear(hidden, out)]
        net = nn.Sequential(*layers).double()
        for layer in net:
            if isinstance(layer, nn.Linear):
                # orthogonal weights, zero biases: the usual PPO initialisation
                nn.init.orthogonal_(layer.weight, gain=math.sqrt(2), generator=gen)
                nn.init.zeros_(layer.bias)
        nn.init.orthogonal_(net[-1].weight, gain=gain, generator=gen)
        return net

    # a small last layer starts the policy near uniform (0.01) and V near 0
    return mlp(2, 0.01), mlp(1, 1.0)


def train_ppo(
    *,
    iterations=30,
    n_envs=8,
    n_steps=128,
    epochs=4,
    minibatches=4,
    lr=2.5e-3,
    clip_eps=0.2,
    gamma=0.99,
    lam=0.95,
    vf_coef=0.5,
    ent_coef=0.0,
    max_grad_norm=0.5,
    anneal_lr=True,
    hidden=32,
    window=10,
    seed=0,
):
    """Train a PPO agent on :class:`CartPole`; return a :class:`PPOLog`.

    Each iteration collects ``n_steps`` steps from each of ``n_envs``
    cart-poles with the current policy, computes :func:`gae` advantages and
    returns (advantage + value), then takes ``epochs`` passes of
    ``minibatches`` Adam steps on

    ``ppo_clip(lp, old_lp, A_normalised) + vf_coef * value_loss(V, R)
    - ent_coef * entropy``.

    Policy and critic are separate two-hidden-layer tanh networks in float64.

    Parameters
    ----------
    iterations : int, default 30
        Number of collect-and-update rounds.
    n_envs, n_steps : int, default 8, 128
        Batch of ``n_envs * n_steps`` transitions per iteration.
    epochs, minibatches : int, default 4, 4
        Passes over the batch, and minibatches per pass.
    lr : float, default 2.5e-3
        Adam's step size.
    clip_eps : float, default 0.2
        PPO's clip range.
    gamma, lam : float, default 0.99, 0.95
        Discount and GAE parameter.
    vf_coef, ent_coef : float, default 0.5, 0.0
        Weights of the value loss and of the entropy bonus.
    max_grad_norm : float, default 0.5
        Gradient-norm clip of each Adam step.
    anneal_lr : bool, default True
        Decay the step size linearly from ``lr`` towards 0 over the run.
    hidden : int, default 32
        Width of the hidden layers.
    window : int, default 10
        Episodes averaged in ``mean_return``.
    seed : int, default 0
        Seeds the networks, the environments, the actions and the minibatches.

    Returns
    -------
    PPOLog
    """
    import torch

    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    policy, critic = _actor_critic(torch, hidden, gen)
    params = list(policy.parameters()) + list(critic.parameters())
    opt = _Adam(params, lr=lr, eps=1e-5)
    env = CartPole(n_envs, seed=int(rng.integers(2**31)))
    obs = env.reset()
    ep_return = np.zeros(n_envs)
    returns_done, ends_done = [], []
    names = (
        "mean_return clip_fraction active_clip_fraction approx_kl exact_kl value_loss"
    ).split()
    log = {name: np.full(iterations, np.nan) for name in names}
    shape = (n_steps, n_envs)
    batch = n_steps * n_envs
    for it in range(iterations):
        if anneal_lr:  # linear decay to 0 over the run, as in the PPO paper
            opt.lr = lr * (1.0 - it / iterations)
        obs_buf = np.empty((*shape, 4))
        next_buf = np.empty((*shape, 4))
        act_buf = np.empty(shape, dtype=np.int64)
        rew_buf = np.empty(shape)
        term_buf = np.empty(shape, dtype=bool)
        done_buf = np.empty(shape, dtype=bool)
        with torch.no_grad():
            for t in range(n_steps):
                logits = policy(torch.from_numpy(obs))
                probs = torch.softmax(logits, -1).numpy()
                # inverse-CDF sampling from NumPy's generator: reproducible
                actions = (rng.random(n_envs) > probs[:, 0]).astype(np.int64)
                obs_buf[t], act_buf[t] = obs, actions
                obs, reward, term, trunc, final = env.step(actions)
                rew_buf[t], term_buf[t], done_buf[t] = reward, term, term | trunc
                next_buf[t] = final
                ep_return += reward
                for i in np.flatnonzero(term | trunc):
                    returns_done.append(ep_return[i])
                    ends_done.append(it * batch + (t + 1) * n_envs)
                    ep_return[i] = 0.0
            flat_obs = torch.from_numpy(obs_buf.reshape(batch, 4))
            values = critic(flat_obs).squeeze(-1).numpy().reshape(shape)
            next_values = critic(torch.from_numpy(next_buf.reshape(batch, 4)))
            next_values = next_values.squeeze(-1).numpy().reshape(shape)
            old_logits = policy(flat_obs)
        adv = gae(
            rew_buf, values, next_values, term_buf, done_buf, gamma=gamma, lam=lam
        )
        ret = torch.from_numpy((adv + values).reshape(batch))
        adv_t = torch.from_numpy(adv.reshape(batch))
        act_t = torch.from_numpy(act_buf.reshape(batch))
        old_lp = torch.log_softmax(old_logits, -1).gather(1, act_t[:, None])[:, 0]
        size = batch // minibatches
        for _ in range(epochs):
            order = rng.permutation(batch)
            for k in range(minibatches):
                idx = torch.from_numpy(order[k * size : (k + 1) * size])
                log_pi = torch.log_softmax(policy(flat_obs[idx]), -1)
                lp = log_pi.gather(1, act_t[idx][:, None])[:, 0]
                a = adv_t[idx]
                # per-minibatch advantage normalisation (a common PPO detail)
                a = (a - a.mean()) / (a.std() + 1e-8)
                entropy = -(log_pi.exp() * log_pi).sum(-1).mean()
                v = critic(flat_obs[idx]).squeeze(-1)
                loss = (
                    rl.ppo_clip(lp, old_lp[idx], a, clip_eps=clip_eps)
                    + vf_coef * rl.value_loss(v, ret[idx])
                    - ent_coef * entropy
                )
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                opt.step()
        with torch.no_grad():
            new_logits = policy(flat_obs)
            new_lp = torch.log_softmax(new_logits, -1).gather(1, act_t[:, None])[:, 0]
            diag = ppo_diagnostics(new_lp, old_lp, adv_t, clip_eps=clip_eps)
            for name, value in diag.items():
                log[name][it] = value
            log["exact_kl"][it] = categorical_kl(old_logits, new_logits)
            log["value_loss"][it] = float(
                rl.value_loss(critic(flat_obs).squeeze(-1), ret)
            )
        if returns_done:
            log["mean_return"][it] = float(np.mean(returns_done[-window:]))
    return PPOLog(
        env_steps=np.arange(1, iterations + 1) * batch,
        episode_returns=np.asarray(returns_done),
        episode_ends=np.asarray(ends_done),
        **log,
    )
