"""Tests of the exercise self-check registry (lossbook.exercises)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lossbook import exercises
from lossbook.exercises import answer, check, keys, register

KEYS = keys()


def test_keys_are_sorted_and_look_like_chapter_numbers():
    assert KEYS == sorted(KEYS)
    assert "ch09.1" in KEYS
    for key in KEYS:
        chapter, number = key.split(".")
        assert chapter.startswith("ch")
        assert chapter[2:].isdigit()
        assert number.isdigit()


@pytest.mark.parametrize("key", KEYS)
def test_every_registered_answer_checks_as_correct(key, capsys):
    expected = answer(key)  # solve() runs
    assert check(key, expected) is True
    assert capsys.readouterr().out == f"{key}: correct.\n"


def _wrong(value):
    value = exercises._to_numpy(value)
    if value.dtype == bool:
        return ~value
    return value * 1.5 + 1.0


@pytest.mark.parametrize("key", KEYS)
def test_every_registered_exercise_rejects_a_wrong_answer(key, capsys):
    assert check(key, _wrong(answer(key))) is False
    hint = exercises._REGISTRY[key].hint
    assert capsys.readouterr().out == f"{key}: not yet. Hint: {hint}\n"


@pytest.mark.parametrize("key", KEYS)
def test_every_registered_exercise_has_a_hint_and_sane_tolerances(key):
    ex = exercises._REGISTRY[key]
    assert ex.key == key
    assert ex.hint.strip()
    assert 0 < ex.rtol < 0.1
    assert 0 <= ex.atol


@pytest.mark.parametrize("key", ["ch99.1", "ch09", "", "CH09.1"])
def test_an_unknown_key_raises(key):
    with pytest.raises(ValueError, match=rf"unknown exercise key {key!r}"):
        check(key, 1.0)
    with pytest.raises(ValueError, match=r"see lossbook.exercises.keys\(\)"):
        answer(key)


def test_quiet_prints_nothing(capsys):
    assert check("ch09.1", answer("ch09.1"), quiet=True) is True
    assert check("ch09.1", -1.0, quiet=True) is False
    assert capsys.readouterr().out == ""


def test_the_worked_example_answer_is_the_mse():
    assert float(answer("ch09.1")) == pytest.approx((0.2**2 + 0.3**2 + 0.3**2) / 3)


# --- tolerance behaviour, on exercises registered for the test only ---


@pytest.fixture
def temporary():
    """Register throw-away exercises; remove them afterwards."""
    added = []

    def add(key, value, **kw):
        register(key, hint="try again", **kw)(lambda: value)
        added.append(key)
        return key

    yield add
    for key in added:
        exercises._REGISTRY.pop(key, None)


def test_relative_tolerance(temporary):
    key = temporary("test.rel", 2.0, rtol=1e-2, atol=0.0)
    assert check(key, 2.0 * (1 + 0.9e-2), quiet=True)
    assert check(key, 2.0 * (1 - 0.9e-2), quiet=True)
    assert not check(key, 2.0 * (1 + 1.1e-2), quiet=True)
    assert not check(key, 2.0 * (1 - 1.1e-2), quiet=True)


def test_default_tolerance_accepts_three_significant_digits(temporary):
    key = temporary("test.default", 0.0733333333)
    assert check(key, 0.0733, quiet=True)
    assert not check(key, 0.0740, quiet=True)


def test_absolute_tolerance_near_zero(temporary):
    key = temporary("test.abs", 0.0, atol=1e-6)
    assert check(key, 5e-7, quiet=True)
    assert not check(key, 5e-6, quiet=True)


def test_arrays_must_match_in_shape_and_value(temporary):
    key = temporary("test.array", np.array([1.0, 2.0, 3.0]))
    assert check(key, [1.0, 2.0, 3.0], quiet=True)
    assert check(key, torch.tensor([1.0, 2.0, 3.0], requires_grad=True), quiet=True)
    assert not check(key, [1.0, 2.0], quiet=True)  # no broadcasting
    assert not check(key, [[1.0, 2.0, 3.0]], quiet=True)
    assert not check(key, [1.0, 2.0, 3.5], quiet=True)
    assert not check(key, 2.0, quiet=True)


def test_tensor_answers_are_compared_too(temporary):
    key = temporary("test.tensor", torch.tensor(0.5, dtype=torch.float64))
    assert check(key, 0.5, quiet=True)
    assert check(key, np.float32(0.5), quiet=True)
    assert not check(key, 0.6, quiet=True)


def test_booleans_must_be_booleans(temporary):
    key = temporary("test.bool", True)
    assert check(key, True, quiet=True)
    assert check(key, np.bool_(True), quiet=True)
    assert not check(key, False, quiet=True)
    assert not check(key, 1, quiet=True)  # a number is not an answer to yes/no
    assert not check(key, 1.0, quiet=True)
    arr = temporary("test.bools", np.array([True, False]))
    assert check(arr, [True, False], quiet=True)
    assert not check(arr, [True, True], quiet=True)
    assert not check(arr, [True], quiet=True)


def test_non_numeric_answers_are_wrong_not_errors(temporary):
    key = temporary("test.number", 1.0)
    assert not check(key, "1.0", quiet=True)
    assert not check(key, None, quiet=True)
    assert not check(key, True, quiet=True)  # bool is not a number here


def test_a_key_cannot_be_registered_twice(temporary):
    temporary("test.twice", 1.0)
    with pytest.raises(
        ValueError, match=r"exercise key 'test.twice' is registered twice"
    ):
        register("test.twice", hint="h")(lambda: 2.0)
    assert answer("test.twice") == 1.0


def test_registering_returns_the_function_unchanged():
    def solve():
        return 3.0

    try:
        assert register("test.identity", hint="h")(solve) is solve
    finally:
        exercises._REGISTRY.pop("test.identity", None)


def test_chapter_modules_load_once(monkeypatch):
    monkeypatch.setattr(exercises, "_LOADED", False)
    before = dict(exercises._REGISTRY)
    monkeypatch.setattr(exercises, "_REGISTRY", before)
    # modules already imported do not register again: no "registered twice"
    assert exercises.keys() == sorted(before)
    assert exercises._LOADED is True
