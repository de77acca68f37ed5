"""Every public loss inside a real training step.

The same values as eager under ``torch.compile(fullgraph=True)`` (forward and
backward), ``torch.func.vmap``, ``torch.func.grad`` (and per-sample gradients,
``vmap(grad(...))``) and on meta tensors; float16/bfloat16 inputs computed in
float32 and returned in their dtype; float32 results under ``torch.autocast``;
mixed floating dtypes promoted as torch promotes them. Value checks: run in
eager mode on CPU tensors and NumPy arrays, skipped while torch traces, off
under ``lb.value_checks(False)``, never a host synchronisation on a GPU.

Each case lists small valid inputs of one public function; ``CASES`` must
cover every function of ``lossbook.__all__`` (a test fails when a new loss
has none).
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook import _backend, _checks

# --- the cases: small valid inputs of every public function ---

B = 3  # samples stacked for vmap


def _boxes(g, n):
    xy = 4 * torch.rand(n, 2, generator=g)
    wh = 0.5 + 3 * torch.rand(n, 2, generator=g)
    return torch.cat([xy, xy + wh], dim=1)


def _labels(g, *shape):
    return torch.randint(0, 2, shape, generator=g).float()


def _signs(g, *shape):
    return 2 * _labels(g, *shape) - 1


def _probs(g, *shape):
    return 0.05 + 0.9 * torch.rand(shape, generator=g)


def _simplex(g, n, k):
    return torch.softmax(torch.randn(n, k, generator=g), dim=-1)


def _randn(g, *shape):
    return torch.randn(*shape, generator=g)


def _pair(g):
    return _randn(g, 6), _randn(g, 6)


# name -> (function, make(g) -> (tensor args, keyword args), differentiable)
CASES = {
    "mse": (lb.mse, lambda g: (_pair(g), {}), True),
    "mae": (lb.mae, lambda g: (_pair(g), {}), True),
    "huber": (lb.huber, lambda g: (_pair(g), {"delta": 0.5}), True),
    "smooth_l1": (lb.smooth_l1, lambda g: (_pair(g), {"beta": 0.5}), True),
    "log_cosh": (lb.log_cosh, lambda g: (_pair(g), {}), True),
    "pinball": (lb.pinball, lambda g: (_pair(g), {"quantile": 0.3}), True),
    "zero_one": (
        lb.zero_one,
        lambda g: (
            (
                torch.randint(0, 3, (6,), generator=g),
                torch.randint(0, 3, (6,), generator=g),
            ),
            {},
        ),
        False,
    ),
    "binary_cross_entropy": (
        lb.binary_cross_entropy,
        lambda g: ((_probs(g, 6), _labels(g, 6)), {}),
        True,
    ),
    "binary_cross_entropy_with_logits": (
        lb.binary_cross_entropy_with_logits,
        lambda g: ((_randn(g, 6), _labels(g, 6)), {}),
        True,
    ),
    "cross_entropy": (
        lb.cross_entropy,
        lambda g: (
            (_randn(g, 5, 4), torch.randint(0, 4, (5,), generator=g)),
            {"label_smoothing": 0.1},
        ),
        True,
    ),
    "kl_div": (
        lb.kl_div,
        lambda g: ((_randn(g, 5, 4), _simplex(g, 5, 4)), {}),
        True,
    ),
    "hinge": (lb.hinge, lambda g: ((_randn(g, 6), _signs(g, 6)), {}), True),
    "exponential": (
        lb.exponential,
        lambda g: ((_randn(g, 6), _signs(g, 6)), {}),
        True,
    ),
    "smooth_labels": (
        lb.smooth_labels,
        lambda g: (
            (torch.randint(0, 4, (5,), generator=g),),
            {"num_classes": 4, "epsilon": 0.1},
        ),
        False,
    ),
    "contrastive": (
        lb.contrastive,
        lambda g: ((_randn(g, 5, 3), _randn(g, 5, 3), _labels(g, 5)), {}),
        True,
    ),
    "triplet": (
        lb.triplet,
        lambda g: ((_randn(g, 5, 3), _randn(g, 5, 3), _randn(g, 5, 3)), {}),
        True,
    ),
    "info_nce": (
        lb.info_nce,
        lambda g: (
            (_randn(g, 5, 3), _randn(g, 5, 3)),
            {"temperature": 0.5, "symmetric": True},
        ),
        True,
    ),
    "focal": (lb.focal, lambda g: ((_randn(g, 6), _labels(g, 6)), {}), True),
    "iou_loss": (lb.iou_loss, lambda g: ((_boxes(g, 4), _boxes(g, 4)), {}), True),
    "giou_loss": (lb.giou_loss, lambda g: ((_boxes(g, 4), _boxes(g, 4)), {}), True),
    "diou_loss": (lb.diou_loss, lambda g: ((_boxes(g, 4), _boxes(g, 4)), {}), True),
    "ciou_loss": (lb.ciou_loss, lambda g: ((_boxes(g, 4), _boxes(g, 4)), {}), True),
    "dice": (
        lb.dice,
        lambda g: ((_probs(g, 2, 3, 3), _labels(g, 2, 3, 3)), {}),
        True,
    ),
    "value_loss": (lb.value_loss, lambda g: (_pair(g), {}), True),
    "policy_gradient": (lb.policy_gradient, lambda g: (_pair(g), {}), True),
    "ppo_clip": (
        lb.ppo_clip,
        lambda g: ((_randn(g, 6), _randn(g, 6), _randn(g, 6)), {}),
        True,
    ),
    "l1_penalty": (lb.l1_penalty, lambda g: ((_randn(g, 6),), {"lam": 0.1}), True),
    "l2_penalty": (lb.l2_penalty, lambda g: ((_randn(g, 6),), {"lam": 0.1}), True),
    "elastic_net_penalty": (
        lb.elastic_net_penalty,
        lambda g: ((_randn(g, 6),), {"l1": 0.1, "l2": 0.2}),
        True,
    ),
    "balanced_class_weights": (
        lb.balanced_class_weights,
        lambda g: ((_labels(g, 6),), {}),
        False,
    ),
    "weighted_binary_cross_entropy": (
        lb.weighted_binary_cross_entropy,
        lambda g: ((_probs(g, 6), _labels(g, 6)), {"w_pos": 2.0, "w_neg": 0.5}),
        True,
    ),
    "weighted_sum": (
        lb.weighted_sum,
        lambda g: ((_probs(g, 3), _probs(g, 3)), {}),
        True,
    ),
    "uncertainty_weighted": (
        lb.uncertainty_weighted,
        lambda g: ((_probs(g, 3), _randn(g, 3)), {}),
        True,
    ),
    "gaussian_nll": (
        lb.gaussian_nll,
        lambda g: (_pair(g), {"sigma": 0.7}),
        True,
    ),
    "laplace_nll": (lb.laplace_nll, lambda g: (_pair(g), {"b": 0.7}), True),
    "poisson_nll": (
        lb.poisson_nll,
        lambda g: ((_randn(g, 6), torch.randint(0, 5, (6,), generator=g).float()), {}),
        True,
    ),
    "bernoulli_nll": (
        lb.bernoulli_nll,
        lambda g: ((_probs(g, 6), _labels(g, 6)), {}),
        True,
    ),
    "categorical_nll": (
        lb.categorical_nll,
        lambda g: ((_randn(g, 5, 4), torch.randint(0, 4, (5,), generator=g)), {}),
        True,
    ),
    "brier": (lb.brier, lambda g: ((_probs(g, 6), _labels(g, 6)), {}), True),
    "expected_calibration_error": (
        lb.expected_calibration_error,
        lambda g: (
            (_simplex(g, 8, 3), torch.randint(0, 3, (8,), generator=g)),
            {"n_bins": 4},
        ),
        True,
    ),
    "reliability_curve": (
        lb.reliability_curve,
        lambda g: (
            (_simplex(g, 8, 3), torch.randint(0, 3, (8,), generator=g)),
            {"n_bins": 4},
        ),
        False,
    ),
}

# second variants: tensor hyperparameters (learnable scales), class weights,
# probability targets, segmentation-shaped logits with ignored targets
CASES |= {
    "gaussian_nll[sigma tensor]": (
        lambda p, t, s: lb.gaussian_nll(p, t, sigma=s),
        lambda g: ((*_pair(g), _probs(g, 6)), {}),
        True,
    ),
    "laplace_nll[b tensor]": (
        lambda p, t, b: lb.laplace_nll(p, t, b=b),
        lambda g: ((*_pair(g), _probs(g, 6)), {}),
        True,
    ),
    "cross_entropy[probabilities]": (
        lb.cross_entropy,
        lambda g: ((_randn(g, 5, 4), _simplex(g, 5, 4)), {}),
        True,
    ),
    "cross_entropy[segmentation, ignore_index]": (
        lb.cross_entropy,
        lambda g: (
            (_randn(g, 2, 4, 3), torch.randint(-1, 4, (2, 3), generator=g)),
            {"ignore_index": -1},
        ),
        True,
    ),
    "binary_cross_entropy_with_logits[weights]": (
        lambda z, y, w, pw: lb.binary_cross_entropy_with_logits(
            z, y, weight=w, pos_weight=pw
        ),
        lambda g: ((_randn(g, 6), _labels(g, 6), _probs(g, 6), _probs(g, 6)), {}),
        True,
    ),
    "info_nce[temperature tensor]": (
        lambda q, k, t: lb.info_nce(q, k, temperature=t),
        lambda g: ((_randn(g, 5, 3), _randn(g, 5, 3), _probs(g)), {}),
        True,
    ),
}
ALL = sorted(CASES)
DIFFERENTIABLE = [name for name in ALL if CASES[name][2]]
# the functions of lossbook.__all__ that are no loss: the switch of value checks
NOT_LOSSES = {"set_value_checks", "value_checks"}


def make(name, seed=0):
    """``(call, args)``: the function with its options bound, and its inputs."""
    fn, build, _ = CASES[name]
    args, kwargs = build(torch.Generator().manual_seed(seed))
    return (lambda *a: fn(*a, **kwargs)), args


def outputs(out):
    """The tensors a function returns, as a tuple (one loss, or a few)."""
    return tuple(out) if isinstance(out, tuple) else (out,)


def assert_same(got, expected, *, exact=False, **tolerances):
    got, expected = outputs(got), outputs(expected)
    assert len(got) == len(expected)
    if exact:
        tolerances = {"rtol": 0, "atol": 0}
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, equal_nan=True, **tolerances)


def scalar(out):
    """The loss a gradient is taken of (a function returning several: their sum)."""
    return sum(o.sum() for o in outputs(out) if o.is_floating_point())


@pytest.fixture(autouse=True)
def _value_checks_back_on():
    yield
    lb.set_value_checks(True)  # a failed test must not leave them off


def test_every_public_function_has_a_case():
    public = {
        name
        for name in lb.__all__
        if not isinstance(getattr(lb, name), types.ModuleType)
    }
    assert public - NOT_LOSSES == {name for name in CASES if "[" not in name}


# --- torch.compile: one compilation per loss, forward and backward ---


@pytest.mark.parametrize("name", ALL)
def test_compile_fullgraph_gives_eager_values_and_gradients(name):
    call, args = make(name)
    grad_args = [
        k for k, a in enumerate(args) if a.is_floating_point() and CASES[name][2]
    ]
    eager_in = [a.clone().requires_grad_(k in grad_args) for k, a in enumerate(args)]
    compiled_in = [a.clone().requires_grad_(k in grad_args) for k, a in enumerate(args)]
    expected = call(*eager_in)
    torch._dynamo.reset()  # every loss compiles afresh: no recompilation limits
    compiled = torch.compile(call, fullgraph=True, backend="aot_eager")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = compiled(*compiled_in)
    assert [str(w.message) for w in caught] == []  # e.g. no functools.lru_cache
    assert_same(got, expected)
    if grad_args:
        scalar(expected).backward()
        scalar(got).backward()
        for k in grad_args:
            torch.testing.assert_close(compiled_in[k].grad, eager_in[k].grad)


# --- torch.func ---


def _stacked(name):
    """B different input sets, stacked on a new leading axis, and the call."""
    call, first = make(name, 0)
    sets = [first] + [make(name, seed)[1] for seed in range(1, B)]
    return call, sets, [torch.stack(column) for column in zip(*sets, strict=True)]


@pytest.mark.parametrize("name", ALL)
def test_vmap_equals_a_loop(name):
    call, sets, stacked = _stacked(name)
    got = torch.func.vmap(call)(*stacked)
    per_sample = [outputs(call(*s)) for s in sets]
    expected = tuple(torch.stack(column) for column in zip(*per_sample, strict=True))
    assert_same(outputs(got), expected)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_func_grad_and_per_sample_gradients_equal_autograd(name):
    call, sets, stacked = _stacked(name)
    args = sets[0]
    x = args[0].clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(scalar(call(x, *args[1:])), x)
    loss = lambda x, *rest: scalar(call(x, *rest))  # noqa: E731
    torch.testing.assert_close(torch.func.grad(loss)(*args), expected)
    # per-sample gradients: vmap of grad, a transform inside a transform
    per_sample = torch.func.vmap(torch.func.grad(loss))(*stacked)
    for k, s in enumerate(sets):
        x = s[0].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(scalar(call(x, *s[1:])), x)
        torch.testing.assert_close(per_sample[k], g)


@pytest.mark.parametrize("name", ALL)
def test_meta_tensors_give_the_eager_shape_and_dtype(name):
    call, args = make(name)
    expected = outputs(call(*args))
    got = outputs(call(*[a.to("meta") for a in args]))
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.device.type == "meta"
        assert (a.shape, a.dtype) == (b.shape, b.dtype)


# --- precision ---


def _floating(args, dtype):
    return [a.to(dtype) if a.is_floating_point() else a for a in args]


def _has_floating_input(args):
    return any(a.is_floating_point() for a in args)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", ALL)
def test_half_precision_computes_in_float32_and_returns_the_input_dtype(name, dtype):
    call, args = make(name)
    low = _floating(args, dtype)
    got = call(*low)
    with lb.value_checks(False):  # bfloat16 rows of probabilities sum to 1 - 2^-9
        upcast = call(*_floating(low, torch.float32))  # the same values, in float32
    for a, b in zip(outputs(got), outputs(upcast), strict=True):
        if not b.is_floating_point():
            assert a.dtype == b.dtype
        elif _has_floating_input(args):
            assert a.dtype == dtype
            torch.testing.assert_close(a, b.to(dtype), rtol=0, atol=0, equal_nan=True)
        else:  # integer inputs only: torch's default dtype, as before
            assert a.dtype == torch.get_default_dtype()


@pytest.mark.parametrize("name", ALL)
def test_autocast_returns_float32_computed_in_float32(name):
    call, args = make(name)
    reference = call(*args)
    bf16 = _floating(args, torch.bfloat16)
    with lb.value_checks(False):  # bfloat16 rows of probabilities sum to 1 - 2^-9
        reference_bf16 = call(*_floating(bf16, torch.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # float32 inputs: no product silently rounded to bfloat16
        assert_same(call(*args), reference, exact=True)
        # bfloat16 inputs (a model's autocast output): a float32 loss
        assert_same(call(*bf16), reference_bf16, exact=True)


PAIRS = [
    "mse",
    "mae",
    "huber",
    "smooth_l1",
    "log_cosh",
    "pinball",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "hinge",
    "exponential",
    "focal",
    "iou_loss",
    "ciou_loss",
    "dice",
    "value_loss",
    "gaussian_nll",
    "laplace_nll",
    "poisson_nll",
]


@pytest.mark.parametrize("name", PAIRS)
def test_float32_with_float64_computes_in_float64(name):
    call, args = make(name)
    pred, target = args[0], args[1].double()
    got = call(pred, target)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, call(pred.double(), target), rtol=0, atol=0)
    got = call(args[0].double(), args[1])  # whichever comes first
    assert got.dtype == torch.float64


def test_a_0d_scale_does_not_promote_a_float32_loss():
    # torch's rule: a 0-d tensor's dtype yields to one with dimensions
    pred, target = torch.zeros(3), torch.ones(3)
    sigma = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = lb.gaussian_nll(pred, target, sigma=sigma)
    assert out.dtype == torch.float32
    out.backward()
    assert sigma.grad.dtype == torch.float64


# --- value checks ---

# (function, valid inputs, the same with one bad value, message)
BAD = {
    "probability": (
        lb.binary_cross_entropy,
        ([0.2, 0.7], [0.0, 1.0]),
        ([0.2, 1.5], [0.0, 1.0]),
        r"`prob` must hold probabilities in \[0, 1\], found 1.5",
    ),
    "signed label": (
        lb.hinge,
        ([0.2, 0.7], [-1.0, 1.0]),
        ([0.2, 0.7], [-1.0, 0.0]),
        r"`target` must hold signed labels in \{-1, 1\}, found 0.0",
    ),
    "class index": (
        lb.cross_entropy,
        ([[0.1, 0.2], [0.3, 0.4]], [0, 1]),
        ([[0.1, 0.2], [0.3, 0.4]], [0, 2]),
        r"`target` must hold class indices in \[0, 2\), found 2",
    ),
    "box": (
        lb.giou_loss,
        ([[0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 2.0, 1.0]]),
        ([[0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, -2.0, 1.0]]),
        r"`target_boxes` must hold finite boxes .* found box 0",
    ),
    "scale": (
        lambda p, t, s: lb.gaussian_nll(p, t, sigma=s),
        ([0.2, 0.7], [0.0, 1.0], [1.0, 2.0]),
        ([0.2, 0.7], [0.0, 1.0], [1.0, -2.0]),
        r"`sigma` must hold positive finite numbers \(> 0\), found -2.0",
    ),
}


def _tensors(values):
    return [
        torch.tensor(v) if any(isinstance(x, float) for x in np.ravel(v)) else
        torch.tensor(v, dtype=torch.int64)
        for v in values
    ]  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_values_raise_in_eager_mode_on_numpy_and_cpu_tensors(case):
    fn, good, bad, message = BAD[case]
    for convert in (lambda v: [np.asarray(x) for x in v], _tensors):
        fn(*convert(good))
        with pytest.raises(ValueError, match=message):
            fn(*convert(bad))


@pytest.mark.parametrize("case", sorted(BAD))
def test_value_checks_are_skipped_while_torch_traces(case):
    fn, _, bad, _ = BAD[case]
    bad = _tensors(bad)
    # meta tensors hold no values; vmap and grad see batched/wrapped tensors
    fn(*[b.to("meta") for b in bad])
    torch.func.vmap(fn)(*[torch.stack([b, b]) for b in bad])
    if bad[0].is_floating_point():
        torch.func.grad(lambda x, *rest: fn(x, *rest))(*bad)
    with torch._subclasses.fake_tensor.FakeTensorMode() as mode:
        fn(*[mode.from_tensor(b) for b in bad])


def test_value_checks_are_skipped_under_torch_compile():
    torch._dynamo.reset()
    compiled = torch.compile(lb.binary_cross_entropy, fullgraph=True, backend="eager")
    p, y = torch.tensor([0.2, 1.5]), torch.tensor([0.0, 1.0])
    assert torch.isfinite(compiled(torch.tensor([0.2, 0.7]), y))
    compiled(p, y)  # the compiled graph holds no check: nothing raised
    with pytest.raises(ValueError, match=r"found 1\.5"):
        lb.binary_cross_entropy(p, y)  # eager still checks


@pytest.mark.parametrize("case", sorted(BAD))
def test_value_checks_switch_off_and_back_on(case):
    fn, _, bad, message = BAD[case]
    assert lb.set_value_checks(False) is True
    try:
        fn(*_tensors(bad))
        with np.errstate(invalid="ignore"):  # unchecked: log(-2) is NaN
            fn(*[np.asarray(b) for b in bad])
    finally:
        assert lb.set_value_checks(True) is False
    with lb.value_checks(False):
        fn(*_tensors(bad))
        with lb.value_checks(True):  # nested: back on inside
            with pytest.raises(ValueError, match=message):
                fn(*_tensors(bad))
        fn(*_tensors(bad))
    with pytest.raises(ValueError, match=message):
        fn(*_tensors(bad))


def test_the_context_manager_restores_the_setting_when_the_block_raises():
    with pytest.raises(KeyError), lb.value_checks(False):
        raise KeyError
    assert lb.set_value_checks(True) is True

    @lb.value_checks(False)
    def unchecked():
        return float(lb.hinge([0.5], [0.0]))

    assert unchecked() == 1.0
    with pytest.raises(ValueError, match="signed labels"):
        lb.hinge([0.5], [0.0])


@pytest.mark.parametrize("bad", [0, 1, None, "no", np.bool_(True)])
def test_the_switch_takes_a_bool(bad):
    with pytest.raises(TypeError, match="enabled must be True or False"):
        lb.set_value_checks(bad)
    assert lb.set_value_checks(True) is True  # unchanged


def test_shape_and_argument_checks_stay_on_without_value_checks():
    with lb.value_checks(False):
        with pytest.raises(ValueError, match="must have the same shape"):
            lb.mse(torch.zeros(2), torch.zeros(3))
        with pytest.raises(ValueError, match="reduction must be one of"):
            lb.mse(torch.zeros(2), torch.zeros(2), reduction="avg")
        with pytest.raises(ValueError, match="delta must be a positive number"):
            lb.huber(torch.zeros(2), torch.zeros(2), delta=-1.0)
        with pytest.raises(ValueError, match="integer class indices"):
            lb.smooth_labels(torch.tensor([0.5]), 3, epsilon=0.1)


def test_a_device_check_is_an_asynchronous_assertion():
    # on a GPU the failure surfaces later, as a device-side assertion; on the
    # CPU torch._assert_async raises at once, which shows the call is made
    bad = torch.tensor([False, True])
    with pytest.raises(RuntimeError, match="`prob` must hold probabilities"):
        _checks._failed(bad, _checks._DEVICE, lambda: "`prob` must hold probabilities")
    assert _checks._failed(~bad & bad, _checks._DEVICE, lambda: "unused") is False
    assert _checks._failed(bad, _checks._SKIP, lambda: "unused") is False
    assert _checks._failed(bad, _checks._HOST, lambda: "unused") is True


def test_where_value_checks_run():
    x = torch.zeros(2)
    assert _checks._where(x) == _checks._HOST
    assert _checks._where(np.zeros(2)) == _checks._HOST
    assert _checks._where(x.to("meta")) == _checks._SKIP
    seen = []
    torch.func.vmap(lambda v: seen.append(_checks._where(v)) or v)(x)
    torch.func.grad(lambda v: seen.append(_checks._where(v)) or v.sum())(x)
    assert seen == [_checks._SKIP, _checks._SKIP]
    with lb.value_checks(False):
        assert _checks._where(x) == _checks._SKIP
        assert _checks._where(np.zeros(2)) == _checks._SKIP


def test_traced_recognises_every_tracer():
    x = torch.zeros(2)
    assert not _backend.traced(x)
    assert not _backend.traced(torch.nn.Parameter(x))
    assert _backend.traced(x.to("meta"))
    seen = []
    torch.func.vmap(lambda v: seen.append(_backend.traced(v)) or v)(x)
    torch.func.grad(lambda v: seen.append(_backend.traced(v)) or v.sum())(x)
    with warnings.catch_warnings():
        # forward AD loads its decompositions with torch.jit.script, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.func.jacfwd(lambda v: seen.append(_backend.traced(v)) or v)(x)
    with torch._subclasses.fake_tensor.FakeTensorMode() as mode:
        fake = mode.from_tensor(x)
        seen.append(_backend.traced(fake))
    seen.append(_backend.traced(fake))  # a fake tensor outside its mode
    from torch.fx.experimental.proxy_tensor import make_fx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jit is deprecated
        make_fx(lambda v: seen.append(_backend.traced(v)) or v)(x)
        torch.jit.trace(
            lambda v: seen.append(_backend.traced(v)) or v * 2, (x,), check_trace=False
        )
    assert seen == [True] * 7


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device: host synchronisation exists only off the CPU",
)
def test_no_loss_synchronises_with_the_host_on_a_gpu():
    for name in ALL:
        call, args = make(name)
        cuda = [a.cuda() for a in args]
        torch.cuda.synchronize()
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")  # a copy to the host raises
        try:
            got = call(*cuda)
        except RuntimeError as error:
            raise AssertionError(f"{name} synchronises: {error}") from error
        finally:
            torch.cuda.set_sync_debug_mode(previous)
        # another device, other kernels: float32 rounding apart
        expected = call(*args)
        got = tuple(o.cpu() for o in outputs(got))
        assert_same(got, expected, rtol=1e-5, atol=1e-6)
