"""PyTorch modules: a ``torch.nn.Module`` for every loss of :mod:`lossbook`.

Each class is named after its function in CamelCase with a ``Loss`` suffix
(``log_cosh`` -> :class:`LogCoshLoss`, ``iou_loss`` -> :class:`IouLoss`). Its
constructor takes the function's keyword options, positionally or by name,
and ``forward`` calls the function, so module and function can never disagree.
Tensor options (``weight``, ``pos_weight``) are buffers and follow
``module.to(device)``.

Examples
--------
>>> import torch
>>> import lossbook as lb
>>> loss_fn = lb.nn.HuberLoss(delta=0.5)
>>> loss_fn
HuberLoss(delta=0.5, reduction='mean')
>>> pred = torch.tensor([1.2, 0.3, 0.7], requires_grad=True)
>>> loss = loss_fn(pred, torch.tensor([1.0, 0.0, 1.0]))
>>> loss.backward()
>>> pred.grad
tensor([ 0.0667,  0.1000, -0.1000])
"""

from __future__ import annotations

import inspect

import torch

from . import (
    classification,
    detection,
    likelihood,
    metric,
    regression,
    rl,
    weighting,
)

_P = inspect.Parameter

_LOSSES = {
    regression: ["mse", "mae", "huber", "smooth_l1", "log_cosh"],
    classification: [
        "zero_one",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "hinge",
        "exponential",
    ],
    metric: ["contrastive", "triplet", "info_nce"],
    detection: ["focal", "iou_loss", "giou_loss", "diou_loss", "ciou_loss", "dice"],
    rl: ["value_loss", "policy_gradient", "ppo_clip"],
    weighting: [
        "l1_penalty",
        "l2_penalty",
        "elastic_net_penalty",
        "weighted_binary_cross_entropy",
        "weighted_sum",
    ],
    likelihood: ["gaussian_nll", "laplace_nll", "bernoulli_nll", "categorical_nll"],
}


def _class_name(function_name: str) -> str:
    camel = "".join(part[:1].upper() + part[1:] for part in function_name.split("_"))
    return camel if camel.endswith("Loss") else camel + "Loss"


def _module_for(fn):
    """Build the ``nn.Module`` class whose ``forward`` calls ``fn``."""
    params = inspect.signature(fn).parameters.values()
    options = [p for p in params if p.kind is _P.KEYWORD_ONLY]
    names = tuple(p.name for p in options)
    init_signature = inspect.Signature(
        [_P("self", _P.POSITIONAL_ONLY)]
        + [p.replace(kind=_P.POSITIONAL_OR_KEYWORD) for p in options]
    )

    def __init__(self, *args, **kwargs):
        torch.nn.Module.__init__(self)
        bound = init_signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name in names:
            value = bound.arguments[name]
            if isinstance(value, torch.Tensor):
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    def forward(self, *inputs):
        """Return the loss of ``inputs`` with the module's options."""
        return fn(*inputs, **{name: getattr(self, name) for name in names})

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in names)

    __init__.__signature__ = init_signature
    name = _class_name(fn.__name__)
    doc = (
        f"Module form of :func:`~{fn.__module__}.{fn.__name__}`.\n\n"
        f"The constructor takes the function's options "
        f"({', '.join(f'``{n}``' for n in names) or 'none'}); ``forward`` takes "
        f"its array arguments and returns ``{fn.__name__}(..., **options)``."
    )
    return type(
        name,
        (torch.nn.Module,),
        {
            "__init__": __init__,
            "forward": forward,
            "extra_repr": extra_repr,
            "__doc__": doc,
            "__module__": __name__,
            "__qualname__": name,
        },
    )


__all__ = ["UncertaintyWeighting"]
for _module, _names in _LOSSES.items():
    for _name in _names:
        _cls = _module_for(getattr(_module, _name))
        globals()[_cls.__name__] = _cls
        __all__.append(_cls.__name__)
del _module, _names, _name, _cls


class UncertaintyWeighting(torch.nn.Module):
    r"""Learnable multi-task weighting by homoscedastic uncertainty.

    Holds one learnable :math:`\log\sigma_k` per task (initialised at 0) and
    returns :func:`~lossbook.weighting.uncertainty_weighted` of the task losses:
    :math:`\sum_k \tfrac12 e^{-2\log\sigma_k} L_k + \log\sigma_k`.

    Parameters
    ----------
    num_tasks : int
        Number of task losses :math:`K \ge 1`.

    Raises
    ------
    ValueError
        If ``num_tasks`` is not a positive integer.

    References
    ----------
    .. [1] A. Kendall, Y. Gal and R. Cipolla, "Multi-task learning using
       uncertainty to weigh losses for scene geometry and semantics", *CVPR*,
       2018.

    Examples
    --------
    >>> import torch
    >>> import lossbook as lb
    >>> weigh = lb.nn.UncertaintyWeighting(2)
    >>> weigh([torch.tensor(1.0), torch.tensor(3.0)])
    tensor(2., grad_fn=<...>)
    """

    def __init__(self, num_tasks):
        super().__init__()
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int):
            raise ValueError(f"num_tasks must be a positive integer, got {num_tasks!r}")
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be a positive integer, got {num_tasks!r}")
        self.log_sigma = torch.nn.Parameter(torch.zeros(num_tasks))

    def forward(self, losses):
        """Combine the task ``losses`` (a sequence or 1-D tensor of K values)."""
        if not isinstance(losses, torch.Tensor):
            losses = torch.stack([torch.as_tensor(v) for v in losses])
        return weighting.uncertainty_weighted(losses, self.log_sigma)
