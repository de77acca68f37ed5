r"""Two regression tasks, one shared network: fixed versus learned task weights.

:func:`two_task_regression` draws inputs and two targets that share one
hidden representation but carry Gaussian noise of different sizes;
:func:`train_multitask` fits a small network with a shared trunk and one
output per task, combining the task losses (:func:`~lossbook.regression.mse`,
mean over samples) either by :func:`~lossbook.weighting.weighted_sum` with
fixed weights or by :class:`lossbook.nn.UncertaintyWeighting`, which learns one
:math:`\log\sigma_k` per task (Kendall, Gal and Cipolla, 2018).

With mean squared errors :math:`L_k`, the uncertainty-weighted loss is the
mean Gaussian negative log-likelihood up to a constant, and its minimum in
:math:`\sigma_k` is at :math:`\sigma_k^2 = L_k`: the learned
:math:`\sigma_k` estimate the tasks' noise levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _checks
from ..regression import mse
from ..weighting import weighted_sum

__all__ = ["MultitaskRun", "train_multitask", "two_task_regression"]


def two_task_regression(n=1000, *, noise=(0.2, 1.0), dim=4, hidden=4, seed=0):
    r"""Inputs and two noisy targets built on one shared representation.

    .. math::

        h(x) = \tanh(B^\top x), \quad f_k(x) = a_k^\top h(x), \quad
        y_k = f_k(x) + \sigma_k \varepsilon_k ,

    with :math:`x \sim \mathcal N(0, I_{\text{dim}})`, :math:`B` of shape
    ``(dim, hidden)`` with entries :math:`\mathcal N(0, 1/\text{dim})`, the
    :math:`a_k` standard normal and independent standard normal noise
    :math:`\varepsilon_k`.

    Parameters
    ----------
    n : int, default 1000
        Number of samples.
    noise : sequence of float, default (0.2, 1.0)
        Noise standard deviations :math:`\sigma_k \ge 0`, one per task.
    dim : int, default 4
        Input dimension.
    hidden : int, default 4
        Width of the shared representation :math:`h`.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng` (it fixes the functions
        :math:`f_k` and the samples together).

    Returns
    -------
    x : numpy.ndarray
        Shape ``(n, dim)``.
    y : numpy.ndarray
        Shape ``(n, K)``, the noisy targets.
    f : numpy.ndarray
        Shape ``(n, K)``, the noiseless targets :math:`f_k(x)`.

    Raises
    ------
    ValueError
        If ``noise`` is empty or holds a negative value.

    Examples
    --------
    >>> from lossbook.experiments.multitask import two_task_regression
    >>> x, y, f = two_task_regression(5, noise=(0.0, 1.0))
    >>> x.shape, y.shape, bool((y[:, 0] == f[:, 0]).all())
    ((5, 4), (5, 2), True)
    """
    noise = [
        _checks.hyper(f"noise[{k}]", s, "nonnegative") for k, s in enumerate(noise)
    ]
    if not noise:
        raise ValueError("noise is empty; pass one standard deviation per task")
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((dim, hidden)) / np.sqrt(dim)
    A = rng.standard_normal((hidden, len(noise)))
    x = rng.standard_normal((n, dim))
    f = np.tanh(x @ B) @ A
    y = f + rng.standard_normal(f.shape) * np.asarray(noise)
    return x, y, f


@dataclass
class MultitaskRun:
    r"""The record of one :func:`train_multitask` run.

    Attributes
    ----------
    model : torch.nn.Module
        The trained network, ``(n, dim) -> (n, K)``.
    task_losses : numpy.ndarray
        Shape ``(steps + 1, K)``: each task's training MSE before each step
        and at the end.
    sigma : numpy.ndarray or None
        Shape ``(steps + 1, K)``: :math:`\sigma_k = e^{\log\sigma_k}` at the
        same times, for ``weighting="uncertainty"``; None for fixed weights.
    """

    model: object
    task_losses: np.ndarray
    sigma: np.ndarray | None

    def predict(self, x):
        """The network's predictions for ``x`` (NumPy in, NumPy out)."""
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()


def train_multitask(
    x,
    y,
    *,
    weighting="uncertainty",
    weights=None,
    width=16,
    steps=800,
    lr=0.02,
    seed=0,
):
    r"""Fit a shared network to K regression tasks with full-batch Adam.

    The network is ``Linear(dim, width) -> tanh -> Linear(width, K)``: a
    trunk shared by all tasks and one output per task. The task losses are
    the per-task mean squared errors :math:`L_k`, combined into

    - ``weighting="sum"``: :math:`\sum_k w_k L_k` with fixed ``weights``
      (:func:`~lossbook.weighting.weighted_sum`);
    - ``weighting="uncertainty"``: :math:`\sum_k \frac{1}{2\sigma_k^2} L_k +
      \log\sigma_k` with learnable :math:`\log\sigma_k`, initialised at 0
      (:class:`lossbook.nn.UncertaintyWeighting`), trained by the same
      optimiser as the network.

    Parameters
    ----------
    x : array_like
        Inputs, shape ``(n, dim)``.
    y : array_like
        Targets, shape ``(n, K)``.
    weighting : {"uncertainty", "sum"}, default "uncertainty"
        How the task losses are combined.
    weights : sequence of float, optional
        The fixed weights of ``"sum"`` (default: all 1); not allowed with
        ``"uncertainty"``.
    width : int, default 16
        Width of the shared hidden layer.
    steps : int, default 800
        Number of Adam steps on the full batch.
    lr : float, default 0.02
        Adam's learning rate.
    seed : int, default 0
        Seed of ``torch.manual_seed`` for the initial weights (the global
        torch generator is reseeded).

    Returns
    -------
    MultitaskRun

    Raises
    ------
    ValueError
        If ``weighting`` is unknown, ``weights`` is given with
        ``"uncertainty"``, or the shapes of ``x`` and ``y`` do not fit.

    References
    ----------
    .. [1] A. Kendall, Y. Gal and R. Cipolla, "Multi-task learning using
       uncertainty to weigh losses for scene geometry and semantics", *CVPR*,
       2018.

    Examples
    --------
    >>> from lossbook.experiments.multitask import two_task_regression, train_multitask
    >>> x, y, _ = two_task_regression(200, noise=(0.2, 1.0))
    >>> run = train_multitask(x, y, steps=300)
    >>> run.sigma.shape, run.task_losses.shape
    ((301, 2), (301, 2))
    """
    import torch

    from ..nn import UncertaintyWeighting

    if weighting not in ("uncertainty", "sum"):
        raise ValueError(f"weighting must be 'uncertainty' or 'sum', got {weighting!r}")
    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    y = torch.as_tensor(np.asarray(y, dtype=np.float64))
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must be (n, dim) and y (n, K) with the same n, got shapes "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    num_tasks = y.shape[1]
    if weighting == "uncertainty" and weights is not None:
        raise ValueError("weights are learned with weighting='uncertainty'; drop them")
    if weights is None:
        weights = [1.0] * num_tasks

    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, num_tasks),
    ).double()
    params = list(model.parameters())
    weigh = None
    if weighting == "uncertainty":
        weigh = UncertaintyWeighting(num_tasks).double()
        params += list(weigh.parameters())
    optimiser = torch.optim.Adam(params, lr=lr)

    task_losses = np.empty((steps + 1, num_tasks))
    sigma = np.empty((steps + 1, num_tasks)) if weigh is not None else None
    for step in range(steps + 1):
        out = model(x)
        losses = [mse(out[:, k], y[:, k]) for k in range(num_tasks)]
        task_losses[step] = [v.item() for v in losses]
        if weigh is not None:
            sigma[step] = weigh.log_sigma.detach().exp().numpy()
        if step == steps:
            break
        total = weigh(losses) if weigh is not None else weighted_sum(losses, weights)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    return MultitaskRun(model=model, task_losses=task_losses, sigma=sigma)
