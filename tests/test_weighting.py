"""Tests of lossbook.weighting: penalties against explicit sums and their
gradients, class weights against counts, weighted BCE against torch and a
brute-force loop, the multi-task combiners against their closed forms
(Kendall et al.'s optimum), the API contract and properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import weighting
from lossbook.weighting import (
    balanced_class_weights,
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    uncertainty_weighted,
    weighted_binary_cross_entropy,
    weighted_sum,
)

FEW = settings(max_examples=50, deadline=None)


def flat(arrays):
    return [float(v) for a in arrays for v in np.asarray(a, dtype=np.float64).flat]


# --- penalties ---


def parameter_list(rng):
    return [rng.standard_normal((3, 2)), rng.standard_normal(4), np.array(0.7)]


@pytest.mark.parametrize("lam", [0.0, 0.01, 2.5])
def test_penalties_equal_explicit_sums(lam, backend, rng):
    params = [p.astype(backend.dtype) for p in parameter_list(rng)]
    values = flat(params)
    l1 = lam * sum(abs(v) for v in values)
    l2 = lam * sum(v * v for v in values)
    for given_params in ([backend(p) for p in params], (backend(p) for p in params)):
        got = l1_penalty(given_params, lam=lam)
        backend.check_native(got)
        np.testing.assert_allclose(backend.numpy(got), l1, rtol=16 * backend.eps)
    got = l2_penalty([backend(p) for p in params], lam=lam)
    backend.check_native(got)
    np.testing.assert_allclose(backend.numpy(got), l2, rtol=16 * backend.eps)
    # one array on its own
    single = l1_penalty(backend(params[0]), lam=lam)
    backend.check_native(single)
    np.testing.assert_allclose(
        backend.numpy(single),
        lam * sum(abs(v) for v in flat(params[:1])),
        rtol=8 * backend.eps,
    )


def test_elastic_net_is_l1_plus_l2(backend, rng):
    params = [backend(p) for p in parameter_list(rng)]
    got = elastic_net_penalty(params, l1=0.3, l2=0.05)
    backend.check_native(got)
    expected = backend.numpy(l1_penalty(params, lam=0.3)) + backend.numpy(
        l2_penalty(params, lam=0.05)
    )
    np.testing.assert_allclose(backend.numpy(got), expected, rtol=8 * backend.eps)


def test_penalties_on_model_parameters_have_the_textbook_gradients():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).double()
    penalty = l2_penalty(model.parameters(), lam=0.1) + l1_penalty(
        model.parameters(), lam=0.01
    )
    penalty.backward()
    for p in model.parameters():
        expected = 2 * 0.1 * p.detach() + 0.01 * torch.sign(p.detach())
        torch.testing.assert_close(p.grad, expected)


def test_sgd_weight_decay_is_an_l2_penalty_at_half_the_strength():
    # SGD's weight_decay=wd adds wd * theta to the gradient = grad of (wd/2)||theta||^2
    theta = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    wd = 0.2
    (g,) = torch.autograd.grad(l2_penalty(theta, lam=wd / 2), theta)
    torch.testing.assert_close(g, wd * theta.detach())


def test_penalties_gradcheck(rng):
    a = torch.tensor(rng.standard_normal(4), requires_grad=True)
    b = torch.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: l2_penalty([x, y], lam=0.3), (a, b))
    assert torch.autograd.gradcheck(
        lambda x, y: elastic_net_penalty([x, y], l1=0.2, l2=0.1), (a, b)
    )


def test_penalty_inputs_are_checked():
    with pytest.raises(
        ValueError, match=r"^lam must be a non-negative number \(>= 0\), got -0.1$"
    ):
        l1_penalty(np.ones(2), lam=-0.1)
    with pytest.raises(
        ValueError, match=r"^l2 must be a non-negative number \(>= 0\), got nan$"
    ):
        elastic_net_penalty(np.ones(2), l1=0.1, l2=math.nan)
    with pytest.raises(
        ValueError, match=r"`params` is empty; pass an array/tensor or a non-empty"
    ):
        l2_penalty([], lam=0.1)
    with pytest.raises(ValueError, match=r"`params` is empty"):
        l2_penalty(torch.nn.Sequential().parameters(), lam=0.1)
    msg = r"`params\[1\]` is a torch.Tensor but `params\[0\]` is a numpy.ndarray"
    with pytest.raises(TypeError, match=msg):
        l1_penalty([np.ones(2), torch.ones(2)], lam=0.1)
    with pytest.raises(TypeError):
        l1_penalty(np.ones(2), 0.1)  # lam is keyword-only


def test_penalty_dtype_follows_type_promotion():
    out = l2_penalty(
        [torch.ones(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64)],
        lam=1.0,
    )
    assert out.dtype == torch.float64  # as float32 + float64 in torch
    assert float(out) == 4.0
    assert l1_penalty([1, -2], lam=1.0).dtype == np.float64


# --- class weights ---


def test_balanced_class_weights_from_counts(backend):
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])  # 2 positives, 8 negatives
    w_pos, w_neg = balanced_class_weights(backend(y))
    backend.check_native(w_pos)
    backend.check_native(w_neg)
    assert float(w_pos) == pytest.approx(8 / 10) and float(w_neg) == pytest.approx(
        2 / 10
    )
    # both classes carry the same total weight
    assert float(2 * w_pos) == pytest.approx(float(8 * w_neg))


def test_balanced_class_weights_accepts_int_tensors_and_any_shape():
    w_pos, w_neg = balanced_class_weights(torch.tensor([[1, 1], [0, 1]]))
    assert w_pos.dtype == torch.get_default_dtype()
    assert (float(w_pos), float(w_neg)) == (0.25, 0.75)


def test_balanced_class_weights_rejects_non_binary_and_empty_labels():
    with pytest.raises(
        ValueError, match=r"`target` must hold binary labels in \{0, 1\}, found 2"
    ):
        balanced_class_weights([0, 1, 2])
    with pytest.raises(
        ValueError, match=r"`target` must hold binary labels in \{0, 1\}, found -1"
    ):
        balanced_class_weights(torch.tensor([0, -1]))
    with pytest.raises(
        ValueError, match=r"`target` is empty \(shape \(0,\)\); class weights need"
    ):
        balanced_class_weights([])


@FEW
@given(y=st.lists(st.sampled_from([0, 1]), min_size=1, max_size=30))
def test_balanced_weights_sum_to_one_and_balance_the_classes(y):
    y = np.asarray(y)
    w_pos, w_neg = balanced_class_weights(y)
    assert float(w_pos + w_neg) == pytest.approx(1.0)
    assert float(w_pos * y.sum()) == pytest.approx(float(w_neg * (y.size - y.sum())))


# --- weighted binary cross-entropy ---


def bce_data(rng, shape=(4, 5)):
    p = rng.uniform(0.01, 0.99, shape)
    y = (rng.uniform(size=shape) < 0.3).astype(np.float64)
    p.flat[:2] = [0.0, 1.0]  # the clamped logs
    y.flat[:2] = [1.0, 0.0]
    return p, y


@pytest.mark.parametrize(("w_pos", "w_neg"), [(3.0, 0.5), (1.0, 1.0), (0.0, 2.0)])
def test_weighted_bce_matches_torch_with_per_element_weights(
    w_pos, w_neg, backend, reduction, rng
):
    p, y = bce_data(rng)
    p = p.astype(backend.dtype)
    got = weighted_binary_cross_entropy(
        backend(p), backend(y), w_pos=w_pos, w_neg=w_neg, reduction=reduction
    )
    backend.check_native(got, p.shape if reduction == "none" else ())
    yt = backend.torch(y)
    ref = F.binary_cross_entropy(
        backend.torch(p), yt, weight=w_pos * yt + w_neg * (1 - yt), reduction=reduction
    )
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=8 * backend.eps)


def test_weighted_bce_with_soft_labels_matches_a_loop(rng):
    p = rng.uniform(0.0, 1.0, 20)
    y = rng.uniform(0.0, 1.0, 20)
    p[:2] = [0.0, 1.0]
    expected = [
        -(2.0 * t * max(math.log(q) if q > 0 else -math.inf, -100)
          + 0.5 * (1 - t) * max(math.log1p(-q) if q < 1 else -math.inf, -100))
        for q, t in zip(p, y, strict=True)
    ]  # fmt: skip
    got = weighted_binary_cross_entropy(p, y, w_pos=2.0, w_neg=0.5, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_unit_weights_give_plain_bce_and_balanced_weights_as_numbers(rng):
    p, y = bce_data(rng)
    np.testing.assert_array_equal(
        weighted_binary_cross_entropy(p, y, w_pos=1.0, w_neg=1.0, reduction="none"),
        lb.binary_cross_entropy(p, y, reduction="none"),
    )
    yt = torch.tensor(y)
    w_pos, w_neg = (float(w) for w in balanced_class_weights(yt))
    out = weighted_binary_cross_entropy(torch.tensor(p), yt, w_pos=w_pos, w_neg=w_neg)
    ref = weighted_binary_cross_entropy(p, y, w_pos=w_pos, w_neg=w_neg)
    assert float(out) == pytest.approx(float(ref), rel=1e-14)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("name", ["w_pos", "w_neg"])
def test_weighted_bce_weights_must_be_python_numbers(name, kind):
    # an array weight would be read with .item(): a host synchronisation and a
    # graph break under torch.compile(fullgraph=True); the contract allows
    # tensors only for temperature, sigma and b
    p = np.full(3, 0.5)
    weight = np.array(0.5) if kind == "numpy" else torch.tensor(0.5)
    if kind == "torch":
        p = torch.tensor(p)
    weights = {"w_pos": 1.0, "w_neg": 1.0, name: weight}
    with pytest.raises(TypeError, match=rf"^{name} must be a Python number, got a"):
        weighted_binary_cross_entropy(p, p, **weights)


def test_weighted_bce_gradcheck(rng):
    p = torch.tensor(rng.uniform(0.1, 0.9, 6), requires_grad=True)
    y = torch.tensor(rng.uniform(0.0, 1.0, 6))
    assert torch.autograd.gradcheck(
        lambda x: weighted_binary_cross_entropy(
            x, y, w_pos=2.0, w_neg=0.3, reduction="none"
        ),
        (p,),
    )


def test_weighted_bce_inputs_are_checked():
    p = np.full(3, 0.5)
    with pytest.raises(
        ValueError, match=r"^w_pos must be a non-negative number \(>= 0\), got -1.0$"
    ):
        weighted_binary_cross_entropy(p, p, w_pos=-1.0, w_neg=1.0)
    with pytest.raises(
        TypeError, match=r"^w_neg must be a Python number, got a numpy.ndarray"
    ):
        weighted_binary_cross_entropy(p, p, w_pos=1.0, w_neg=np.ones(2))
    with pytest.raises(
        ValueError, match=r"`prob` must hold probabilities in \[0, 1\], found 1.5"
    ):
        weighted_binary_cross_entropy([1.5], [1.0], w_pos=1.0, w_neg=1.0)
    with pytest.raises(
        ValueError, match=r"`target` must hold labels in \[0, 1\], found 2.0"
    ):
        weighted_binary_cross_entropy([0.5], [2.0], w_pos=1.0, w_neg=1.0)
    with pytest.raises(
        ValueError, match=r"`prob` and `target` must have the same shape"
    ):
        weighted_binary_cross_entropy(p, p[:2], w_pos=1.0, w_neg=1.0)
    with pytest.raises(ValueError, match=r"`prob` is empty"):
        weighted_binary_cross_entropy([], [], w_pos=1.0, w_neg=1.0)
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got None"):
        weighted_binary_cross_entropy(p, p, w_pos=1.0, w_neg=1.0, reduction=None)
    with pytest.raises(TypeError, match=r"`prob` is a torch.Tensor but `target` is a"):
        weighted_binary_cross_entropy(torch.tensor(p), p, w_pos=1.0, w_neg=1.0)
    with pytest.raises(TypeError):
        weighted_binary_cross_entropy(p, p)  # the weights are required


# --- multi-task weighting ---


def test_weighted_sum_of_tensors_with_plain_weights():
    l1 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    l2 = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    out = weighted_sum([l1, l2], [1.0, 4.0])
    assert out.dtype == torch.float64 and out.ndim == 0
    assert float(out.detach()) == 2.0 * 1.0 + 0.5 * 4.0
    g = torch.autograd.grad(out, (l1, l2))
    assert [float(v) for v in g] == [1.0, 4.0]


def test_weighted_sum_accepts_vectors_of_either_kind(backend):
    losses, weights = backend([1.0, 2.0, 3.0]), backend([0.5, 0.25, 2.0])
    out = weighted_sum(losses, weights)
    backend.check_native(out)
    assert float(out) == pytest.approx(0.5 + 0.5 + 6.0)


def test_uncertainty_weighted_value_and_its_optimum():
    losses = np.array([4.0, 0.25, 1.0])
    log_sigma = np.array([0.0, -1.0, 0.5])
    expected = sum(
        0.5 * math.exp(-2 * s) * L + s for L, s in zip(losses, log_sigma, strict=True)
    )
    assert float(uncertainty_weighted(losses, log_sigma)) == pytest.approx(expected)
    # d/ds (e^{-2s} L / 2 + s) = 0 at sigma^2 = L, where the task costs (1 + log L) / 2
    s = torch.tensor(0.5 * np.log(losses), requires_grad=True)
    out = uncertainty_weighted(torch.tensor(losses), s)
    (g,) = torch.autograd.grad(out, s)
    torch.testing.assert_close(g, torch.zeros(3, dtype=torch.float64))
    assert float(out.detach()) == pytest.approx(sum(0.5 + 0.5 * np.log(losses)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uncertainty_weighted_is_finite_where_exp_minus_2_log_sigma_overflows(dtype):
    # a task whose loss reached 0 keeps lowering its log sigma (gradient 1)
    s0 = -60.0 if dtype == torch.float32 else -400.0  # e^{-2 s0} overflows
    losses = torch.tensor([0.0, 1e-30], dtype=dtype, requires_grad=True)
    s = torch.tensor([s0, s0 / 2], dtype=dtype, requires_grad=True)
    out = uncertainty_weighted(losses, s)
    expected = s0 + 0.5 * math.exp(-s0) * 1e-30 + s0 / 2
    assert out.item() == pytest.approx(expected, rel=1e-5)
    out.backward()
    assert torch.isfinite(s.grad).all()
    assert float(s.grad[0]) == 1.0


def test_uncertainty_weighted_is_the_log_variance_form_with_s_twice_log_sigma():
    # many codes learn s = log sigma^2 and write (e^{-s} L + s) / 2
    losses, s = np.array([3.0, 0.2]), np.array([0.4, -1.2])
    other = 0.5 * np.sum(np.exp(-s) * losses + s)
    assert float(uncertainty_weighted(losses, s / 2)) == pytest.approx(other)


def test_multitask_gradcheck(rng):
    losses = torch.tensor(rng.uniform(0.1, 3.0, 3), requires_grad=True)
    log_sigma = torch.tensor(rng.normal(0.0, 0.5, 3), requires_grad=True)
    weights = torch.tensor(rng.uniform(0.0, 2.0, 3), requires_grad=True)
    assert torch.autograd.gradcheck(uncertainty_weighted, (losses, log_sigma))
    assert torch.autograd.gradcheck(weighted_sum, (losses, weights))


@pytest.mark.parametrize("combine", [weighted_sum, uncertainty_weighted])
def test_multitask_inputs_are_checked(combine):
    other = "weights" if combine is weighted_sum else "log_sigma"
    with pytest.raises(
        ValueError,
        match=rf"`{other}` must hold one value per loss, shape \(2,\), got shape \(3",
    ):
        combine([1.0, 2.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"`losses` is empty; pass one value per task"):
        combine([], [])
    with pytest.raises(
        ValueError,
        match=r"`losses\[1\]` must be a 0-d value \(a reduced loss\), got shape \(2,\)",
    ):
        combine([torch.tensor(1.0), torch.ones(2)], [1.0, 1.0])
    with pytest.raises(
        ValueError,
        match=r"`losses` must be 1-D \(K,\): one value per task, got shape \(2, 2\)",
    ):
        combine(np.ones((2, 2)), [1.0, 1.0])
    with pytest.raises(
        TypeError, match=rf"`{other}` is a torch.Tensor but `losses` is a numpy.ndarray"
    ):
        combine(np.ones(2), torch.ones(2))
    with pytest.raises(
        TypeError, match=r"`losses\[1\]` is a torch.Tensor but `losses\[0\]` is"
    ):
        combine([np.float64(1.0), torch.tensor(1.0)], [1.0, 1.0])


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in weighting.__all__:
        assert getattr(lb, name) is getattr(weighting, name)
        assert name in lb.__all__


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_weighting_stays_on_the_cuda_device():
    t = torch.ones(3, device="cuda")
    assert l2_penalty([t, t], lam=0.1).device == t.device
    assert weighted_sum([t.sum(), t.mean()], [1.0, 2.0]).device == t.device
    assert uncertainty_weighted(t, torch.zeros(3, device="cuda")).device == t.device
    w_pos, w_neg = balanced_class_weights(torch.tensor([0, 1, 1], device="cuda"))
    assert w_pos.device == t.device
    assert (
        weighted_binary_cross_entropy(
            t * 0.5, t, w_pos=float(w_pos), w_neg=float(w_neg)
        ).device
        == t.device
    )


# --- numpy equals torch for every function ---

CALLS = {
    "l1_penalty": lambda x, d: l1_penalty([x(d[0]), x(d[1])], lam=0.3),
    "l2_penalty": lambda x, d: l2_penalty([x(d[0]), x(d[1])], lam=0.3),
    "elastic_net_penalty": lambda x, d: elastic_net_penalty(x(d[0]), l1=0.3, l2=0.1),
    "balanced_class_weights": lambda x, d: balanced_class_weights(x(d[2]))[0],
    "weighted_binary_cross_entropy": lambda x, d: weighted_binary_cross_entropy(
        x(d[3]), x(d[2]), w_pos=2.0, w_neg=0.5, reduction="none"
    ),
    "weighted_sum": lambda x, d: weighted_sum(x(d[1]), x(d[3])),
    "uncertainty_weighted": lambda x, d: uncertainty_weighted(x(d[3]), x(d[1])),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_equals_torch(name, dtype, rng):
    d = (
        rng.standard_normal((3, 2)),
        rng.standard_normal(4),
        (rng.uniform(size=4) < 0.5).astype(np.float64),
        rng.uniform(0.05, 0.95, 4),
    )
    a = CALLS[name](lambda v: np.asarray(v, dtype), d)
    b = CALLS[name](lambda v: torch.tensor(np.asarray(v, dtype)), d)
    assert a.dtype == dtype
    np.testing.assert_allclose(a, b.numpy(), rtol=8 * np.finfo(dtype).eps)


# --- properties ---


@FEW
@given(
    theta=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=10),
    lam=st.floats(0.0, 10.0),
)
def test_penalties_are_non_negative_even_and_zero_at_zero(theta, lam):
    theta = np.asarray(theta)
    for penalty in (l1_penalty, l2_penalty):
        assert float(penalty(theta, lam=lam)) >= 0
        assert float(penalty(theta, lam=lam)) == float(penalty(-theta, lam=lam))
        assert float(penalty(np.zeros_like(theta), lam=lam)) == 0.0


@FEW
@given(
    losses=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=5),
    shift=st.floats(-2.0, 2.0),
)
def test_uncertainty_weighting_is_minimised_at_sigma_squared_equal_to_the_loss(
    losses, shift
):
    losses = np.asarray(losses)
    best = uncertainty_weighted(losses, 0.5 * np.log(losses))
    assert (
        float(uncertainty_weighted(losses, 0.5 * np.log(losses) + shift))
        >= float(best) - 1e-12
    )


# --- penalties of named parameters and state dicts (second round) ---


def test_penalties_accept_named_parameters_and_state_dicts():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    plain = [p.detach() for p in model.parameters()]
    for penalty, kw in (
        (l1_penalty, {"lam": 0.3}),
        (l2_penalty, {"lam": 0.2}),
        (elastic_net_penalty, {"l1": 0.1, "l2": 0.4}),
    ):
        ref = penalty(plain, **kw)
        named = penalty(model.named_parameters(), **kw)
        state = penalty(model.state_dict(), **kw)
        torch.testing.assert_close(named.detach(), ref, rtol=1e-15, atol=0)
        torch.testing.assert_close(state, ref, rtol=1e-15, atol=0)
        assert named.requires_grad  # named_parameters() keeps the graph
        assert not state.requires_grad  # a state_dict's tensors are detached
    np_state = {"w": np.array([1.0, -2.0]), "b": np.array([0.5])}
    assert float(l1_penalty(np_state, lam=1.0)) == 3.5
    assert float(l2_penalty([("w", np.array([3.0])), ("b", 4.0)], lam=1.0)) == 25.0


def test_named_penalty_errors_name_the_parameter():
    msg = r"`params\['b'\]` is a numpy.ndarray|`params\['w'\]` is a torch.Tensor"
    with pytest.raises(TypeError, match=msg):
        l1_penalty({"w": torch.ones(2), "b": np.ones(2)}, lam=0.1)
    with pytest.raises(ValueError, match=r"`params` is empty"):
        l2_penalty({}, lam=0.1)
    with pytest.raises(ValueError, match=r"`params` is empty"):
        l2_penalty(torch.nn.Sequential().named_parameters(), lam=0.1)
