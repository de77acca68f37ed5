"""Tests of lossbook._backend (one backend path, one reduction) and lossbook._checks."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from lossbook import _backend, _checks
from lossbook._backend import (
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    namespace_of,
    reduce,
    scale_for,
    to_scalar,
)

# --- arrays(): one backend, one floating dtype ---


def test_numpy_lists_and_scalars_become_numpy_arrays():
    xp, a, b, c = arrays(a=[1.0, 2.0], b=np.array([3.0, 4.0]), c=5.0)
    assert xp.__name__.endswith("numpy")
    assert all(isinstance(v, np.ndarray) for v in (a, b, c))
    assert c.shape == ()


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8])
def test_a_non_floating_first_argument_becomes_float64(dtype):
    _, a = arrays(a=np.ones(3, dtype=dtype))
    assert a.dtype == np.float64


def test_a_non_floating_first_tensor_becomes_the_torch_default_dtype():
    _, a = arrays(a=torch.arange(3))
    assert a.dtype == torch.get_default_dtype()
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        _, a = arrays(a=torch.arange(3))
        assert a.dtype == torch.float64
    finally:
        torch.set_default_dtype(old)


@pytest.mark.parametrize(
    ("make", "first", "second"),
    [
        (lambda d: np.ones(2, d), np.float32, np.float64),
        (lambda d: np.ones(2, d), np.float64, np.float32),
        (lambda d: torch.ones(2, dtype=d), torch.float32, torch.float64),
        (lambda d: torch.ones(2, dtype=d), torch.float64, torch.float32),
    ],
)
def test_float_args_follow_type_promotion(make, first, second):
    # float32 with float64 computes in float64 whichever comes first, as
    # torch.nn.functional does
    _, a, b, c = arrays(
        a=make(first), b=make(second), c=make(second), float_args=("b",)
    )
    wide = np.float64 if isinstance(a, np.ndarray) else torch.float64
    assert a.dtype == wide
    assert b.dtype == wide
    assert c.dtype == second  # not a float arg: left alone
    # an argument outside float_args takes no part in the promotion
    _, a, c = arrays(a=make(first), c=make(second))
    assert a.dtype == first


def test_integer_arguments_outside_float_args_keep_their_dtype():
    _, _z, t = arrays(z=torch.zeros(2, 3), t=torch.tensor([0, 2]))
    assert t.dtype == torch.int64
    _, _z, t = arrays(z=np.zeros((2, 3)), t=np.array([0, 2]))
    assert t.dtype.kind == "i"


def test_torch_inputs_are_returned_as_they_are_with_autograd():
    x = torch.ones(3, requires_grad=True)
    xp, a = arrays(a=x)
    assert a is x
    assert xp.__name__.endswith("torch")


@pytest.mark.parametrize(
    ("other", "kind"),
    [
        (np.zeros(2), "a numpy.ndarray"),
        ([0.0, 0.0], "a list"),
        (0.0, "a float"),
        (np.float32(0.0), "a numpy.float32"),
    ],
    ids=["ndarray", "list", "float", "np-scalar"],
)
def test_mixing_torch_with_anything_else_is_a_type_error_naming_both(other, kind):
    pattern = rf"`b` is a torch.Tensor but `a` is {kind};.*not a mix"
    with pytest.raises(TypeError, match=pattern):
        arrays(a=other, b=torch.zeros(2))
    pattern = rf"`a` is a torch.Tensor but `b` is {kind};"
    with pytest.raises(TypeError, match=pattern):
        arrays(a=torch.zeros(2), b=other)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (torch.zeros(1), "a torch.Tensor"),
        (np.zeros(1), "a numpy.ndarray"),
        ([1], "a list"),
        (2.5, "a float"),
        (np.int64(3), "a numpy.int64"),
    ],
)
def test_kind_describes_the_argument(value, kind):
    assert _backend._kind(value) == kind


def test_namespace_of_converts_lists_and_keeps_tensors():
    xp, x = namespace_of([1, 2])
    assert isinstance(x, np.ndarray)
    t = torch.zeros(2)
    xp, y = namespace_of(t)
    assert y is t
    assert xp.__name__.endswith("torch")


# --- reduction ---


@pytest.mark.parametrize("bad", ["Mean", "avg", "", None, 0, ("mean",)])
def test_an_unknown_reduction_lists_the_three(bad):
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got"):
        check_reduction(bad)


@pytest.mark.parametrize("good", ["mean", "sum", "none"])
def test_the_three_reductions_pass(good):
    check_reduction(good)


@pytest.mark.parametrize("make", [np.zeros, torch.zeros])
def test_an_empty_input_has_no_mean(make):
    with pytest.raises(ValueError, match=r"`logits` is empty \(shape \(0, 3\)\)"):
        check_not_empty_for_mean(make((0, 3)), "mean", "logits")
    check_not_empty_for_mean(make((0, 3)), "sum", "logits")
    check_not_empty_for_mean(make((0, 3)), "none", "logits")
    check_not_empty_for_mean(make((1, 3)), "mean", "logits")


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
def test_reduce_and_scale_for_agree_with_sum_and_mean(make):
    v = make([1.0, 2.0, 4.0, 8.0])
    xp = namespace_of(v)[0]
    assert reduce(xp, v, "none") is v
    assert float(reduce(xp, v, "sum")) == 15.0
    assert float(reduce(xp, v, "mean")) == 15.0 / 4
    assert float(reduce(xp, v, "mean", denom=5.0)) == 3.0
    assert scale_for("sum", v) is v
    assert scale_for("none", v) is v
    np.testing.assert_array_equal(np.asarray(scale_for("mean", v)), [0.25, 0.5, 1, 2])
    np.testing.assert_array_equal(
        np.asarray(scale_for("mean", v, denom=2.0)), [0.5, 1, 2, 4]
    )


def test_the_mean_of_a_2d_array_divides_by_every_element():
    v = np.arange(6.0).reshape(2, 3)
    assert float(reduce(np, v, "mean")) == 15.0 / 6
    assert _backend._size(np.zeros((0, 4))) == 0
    assert _backend._size(torch.zeros(())) == 1


@pytest.mark.parametrize(
    "value", [2.5, 3, np.float32(2.5), np.asarray(2.5), torch.tensor(2.5)]
)
def test_to_scalar_returns_a_python_float(value):
    out = to_scalar(value)
    assert type(out) is float
    assert out == float(value)


# --- _checks.hyper ---


@pytest.mark.parametrize(
    ("rule", "good", "bad", "allowed"),
    [
        ("positive", [1e-300, 1, 2.5, np.float32(1)], [0, -1.0, -0.0], "(> 0)"),
        ("nonnegative", [0, 0.0, 3], [-1e-300, -2], "(>= 0)"),
        ("unit", [0, 0.0, 0.5, 0.999999], [1, 1.0, -0.1, 2], "in [0, 1)"),
    ],
)
def test_hyper_rules(rule, good, bad, allowed):
    for v in good:
        out = _checks.hyper("h", v, rule)
        assert type(out) is float
        assert out == float(v)
    for v in bad:
        with pytest.raises(
            ValueError, match=rf"^h must be .*{re.escape(allowed)}, got {v!r}$"
        ):
            _checks.hyper("h", v, rule)


@pytest.mark.parametrize(
    "bad", [True, False, math.nan, math.inf, -math.inf, "1.0", None, 1j, [1.0]]
)
@pytest.mark.parametrize("rule", ["positive", "nonnegative", "unit"])
def test_hyper_rejects_bools_non_numbers_and_non_finite(rule, bad):
    with pytest.raises(
        ValueError, match=rf"^delta must be .*, got {re.escape(repr(bad))}$"
    ):
        _checks.hyper("delta", bad, rule)


# --- data checkers ---


@pytest.mark.parametrize("make", [np.zeros, torch.zeros])
def test_same_shape_names_both_shapes(make):
    _checks.same_shape(make((2, 3)), make((2, 3)), ("a", "b"))
    with pytest.raises(
        ValueError,
        match=r"`a` and `b` must have the same shape, got \(2, 3\) and \(3, 2\)",
    ):
        _checks.same_shape(make((2, 3)), make((3, 2)), ("a", "b"))
    with pytest.raises(ValueError, match=r"got \(3,\) and \(1, 3\)"):
        _checks.same_shape(make(3), make((1, 3)), ("a", "b"))  # no broadcasting


@pytest.mark.parametrize("make", [np.zeros, torch.zeros])
def test_ndim(make):
    _checks.ndim(make((2, 3)), "logits", 2, "(N, K)")
    with pytest.raises(
        ValueError, match=r"`logits` must be 2-D \(N, K\), got shape \(3,\)"
    ):
        _checks.ndim(make(3), "logits", 2, "(N, K)")


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
def test_in_range_shows_the_first_bad_value_and_rejects_nan(make):
    _checks.in_range(make([0.0, 0.5, 1.0]), "prob", 0.0, 1.0, "probabilities")
    with pytest.raises(
        ValueError, match=r"`prob` must hold probabilities in \[0, 1\], found 1.5"
    ):
        _checks.in_range(make([0.0, 1.5, -2.0]), "prob", 0.0, 1.0, "probabilities")
    with pytest.raises(ValueError, match=r"found -2.0"):
        _checks.in_range(make([[0.0, 0.1], [-2.0, 3.0]]), "prob", 0.0, 1.0, "p")
    with pytest.raises(ValueError, match=r"found nan"):
        _checks.in_range(make([0.5, math.nan]), "prob", 0.0, 1.0, "probabilities")


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
def test_in_set(make):
    _checks.in_set(make([-1.0, 1.0, 1.0]), "target", (-1.0, 1.0), "signed labels")
    with pytest.raises(
        ValueError, match=r"`target` must hold signed labels in \{-1, 1\}, found 0.0"
    ):
        _checks.in_set(make([1.0, 0.0]), "target", (-1.0, 1.0), "signed labels")
    with pytest.raises(ValueError, match=r"found nan"):
        _checks.in_set(make([1.0, math.nan]), "target", (-1.0, 1.0), "signed labels")


@pytest.mark.parametrize(
    "x", [np.array([0, 2]), np.array([0, 2], np.uint8), torch.tensor([0, 2])]
)
def test_class_indices_accepts_integers_in_range(x):
    _checks.class_indices(x, "target", 3)


@pytest.mark.parametrize(
    "x",
    [
        np.array([0.0, 1.0]),
        np.array([True, False]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([0j, 1j]),
        torch.tensor([True, False]),
    ],
    ids=["np-float", "np-bool", "torch-float", "torch-complex", "torch-bool"],
)
def test_class_indices_must_be_integers(x):
    # Regression test: a torch bool tensor once passed as class indices, although
    # NumPy bools were refused (and torch's cross_entropy refuses bool targets).
    with pytest.raises(
        ValueError, match=r"`target` must hold integer class indices, got dtype"
    ):
        _checks.class_indices(x, "target", 3)


@pytest.mark.parametrize("make", [np.asarray, torch.tensor])
@pytest.mark.parametrize("bad", [3, -1, 7])
def test_class_indices_out_of_range(make, bad):
    with pytest.raises(
        ValueError, match=rf"`target` must hold class indices in \[0, 3\), found {bad}$"
    ):
        _checks.class_indices(make([0, bad, 1]), "target", 3)


# --- precision policy: promotion, half precision, autocast ---


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_a_0d_array_yields_to_one_with_dimensions(kind):
    # torch's rule, on both backends: a 0-d float64 scale keeps a float32 loss
    make = (lambda v, d: torch.tensor(v, dtype=d)) if kind == "torch" else np.asarray
    f32, f64 = (
        (torch.float32, torch.float64)
        if kind == "torch"
        else (
            np.float32,
            np.float64,
        )
    )
    _, a, s = arrays(a=make([1.0, 2.0], f32), s=make(2.0, f64), float_args=("s",))
    assert a.dtype == f32
    assert s.dtype == f32
    _, a, s = arrays(a=make(1.0, f32), s=make(2.0, f64), float_args=("s",))
    assert a.dtype == f64  # only 0-d arrays: they promote
    _, a, s = arrays(a=make([1, 2], None), s=make(2.0, f64), float_args=("s",))
    assert a.dtype == f64  # the only floating input decides


@pytest.mark.parametrize(
    ("dtype", "name"), [(torch.float16, "float16"), (torch.bfloat16, "bfloat16")]
)
def test_half_precision_computes_in_float32_and_reduce_casts_back(dtype, name):
    xp, a, b = arrays(
        a=torch.ones(3, dtype=dtype), b=torch.ones(3, dtype=dtype), float_args=("b",)
    )
    assert a.dtype == b.dtype == torch.float32
    assert xp.in_dtype == xp.out_dtype == name
    assert _backend.out_dtype(xp) == dtype
    assert reduce(xp, a, "mean").dtype == dtype
    assert reduce(xp, a, "none").dtype == dtype
    # an integer first argument with a half-precision float argument
    xp, a, b = arrays(
        a=torch.arange(3), b=torch.ones(3, dtype=dtype), float_args=("b",)
    )
    assert a.dtype == torch.float32
    assert _backend.out_dtype(xp) == dtype
    # float16 with float32 promotes to float32: nothing to cast back
    xp, a, b = arrays(a=torch.ones(3, dtype=dtype), b=torch.ones(3), float_args=("b",))
    assert a.dtype == torch.float32
    assert _backend.out_dtype(xp) is None
    assert xp is _backend._TORCH


def test_numpy_float16_computes_in_float32_and_comes_back():
    xp, a = arrays(a=np.ones(3, np.float16))
    assert a.dtype == np.float32
    out = reduce(xp, a, "sum")
    assert out.dtype == np.float16
    assert float(out) == 3.0


def test_full_precision_keeps_the_plain_namespaces():
    xp, _ = arrays(a=torch.ones(2))
    assert xp is _backend._TORCH
    assert _backend.out_dtype(xp) is None
    x = torch.ones(2)
    assert _backend.result(xp, x) is x  # no cast, no copy
    xp, _ = arrays(a=np.ones(2))
    assert _backend.result(xp, x) is x


def test_autocast_computes_products_in_full_precision_and_returns_float32():
    a, b = torch.randn(4, 3), torch.randn(3, 5)
    product = a @ b
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.matmul(a, b).dtype == torch.bfloat16  # what autocast does
        xp, x = arrays(a=a)
        assert isinstance(xp, _backend._AutocastNamespace)
        assert xp.matmul(x, b).dtype == torch.float32
        torch.testing.assert_close(xp.matmul(x, b), product, rtol=0, atol=0)
        xp, x = arrays(a=a.bfloat16())
        assert x.dtype == torch.float32
        assert _backend.out_dtype(xp) is None  # float32 out, as F's losses
        assert xp.in_dtype == "bfloat16"
    xp, _ = arrays(a=a)
    assert xp is _backend._TORCH  # autocast off again: the plain namespace


def test_namespaces_copy_the_compat_functions_but_keep_their_own_methods():
    import array_api_compat.torch as compat

    xp = _backend._AUTOCAST
    assert xp.sum is compat.sum
    assert xp.sum is xp.__dict__["sum"]  # copied in: no __getattr__ next time
    assert xp.matmul.__func__ is _backend._AutocastNamespace.matmul
    assert "matmul" not in xp.__dict__
    with pytest.raises(AttributeError):
        _ = xp.no_such_function


@pytest.mark.parametrize(
    ("number", "tensor", "dtype"),
    [
        (0.0, torch.ones(2, dtype=torch.float16), torch.float16),
        (0.5, torch.ones(2, dtype=torch.float64), torch.float64),
        (0.5, torch.ones(2, dtype=torch.int32), torch.get_default_dtype()),
        (2, torch.ones(2, dtype=torch.int32), torch.int32),
        (2, torch.ones(2, dtype=torch.bool), torch.int64),
    ],
)
def test_a_number_meets_a_tensor_as_torch_promotes_it(number, tensor, dtype):
    import array_api_compat.torch as compat

    assert _backend._scalar_as_tensor(number, tensor).dtype == dtype
    got = _backend._TORCH.maximum(tensor, number)
    assert got.dtype == compat.maximum(tensor, number).dtype
    assert torch.equal(got, compat.maximum(tensor, number))
    assert torch.equal(
        _backend._TORCH.minimum(number, tensor), compat.minimum(number, tensor)
    )


def test_maximum_with_a_number_splits_the_gradient_at_a_tie_as_compat_does():
    x = torch.tensor([0.0, 1.0, -1.0], requires_grad=True)
    _backend._TORCH.maximum(x, 0.0).sum().backward()
    assert x.grad.tolist() == [0.5, 1.0, 0.0]


def test_device_and_is_torch_import_nothing():
    assert _backend.device(np.zeros(2)) == "cpu"
    assert _backend.device(torch.zeros(2)) == torch.device("cpu")
    assert _backend._is_torch(torch.zeros(1))
    assert not _backend._is_torch(np.zeros(1))


def test_lossbook_on_numpy_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, lossbook as lb; lb.mse([1.0], [2.0]); "
        "lb.giou_loss([[0, 0, 1, 1.0]], [[0, 0, 2, 2.0]]); "
        "lb.cross_entropy([[1.0, 2.0]], [1]); lb.mse(*[__import__('numpy')"
        ".ones(2, 'float16')] * 2); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_input_roundoff():
    xp32, _ = arrays(a=torch.ones(2))
    xp16, _ = arrays(a=torch.ones(2, dtype=torch.bfloat16))
    assert _backend.input_roundoff(xp32, torch.ones(2)) == 0.0
    assert _backend.input_roundoff(xp16) == 2.0**-8
    assert _backend.input_roundoff(None, torch.ones(2, dtype=torch.float16)) == 2**-11
    assert _backend.input_roundoff(np, np.ones(2, np.float16)) == 2.0**-11


def test_rows_of_bfloat16_probabilities_sum_to_one_within_their_rounding():
    rows = torch.softmax(
        torch.randn(64, 7, generator=torch.Generator().manual_seed(1)), -1
    )
    low = rows.bfloat16()
    _checks.sums_to_one(low, "p", 1, "rows")  # summed in float32, tolerance 2^-7
    xp, upcast = arrays(p=low)
    _checks.sums_to_one(upcast, "p", 1, "rows", xp=xp)  # known to come from bf16
    off = (low.float().sum(1) - 1).abs().max().item()
    assert off > 1e-3  # the float32 tolerance would refuse these rows
    with pytest.raises(ValueError, match=r"summing to 1 along axis 1 \(to 0.001\)"):
        _checks.sums_to_one(upcast, "p", 1, "rows")
    with pytest.raises(ValueError, match=r"\(to 0.0078125\), found a sum of 1.0"):
        _checks.sums_to_one(low * 1.02, "p", 1, "rows")
