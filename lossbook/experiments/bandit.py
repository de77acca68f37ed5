r"""A multi-armed bandit for REINFORCE: exact gradients, estimator variance, training.

A softmax policy :math:`\pi_\theta = \operatorname{softmax}(\theta)` over
:math:`K` arms with Gaussian rewards :math:`r \sim \mathcal N(\mu_a, \sigma^2)`
has the expected reward :math:`J(\theta) = \sum_a \pi_a \mu_a` and the exact
gradient :math:`\nabla J = \pi \odot (\mu - J)`. The REINFORCE estimator [1]_
:math:`(r - b)\,\nabla_\theta \log \pi_a = (r - b)(e_a - \pi)` is unbiased for
any baseline :math:`b` that does not depend on the sampled arm; its variance is
known in closed form [2]_. Everything here is small enough to check exactly.

References
----------
.. [1] R. J. Williams, "Simple statistical gradient-following algorithms for
   connectionist reinforcement learning", *Machine Learning* 8, 229-256, 1992.
.. [2] E. Greensmith, P. L. Bartlett and J. Baxter, "Variance reduction
   techniques for gradient estimates in reinforcement learning", *Journal of
   Machine Learning Research* 5, 1471-1530, 2004.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import rl

__all__ = [
    "GaussianBandit",
    "estimator_variance",
    "exact_gradient",
    "expected_reward",
    "optimal_baseline",
    "reinforce_samples",
    "sample_actions",
    "score",
    "softmax",
    "train_reinforce",
]


@dataclass(frozen=True)
class GaussianBandit:
    """Arms with Gaussian rewards :math:`\\mathcal N(\\mu_a, \\sigma^2)`.

    Parameters
    ----------
    means : array_like
        :math:`\\mu_a`, shape ``(K,)``.
    noise : float, default 1.0
        :math:`\\sigma`, the reward noise of every arm.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.bandit import GaussianBandit
    >>> bandit = GaussianBandit([0.0, 1.0], noise=0.0)
    >>> bandit.pull(np.array([1, 0, 1]), np.random.default_rng(0)).tolist()
    [1.0, 0.0, 1.0]
    """

    means: np.ndarray
    noise: float = 1.0

    def __post_init__(self):
        means = np.asarray(self.means, dtype=np.float64)
        if means.ndim != 1 or means.size < 2:
            raise ValueError(f"means must be a 1-D array of >= 2 arms, got {means!r}")
        if not self.noise >= 0:
            raise ValueError(f"noise must be >= 0, got {self.noise!r}")
        object.__setattr__(self, "means", means)

    @classmethod
    def random(cls, k, *, offset=0.0, spread=1.0, noise=1.0, seed=0):
        """A bandit whose means are ``offset + spread * N(0, 1)`` draws."""
        rng = np.random.default_rng(seed)
        return cls(offset + spread * rng.standard_normal(k), noise)

    @property
    def k(self):
        """The number of arms."""
        return self.means.size

    def pull(self, actions, rng):
        """Rewards of the arms ``actions`` (any shape), drawn with ``rng``."""
        actions = np.asarray(actions)
        return self.means[actions] + self.noise * rng.standard_normal(actions.shape)

    def shifted(self, offset):
        """The same bandit with ``offset`` added to every reward."""
        return GaussianBandit(self.means + offset, self.noise)


def softmax(theta):
    """Softmax over the last axis (NumPy), shifted by the maximum for stability."""
    theta = np.asarray(theta, dtype=np.float64)
    z = np.exp(theta - theta.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def expected_reward(theta, bandit):
    r""":math:`J(\theta) = \sum_a \pi_a \mu_a` (over the last axis of ``theta``)."""
    return softmax(theta) @ bandit.means


def exact_gradient(theta, bandit):
    r"""The exact :math:`\nabla_\theta J = \pi \odot (\mu - J)`.

    Examples
    --------
    >>> from lossbook.experiments.bandit import GaussianBandit, exact_gradient
    >>> exact_gradient([0.0, 0.0], GaussianBandit([0.0, 2.0])).tolist()
    [-0.5, 0.5]
    """
    pi = softmax(theta)
    j = (pi @ bandit.means)[..., None]
    return pi * (bandit.means - j)


def sample_actions(probs, n, rng):
    """Draw ``n`` arms from each row of ``probs`` by inverse-CDF sampling.

    ``probs`` has shape ``(K,)`` or ``(S, K)``; the result ``(n,)`` or
    ``(S, n)``. One uniform draw per action from ``rng`` makes runs
    reproducible.
    """
    probs = np.asarray(probs, dtype=np.float64)
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random((*probs.shape[:-1], n))
    # count the CDF steps below u; clip guards against cdf[-1] = 1 - 1e-16 < u
    actions = (u[..., None] >= cdf[..., None, :]).sum(axis=-1)
    return np.minimum(actions, probs.shape[-1] - 1)


def score(theta, actions):
    r"""The score :math:`\nabla_\theta \log \pi_a = e_a - \pi` of each action.

    Parameters
    ----------
    theta : array_like
        Logits, shape ``(K,)``.
    actions : array_like of int
        Shape ``(n,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, K)``.
    """
    pi = softmax(theta)
    actions = np.asarray(actions)
    return np.eye(pi.size)[actions] - pi


def reinforce_samples(theta, bandit, n, *, baseline=0.0, rng):
    r"""``n`` independent one-sample REINFORCE estimates of :math:`\nabla J`.

    Each row is :math:`(r - b)(e_a - \pi)` for one arm :math:`a \sim \pi_\theta`
    and its reward :math:`r`.

    Parameters
    ----------
    theta : array_like
        Logits, shape ``(K,)``.
    bandit : GaussianBandit
        The arms.
    n : int
        Number of estimates.
    baseline : float, default 0.0
        The constant :math:`b` subtracted from every reward.
    rng : numpy.random.Generator
        Source of the arms and rewards.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, K)``.
    """
    actions = sample_actions(softmax(theta), n, rng)
    rewards = bandit.pull(actions, rng)
    return (rewards - baseline)[:, None] * score(theta, actions)


def estimator_variance(theta, bandit, baseline=0.0):
    r"""Total variance (trace of the covariance) of one REINFORCE estimate.

    .. math::

        \operatorname{tr}\operatorname{Cov}[g] = \sum_a \pi_a
        \big((\mu_a - b)^2 + \sigma^2\big)\, \lVert e_a - \pi \rVert^2
        - \lVert \nabla J \rVert^2

    Examples
    --------
    >>> from lossbook.experiments.bandit import GaussianBandit, estimator_variance
    >>> float(estimator_variance([0.0, 0.0], GaussianBandit([1.0, 1.0], noise=0.0)))
    0.5
    """
    pi = softmax(theta)
    sq_score = ((np.eye(pi.size) - pi) ** 2).sum(axis=1)  # ||e_a - pi||^2
    second = (pi * ((bandit.means - baseline) ** 2 + bandit.noise**2) * sq_score).sum()
    return second - (exact_gradient(theta, bandit) ** 2).sum()


def optimal_baseline(theta, bandit):
    r"""The constant baseline that minimises :func:`estimator_variance`.

    .. math::

        b^\star = \frac{\mathbb E[r\, \lVert e_a - \pi\rVert^2]}
        {\mathbb E[\lVert e_a - \pi\rVert^2]}
        = \frac{\sum_a \pi_a \mu_a \lVert e_a - \pi\rVert^2}
        {\sum_a \pi_a \lVert e_a - \pi\rVert^2}

    Examples
    --------
    >>> from lossbook.experiments.bandit import GaussianBandit, optimal_baseline
    >>> float(optimal_baseline([0.0, 0.0], GaussianBandit([1.0, 3.0])))
    2.0
    """
    pi = softmax(theta)
    weight = pi * ((np.eye(pi.size) - pi) ** 2).sum(axis=1)
    return (weight @ bandit.means) / weight.sum()


def train_reinforce(
    bandit,
    *,
    steps=200,
    batch=8,
    lr=0.1,
    baseline="none",
    value_lr=0.1,
    n_runs=1,
    seed=0,
):
    r"""REINFORCE with SGD on the bandit, ``n_runs`` independent runs at once.

    Each step draws ``batch`` arms per run, and descends

    ``policy_gradient(log_pi[a], r - b, reduction="sum") / batch``

    (:func:`lossbook.rl.policy_gradient`) with step ``lr``. With
    ``baseline="learned"`` the baseline :math:`b` is a scalar per run, fitted
    to the rewards by SGD on :func:`lossbook.rl.value_loss` with step
    ``value_lr``; it is updated after the policy step, so the :math:`b` used
    never depends on the rewards it is subtracted from and the gradient
    stays unbiased.

    Parameters
    ----------
    bandit : GaussianBandit
        The arms.
    steps, batch : int, default 200, 8
        SGD steps, and arms pulled per step and run.
    lr : float, default 0.1
        Step size of the policy.
    baseline : {"none", "learned"}, default "none"
        Whether rewards are used raw or minus a learned baseline.
    value_lr : float, default 0.1
        Step size of the baseline's value loss.
    n_runs : int, default 1
        Independent runs (separate logits, baselines and samples).
    seed : int, default 0
        Seed of the arms and rewards of all runs.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_runs, steps + 1)``: the exact expected reward
        :math:`J(\theta_t)` before each step and at the end. The logits start
        at 0 (uniform policy).

    Examples
    --------
    >>> from lossbook.experiments.bandit import GaussianBandit, train_reinforce
    >>> bandit = GaussianBandit([0.0, 1.0], noise=0.5)
    >>> curve = train_reinforce(bandit, steps=300, baseline="learned", lr=0.5)
    >>> float(curve[0, 0]), bool(curve[0, -1] > 0.9)
    (0.5, True)
    """
    import torch

    if baseline not in ("none", "learned"):
        raise ValueError(f"baseline must be 'none' or 'learned', got {baseline!r}")
    rng = np.random.default_rng(seed)
    theta = torch.zeros(n_runs, bandit.k, dtype=torch.float64, requires_grad=True)
    value = torch.zeros(n_runs, 1, dtype=torch.float64, requires_grad=True)
    curve = np.empty((n_runs, steps + 1))
    for t in range(steps + 1):
        curve[:, t] = expected_reward(theta.detach().numpy(), bandit)
        if t == steps:
            break
        log_pi = torch.log_softmax(theta, dim=-1)
        actions = sample_actions(log_pi.detach().exp().numpy(), batch, rng)
        rewards = torch.from_numpy(bandit.pull(actions, rng))
        log_probs = log_pi.gather(1, torch.from_numpy(actions))
        b = value.detach() if baseline == "learned" else 0.0
        loss = rl.policy_gradient(log_probs, rewards - b, reduction="sum") / batch
        (g,) = torch.autograd.grad(loss, theta)
        with torch.no_grad():
            theta -= lr * g
        if baseline == "learned":
            v_loss = rl.value_loss(value.expand(-1, batch), rewards, reduction="sum")
            (gv,) = torch.autograd.grad(v_loss / batch, value)
            with torch.no_grad():
                value -= value_lr * gv
    return curve
