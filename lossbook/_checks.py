"""Input checkers, one per family of rules in the API contract.

Every checker raises ``ValueError`` with a message that names the argument,
shows the offending value (or shapes) and says what is allowed. Data checks
make one vectorised pass and move a single boolean to the host; the offending
value is only looked up when the check fails.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._backend import (
    _is_torch,
    _kind,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
)

_RULES = {
    "positive": (lambda v: v > 0, "a positive number (> 0)"),
    "nonnegative": (lambda v: v >= 0, "a non-negative number (>= 0)"),
    "unit": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
}


def hyper(name: str, value, rule: str) -> float:
    """Check a scalar hyperparameter (``delta``, ``margin``, ``epsilon``, ...)."""
    ok, allowed = _RULES[rule]
    if _is_torch(value) or isinstance(value, np.ndarray):
        # only temperature, sigma and b take arrays (learnable or per element)
        raise TypeError(
            f"{name} must be a Python number, got {_kind(value)}; pass "
            f"float({name}) (only temperature, sigma and b accept tensors)"
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not ok(value)
    ):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def same_shape(a, b, names: tuple[str, str]) -> None:
    """``a`` and ``b`` must have equal shapes: no silent broadcasting."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )


def broadcastable(w, x, name: str, to: str) -> None:
    """``w`` must broadcast to the shape of ``x`` (weights of a loss)."""
    try:
        ok = np.broadcast_shapes(tuple(w.shape), tuple(x.shape)) == tuple(x.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` of shape {tuple(w.shape)} must broadcast to the shape "
            f"{tuple(x.shape)} of `{to}`"
        )


def inputs(reduction, *, broadcast=(), **named):
    """The shared checker of element-wise losses; returns ``(xp, *arrays)``.

    Converts every named input to one backend (the first fixes the dtype, the
    others are cast to it), requires the shape of the first for every input
    except those in ``broadcast``, which need only broadcast to it, and a
    non-empty first input for ``reduction="mean"``. ``None`` inputs (absent
    options) come back as ``None``.
    """
    check_reduction(reduction)
    present = {k: v for k, v in named.items() if v is not None}
    names = tuple(present)
    xp, first, *rest = arrays(**present, float_args=names[1:])
    for name, value in zip(names[1:], rest, strict=True):
        if name in broadcast:
            broadcastable(value, first, name, names[0])
        else:
            same_shape(first, value, (names[0], name))
    check_not_empty_for_mean(first, reduction, names[0])
    converted = dict(zip(names, (first, *rest), strict=True))
    return (xp, *(converted.get(k) for k in named))


def ndim(x, name: str, expected: int, meaning: str) -> None:
    """``x`` must have ``expected`` dimensions (``meaning`` spells them out)."""
    if x.ndim != expected:
        raise ValueError(
            f"`{name}` must be {expected}-D {meaning}, got shape {tuple(x.shape)}"
        )


def _first_bad(x, bad):
    """The first offending element, as a Python number, for the message."""
    if _is_torch(x):
        return x[bad].flatten()[0].item()
    return x[bad].flat[0].item()


def _any(mask) -> bool:
    return bool(mask.any())


def in_range(x, name: str, lo: float, hi: float, what: str) -> None:
    """Every element of ``x`` must lie in ``[lo, hi]`` (NaN fails too)."""
    bad = ~((x >= lo) & (x <= hi))
    if _any(bad):
        raise ValueError(
            f"`{name}` must hold {what} in [{lo:g}, {hi:g}], found "
            f"{_first_bad(x, bad)!r}"
        )


def in_set(x, name: str, allowed: tuple[float, ...], what: str) -> None:
    """Every element of ``x`` must be one of ``allowed`` (hard labels)."""
    good = x == allowed[0]
    for value in allowed[1:]:
        good = good | (x == value)
    bad = ~good
    if _any(bad):
        shown = ", ".join(f"{v:g}" for v in allowed)
        raise ValueError(
            f"`{name}` must hold {what} in {{{shown}}}, found {_first_bad(x, bad)!r}"
        )


def class_indices(x, name: str, num_classes: int) -> None:
    """Integer class indices in ``[0, num_classes)``."""
    if _is_torch(x):
        import torch

        integral = not (
            x.is_floating_point() or x.is_complex() or x.dtype == torch.bool
        )
    else:
        integral = x.dtype.kind in "iu"
    if not integral:
        raise ValueError(
            f"`{name}` must hold integer class indices, got dtype {x.dtype}"
        )
    bad = (x < 0) | (x >= num_classes)
    if _any(bad):
        raise ValueError(
            f"`{name}` must hold class indices in [0, {num_classes}), found "
            f"{_first_bad(x, bad)!r}"
        )


def positive_values(s, name: str) -> None:
    """Every element of a scale array must be positive and finite."""
    bad = ~((s > 0) & (s < math.inf))  # NaN compares False: caught
    if _any(bad):
        raise ValueError(
            f"`{name}` must hold positive finite numbers (> 0), found "
            f"{_first_bad(s, bad)!r}"
        )


def boxes(xp, b, name: str) -> None:
    """Every row must be a finite box ``(x1, y1, x2, y2)`` with x2 >= x1, y2 >= y1."""
    ok = (b[:, 2] >= b[:, 0]) & (b[:, 3] >= b[:, 1])  # NaN compares False: caught
    ok = ok & xp.all(xp.isfinite(b), axis=-1)
    bad = ~ok
    if _any(bad):
        row = int(xp.argmax(xp.astype(bad, xp.int32)))  # argmax: first bad row
        corners = [float(v) for v in b[row, :].tolist()]
        raise ValueError(
            f"`{name}` must hold finite boxes (x1, y1, x2, y2) with x2 >= x1 "
            f"and y2 >= y1, found box {row} = {corners}"
        )


# quantile levels (pinball loss): strictly inside (0, 1)
_RULES["open_unit"] = (lambda v: 0 < v < 1, "a number in (0, 1)")


def sums_to_one(x, name: str, axis: int, what: str, rtol: float = 1e-3) -> None:
    """Every slice of ``x`` along ``axis`` must sum to 1 (to ``rtol``)."""
    total = x.sum(axis) if _is_torch(x) else np.sum(x, axis=axis)
    bad = ~(abs(total - 1) <= rtol)  # NaN compares False: caught
    if _any(bad):
        raise ValueError(
            f"`{name}` must hold {what} summing to 1 along axis {axis} (to "
            f"{rtol:g}), found a sum of {_first_bad(total, bad)!r}"
        )
