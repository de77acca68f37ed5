"""Input checkers, one per family of rules in the API contract.

Every checker raises ``ValueError`` with a message that names the argument,
shows the offending value (or shapes) and says what is allowed.

Shape and argument checks always run. Value checks (ranges, label sets, class
indices, boxes) read the data, so where they run depends on it:

- NumPy arrays and CPU tensors in eager mode: one vectorised pass moves a
  single boolean to the host; the offending value is only looked up when the
  check fails;
- CUDA tensors: an asynchronous device assertion (``torch._assert_async``),
  no copy to the host and no synchronisation; a failure surfaces at a later
  synchronisation as a device-side assertion error;
- other devices, and wherever torch traces (``torch.compile``, ``torch.func``
  transforms, meta and fake tensors): skipped;
- everywhere: skipped while :func:`set_value_checks` has turned them off.
"""

from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from ._backend import (
    _is_torch,
    _kind,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    input_roundoff,
    traced,
)

# --- the switch of value checks, and where they run ---

_value_checks = True  # read by every value check; toggled by set_value_checks

_SKIP, _HOST, _DEVICE = 0, 1, 2
_ASYNC_DEVICES = ("cuda",)  # where torch._assert_async is asynchronous


def set_value_checks(enabled: bool) -> bool:
    """Turn lossbook's value checks on or off everywhere; return the old setting.

    Value checks read the data (probabilities in [0, 1], labels in their set,
    class indices in range, well-formed boxes). Turning them off saves their
    pass over the inputs; shape and argument checks stay on.

    Parameters
    ----------
    enabled : bool
        ``True`` to run value checks (the default), ``False`` to skip them.

    Returns
    -------
    previous : bool
        The setting before the call, to restore it later.

    Raises
    ------
    TypeError
        If ``enabled`` is not a bool.

    See Also
    --------
    value_checks : the same as a context manager.

    Notes
    -----
    The setting is global to the process (all threads). ``torch.compile``
    guards on it: flipping it recompiles a compiled loss, it never goes stale.

    Examples
    --------
    >>> import lossbook as lb
    >>> previous = lb.set_value_checks(False)
    >>> float(lb.hinge([0.5], [0.0]))  # 0 is not a signed label: unchecked
    1.0
    >>> lb.set_value_checks(previous)  # back on; returns the setting it replaces
    False
    """
    global _value_checks
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    previous = _value_checks
    _value_checks = enabled
    return previous


@contextlib.contextmanager
def value_checks(enabled: bool = True):
    """Context manager: value checks on or off inside the ``with`` block.

    ``with lb.value_checks(False): ...`` skips the value checks of every loss
    in the block (see :func:`set_value_checks`) and restores the previous
    setting on exit, also when the block raises. Usable as a decorator.

    Examples
    --------
    >>> import lossbook as lb
    >>> with lb.value_checks(False):
    ...     float(lb.hinge([0.5], [0.0]))  # 0 is not a signed label: unchecked
    1.0
    >>> lb.hinge([0.5], [0.0])
    Traceback (most recent call last):
    ...
    ValueError: `target` must hold signed labels in {-1, 1}, found 0.0
    """
    previous = set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(previous)


def _where(x) -> int:
    """Where the value checks of ``x`` run: ``_HOST``, ``_DEVICE`` or ``_SKIP``."""
    if not _value_checks:
        return _SKIP
    if not _is_torch(x):
        return _HOST
    if traced(x):
        return _SKIP
    if x.is_cpu:
        return _HOST
    return _DEVICE if x.device.type in _ASYNC_DEVICES else _SKIP


def _failed(bad, where: int, message) -> bool:
    """Whether the boolean array ``bad`` holds a True, where it may be read.

    On the host: one boolean read. On a device: an asynchronous assertion that
    ``bad`` holds no True (``message()`` is its text), and ``False``: the call
    goes on; a failure stops the device later.
    """
    if where == _HOST:
        return bool(bad.any())
    if where == _DEVICE:
        import torch

        torch._assert_async(~bad.any(), message())
    return False


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


def not_an_array(name: str, value, allowed: str, convert: str) -> None:
    """A hyperparameter is a Python value: an array or a tensor raises TypeError.

    Reading a tensor's value would synchronise with its device and break a
    graph under ``torch.compile``; ``allowed`` says what to pass instead
    ("a Python number (an int)"), ``convert`` how (``"int"``).
    """
    if _is_torch(value) or isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be {allowed}, got {_kind(value)}; pass {convert}({name})"
        )


def flag(name: str, value) -> bool:
    """A Python bool option (``symmetric``)."""
    not_an_array(name, value, "a Python bool", "bool")
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def index_or_none(name: str, value):
    """``None`` or a Python integer (``ignore_index``)."""
    not_an_array(name, value, "None or a Python number (an int)", "int")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral)
    ):
        raise ValueError(f"{name} must be None or an integer, got {value!r}")
    return value


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

    Converts every named input to one backend and one computing dtype (the
    type promotion of their floating dtypes, see ``_backend.arrays``),
    requires the shape of the first for every input except those in
    ``broadcast``, which need only broadcast to it, and a non-empty first
    input for ``reduction="mean"``. ``None`` inputs (absent
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
    """Whether a value check's ``mask`` of offending elements holds a True.

    For checkers that compute their mask before asking: it follows the rules
    of the module docstring (``False`` where the check is skipped or runs on
    the device); a checker that can skip its whole pass asks :func:`_where`
    first, as those below do.
    """
    return _failed(mask, _where(mask), lambda: "lossbook: a value check failed")


def in_range(x, name: str, lo: float, hi: float, what: str) -> None:
    """Every element of ``x`` must lie in ``[lo, hi]`` (NaN fails too)."""
    where = _where(x)
    if where == _SKIP:
        return
    bad = ~((x >= lo) & (x <= hi))
    if _failed(bad, where, lambda: f"`{name}` must hold {what} in [{lo:g}, {hi:g}]"):
        raise ValueError(
            f"`{name}` must hold {what} in [{lo:g}, {hi:g}], found "
            f"{_first_bad(x, bad)!r}"
        )


def in_set(x, name: str, allowed: tuple[float, ...], what: str) -> None:
    """Every element of ``x`` must be one of ``allowed`` (hard labels)."""
    where = _where(x)
    if where == _SKIP:
        return
    good = x == allowed[0]
    for value in allowed[1:]:
        good = good | (x == value)
    bad = ~good
    rule = lambda: f"`{name}` must hold {what} in {{{_shown(allowed)}}}"  # noqa: E731
    if _failed(bad, where, rule):
        raise ValueError(f"{rule()}, found {_first_bad(x, bad)!r}")


def _shown(allowed) -> str:
    return ", ".join(f"{v:g}" for v in allowed)


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
    where = _where(x)
    if where == _SKIP:
        return
    bad = (x < 0) | (x >= num_classes)
    if _failed(bad, where, lambda: f"`{name}` must hold indices in [0, {num_classes})"):
        raise ValueError(
            f"`{name}` must hold class indices in [0, {num_classes}), found "
            f"{_first_bad(x, bad)!r}"
        )


def positive_values(s, name: str) -> None:
    """Every element of a scale array must be positive and finite."""
    where = _where(s)
    if where == _SKIP:
        return
    bad = ~((s > 0) & (s < math.inf))  # NaN compares False: caught
    if _failed(bad, where, lambda: f"`{name}` must hold positive finite numbers"):
        raise ValueError(
            f"`{name}` must hold positive finite numbers (> 0), found "
            f"{_first_bad(s, bad)!r}"
        )


def boxes(xp, b, name: str) -> None:
    """Every row must be a finite box ``(x1, y1, x2, y2)`` with x2 >= x1, y2 >= y1."""
    where = _where(b)
    if where == _SKIP:
        return
    ok = (b[:, 2] >= b[:, 0]) & (b[:, 3] >= b[:, 1])  # NaN compares False: caught
    ok = ok & xp.all(xp.isfinite(b), axis=-1)
    bad = ~ok
    if _failed(bad, where, lambda: f"`{name}` must hold finite, ordered boxes"):
        row = int(xp.argmax(xp.astype(bad, xp.int32)))  # argmax: first bad row
        corners = [float(v) for v in b[row, :].tolist()]
        raise ValueError(
            f"`{name}` must hold finite boxes (x1, y1, x2, y2) with x2 >= x1 "
            f"and y2 >= y1, found box {row} = {corners}"
        )


# quantile levels (pinball loss): strictly inside (0, 1)
_RULES["open_unit"] = (lambda v: 0 < v < 1, "a number in (0, 1)")


def sums_to_one(
    x, name: str, axis: int, what: str, rtol: float = 1e-3, *, xp=None
) -> None:
    """Every slice of ``x`` along ``axis`` must sum to 1 (to ``rtol``).

    Probabilities stored in float16/bfloat16 (``x``'s dtype, or the inputs
    ``xp`` was made for) are each rounded by up to the unit roundoff u of
    their format: their sum is allowed 2u (bfloat16: 2^-7), when that is more
    than ``rtol``.
    """
    where = _where(x)
    if where == _SKIP:
        return
    tol = max(rtol, 2 * input_roundoff(xp, x))
    wide = x.dtype.itemsize < 4  # a sum of float16/bfloat16 in float32
    if _is_torch(x):
        import torch

        total = x.sum(axis, dtype=torch.float32 if wide else None)
    else:
        total = np.sum(x, axis=axis, dtype=np.float32 if wide else None)
    bad = ~(abs(total - 1) <= tol)  # NaN compares False: caught
    if _failed(bad, where, lambda: f"`{name}` must hold {what} summing to 1"):
        raise ValueError(
            f"`{name}` must hold {what} summing to 1 along axis {axis} (to "
            f"{tol:g}), found a sum of {_first_bad(total, bad)!r}"
        )
