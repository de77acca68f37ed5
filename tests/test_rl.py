"""Tests of lossbook.rl: value loss against torch, REINFORCE and PPO against
per-element formulas and their branch-by-branch closed forms, the constants
(no gradient to advantages and old log-probabilities), gradcheck, the API
contract and properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import rl
from lossbook.rl import policy_gradient, ppo_clip, value_loss

FEW = settings(max_examples=50, deadline=None)


def reduced(per_item, reduction):
    per_item = np.asarray(per_item, dtype=np.float64)
    return {"none": per_item, "sum": per_item.sum(), "mean": per_item.mean()}[reduction]


def rollout(rng, n=12):
    log_probs = np.log(rng.uniform(0.05, 1.0, n))
    old = log_probs + rng.normal(0, 0.4, n)  # ratios from ~0.3 to ~3
    adv = rng.standard_normal(n)
    return log_probs, old, adv


# --- values ---


def test_value_loss_matches_mse_loss(backend, reduction, rng):
    v, r = rng.standard_normal((2, 3, 4)).astype(backend.dtype)
    got = value_loss(backend(v), backend(r), reduction=reduction)
    backend.check_native(got, (3, 4) if reduction == "none" else ())
    ref = F.mse_loss(backend.torch(v), backend.torch(r), reduction=reduction)
    np.testing.assert_allclose(backend.numpy(got), ref.numpy(), rtol=4 * backend.eps)


def test_policy_gradient_matches_its_formula(backend, reduction, rng):
    lp, _, adv = (x.astype(backend.dtype) for x in rollout(rng))
    got = policy_gradient(backend(lp), backend(adv), reduction=reduction)
    backend.check_native(got, (12,) if reduction == "none" else ())
    expected = reduced(
        [-float(a) * float(b) for a, b in zip(lp, adv, strict=True)], reduction
    )
    np.testing.assert_allclose(backend.numpy(got), expected, rtol=8 * backend.eps)


@pytest.mark.parametrize("clip_eps", [0.2, 0.1, 0.5])
def test_ppo_clip_matches_a_per_element_loop(clip_eps, backend, reduction, rng):
    lp, old, adv = (x.astype(backend.dtype) for x in rollout(rng))
    per_step = []
    for a, b, c in zip(lp, old, adv, strict=True):
        r = math.exp(float(a) - float(b))
        clipped = min(max(r, 1 - clip_eps), 1 + clip_eps)
        per_step.append(-min(r * float(c), clipped * float(c)))
    got = ppo_clip(
        backend(lp), backend(old), backend(adv), clip_eps=clip_eps, reduction=reduction
    )
    backend.check_native(got, (12,) if reduction == "none" else ())
    np.testing.assert_allclose(
        backend.numpy(got), reduced(per_step, reduction), rtol=32 * backend.eps
    )


# --- PPO's branches, each with its value and gradient in closed form ---


@pytest.mark.parametrize(
    ("ratio", "adv", "clipped"),
    [
        (1.5, 2.0, True),  # A > 0, r > 1 + eps: the gain is capped
        (0.5, 2.0, False),  # A > 0, r < 1 - eps: the min keeps r A (no cap below)
        (0.5, -2.0, True),  # A < 0, r < 1 - eps: the cap
        (1.5, -2.0, False),  # A < 0, r > 1 + eps: the min keeps r A
        (1.1, 2.0, False),  # inside the trust region: plain r A
        (0.9, -2.0, False),
    ],
)
def test_ppo_branches(ratio, adv, clipped):
    eps = 0.2
    lp = torch.tensor([math.log(ratio)], dtype=torch.float64, requires_grad=True)
    old = torch.zeros(1, dtype=torch.float64)
    a = torch.tensor([adv], dtype=torch.float64)
    loss = ppo_clip(lp, old, a, clip_eps=eps)
    (g,) = torch.autograd.grad(loss, lp)
    if clipped:
        bound = 1 + eps if adv > 0 else 1 - eps
        assert float(loss.detach()) == pytest.approx(-bound * adv)
        assert float(g) == 0.0  # no incentive to move further
    else:
        assert float(loss.detach()) == pytest.approx(-ratio * adv)
        # d/dlp of -exp(lp - old) A is -r A
        assert float(g) == pytest.approx(-ratio * adv)


def test_ppo_at_ratio_1_is_the_policy_gradient_in_value_and_gradient(rng):
    lp, _, adv = rollout(rng)
    lp_t = torch.tensor(lp, requires_grad=True)
    a = torch.tensor(adv)
    ppo = ppo_clip(lp_t, lp_t.detach(), a)
    (g_ppo,) = torch.autograd.grad(ppo, lp_t)
    pg = policy_gradient(lp_t, a)
    (g_pg,) = torch.autograd.grad(pg, lp_t)
    # value: -A vs -log_prob A differ; gradients at r = 1 coincide
    torch.testing.assert_close(float(ppo.detach()), -float(a.mean()))
    torch.testing.assert_close(g_ppo, g_pg)


# --- constants: no gradient to advantages or old log-probabilities ---


def test_advantages_and_old_log_probs_get_no_gradient(rng):
    lp, old, adv = (torch.tensor(x, requires_grad=True) for x in rollout(rng))
    loss = ppo_clip(lp, old, adv) + policy_gradient(lp, adv)
    grads = torch.autograd.grad(loss, (lp, old, adv), allow_unused=True)
    assert grads[0] is not None
    assert grads[1] is None and grads[2] is None


def test_policy_gradient_gradient_is_minus_advantage_over_n(rng):
    lp, _, adv = rollout(rng)
    lp_t = torch.tensor(lp, requires_grad=True)
    (g,) = torch.autograd.grad(policy_gradient(lp_t, torch.tensor(adv)), lp_t)
    np.testing.assert_allclose(g.numpy(), -adv / adv.size, rtol=1e-15)


def test_gradcheck(rng):
    lp, old, adv = rollout(rng, n=6)
    # keep the ratios off the clip boundaries, where the loss has kinks
    lp_t = torch.tensor(lp, requires_grad=True)
    old_t, adv_t = torch.tensor(old), torch.tensor(adv)
    assert torch.autograd.gradcheck(
        lambda x: ppo_clip(x, old_t, adv_t, reduction="none"), (lp_t,)
    )
    assert torch.autograd.gradcheck(
        lambda x: policy_gradient(x, adv_t, reduction="none"), (lp_t,)
    )
    v = torch.tensor(adv, requires_grad=True)
    r = torch.tensor(old, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: value_loss(x, y), (v, r))


# --- the API contract ---

CALLS = {
    "value_loss": lambda x, d: value_loss(x(d[0]), x(d[2]), reduction="none"),
    "policy_gradient": lambda x, d: policy_gradient(x(d[0]), x(d[2]), reduction="none"),
    "ppo_clip": lambda x, d: ppo_clip(x(d[0]), x(d[1]), x(d[2]), reduction="none"),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_equals_torch_and_dtype_is_kept(name, dtype, rng):
    data = rollout(rng)
    a = CALLS[name](lambda v: np.asarray(v, dtype), data)
    b = CALLS[name](lambda v: torch.tensor(np.asarray(v, dtype)), data)
    assert a.dtype == dtype
    assert b.dtype == torch.from_numpy(np.zeros(1, dtype)).dtype
    np.testing.assert_allclose(a, b.numpy(), rtol=4 * np.finfo(dtype).eps)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(CALLS))
def test_cuda_inputs_stay_on_the_device(name, rng):
    data = rollout(rng)
    out = CALLS[name](lambda v: torch.tensor(v, device="cuda"), data)
    assert out.device.type == "cuda"


@pytest.mark.parametrize("name", list(CALLS))
def test_shape_mismatch_mixing_reduction_and_empty_input(name):
    loss = getattr(rl, name)
    n_args = 3 if name == "ppo_clip" else 2
    ok = [np.zeros(3)] * n_args
    bad = [*ok[:-1], np.zeros((3, 1))]
    first = {"value_loss": "values"}.get(name, "log_probs")
    last = {"value_loss": "returns"}.get(name, "advantages")
    msg = rf"`{first}` and `{last}` must have the same shape, got \(3,\) and \(3, 1\)"
    with pytest.raises(ValueError, match=msg):
        loss(*bad)
    with pytest.raises(TypeError, match=rf"`{first}` is a torch.Tensor but `"):
        loss(torch.zeros(3), *ok[1:])
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'all'"):
        loss(*ok, reduction="all")
    empty = [np.zeros(0)] * n_args
    with pytest.raises(ValueError, match=rf"`{first}` is empty \(shape \(0,\)\)"):
        loss(*empty)
    assert float(loss(*empty, reduction="sum")) == 0.0


@pytest.mark.parametrize("bad", [0.0, -0.2, math.nan, True, None])
def test_clip_eps_must_be_positive(bad):
    z = np.zeros(2)
    msg = rf"^clip_eps must be a positive number \(> 0\), got {bad!r}$"
    with pytest.raises(ValueError, match=msg):
        ppo_clip(z, z, z, clip_eps=bad)


def test_options_are_keyword_only():
    z = np.zeros(2)
    with pytest.raises(TypeError):
        ppo_clip(z, z, z, 0.2)


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in rl.__all__:
        assert getattr(lb, name) is getattr(rl, name)
        assert name in lb.__all__


# --- properties (hypothesis) ---

log_prob = st.floats(-5.0, 0.0)
advantage = st.floats(-10.0, 10.0)
steps = st.lists(st.tuples(log_prob, log_prob, advantage), min_size=1, max_size=8)


@FEW
@given(data=steps, eps=st.floats(0.01, 0.9))
def test_ppo_is_a_pessimistic_bound_on_the_unclipped_surrogate(data, eps):
    lp, old, adv = (np.array(c) for c in zip(*data, strict=True))
    loss = ppo_clip(lp, old, adv, clip_eps=eps, reduction="none")
    r = np.exp(lp - old)
    # -min(rA, clip(r)A) >= -rA: the clipped objective never exceeds the raw one
    assert np.all(loss >= -r * adv - 1e-12 * np.abs(r * adv))
    inside = (r >= 1 - eps) & (r <= 1 + eps)
    np.testing.assert_allclose(loss[inside], -(r * adv)[inside], rtol=1e-12)


@FEW
@given(v=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=8))
def test_value_loss_is_non_negative_and_zero_at_the_returns(v):
    v = np.asarray(v)
    assert float(value_loss(v, v)) == 0.0
    assert np.all(value_loss(v, v[::-1], reduction="none") >= 0)
