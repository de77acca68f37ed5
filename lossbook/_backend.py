"""Backend plumbing shared by every loss: one code path for NumPy and PyTorch.

Each loss is written once against the Python array API standard; the namespace
``xp`` comes from :mod:`array_api_compat`, so the same formula runs on NumPy
arrays and on torch tensors (keeping device and autograd).

Precision policy (:func:`arrays` decides it, :func:`reduce` finishes it):

- mixed floating inputs follow torch's type promotion (float32 with float64
  computes in float64; a 0-d array yields to arrays with dimensions), as
  ``torch.nn.functional`` does, on NumPy inputs too;
- float16 and bfloat16 inputs are computed in float32 and the result is cast
  back to the input dtype; under ``torch.autocast`` the result stays float32,
  as ``torch.nn.functional``'s losses return it, and matrix products run in
  full precision.

Nothing here reads a tensor's values, so the same code runs under
``torch.compile``, ``torch.func`` transforms and on meta tensors. The cached
helpers of :mod:`array_api_compat` (``array_namespace``, ``is_torch_array``,
``device``) are avoided: ``torch.compile`` warns on every ``functools``
cache it meets.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence

import numpy as np

REDUCTIONS = ("mean", "sum", "none")

# dtypes computed in float32 inside a loss (their squares and sums overflow or
# round away: a float16 box of 250 px has an area beyond float16's 65504)
_LOW_PRECISION = ("float16", "bfloat16")


def _is_torch(x) -> bool:
    # no import of torch: a NumPy-only user never pays for it
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _kind(x) -> str:
    if _is_torch(x):
        return "a torch.Tensor"
    module = type(x).__module__
    prefix = "" if module == "builtins" else module.split(".")[0] + "."
    name = f"{prefix}{type(x).__name__}"
    return ("an " if name[0] in "aeiou" else "a ") + name


def device(x):
    """The device of ``x``: ``x.device`` for torch, ``"cpu"`` for NumPy."""
    return x.device if _is_torch(x) else "cpu"


# --- namespaces ---


def _numpy_namespace():
    import array_api_compat.numpy as xp

    return xp


def _torch_namespace():
    import array_api_compat.torch as xp

    return xp


class _Namespace:
    """An array API namespace: the compat namespace of ``kind``, plus a policy.

    Attributes are those of :mod:`array_api_compat`'s namespace of ``kind``
    (``"numpy"`` or ``"torch"``) except the methods a subclass defines;
    ``in_dtype`` (a dtype name) is the low precision the inputs came in,
    ``out_dtype`` the dtype :func:`reduce` casts the result to (``None``: the
    computing dtype). The instances are made once, at import and without
    importing torch, so nothing is built while ``torch.compile`` traces.
    """

    def __init__(self, kind: str, in_dtype=None, out_dtype=None):
        self._base = _torch_namespace if kind == "torch" else _numpy_namespace
        self.in_dtype = in_dtype
        self.out_dtype = out_dtype
        self.__name__ = f"array_api_compat.{kind}"

    def __getattr__(self, name):
        if name.startswith("__") or name == "_base":
            raise AttributeError(name)
        base = self._base()
        value = getattr(base, name)
        if not _compiling():
            # copy the namespace in once (in eager mode): later lookups are
            # plain attribute reads, not calls of __getattr__; the methods of
            # the class keep precedence
            own = type(self)
            self.__dict__.update(
                (k, v)
                for k, v in vars(base).items()
                if not k.startswith("__") and not hasattr(own, k)
            )
        return value


def _scalar_as_tensor(x, other):
    """A Python number ``x`` as a 0-d tensor of the dtype torch promotes it to.

    ``array_api_compat`` asks ``torch.result_type`` for the dtype, which
    ``torch.compile`` cannot trace; a Python number takes the tensor's dtype
    unless it is a float meeting an integer tensor (torch's default dtype).
    """
    torch = sys.modules["torch"]
    dtype = other.dtype
    if isinstance(x, float) and not (other.is_floating_point() or other.is_complex()):
        dtype = torch.get_default_dtype()
    elif isinstance(x, int) and not isinstance(x, bool) and dtype == torch.bool:
        dtype = torch.int64
    return torch.as_tensor(x, dtype=dtype, device=other.device)


class _TorchNamespace(_Namespace):
    """The torch namespace: ``maximum``/``minimum`` traceable with a number.

    Same values and gradients as :mod:`array_api_compat` (``torch.maximum``
    against a 0-d tensor: at a tie each side gets half the gradient).
    """

    def __init__(self, in_dtype=None, out_dtype=None):
        super().__init__("torch", in_dtype, out_dtype)

    def maximum(self, x1, x2, /):
        x1, x2 = _tensor_pair(x1, x2)
        if x1.dtype != x2.dtype:  # the array API's promotion of 0-d arrays
            return self._base().maximum(x1, x2)
        return sys.modules["torch"].maximum(x1, x2)

    def minimum(self, x1, x2, /):
        x1, x2 = _tensor_pair(x1, x2)
        if x1.dtype != x2.dtype:
            return self._base().minimum(x1, x2)
        return sys.modules["torch"].minimum(x1, x2)


def _tensor_pair(x1, x2):
    # isinstance with a tuple: torch.compile cannot trace `int | float` there
    if isinstance(x2, (int, float)):
        return x1, _scalar_as_tensor(x2, x1)
    if isinstance(x1, (int, float)):
        return _scalar_as_tensor(x1, x2), x2
    return x1, x2


class _AutocastNamespace(_TorchNamespace):
    """The torch namespace under ``torch.autocast``: products in full precision.

    Autocast runs matrix products in float16/bfloat16 whatever their inputs;
    a loss computes them in its own dtype, as ``torch.nn.functional`` does.
    """

    def matmul(self, x1, x2, /, **kwargs):
        with _no_autocast(x1):
            return self._base().matmul(x1, x2, **kwargs)

    def vecdot(self, x1, x2, /, **kwargs):
        with _no_autocast(x1):
            return self._base().vecdot(x1, x2, **kwargs)

    def tensordot(self, x1, x2, /, **kwargs):
        with _no_autocast(x1):
            return self._base().tensordot(x1, x2, **kwargs)


def _no_autocast(x):
    import torch

    return torch.autocast(x.device.type, enabled=False)


_TORCH = _TorchNamespace()
# by the dtype of the inputs: float16 and bfloat16 compute in float32 and go
# back to their dtype, except under autocast (a float32 result, as F's)
_TORCH_FROM = {name: _TorchNamespace(name, name) for name in _LOW_PRECISION}
_AUTOCAST = _AutocastNamespace()
_AUTOCAST_FROM = {name: _AutocastNamespace(name) for name in _LOW_PRECISION}
_NUMPY_FROM = {"float16": _Namespace("numpy", "float16", "float16")}

# unit roundoff of the low precisions (half the spacing of numbers at 1)
_ROUNDOFF = {"float16": 2.0**-11, "bfloat16": 2.0**-8}


def input_roundoff(xp, *arrays) -> float:
    """The unit roundoff of the lowest precision the inputs came in, or 0.0.

    From ``xp`` (inputs computed in float32 after :func:`arrays` upcast them)
    and from the dtypes of ``arrays``: a value check on data stored in float16
    or bfloat16 allows for its rounding.
    """
    u = _ROUNDOFF.get(getattr(xp, "in_dtype", None), 0.0)
    for a in arrays:
        u = max(u, _ROUNDOFF.get(str(a.dtype).rpartition(".")[2], 0.0))
    return u


def _compiling() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def traced(x) -> bool:
    """Whether torch is tracing the tensor ``x`` rather than computing it.

    True under ``torch.compile`` (dynamo), inside ``torch.func`` transforms
    (``vmap``, ``grad``, ...), for meta and fake tensors, under a dispatch mode
    (``make_fx``, ``FakeTensorMode``) and under ``torch.jit.trace``: wherever
    reading a value would fail, be baked into a graph, or mean nothing.
    """
    torch = sys.modules["torch"]
    if torch.compiler.is_compiling():
        return True
    C = torch._C
    if (
        x.is_meta
        or C._functorch.is_functorch_wrapped_tensor(x)
        or C._len_torch_dispatch_stack() > 0
        or C._is_tracing()
    ):
        return True
    if type(x) is torch.Tensor:
        return False
    fake = sys.modules.get("torch._subclasses.fake_tensor")
    return fake is not None and isinstance(x, fake.FakeTensor)


def out_dtype(xp):
    """The dtype a loss returns when ``xp`` came from :func:`arrays`, or None.

    ``None`` means the computing dtype (the dtype of the arrays).
    """
    if isinstance(xp, _Namespace) and xp.out_dtype is not None:
        return getattr(xp, xp.out_dtype)
    return None


def result(xp, value):
    """``value`` in the dtype the loss returns (see :func:`arrays`)."""
    dtype = out_dtype(xp)
    return value if dtype is None else xp.astype(value, dtype)


# --- conversion ---


def arrays(*, float_args: Sequence[str] = (), **named):
    """Convert the named inputs to one backend and return ``(xp, *arrays)``.

    NumPy arrays, lists and scalars become NumPy arrays; torch tensors stay as
    they are. Mixing torch tensors with anything else raises ``TypeError``
    naming both arguments.

    The first argument and every name in ``float_args`` are cast to one
    computing dtype: torch's type promotion of their floating dtypes (float32
    with float64 gives float64; a 0-d array only counts when no array with
    dimensions is floating), on NumPy too, or float64 (NumPy) / torch's
    default dtype when none of them is floating; float16 and bfloat16 compute
    in float32. ``xp``
    carries the dtype the result goes back to (:func:`reduce` casts it): the
    promoted dtype, or float32 under ``torch.autocast``, as
    ``torch.nn.functional``'s losses return.
    """
    values = list(named.values())
    torch = sys.modules.get("torch")  # no torch imported: no tensors either
    flags = [] if torch is None else [isinstance(v, torch.Tensor) for v in values]
    if any(flags):
        if not all(flags):
            names = list(named)
            raise TypeError(
                f"`{names[flags.index(True)]}` is a torch.Tensor but "
                f"`{names[flags.index(False)]}` is {_kind(values[flags.index(False)])}"
                "; pass all array arguments as torch tensors or all as NumPy "
                "arrays, not a mix"
            )
        return _torch_arrays(torch, named, values, float_args)
    return _numpy_arrays(named, [np.asarray(v) for v in values], float_args)


def _promoted(named, float_args, floating, promote):
    """The promoted floating dtype of the first argument and ``float_args``.

    torch's rule, on both backends: arrays with dimensions decide; 0-d arrays
    (a scalar scale, a 0-d weight) only when no array with dimensions is
    floating. ``None`` when no argument is floating.
    """
    wide = zero = None
    for k, (name, v) in enumerate(named.items()):
        if (k == 0 or name in float_args) and floating(v):
            # "is None" first: NumPy reads dtype == None as dtype == float64
            if v.ndim:
                wide = v.dtype if wide is None else promote(wide, v.dtype)
            else:
                zero = v.dtype if zero is None else promote(zero, v.dtype)
    return zero if wide is None else wide


def _torch_arrays(torch, named, values, float_args):
    first = values[0]
    dtype = first.dtype
    # the common case, one floating dtype throughout, needs no promotion
    if not first.is_floating_point() or any(
        named[n].dtype is not dtype for n in float_args if n in named
    ):
        dtype = _promoted(
            named, float_args, torch.Tensor.is_floating_point, torch.promote_types
        )
        if dtype is None:
            dtype = torch.get_default_dtype()
    low = None
    if dtype is torch.float16 or dtype is torch.bfloat16:
        low = "float16" if dtype is torch.float16 else "bfloat16"
        dtype = torch.float32
    if torch._C._is_any_autocast_enabled() and torch.is_autocast_enabled(
        first.device.type
    ):
        # returns the float32 it computes, as F's losses do
        xp = _AUTOCAST if low is None else _AUTOCAST_FROM[low]
    else:
        xp = _TORCH if low is None else _TORCH_FROM[low]
    return (xp, *_cast(xp, named, values, float_args, dtype))


def _numpy_arrays(named, values, float_args):
    arrays_named = dict(zip(named, values, strict=True))
    dtype = _promoted(arrays_named, float_args, _np_floating, np.promote_types)
    if dtype is None:
        dtype = np.dtype(np.float64)
    xp = _numpy_namespace()
    if dtype == np.float16:
        xp = _NUMPY_FROM["float16"]
        dtype = np.dtype(np.float32)
    return (xp, *_cast(xp, named, values, float_args, dtype))


def _np_floating(v) -> bool:
    return v.dtype.kind == "f"


def _cast(xp, named, values, float_args, dtype):
    out = list(values)
    if out[0].dtype != dtype:
        out[0] = xp.astype(out[0], dtype)
    for k, name in enumerate(named):
        if k and name in float_args and out[k].dtype != dtype:
            out[k] = xp.astype(out[k], dtype)
    return out


def namespace_of(x):
    """Return ``(xp, x)`` for a single input, converting lists to NumPy."""
    if _is_torch(x):
        return _TORCH, x
    return _numpy_namespace(), np.asarray(x)


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
    ``torch.nn.functional.cross_entropy`` with class weights). The result is
    cast to the dtype the loss returns (float16 inputs, computed in float32,
    give a float16 loss; see :func:`arrays`).
    """
    if reduction == "none":
        out = values
    else:
        out = xp.sum(values)
        if reduction == "mean":
            out = out / (_size(values) if denom is None else denom)
    return result(xp, out)


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
