"""Tests of lossbook.distributed: gathered InfoNCE on 2 and 3 real gloo processes.

Each world size is spawned once (``run_on_ranks``: 127.0.0.1, a free port, a
time limit); the ranks run every case and send back losses and gradients,
which the tests compare with ``lb.info_nce`` (and a ``F.cross_entropy``
formula) on the concatenated batch in float64, in this process.

The identity under test: rank r returns L_r, the mean over its B queries, and
the single-process loss of the W B pairs is L = mean_r L_r. The gathered rows
carry gradient back to their owners (a reduce-scatter), so rank r's input
gradient is sum_s dL_s/dx_r = W dL/dx_r: divided by W it equals the
single-process gradient of its rows. A replicated temperature gets dL_r/dt;
the mean over ranks is dL/dt. Both are what DDP's gradient averaging needs.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

import lossbook as lb
from lossbook.distributed import gathered_info_nce
from lossbook.experiments.embedding import run_on_ranks

B, D = 4, 5  # rows per rank, features
TEMPERATURE = 0.25
TIMEOUT = 120.0  # seconds for one spawned world, start-up included
TOL = 1e-12  # float64: the discrepancies measured are about 1e-16
CASES = [(s, learn) for s in (False, True) for learn in (False, True)]


def _global_batch(world):
    """The whole batch, identical on every rank (seeded CPU generator)."""
    g = torch.Generator().manual_seed(1000 + world)
    q = torch.randn(world * B, D, generator=g, dtype=torch.float64)
    k = q + 0.7 * torch.randn(world * B, D, generator=g, dtype=torch.float64)
    xq = torch.randn(world * B, D, generator=g, dtype=torch.float64)
    xk = xq + 0.3 * torch.randn(world * B, D, generator=g, dtype=torch.float64)
    return q, k, xq, xk


class _Tower(torch.nn.Module):
    """A linear encoder with a learnable temperature, as CLIP has."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(D, 3, dtype=torch.float64)
        self.log_t = torch.nn.Parameter(
            torch.tensor(math.log(0.2), dtype=torch.float64)
        )

    def forward(self, xq, xk):
        return self.net(xq), self.net(xk), self.log_t.exp()


def _tower():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        return _Tower()


def _temperature(learnable):
    if learnable:
        return torch.tensor(TEMPERATURE, dtype=torch.float64, requires_grad=True)
    return TEMPERATURE


def _error(call):
    try:
        call()
    except (TypeError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return "no error"


def _worker(rank, world):
    """Everything one rank does; the parent compares the results."""
    q_all, k_all, xq_all, xk_all = _global_batch(world)
    rows = slice(rank * B, (rank + 1) * B)
    out = {}

    # bad calls first: every rank must raise, and the collectives stay in step
    last = world - 1
    n = B + 1 if rank == 0 else B
    out["err_batch"] = _error(lambda: gathered_info_nce(q_all[:n], k_all[:n]))
    dtype = torch.float32 if rank == last else torch.float64
    out["err_dtype"] = _error(
        lambda: gathered_info_nce(q_all[rows].to(dtype), k_all[rows].to(dtype))
    )
    bad_q = q_all[rows][0] if rank == last else q_all[rows]  # 1-D on the last rank
    out["err_local"] = _error(lambda: gathered_info_nce(bad_q, k_all[rows]))
    t_bad = -1.0 if rank == 0 else TEMPERATURE
    out["err_temperature"] = _error(
        lambda: gathered_info_nce(q_all[rows], k_all[rows], temperature=t_bad)
    )

    for symmetric, learnable in CASES:
        q = q_all[rows].clone().requires_grad_()
        k = k_all[rows].clone().requires_grad_()
        t = _temperature(learnable)
        loss = gathered_info_nce(q, k, temperature=t, symmetric=symmetric)
        loss.backward()
        out[symmetric, learnable] = {
            "loss": loss,
            "q": q.grad,
            "k": k.grad,
            "t": t.grad if learnable else None,
        }

    # a sub-group: ranks 1..W-1 share negatives, rank 0 is not a member
    members = list(range(1, world))
    sub = dist.new_group(members)  # collective: every rank calls it
    if rank in members:
        q = q_all[rows].clone().requires_grad_()
        k = k_all[rows].clone().requires_grad_()
        loss = gathered_info_nce(q, k, temperature=TEMPERATURE, group=sub)
        loss.backward()
        out["group"] = {"loss": loss, "q": q.grad, "k": k.grad}
    else:
        out["group"] = _error(
            lambda: gathered_info_nce(q_all[rows], k_all[rows], group=sub)
        )

    # DDP: parameter gradients after its averaging over ranks
    ddp = torch.nn.parallel.DistributedDataParallel(_tower())
    q, k, t = ddp(xq_all[rows], xk_all[rows])
    gathered_info_nce(q, k, temperature=t, symmetric=True).backward()
    out["ddp"] = {name: p.grad for name, p in ddp.module.named_parameters()}
    return out


@functools.cache
def _run(world):
    return run_on_ranks(_worker, world, timeout=TIMEOUT)


def _reference(q, k, t, symmetric):
    """Per-pair losses of the concatenated batch: ``lb.info_nce``, checked
    against the API's formula ``F.cross_entropy(qn @ kn.T / t, arange(N))``."""
    per_pair = lb.info_nce(q, k, temperature=t, symmetric=symmetric, reduction="none")
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / t
    labels = torch.arange(len(q))
    by_formula = F.cross_entropy(logits, labels, reduction="none")
    if symmetric:
        back = F.cross_entropy(logits.T, labels, reduction="none")
        by_formula = 0.5 * (by_formula + back)
    assert torch.allclose(per_pair, by_formula, rtol=1e-13, atol=1e-13)
    return per_pair


def _single_process(world, symmetric, learnable):
    """Loss per pair and gradients of the mean loss over all W B pairs."""
    q_all, k_all, _, _ = _global_batch(world)
    q, k = q_all.clone().requires_grad_(), k_all.clone().requires_grad_()
    t = _temperature(learnable)
    per_pair = _reference(q, k, t, symmetric)
    per_pair.mean().backward()
    return per_pair.detach(), q.grad, k.grad, (t.grad if learnable else None)


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize(("symmetric", "learnable"), CASES)
def test_losses_are_the_local_means_of_the_single_process_losses(
    world, symmetric, learnable
):
    ranks = _run(world)
    per_pair, _, _, _ = _single_process(world, symmetric, learnable)
    for rank, out in enumerate(ranks):
        local = per_pair[rank * B : (rank + 1) * B].mean().item()
        assert abs(float(out[symmetric, learnable]["loss"]) - local) < TOL
    mean_over_ranks = np.mean([float(o[symmetric, learnable]["loss"]) for o in ranks])
    assert abs(mean_over_ranks - per_pair.mean().item()) < TOL


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize(("symmetric", "learnable"), CASES)
def test_input_gradients_are_world_size_times_the_single_process_gradients(
    world, symmetric, learnable
):
    ranks = _run(world)
    _, q_grad, k_grad, _ = _single_process(world, symmetric, learnable)
    worst = 0.0
    for rank, out in enumerate(ranks):
        rows = slice(rank * B, (rank + 1) * B)
        got = out[symmetric, learnable]
        for name, single in (("q", q_grad), ("k", k_grad)):
            # the claim, and its inverse to show the factor's direction matters
            worst = max(worst, _max_diff(got[name] / world, single[rows]))
            assert _max_diff(got[name] * world, single[rows]) > 1e-3
    assert worst < TOL, (
        f"world {world}, symmetric={symmetric}: max |grad_rank / W - grad_single| "
        f"= {worst:.3g}"
    )
    print(f"world {world} symmetric={symmetric}: max |grad/W - single| = {worst:.3g}")


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("symmetric", [False, True])
def test_a_learnable_temperature_gets_its_share_and_ddp_averages_it(world, symmetric):
    ranks = _run(world)
    _, _, _, t_grad = _single_process(world, symmetric, True)
    per_rank = [float(o[symmetric, True]["t"]) for o in ranks]
    assert abs(np.mean(per_rank) - t_grad.item()) < TOL
    assert np.ptp(per_rank) > 1e-6  # the ranks' shares differ: no hidden reduction


@pytest.mark.parametrize("world", [2, 3])
def test_ddp_trains_exactly_like_info_nce_on_the_concatenated_batch(world):
    ranks = _run(world)
    _, _, xq, xk = _global_batch(world)
    model = _tower()
    q, k, t = model(xq, xk)
    per_pair = _reference(q, k, t, True)
    per_pair.mean().backward()
    for out in ranks:
        for name, p in model.named_parameters():
            diff = _max_diff(out["ddp"][name], p.grad)
            assert diff < TOL, f"world {world}: {name} differs by {diff:.3g}"


@pytest.mark.parametrize("world", [2, 3])
def test_a_sub_group_gathers_only_its_members(world):
    ranks = _run(world)
    assert "not a member of `group`" in ranks[0]["group"]
    assert ranks[0]["group"].startswith("ValueError")
    members = list(range(1, world))
    q_all, k_all, _, _ = _global_batch(world)
    rows = np.concatenate([np.arange(r * B, (r + 1) * B) for r in members])
    q = q_all[rows].clone().requires_grad_()
    k = k_all[rows].clone().requires_grad_()
    per_pair = lb.info_nce(q, k, temperature=TEMPERATURE, reduction="none")
    per_pair.mean().backward()
    size = len(members)
    for j, rank in enumerate(members):
        mine = slice(j * B, (j + 1) * B)
        out = ranks[rank]["group"]
        assert abs(float(out["loss"]) - per_pair[mine].mean().item()) < TOL
        assert _max_diff(out["q"] / size, q.grad[mine]) < TOL
        assert _max_diff(out["k"] / size, k.grad[mine]) < TOL


@pytest.mark.parametrize("world", [2, 3])
def test_different_batch_sizes_raise_on_every_rank(world):
    for out in _run(world):
        msg = out["err_batch"]
        assert msg.startswith("ValueError"), msg
        assert "same shape (B, D)" in msg
        assert f"0: ({B + 1}, {D})" in msg and f"1: ({B}, {D})" in msg


@pytest.mark.parametrize("world", [2, 3])
def test_different_dtypes_raise_on_every_rank(world):
    for out in _run(world):
        assert out["err_dtype"].startswith("ValueError")
        assert "same dtype" in out["err_dtype"]
        assert "torch.float32" in out["err_dtype"]


@pytest.mark.parametrize("world", [2, 3])
def test_one_rank_with_bad_input_stops_every_rank(world):
    ranks = _run(world)
    assert "must be 2-D" in ranks[-1]["err_local"]
    for out in ranks[:-1]:
        assert f"rank(s) [{world - 1}] were rejected" in out["err_local"]
    assert "temperature must be a positive number" in ranks[0]["err_temperature"]
    for out in ranks[1:]:
        assert "rank(s) [0] were rejected" in out["err_temperature"]


# --- in this process: no process group, or a group of one ----------------------


def test_without_a_process_group_it_says_what_to_do():
    assert not dist.is_initialized()
    q = torch.randn(3, 2)
    with pytest.raises(RuntimeError, match=r"init_process_group.*lossbook.info_nce"):
        gathered_info_nce(q, q)


@pytest.fixture
def one_process_group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("symmetric", [False, True])
def test_a_group_of_one_is_info_nce(one_process_group, symmetric):
    q_all, k_all, _, _ = _global_batch(1)
    q, k = q_all.clone().requires_grad_(), k_all.clone().requires_grad_()
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    loss = gathered_info_nce(q, k, temperature=t, symmetric=symmetric)
    loss.backward()
    q2, k2 = q_all.clone().requires_grad_(), k_all.clone().requires_grad_()
    t2 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    per_pair = _reference(q2, k2, t2, symmetric)
    per_pair.mean().backward()
    assert abs(loss.item() - per_pair.mean().item()) < TOL
    assert _max_diff(q.grad, q2.grad) < TOL
    assert _max_diff(k.grad, k2.grad) < TOL
    assert abs(t.grad.item() - t2.grad.item()) < TOL
    assert loss.dtype == torch.float64


def test_float32_stays_float32(one_process_group):
    q = torch.randn(4, 3)
    loss = gathered_info_nce(q, q + 0.1)
    assert loss.dtype == torch.float32
    assert torch.allclose(loss, lb.info_nce(q, q + 0.1))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"query": np.ones((2, 3))}, TypeError, r"`query` must be a torch.Tensor"),
        (
            {"key": torch.ones(3, 3)},
            ValueError,
            r"same shape, got \(2, 3\) and \(3, 3\)",
        ),
        ({"query": torch.ones(2)}, ValueError, r"`query` must be 2-D"),
        ({"query": torch.ones(0, 3), "key": torch.ones(0, 3)}, ValueError, "empty"),
        ({"temperature": 0.0}, ValueError, r"temperature must be a positive number"),
        (
            {"temperature": torch.tensor(-0.1)},
            ValueError,
            r"`temperature` must hold positive",
        ),
        (
            {"temperature": torch.tensor([0.1])},
            ValueError,
            r"`temperature` must be a number or a 0-d array or tensor",
        ),
        ({"temperature": np.array(0.1)}, TypeError, r"temperature must be a Python"),
        ({"symmetric": "yes"}, ValueError, r"symmetric must be True or False"),
    ],
)
def test_bad_arguments_raise_clear_errors(one_process_group, kwargs, error, match):
    args = {"query": torch.ones(2, 3), "key": torch.ones(2, 3), **kwargs}
    q, k = args.pop("query"), args.pop("key")
    with pytest.raises(error, match=match):
        gathered_info_nce(q, k, **args)


def test_lossbook_imports_the_module_on_first_use():
    import lossbook.distributed

    assert lb.distributed is lossbook.distributed
    assert "distributed" not in lb.__all__  # not re-exported: it needs torch
