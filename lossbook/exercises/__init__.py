"""Self-checks for the book's exercises.

Call :func:`check` from a notebook with an exercise's key and your answer::

    >>> from lossbook.exercises import check
    >>> check("ch09.1", 0.0733)
    ch09.1: correct.
    True

Expected answers are computed by ``lossbook`` itself (never typed in), in the
chapter modules ``lossbook/exercises/chNN.py``; each registers its exercises
with ``register``. Numbers are compared with a relative tolerance, so an
answer rounded to three or four significant digits is accepted.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Exercise", "answer", "check", "keys", "register"]


@dataclass(frozen=True)
class Exercise:
    """One self-checked exercise.

    Attributes
    ----------
    key : str
        ``"chNN.k"``, the chapter and the exercise's number.
    solve : callable
        Returns the expected answer (a number, array or bool), computed with
        ``lossbook``.
    hint : str
        Shown when the answer is wrong.
    rtol : float
        Relative tolerance for numeric answers.
    atol : float
        Absolute tolerance, for answers near 0.
    """

    key: str
    solve: Callable[[], object]
    hint: str
    rtol: float = 5e-3
    atol: float = 1e-6


_REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(key, *, hint, rtol=5e-3, atol=1e-6):
    """Decorator: register ``solve`` as the expected answer of ``key``."""

    def wrap(solve):
        if key in _REGISTRY:
            raise ValueError(f"exercise key {key!r} is registered twice")
        _REGISTRY[key] = Exercise(key, solve, hint, rtol, atol)
        return solve

    return wrap


def _load():
    global _LOADED
    if not _LOADED:
        for info in pkgutil.iter_modules(__path__):
            if info.name.startswith("ch"):
                importlib.import_module(f"{__name__}.{info.name}")
        _LOADED = True


def keys():
    """All registered exercise keys, sorted.

    Examples
    --------
    >>> from lossbook.exercises import keys
    >>> "ch09.1" in keys()
    True
    """
    _load()
    return sorted(_REGISTRY)


def _get(key):
    _load()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(
            f"unknown exercise key {key!r}; known keys look like 'ch09.1' "
            f"(see lossbook.exercises.keys())"
        ) from None


def answer(key):
    """The expected answer of ``key`` (for instructors and tests)."""
    return _get(key).solve()


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _matches(given, expected, ex):
    given, expected = _to_numpy(given), _to_numpy(expected)
    if expected.dtype == bool:
        return (
            given.dtype == bool
            and given.shape == expected.shape
            and bool(np.all(given == expected))
        )
    if given.shape != expected.shape:
        return False
    if not np.issubdtype(given.dtype, np.number):
        return False
    return bool(np.allclose(given, expected, rtol=ex.rtol, atol=ex.atol))


def check(key, given, *, quiet=False):
    """Say whether ``given`` answers exercise ``key``; return ``True`` or ``False``.

    Parameters
    ----------
    key : str
        The exercise's key, e.g. ``"ch09.1"``.
    given : number, array_like or torch.Tensor
        Your answer.
    quiet : bool, default False
        If True, print nothing.

    Returns
    -------
    bool
        Whether the answer matches within the exercise's tolerance.

    Raises
    ------
    ValueError
        If ``key`` is unknown.

    Examples
    --------
    >>> from lossbook.exercises import check
    >>> check("ch09.1", 0.07)
    ch09.1: not yet. Hint: Average the three squared residuals.
    False
    """
    ex = _get(key)
    ok = _matches(given, ex.solve(), ex)
    if not quiet:
        print(f"{key}: correct." if ok else f"{key}: not yet. Hint: {ex.hint}")
    return ok
