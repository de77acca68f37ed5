"""Small, deterministic optimisers for the book's experiments.

They run plain gradient descent with PyTorch autograd through any
``lossbook`` loss, so the gradient used is the loss's own.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_line"]


def fit_line(x, y, loss, *, lr=0.1, steps=500, init=(0.0, 0.0), **loss_kwargs):
    r"""Fit :math:`\hat y = w x + b` by full-batch gradient descent on ``loss``.

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(n,)``.
    loss : callable
        A loss ``loss(pred, target, **loss_kwargs)`` returning a 0-d tensor,
        e.g. :func:`~lossbook.regression.mse`.
    lr : float, default 0.1
        Step size.
    steps : int, default 500
        Number of gradient steps.
    init : tuple of float, default (0, 0)
        Starting ``(w, b)``.
    **loss_kwargs
        Passed on to ``loss`` (e.g. ``delta=1.0``).

    Returns
    -------
    path : numpy.ndarray
        Shape ``(steps + 1, 2)``: ``(w, b)`` before each step and at the end.
    losses : numpy.ndarray
        Shape ``(steps + 1,)``: the loss at each row of ``path``.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook.experiments.fitting import fit_line
    >>> path, losses = fit_line([0.0, 1.0, 2.0], [1.0, 3.0, 5.0], lb.mse, steps=2000)
    >>> path[-1].round(3).tolist()
    [2.0, 1.0]
    """
    import torch

    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64))
    params = torch.tensor(init, dtype=torch.float64, requires_grad=True)
    path = np.empty((steps + 1, 2))
    losses = np.empty(steps + 1)
    for step in range(steps + 1):
        value = loss(params[0] * xt + params[1], yt, **loss_kwargs)
        path[step] = params.detach().numpy()
        losses[step] = value.item()
        if step == steps:
            break
        (g,) = torch.autograd.grad(value, params)
        with torch.no_grad():
            params -= lr * g
    return path, losses
