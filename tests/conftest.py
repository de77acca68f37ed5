"""Shared fixtures of the lossbook test suite.

- ``backend``: every test that asks for it runs four times, on NumPy and torch
  inputs in float32 and float64 (:class:`Backend` converts inputs and results).
- ``mp``: 50-digit references computed with mpmath, and the error of a result
  measured in units in the last place (ulps) of its dtype.

Test modules cannot import this file (``tests/browser`` has a ``conftest.py``
of its own, so ``import conftest`` is ambiguous): everything is a fixture.
``tests/benchmarks`` holds scripts, not tests; pytest does not collect it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import settings

# benchmarks/ holds scripts; conftest.py itself is not a doctest module (with
# --doctest-modules, a second top-level "conftest" beside tests/browser's clashes)
collect_ignore = ["benchmarks", "conftest.py"]

# property tests: no per-example deadline (the first torch call is slow), no
# example database written into the working tree, and the same examples on every
# run (derandomize), so CI is reproducible. LOSSBOOK_HYPOTHESIS=explore draws
# fresh random examples instead, for a longer hunt by hand.
settings.register_profile("lossbook", deadline=None, database=None, derandomize=True)
settings.register_profile("explore", deadline=None, database=None)
settings.load_profile(os.environ.get("LOSSBOOK_HYPOTHESIS", "lossbook"))

REDUCTIONS = ("mean", "sum", "none")

_TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


@dataclass(frozen=True)
class Backend:
    """One (array library, floating dtype) pair that the losses must serve."""

    kind: str  # "numpy" or "torch"
    dtype: type  # np.float32 or np.float64

    @property
    def eps(self) -> float:
        return float(np.finfo(self.dtype).eps)

    @property
    def torch_dtype(self):
        return _TORCH_DTYPES[self.dtype]

    def __call__(self, x, dtype=None):
        """``x`` as this backend's array, floating unless ``dtype`` says otherwise."""
        a = np.asarray(x, dtype=self.dtype if dtype is None else dtype)
        return torch.from_numpy(a.copy()) if self.kind == "torch" else a

    def torch(self, x):
        """``x`` as a torch tensor of this dtype (for the torch reference)."""
        return torch.from_numpy(np.asarray(x, dtype=self.dtype).copy())

    def check_native(self, result, shape=()):
        """Assert ``result`` is this backend's kind, dtype and ``shape``."""
        if self.kind == "torch":
            assert isinstance(result, torch.Tensor)
            assert result.dtype == self.torch_dtype
        else:
            assert isinstance(result, np.ndarray | np.generic)
            assert result.dtype == self.dtype
        assert tuple(result.shape) == tuple(shape)

    @staticmethod
    def numpy(x) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def __str__(self) -> str:
        return f"{self.kind}-{np.dtype(self.dtype).name}"


BACKENDS = [Backend(k, d) for k in ("numpy", "torch") for d in (np.float32, np.float64)]


@pytest.fixture(params=BACKENDS, ids=str)
def backend(request) -> Backend:
    """NumPy and torch inputs, float32 and float64."""
    return request.param


@pytest.fixture(params=REDUCTIONS)
def reduction(request) -> str:
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


class MP:
    """50-digit references with mpmath, and errors measured in ulps."""

    dps = 50

    @staticmethod
    def f(x) -> mpmath.mpf:
        """The exact value of a float (float32 values are exact in mpf too)."""
        return mpmath.mpf(float(x))

    def log_cosh(self, r) -> mpmath.mpf:
        """log(cosh(r)) directly; precision raised so cosh(r) - 1 keeps 50 digits."""
        r = self.f(r)
        extra = 0 if r == 0 else max(0, -2 * int(mpmath.floor(mpmath.log10(abs(r)))))
        with mpmath.workdps(self.dps + extra + 10):
            return +mpmath.log(mpmath.cosh(r))

    def softplus(self, x) -> mpmath.mpf:
        """log(1 + e^x); log1p keeps e^x below 10^-50 exact."""
        with mpmath.workdps(self.dps):
            return +mpmath.log1p(mpmath.exp(self.f(x)))

    def bce_logits(self, z, y) -> mpmath.mpf:
        """-[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] at 50 digits."""
        z, y = self.f(z), self.f(y)
        with mpmath.workdps(self.dps):
            return y * self.softplus(-z) + (1 - y) * self.softplus(z)

    def cross_entropy(self, row, k) -> mpmath.mpf:
        """-log softmax(row)[k] = log(1 + sum_{j != k} e^(z_j - z_k))."""
        z = [self.f(v) for v in row]
        with mpmath.workdps(self.dps):
            rest = mpmath.fsum(
                mpmath.exp(zj - z[k]) for j, zj in enumerate(z) if j != k
            )
            return +mpmath.log1p(rest)

    @staticmethod
    def ulps(got, exact, dtype) -> float:
        """|got - exact| in ulps of ``dtype`` at the correctly rounded ``exact``.

        The ulp of a subnormal (or zero) result is the subnormal spacing, so a
        result that underflows correctly counts as (near) zero error.
        """
        if not math.isfinite(float(got)):
            return math.inf
        info = np.finfo(dtype)
        rounded = float(np.asarray(float(exact)).astype(dtype))  # exact, in dtype
        tiny = float(info.smallest_subnormal)
        if rounded == 0:
            ulp = tiny
        else:  # 2^(e - p) for |x| in [2^(e-1), 2^e), p bits of precision
            ulp = max(math.ldexp(1.0, math.frexp(rounded)[1] - info.nmant - 1), tiny)
        return float(abs(mpmath.mpf(float(got)) - exact) / ulp)

    def max_ulps(self, got, exact, dtype) -> float:
        return max(self.ulps(g, e, dtype) for g, e in zip(got, exact, strict=True))


@pytest.fixture(scope="session")
def mp() -> MP:
    return MP()
