"""PyTorch modules: a ``torch.nn.Module`` for every loss of :mod:`lossbook`.

Each class is named after its function in CamelCase with a ``Loss`` suffix
(``log_cosh`` -> :class:`LogCoshLoss`, ``iou_loss`` -> :class:`IouLoss`). Its
constructor takes the function's keyword options, positionally or by name,
checks them at once (``MseLoss(reduction="avg")`` raises there, with the
function's message), and ``forward`` calls the function, so module and
function can never disagree. The repr shows the options. Tensor options
(``weight``, ``pos_weight``, a tensor ``sigma``) are buffers and follow
``module.to(device)``; a ``torch.nn.Parameter`` option (a learnable
``temperature``, ``sigma`` or ``b``) is registered as a parameter, so the
optimiser sees it.

Where torch has the same loss with the same meaning, its spelling is an alias
of the same class: ``MSELoss`` (:class:`MseLoss`), ``L1Loss``
(:class:`MaeLoss`), ``BCELoss`` (:class:`BinaryCrossEntropyLoss`),
``BCEWithLogitsLoss`` (:class:`BinaryCrossEntropyWithLogitsLoss`),
:class:`CrossEntropyLoss` and ``TripletMarginLoss`` (:class:`TripletLoss`).
There is no ``KLDivLoss``: torch's takes log-probabilities, :class:`KlDivLoss`
takes logits.

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
    _checks,
    classification,
    detection,
    likelihood,
    metric,
    regression,
    rl,
    scoring,
    weighting,
)
from ._backend import check_reduction

_P = inspect.Parameter

_LOSSES = {
    regression: ["mse", "mae", "huber", "smooth_l1", "log_cosh", "pinball"],
    classification: [
        "zero_one",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "kl_div",
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
    likelihood: [
        "gaussian_nll",
        "laplace_nll",
        "poisson_nll",
        "bernoulli_nll",
        "categorical_nll",
    ],
    scoring: ["brier"],
}

# torch's spelling -> our function, where the meaning is the same
_TORCH_ALIASES = {
    "MSELoss": "mse",
    "L1Loss": "mae",
    "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "CrossEntropyLoss": "cross_entropy",
    "TripletMarginLoss": "triplet",
}


# --- checks of the options when a module is built (the functions' messages) ---


def _number(rule):
    def check(name, value):
        _checks.hyper(name, value, rule)

    return check


def _scale(name, value):
    """A positive number, or a tensor of positive values (learnable scale)."""
    if not isinstance(value, torch.Tensor):
        _checks.hyper(name, value, "positive")
        return
    if name == "temperature" and value.ndim != 0:
        raise ValueError(
            "`temperature` must be a number or a 0-d array or tensor (one scale "
            f"for the batch), got shape {tuple(value.shape)}"
        )
    _checks.positive_values(value.detach(), name)


def _optional_tensor(name, value):
    if value is not None and not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be None or a torch.Tensor in a module, got "
            f"{type(value).__name__}"
        )


def _optional_index(name, value):
    _checks.index_or_none(name, value)


def _boolean(name, value):
    _checks.flag(name, value)


_OPTION_CHECKS = {
    "reduction": lambda name, value: check_reduction(value),
    "delta": _number("positive"),
    "beta": _number("nonnegative"),
    "quantile": _number("open_unit"),
    "margin": _number("positive"),
    "label_smoothing": _number("unit"),
    "gamma": _number("nonnegative"),
    "eps": _number("positive"),
    "smooth": _number("nonnegative"),
    "clip_eps": _number("positive"),
    "lam": _number("nonnegative"),
    "l1": _number("nonnegative"),
    "l2": _number("nonnegative"),
    "alpha": lambda name, value: detection._check_alpha(value),
    "w_pos": _number("nonnegative"),
    "w_neg": _number("nonnegative"),
    "temperature": _scale,
    "sigma": _scale,
    "b": _scale,
    "symmetric": _boolean,
    "weight": _optional_tensor,
    "pos_weight": _optional_tensor,
    "ignore_index": _optional_index,
}


def _class_name(function_name: str) -> str:
    camel = "".join(part[:1].upper() + part[1:] for part in function_name.split("_"))
    return camel if camel.endswith("Loss") else camel + "Loss"


def _show(value) -> str:
    """An option in the repr: tensors by kind and shape, not by their values."""
    if isinstance(value, torch.Tensor):
        return f"{type(value).__name__}(shape={tuple(value.shape)})"
    return repr(value)


def _module_for(fn):
    """Build the ``nn.Module`` class whose ``forward`` calls ``fn``."""
    params = inspect.signature(fn).parameters.values()
    options = [p for p in params if p.kind is _P.KEYWORD_ONLY]
    names = tuple(p.name for p in options)
    init_signature = inspect.Signature(
        [_P("self", _P.POSITIONAL_ONLY)]
        + [p.replace(kind=_P.POSITIONAL_OR_KEYWORD) for p in options]
    )

    missing = [name for name in names if name not in _OPTION_CHECKS]
    if missing:  # every option is checked when a module is built
        raise TypeError(f"no check for the options {missing} of {fn.__name__}")

    def __init__(self, *args, **kwargs):
        torch.nn.Module.__init__(self)
        bound = init_signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name in names:
            value = bound.arguments[name]
            _OPTION_CHECKS[name](name, value)
            if isinstance(value, torch.Tensor) and not isinstance(
                value, torch.nn.Parameter
            ):
                self.register_buffer(name, value)
            else:  # a Parameter registers itself: learnable, seen by optimisers
                setattr(self, name, value)

    def forward(self, *inputs):
        """Return the loss of ``inputs`` with the module's options."""
        return fn(*inputs, **{name: getattr(self, name) for name in names})

    def extra_repr(self):
        return ", ".join(f"{name}={_show(getattr(self, name))}" for name in names)

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
for _alias, _name in _TORCH_ALIASES.items():
    globals()[_alias] = globals()[_class_name(_name)]  # the same class
    if _alias not in __all__:
        __all__.append(_alias)
del _module, _names, _name, _cls, _alias


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
