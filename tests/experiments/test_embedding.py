"""Tests of lossbook.experiments.embedding: data, mining, retrieval, training, ranks."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.distributed as dist

import lossbook as lb
from lossbook.experiments.embedding import (
    LOSSES,
    _Adam,
    _encoder,
    batch_hard_triplets,
    clusters,
    gathered_step,
    negative_kinds,
    pairwise_distances,
    recall_at_1,
    run_on_ranks,
    train_embedding,
)

# --- data -----------------------------------------------------------------------


def test_clusters_shapes_labels_and_seed():
    X, y = clusters(7, n_classes=3, dim=4, seed=2)
    assert X.shape == (21, 4) and X.dtype == np.float64
    assert y.tolist() == [0] * 7 + [1] * 7 + [2] * 7
    np.testing.assert_array_equal(X, clusters(7, n_classes=3, dim=4, seed=2)[0])
    assert not np.array_equal(X, clusters(7, n_classes=3, dim=4, seed=3)[0])


def test_clusters_share_means_across_sizes_but_not_points():
    big, y_big = clusters(400, n_classes=2, dim=3, spread=0.5, seed=1)
    small, y_small = clusters(300, n_classes=2, dim=3, spread=0.5, seed=1)
    for c in (0, 1):
        # the class means agree up to the sampling error 0.5 / sqrt(n)
        gap = big[y_big == c].mean(0) - small[y_small == c].mean(0)
        assert np.abs(gap).max() < 0.15
    assert not np.allclose(big[:3], small[:3])  # held-out points are new draws


def test_clusters_spread_is_the_within_class_std():
    X, y = clusters(5000, n_classes=2, dim=2, spread=0.3, seed=0)
    std = X[y == 0].std(axis=0)
    np.testing.assert_allclose(std, 0.3, rtol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_per_class": 0}, "n_per_class must be an integer >= 1"),
        ({"n_classes": 1}, "n_classes must be an integer >= 2"),
        ({"dim": 2.0}, "dim must be an integer >= 1"),
        ({"spread": 0.0}, "spread must be a positive number"),
    ],
)
def test_clusters_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        clusters(**kwargs)


# --- distances, retrieval, mining -----------------------------------------------


def test_pairwise_distances_match_torch_cdist():
    e = np.random.default_rng(0).standard_normal((9, 3))
    expected = torch.cdist(torch.tensor(e), torch.tensor(e)).numpy()
    np.testing.assert_allclose(pairwise_distances(e), expected, atol=1e-12)
    cos = torch.nn.functional.cosine_similarity(
        torch.tensor(e)[:, None], torch.tensor(e)[None], dim=-1
    ).numpy()
    np.testing.assert_allclose(
        pairwise_distances(e, metric="cosine"), 1 - cos, atol=1e-12
    )
    with pytest.raises(ValueError, match="metric must be 'euclidean' or 'cosine'"):
        pairwise_distances(e, metric="manhattan")


def test_recall_at_1_by_brute_force():
    rng = np.random.default_rng(1)
    e, labels = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
    hits = 0
    for i in range(30):
        dists = [np.linalg.norm(e[i] - e[j]) if j != i else np.inf for j in range(30)]
        hits += labels[int(np.argmin(dists))] == labels[i]
    assert recall_at_1(e, labels) == pytest.approx(hits / 30)


def test_recall_at_1_cosine_ignores_the_norm():
    e = np.array([[1.0, 0.0], [10.0, 0.5], [0.0, 1.0], [0.2, 5.0]])
    assert recall_at_1(e, [0, 0, 1, 1], metric="cosine") == 1.0
    # in Euclidean distance the short vectors find each other first
    assert recall_at_1(e, [0, 0, 1, 1]) == 0.5
    with pytest.raises(ValueError, match=r"`labels` must have shape \(4,\)"):
        recall_at_1(e, [0, 1])


def test_negative_kinds_at_the_boundaries():
    kinds = negative_kinds(1.0, [0.99, 1.0, 1.49, 1.5, 3.0], margin=0.5)
    assert kinds.tolist() == ["hard", "semi-hard", "semi-hard", "easy", "easy"]


def test_negative_kinds_agree_with_the_triplet_loss():
    rng = np.random.default_rng(2)
    d_pos, d_neg = rng.uniform(0, 2, 200), rng.uniform(0, 2, 200)
    kinds = negative_kinds(d_pos, d_neg, margin=0.5)
    # put the distances on a line: a = 0, p = d_pos, n = -d_neg
    a = np.zeros((200, 1))
    loss = lb.triplet(a, d_pos[:, None], -d_neg[:, None], margin=0.5, reduction="none")
    assert np.all((loss > 0) == (kinds != "easy"))
    assert np.all((loss > 0.5) == (kinds == "hard"))


def test_batch_hard_triplets_by_brute_force():
    rng = np.random.default_rng(3)
    e, labels = rng.standard_normal((20, 2)), rng.integers(0, 4, 20)
    labels[0] = 9  # an anchor without a positive is skipped
    a, p, n = batch_hard_triplets(torch.tensor(e), labels)
    assert 0 not in a.tolist()
    for i, j, k in zip(a, p, n, strict=True):
        d = np.linalg.norm(e - e[i], axis=1)
        same = (labels == labels[i]) & (np.arange(20) != i)
        assert labels[j] == labels[i] and j != i
        assert d[j] == d[same].max()
        assert labels[k] != labels[i]
        assert d[k] == d[labels != labels[i]].min()


# --- training ---------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks: one thread is fastest, and immune to a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_written_out_adam_is_torch_adam():
    nets = [_encoder(4, 8, 2, seed=0), _encoder(4, 8, 2, seed=0)]
    ours = _Adam(list(nets[0].parameters()), 0.01)
    torch_adam = torch.optim.Adam(nets[1].parameters(), lr=0.01)
    x = torch.randn(
        10, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    for _ in range(20):
        for net, opt in zip(nets, (ours, torch_adam), strict=True):
            net.zero_grad()
            (net(x) ** 3).sum().backward()
            opt.step()
    for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_the_encoder_is_torch_default_init_drawn_by_numpy_in_float32():
    net = _encoder(10, 32, 2, seed=3)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(10, 32), (32, 2)]
    for m in linears:
        # torch's reset_parameters: kaiming_uniform(a=sqrt(5)) and the bias both
        # give U(-1/sqrt(fan_in), 1/sqrt(fan_in)); ours must share that support
        bound = 1 / np.sqrt(m.in_features)
        for p in (m.weight, m.bias):
            assert p.dtype == torch.float64
            assert p.abs().max() <= bound
            assert torch.equal(p, p.float().double())  # float32 values
        assert m.weight.abs().max() > 0.8 * bound  # spread over it, not shrunk
    same = list(_encoder(10, 32, 2, seed=3).parameters())
    other = list(_encoder(10, 32, 2, seed=4).parameters())
    for p, q, r in zip(net.parameters(), same, other, strict=True):
        assert torch.equal(p, q) and not torch.equal(p, r)


@pytest.fixture(scope="module")
def data():
    return clusters(20, n_classes=4, dim=5, spread=0.6, seed=0)


@pytest.mark.parametrize("loss", LOSSES)
def test_training_lowers_the_loss_and_separates_the_classes(data, loss):
    X, y = data
    before = recall_at_1(train_embedding(X, y, loss, steps=0).embed(X), y)
    run = train_embedding(X, y, loss, steps=120, per_class=6, seed=1)
    assert len(run.history) == 120
    assert np.mean(run.history[-20:]) < 0.75 * np.mean(run.history[:20])
    after = recall_at_1(run.embed(X), y, metric=run.metric)
    assert after >= 0.9
    assert after >= before
    assert run.metric == ("cosine" if loss == "info_nce" else "euclidean")


def test_training_is_deterministic_and_leaves_the_global_rng_alone(data):
    X, y = data
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = train_embedding(X, y, "contrastive", steps=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = train_embedding(X, y, "contrastive", steps=5)
    assert a.history == b.history
    np.testing.assert_array_equal(a.embed(X), b.embed(X))


@pytest.mark.parametrize("round_weights", [True, False])
def test_training_absorbs_last_bit_differences(data, round_weights):
    # another CPU's BLAS and libm differ from ours in the last bits; batch-hard
    # training amplifies such differences (it is chaotic) unless the weights are
    # rounded to float32 after each step
    X, y = data
    noise = np.random.default_rng(7).standard_normal(X.shape)
    runs = [
        train_embedding(
            X * (1 + eps * noise),
            y,
            "triplet",
            steps=150,
            seed=2,
            round_weights=round_weights,
        )
        for eps in (0.0, 1e-15, 1e-14)
    ]
    for run in runs[1:]:
        pairs = zip(runs[0].model.parameters(), run.model.parameters(), strict=True)
        gap = max((p - q).abs().max().item() for p, q in pairs)
        if round_weights:
            assert gap == 0.0
        else:
            assert gap > 1e-12  # amplified far beyond the 1e-15 perturbation
    for p in runs[0].model.parameters():
        assert torch.equal(p, p.float().double()) == round_weights


def test_the_first_step_loss_is_the_lossbook_loss_of_the_first_batch(data):
    X, y = data
    run = train_embedding(X, y, "triplet", steps=1, per_class=4, margin=0.7, seed=5)
    # redo step 1 by hand: same seed, same batch, the untrained network
    model = train_embedding(X, y, "triplet", steps=0, seed=5).model
    rng = np.random.default_rng(5)
    members = [np.flatnonzero(y == c) for c in np.unique(y)]
    rows = np.stack([rng.choice(m, 4, replace=False) for m in members]).T.ravel()
    emb = model(torch.tensor(X[rows]))
    a, p, n = batch_hard_triplets(emb.detach(), y[rows])
    expected = lb.triplet(emb[a], emb[p], emb[n], margin=0.7)
    assert run.history[0] == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"per_class": 3}, "per_class must be an even integer"),
        ({"per_class": 30}, r"classes \[0, 1, 2, 3\] have fewer"),
    ],
)
def test_training_rejects_bad_arguments(data, kwargs, match):
    X, y = data
    kwargs = {"loss": "triplet", **kwargs}
    with pytest.raises(ValueError, match=match):
        train_embedding(X, y, kwargs.pop("loss"), **kwargs)


# --- several processes --------------------------------------------------------------


def _sum_of_ranks(rank, world_size, offset):
    t = torch.tensor([float(rank + offset)])
    dist.all_reduce(t)
    return {"rank": rank, "world": world_size, "sum": t}


def _fail(rank, world_size):
    raise KeyError(f"rank {rank} of {world_size} fails")


def _sleep(rank, world_size):
    time.sleep(600)


def test_run_on_ranks_returns_each_rank_result_in_order():
    out = run_on_ranks(_sum_of_ranks, 2, args=(10,), timeout=120)
    assert [o["rank"] for o in out] == [0, 1]
    assert all(o["world"] == 2 for o in out)
    for o in out:
        assert isinstance(o["sum"], np.ndarray)  # tensors come back as NumPy
        assert o["sum"].tolist() == [21.0]


def test_run_on_ranks_reports_a_failing_rank_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"rank 0 raised:(.|\n)*rank 0 of 1 fails"):
        run_on_ranks(_fail, 1, timeout=120)


def test_run_on_ranks_stops_at_the_time_limit():
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish within 3"):
        run_on_ranks(_sleep, 1, timeout=3)
    assert time.monotonic() - start < 60  # killed, not waited for


def test_run_on_ranks_rejects_a_bad_world_size():
    with pytest.raises(ValueError, match="world_size must be an integer >= 1"):
        run_on_ranks(_sum_of_ranks, 0)


def test_gathered_step_on_one_rank_is_info_nce():
    # in this process, a group of one: gathered_step is info_nce and its gradient
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        out = gathered_step(0, 1, q, k, 0.5)
    finally:
        dist.destroy_process_group()
    assert out["rows"].tolist() == [0, 1, 2, 3, 4]
    for symmetric in (False, True):
        qt = torch.tensor(q, requires_grad=True)
        loss = lb.info_nce(qt, torch.tensor(k), temperature=0.5, symmetric=symmetric)
        loss.backward()
        assert out[symmetric]["loss"].item() == pytest.approx(loss.item(), rel=1e-12)
        torch.testing.assert_close(out[symmetric]["query_grad"], qt.grad)
