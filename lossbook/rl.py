"""Reinforcement-learning losses: value regression, REINFORCE and PPO's clip.

The policy losses treat advantages (and PPO's old log-probabilities) as
constants: for torch inputs they are detached, so gradients reach only the
current policy's ``log_probs``.
"""

from __future__ import annotations

from . import _checks, regression
from ._backend import (
    reduce,
    stop_gradient,
)

__all__ = ["policy_gradient", "ppo_clip", "value_loss"]


def _ppo_clip(xp, ratio, adv, clip_eps):
    clipped = xp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    # the min of the two surrogates is a pessimistic bound on the improvement
    return -xp.minimum(ratio * adv, clipped * adv)


def value_loss(values, returns, *, reduction="mean"):
    r"""Squared error of a value function against its (bootstrapped) returns.

    .. math::

        \ell_t = (V(s_t) - R_t)^2

    Parameters
    ----------
    values : array_like or torch.Tensor
        Predicted values :math:`V(s_t)`, any shape.
    returns : array_like or torch.Tensor
        Return targets :math:`R_t`, same shape.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-step losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``values``.

    Raises
    ------
    ValueError
        If the shapes differ, ``reduction`` is unknown, or the input is empty
        with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The same kernel as :func:`~lossbook.regression.mse` (no factor 1/2; many
    actor-critic codes write ``0.5 * (V - R)**2`` or scale the value term by a
    coefficient such as 0.5). Gradients flow to ``returns`` too if it carries them;
    compute bootstrapped returns without gradient (as usual) or detach them.

    References
    ----------
    .. [1] R. S. Sutton and A. G. Barto, *Reinforcement Learning: An
       Introduction*, 2nd ed., MIT Press, 2018, ch. 9.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.value_loss([1.0, 2.0], [1.5, 0.0], reduction="none")
    array([0.25, 4.  ])
    """
    xp, v, r = _checks.inputs(reduction, values=values, returns=returns)
    return reduce(xp, regression._mse(xp, v - r), reduction)


def policy_gradient(log_probs, advantages, *, reduction="mean"):
    r"""REINFORCE surrogate loss: its gradient is the policy-gradient estimate.

    .. math::

        \ell_t = -\log \pi_\theta(a_t \mid s_t)\, \hat A_t, \qquad
        \nabla_\theta \ell_t = -\hat A_t\, \nabla_\theta \log
        \pi_\theta(a_t \mid s_t)

    Parameters
    ----------
    log_probs : array_like or torch.Tensor
        :math:`\log\pi_\theta(a_t\mid s_t)` of the actions taken, any shape.
    advantages : array_like or torch.Tensor
        Advantages (or returns) :math:`\hat A_t`, same shape; treated as
        constants.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-step losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``log_probs``.

    Raises
    ------
    ValueError
        If the shapes differ, ``reduction`` is unknown, or the input is empty
        with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The value of this loss means little (it is not a return); only its
    gradient matters. ``advantages`` is detached for torch inputs, so even a
    critic's output passed directly gets no gradient from this term.

    References
    ----------
    .. [1] R. J. Williams, "Simple statistical gradient-following algorithms
       for connectionist reinforcement learning", *Machine Learning* 8,
       229-256, 1992.

    Examples
    --------
    >>> import torch
    >>> import lossbook as lb
    >>> log_probs = torch.tensor([-0.5, -1.0], requires_grad=True)
    >>> adv = torch.tensor([2.0, -1.0], requires_grad=True)
    >>> lb.policy_gradient(log_probs, adv).backward()
    >>> log_probs.grad, adv.grad
    (tensor([-1.0000,  0.5000]), None)
    """
    xp, lp, adv = _checks.inputs(reduction, log_probs=log_probs, advantages=advantages)
    return reduce(xp, -lp * stop_gradient(adv), reduction)


def ppo_clip(log_probs, old_log_probs, advantages, *, clip_eps=0.2, reduction="mean"):
    r"""PPO's clipped surrogate objective, as a loss to minimise.

    .. math::

        \ell_t = -\min\big(r_t \hat A_t,\;
        \operatorname{clip}(r_t, 1-\epsilon, 1+\epsilon)\, \hat A_t\big),
        \qquad r_t = \exp\big(\log\pi_\theta(a_t\mid s_t) -
        \log\pi_{\theta_\text{old}}(a_t\mid s_t)\big)

    Parameters
    ----------
    log_probs : array_like or torch.Tensor
        Log-probabilities of the taken actions under the current policy.
    old_log_probs : array_like or torch.Tensor
        The same under the policy that collected the data; same shape;
        treated as constants.
    advantages : array_like or torch.Tensor
        Advantage estimates :math:`\hat A_t`, same shape; constants.
    clip_eps : float, default 0.2
        :math:`\epsilon > 0`, the half-width of the trust region of ratios.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-step losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else the shape of ``log_probs``.

    Raises
    ------
    ValueError
        If ``clip_eps <= 0``, the shapes differ, ``reduction`` is unknown, or
        the input is empty with ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    The ratio is formed from log-probabilities (no division of tiny
    probabilities). The minimum takes the clipped term only where clipping
    lowers the objective: for :math:`\hat A > 0` once :math:`r > 1 +
    \epsilon`, for :math:`\hat A < 0` once :math:`r < 1 - \epsilon`; there
    the gradient is zero. Elsewhere the gradient with respect to
    ``log_probs`` is :math:`-r_t \hat A_t`. ``old_log_probs`` and
    ``advantages`` are detached for torch inputs.

    References
    ----------
    .. [1] J. Schulman, F. Wolski, P. Dhariwal, A. Radford and O. Klimov,
       "Proximal policy optimization algorithms", arXiv:1707.06347, 2017.

    Examples
    --------
    >>> import math
    >>> import lossbook as lb
    >>> lp = [math.log(1.5), math.log(0.5)]
    >>> lb.ppo_clip(lp, [0.0, 0.0], [1.0, 1.0], reduction="none")
    array([-1.2, -0.5])
    """
    clip_eps = _checks.hyper("clip_eps", clip_eps, "positive")
    xp, lp, old, adv = _checks.inputs(
        reduction,
        log_probs=log_probs,
        old_log_probs=old_log_probs,
        advantages=advantages,
    )
    # exp of a difference of logs: the ratio without dividing tiny probabilities
    ratio = xp.exp(lp - stop_gradient(old))
    return reduce(xp, _ppo_clip(xp, ratio, stop_gradient(adv), clip_eps), reduction)
