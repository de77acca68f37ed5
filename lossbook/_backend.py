"""Backend plumbing shared by every loss: one code path for NumPy and PyTorch.

Each loss is written once against the Python array API standard; the namespace
``xp`` comes from :mod:`array_api_compat`, so the same formula runs on NumPy
arrays and on torch tensors (keeping dtype, device and autograd).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import array_api_compat
import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def _is_torch(x) -> bool:
    return array_api_compat.is_torch_array(x)


def _kind(x) -> str:
    if _is_torch(x):
        return "a torch.Tensor"
    module = type(x).__module__
    prefix = "" if module == "builtins" else module.split(".")[0] + "."
    name = f"{prefix}{type(x).__name__}"
    return ("an " if name[0] in "aeiou" else "a ") + name


def arrays(*, float_args: Sequence[str] = (), **named):
    """Convert the named inputs to one backend and return ``(xp, *arrays)``.

    NumPy arrays, lists and scalars become NumPy arrays; torch tensors stay as
    they are. Mixing torch tensors with anything else raises ``TypeError``
    naming both arguments. The first argument fixes the floating dtype: a
    non-floating first argument becomes float64 (NumPy) or torch's default
    dtype; every name in ``float_args`` is cast to that dtype.
    """
    names = list(named)
    torch_names = [n for n in names if _is_torch(named[n])]
    if torch_names and len(torch_names) != len(names):
        other = next(n for n in names if not _is_torch(named[n]))
        raise TypeError(
            f"`{torch_names[0]}` is a torch.Tensor but `{other}` is "
            f"{_kind(named[other])}; pass all array arguments as torch tensors "
            "or all as NumPy arrays, not a mix"
        )
    if torch_names:
        import torch

        values = list(named.values())
        first = values[0]
        if not first.is_floating_point():
            first = first.to(torch.get_default_dtype())
        dtype = first.dtype
    else:
        values = [np.asarray(v) for v in named.values()]
        first = values[0]
        if not np.issubdtype(first.dtype, np.floating):
            first = first.astype(np.float64)
        dtype = first.dtype
    xp = array_api_compat.array_namespace(first)
    out = [first]
    for name, value in zip(names[1:], values[1:], strict=True):
        if name in float_args and value.dtype != dtype:
            value = xp.astype(value, dtype)
        out.append(value)
    return (xp, *out)


def namespace_of(x):
    """Return ``(xp, x)`` for a single input, converting lists to NumPy."""
    if not _is_torch(x):
        x = np.asarray(x)
    return array_api_compat.array_namespace(x), x


def stop_gradient(x):
    """``x`` as a constant for autograd: detached for torch, NumPy has no graph."""
    return x.detach() if _is_torch(x) else x


def check_reduction(reduction) -> None:
    """Raise ``ValueError`` unless ``reduction`` is one of the three allowed."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'mean', 'sum' or 'none', got {reduction!r}"
        )


def check_not_empty_for_mean(x, reduction, name: str = "pred") -> None:
    """An empty input has no mean: raise instead of returning NaN."""
    if reduction == "mean" and _size(x) == 0:
        raise ValueError(
            f"`{name}` is empty (shape {tuple(x.shape)}); the mean of zero "
            "elements is undefined, use reduction='sum' or 'none'"
        )


def _size(x) -> int:
    return math.prod(x.shape)  # not np.prod: a tuple through NumPy costs microseconds


def reduce(xp, values, reduction: str, *, denom=None):
    """Reduce per-element losses: the one reduction helper of the library.

    ``denom`` replaces the element count in the mean (weighted means, as in
    ``torch.nn.functional.cross_entropy`` with class weights).
    """
    if reduction == "none":
        return values
    total = xp.sum(values)
    if reduction == "sum":
        return total
    if denom is None:
        return total / _size(values)
    return total / denom


def scale_for(reduction: str, values, *, denom=None):
    """The factor that ``reduce`` applies to each element's derivative."""
    if reduction != "mean":
        return values
    return values / (_size(values) if denom is None else denom)


def to_scalar(x) -> float:
    """A Python float from a 0-d array or tensor (one host transfer)."""
    if isinstance(x, numbers.Number):
        return float(x)
    return float(x.item()) if _is_torch(x) else float(np.asarray(x))
