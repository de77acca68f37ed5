"""The metric-learning experiments: clusters, a 2-D embedding, mining, retrieval.

- :func:`clusters`: seeded Gaussian clusters in a few dimensions, the data.
- :func:`train_embedding`: a small network trained to a 2-D embedding with
  :func:`~lossbook.metric.contrastive`, :func:`~lossbook.metric.triplet`
  (batch-hard mining) or :func:`~lossbook.metric.info_nce`, on the same
  class-balanced batches.
- :func:`negative_kinds` and :func:`batch_hard_triplets`: FaceNet's easy,
  semi-hard and hard negatives, and the hardest triplet of each anchor.
- :func:`recall_at_1`: leave-one-out nearest-neighbour retrieval.
- :func:`run_on_ranks` and :func:`gathered_step`: run a function on a few
  local ``gloo`` processes, here :func:`lossbook.distributed.gathered_info_nce`.

Everything is deterministic given its ``seed`` and runs in seconds on a CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import torch

from ..metric import contrastive, info_nce, triplet

__all__ = [
    "LOSSES",
    "EmbeddingRun",
    "batch_hard_triplets",
    "clusters",
    "gathered_step",
    "negative_kinds",
    "pairwise_distances",
    "recall_at_1",
    "run_on_ranks",
    "train_embedding",
]

#: The losses :func:`train_embedding` knows.
LOSSES = ("contrastive", "triplet", "info_nce")


def clusters(n_per_class=40, *, n_classes=6, dim=6, spread=1.0, seed=0):
    r"""Gaussian clusters whose means sit at random in ``dim`` dimensions.

    .. math::

        x = \mu_c + \sigma \varepsilon, \qquad \mu_c \sim \mathcal N(0, I),
        \quad \varepsilon \sim \mathcal N(0, I)

    The means are drawn from ``seed`` alone, the points from ``(seed, n)``:
    two calls with the same ``seed`` and different ``n_per_class`` share the
    clusters, which is how the book draws a training and a held-out set.

    Parameters
    ----------
    n_per_class : int, default 40
        Points per class.
    n_classes : int, default 6
        Number of clusters (classes).
    dim : int, default 6
        Input dimension.
    spread : float, default 1.0
        :math:`\sigma`, the within-class standard deviation (the means have
        unit variance per coordinate).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    X : numpy.ndarray
        Shape ``(n_classes * n_per_class, dim)``, float64.
    y : numpy.ndarray
        Shape ``(n_classes * n_per_class,)``, int64 class labels, sorted.

    Raises
    ------
    ValueError
        If a count is below 1 (below 2 for ``n_classes``) or ``spread <= 0``.

    Examples
    --------
    >>> from lossbook.experiments.embedding import clusters
    >>> X, y = clusters(3, n_classes=2, dim=4)
    >>> X.shape, y.tolist()
    ((6, 4), [0, 0, 0, 1, 1, 1])
    """
    for name, value, low in (
        ("n_per_class", n_per_class, 1),
        ("n_classes", n_classes, 2),
        ("dim", dim, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not spread > 0:
        raise ValueError(f"spread must be a positive number (> 0), got {spread!r}")
    means = np.random.default_rng(seed).standard_normal((n_classes, dim))
    rng = np.random.default_rng([seed, n_per_class])
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    X = means[y] + spread * rng.standard_normal((y.size, dim))
    return X, y


def pairwise_distances(emb, *, metric="euclidean"):
    """All pairwise distances between the rows of ``emb`` (NumPy, float64).

    Parameters
    ----------
    emb : array_like or torch.Tensor
        Shape ``(N, D)``; a tensor is detached.
    metric : {"euclidean", "cosine"}, default "euclidean"
        ``"cosine"`` is :math:`1 - \\cos`, the distance InfoNCE's
        similarity induces.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, N)``.

    Examples
    --------
    >>> from lossbook.experiments.embedding import pairwise_distances
    >>> pairwise_distances([[0.0, 0.0], [3.0, 4.0]]).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    e = _numpy(emb)
    if e.ndim != 2:
        raise ValueError(f"`emb` must be 2-D (N, D), got shape {e.shape}")
    if metric == "cosine":
        u = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        return np.clip(1.0 - u @ u.T, 0.0, 2.0)
    if metric != "euclidean":
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
    # differences, not the |a|^2 + |b|^2 - 2ab expansion: no cancellation
    return np.sqrt(((e[:, None, :] - e[None, :, :]) ** 2).sum(axis=-1))


def recall_at_1(emb, labels, *, metric="euclidean"):
    """Leave-one-out recall@1: how often a point's nearest other point shares its class.

    Parameters
    ----------
    emb : array_like or torch.Tensor
        Shape ``(N, D)``, the embedded query set (each point queries all
        the others).
    labels : array_like
        Shape ``(N,)``, class labels.
    metric : {"euclidean", "cosine"}, default "euclidean"
        The distance used for retrieval.

    Returns
    -------
    float
        The fraction of points whose nearest neighbour has their label.

    Examples
    --------
    >>> from lossbook.experiments.embedding import recall_at_1
    >>> recall_at_1([[0.0], [0.1], [5.0], [5.2], [0.2]], [0, 0, 1, 1, 1])
    0.8
    """
    d = pairwise_distances(emb, metric=metric)
    labels = _numpy(labels)
    if labels.shape != (d.shape[0],):
        raise ValueError(
            f"`labels` must have shape ({d.shape[0]},), got {labels.shape}"
        )
    np.fill_diagonal(d, np.inf)  # a point does not retrieve itself
    return float(np.mean(labels[np.argmin(d, axis=1)] == labels))


def negative_kinds(d_pos, d_neg, *, margin=1.0):
    r"""Classify negatives as FaceNet does: easy, semi-hard or hard.

    For an anchor with positive at distance :math:`d_p` and a negative at
    :math:`d_n`:

    - hard: :math:`d_n < d_p` (the negative is closer than the positive);
    - semi-hard: :math:`d_p \le d_n < d_p + m` (right order, inside the margin);
    - easy: :math:`d_n \ge d_p + m` (zero loss and zero gradient).

    Parameters
    ----------
    d_pos : float or array_like
        Anchor-positive distance(s).
    d_neg : array_like
        Anchor-negative distances (broadcast against ``d_pos``).
    margin : float, default 1.0
        The triplet margin :math:`m`.

    Returns
    -------
    numpy.ndarray
        Strings ``"easy"``, ``"semi-hard"`` or ``"hard"``, one per negative.

    Examples
    --------
    >>> from lossbook.experiments.embedding import negative_kinds
    >>> negative_kinds(1.0, [0.5, 1.5, 2.5], margin=1.0).tolist()
    ['hard', 'semi-hard', 'easy']
    """
    d_pos, d_neg = np.asarray(d_pos, dtype=float), np.asarray(d_neg, dtype=float)
    return np.where(
        d_neg < d_pos, "hard", np.where(d_neg < d_pos + margin, "semi-hard", "easy")
    )


def batch_hard_triplets(emb, labels):
    """Batch-hard mining: each anchor's farthest positive and nearest negative.

    Anchors without a positive or without a negative in the batch are
    skipped. Distances are computed on detached values: mining chooses
    indices, the loss on the chosen rows carries the gradient.

    Parameters
    ----------
    emb : array_like or torch.Tensor
        Shape ``(N, D)``, the batch's embeddings.
    labels : array_like
        Shape ``(N,)``, class labels.

    Returns
    -------
    anchor, positive, negative : numpy.ndarray
        Int64 index arrays of equal length, one triplet per usable anchor.

    Examples
    --------
    >>> from lossbook.experiments.embedding import batch_hard_triplets
    >>> emb = [[0.0], [1.0], [3.0], [1.5], [9.0]]
    >>> a, p, n = batch_hard_triplets(emb, [0, 0, 0, 1, 1])
    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 1, 2, 3, 4], [2, 2, 0, 4, 3], [3, 3, 3, 1, 2])
    """
    d = pairwise_distances(emb)
    labels = _numpy(labels)
    same = labels[:, None] == labels[None, :]
    other = ~same
    np.fill_diagonal(same, False)  # an anchor is not its own positive
    usable = same.any(axis=1) & other.any(axis=1)
    anchor = np.flatnonzero(usable)
    positive = np.argmax(np.where(same, d, -np.inf), axis=1)[anchor]
    negative = np.argmin(np.where(other, d, np.inf), axis=1)[anchor]
    return anchor, positive, negative


@dataclass
class EmbeddingRun:
    """A trained embedding: the network and its training record.

    Attributes
    ----------
    loss : str
        One of :data:`LOSSES`.
    model : torch.nn.Module
        Maps ``(N, dim)`` inputs to ``(N, 2)`` embeddings (float64).
    history : list of float
        The training loss at every step.
    metric : str
        The retrieval distance that matches the loss: ``"cosine"`` for
        InfoNCE, ``"euclidean"`` otherwise.
    """

    loss: str
    model: object
    history: list = field(default_factory=list)
    metric: str = "euclidean"

    def embed(self, X):
        """The embedding of ``X`` as a NumPy array."""
        with torch.no_grad():
            return self.model(torch.as_tensor(X, dtype=torch.float64)).numpy()


def _encoder(dim, hidden, out_dim, seed):
    """``Linear - tanh - Linear`` in float64, initialised from NumPy's generator.

    PyTorch's default initialisation of ``nn.Linear`` (weights and biases
    uniform on +-1/sqrt(fan_in)), drawn with :func:`numpy.random.default_rng`
    instead of torch's generator: torch's ``uniform_`` rounds differently on
    different CPUs (its vectorised and scalar kernels differ in the last bit
    of float32), NumPy's integer-based draws do not. The values are rounded to
    float32, the precision training keeps. Torch's global RNG is not touched.
    """
    rng = np.random.default_rng([seed, 0x5EED])  # not the batch generator's stream
    layers = []
    for n_in, n_out in ((dim, hidden), (hidden, out_dim)):
        layer = torch.nn.utils.skip_init(
            torch.nn.Linear, n_in, n_out, dtype=torch.float64
        )
        bound = 1.0 / np.sqrt(n_in)
        with torch.no_grad():
            for p in (layer.weight, layer.bias):
                values = rng.uniform(-bound, bound, tuple(p.shape))
                p.copy_(torch.from_numpy(values.astype(np.float32)))
        layers.append(layer)
    return torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1])


class _Adam:
    """Adam (Kingma and Ba, 2015) with the defaults of ``torch.optim.Adam``.

    Written out because ``torch.optim`` imports ``torch._dynamo`` on first use,
    which costs seconds, more than this whole training run.
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            m.lerp_(p.grad, 1 - b1)  # m = b1 m + (1 - b1) g
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v / (1 - b2**self.t)).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / (1 - b1**self.t))


def _batch_loss(name, emb, labels, groups, *, margin, temperature):
    """The loss of one class-balanced batch (``groups``: (K, C) row indices)."""
    if name == "contrastive":
        i, j = np.triu_indices(len(labels), k=1)  # each pair once
        same = torch.as_tensor(labels[i] == labels[j], dtype=emb.dtype)
        return contrastive(emb[i], emb[j], same, margin=margin)
    if name == "triplet":
        a, p, n = batch_hard_triplets(emb.detach(), labels)
        return triplet(emb[a], emb[p], emb[n], margin=margin)
    # InfoNCE: rows 2g and 2g+1 of `groups` hold one point per class; each
    # pair of rows is a batch whose negatives all come from other classes
    losses = [
        info_nce(emb[groups[g]], emb[groups[g + 1]], temperature=temperature)
        for g in range(0, groups.shape[0] - 1, 2)
    ]
    return torch.stack(losses).mean()


def train_embedding(
    X,
    y,
    loss,
    *,
    steps=300,
    per_class=8,
    lr=0.01,
    margin=1.0,
    temperature=0.1,
    hidden=32,
    seed=0,
    round_weights=True,
):
    r"""Train a small network to a 2-D embedding under one metric-learning loss.

    The network is ``Linear(dim, hidden) - tanh - Linear(hidden, 2)`` in
    float64, initialised from ``seed`` (the same start for every loss), and
    trained by Adam. Every step draws ``per_class`` points of each class
    (a class-balanced batch, the same batches for every loss) and applies

    - ``"contrastive"``: :func:`~lossbook.metric.contrastive` on every pair of the
      batch, ``same`` = equal labels;
    - ``"triplet"``: :func:`~lossbook.metric.triplet` on the batch-hard triplets of
      :func:`batch_hard_triplets`;
    - ``"info_nce"``: :func:`~lossbook.metric.info_nce` on pairs of points of the
      same class, one pair per class in each InfoNCE batch, so the negatives
      are never of the query's class (``per_class / 2`` InfoNCE batches per
      step, averaged).

    Parameters
    ----------
    X : array_like
        Shape ``(N, dim)``, the training inputs.
    y : array_like
        Shape ``(N,)``, integer class labels, every class with at least
        ``per_class`` points.
    loss : {"contrastive", "triplet", "info_nce"}
        The loss to train with.
    steps : int, default 300
        Adam steps.
    per_class : int, default 8
        Points of each class per batch (even, at least 2).
    lr : float, default 0.01
        Adam's learning rate.
    margin : float, default 1.0
        The margin of the contrastive and triplet losses.
    temperature : float, default 0.1
        InfoNCE's temperature.
    hidden : int, default 32
        Width of the hidden layer.
    seed : int, default 0
        Seeds the initial weights and the batches.
    round_weights : bool, default True
        Keep the weights at float32 precision after every step (see Notes);
        False trains in plain float64.

    Returns
    -------
    EmbeddingRun

    Raises
    ------
    ValueError
        If ``loss`` is unknown, ``per_class`` is odd or below 2, or a class has
        fewer than ``per_class`` points.

    Notes
    -----
    The network computes in float64, but by default its weights are rounded to
    float32 after every Adam step. Two CPUs (or BLAS builds) differ in the last
    bits of float64 arithmetic, and training with batch-hard mining is chaotic:
    in plain float64 such differences grow until the trained embeddings, and
    their recall@1, differ. Rounding absorbs them (unless a weight sits within
    a few float64 ulps of a float32 rounding boundary, which is very rare), so
    a run is the same on every machine. The initial weights are drawn with
    NumPy for the same reason.

    Examples
    --------
    >>> from lossbook.experiments.embedding import clusters, train_embedding
    >>> X, y = clusters(10, n_classes=3)
    >>> run = train_embedding(X, y, "triplet", steps=5)
    >>> run.embed(X).shape, len(run.history)
    ((30, 2), 5)
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not isinstance(per_class, int) or per_class < 2 or per_class % 2:
        raise ValueError(f"per_class must be an even integer >= 2, got {per_class!r}")
    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    y = _numpy(y).astype(np.int64)
    classes = np.unique(y)
    members = [np.flatnonzero(y == c) for c in classes]
    small = [
        int(c) for c, m in zip(classes, members, strict=True) if m.size < per_class
    ]
    if small:
        raise ValueError(
            f"every class needs at least per_class={per_class} points; "
            f"classes {small} have fewer"
        )
    model = _encoder(X.shape[1], hidden, 2, seed)
    adam = _Adam(list(model.parameters()), lr)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(steps):
        # (per_class, C): row g holds one point of every class
        groups = np.stack([rng.choice(m, per_class, replace=False) for m in members])
        groups = groups.T
        rows = groups.ravel()
        labels = y[rows]
        local = np.arange(rows.size).reshape(groups.shape)  # positions in the batch
        emb = model(X[rows])
        value = _batch_loss(
            loss, emb, labels, local, margin=margin, temperature=temperature
        )
        model.zero_grad()
        value.backward()
        adam.step()
        if round_weights:
            with torch.no_grad():
                for p in adam.params:
                    # computed in float64, kept at float32 precision: rounding
                    # absorbs the last-bit differences between CPUs' BLAS and
                    # libm, which chaotic (batch-hard) training would amplify
                    p.copy_(p.float())
        history.append(float(value.detach()))
    metric = "cosine" if loss == "info_nce" else "euclidean"
    return EmbeddingRun(loss, model, history, metric)


# --- several processes: torch.distributed on the local machine ----------------


def _free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _context(fn):
    """A fork server that has imported torch, where there is one; else spawn.

    Spawning imports torch afresh in every rank (seconds of CPU each); the fork
    server imports it once (and ``fn``'s module, on its first use), then forks
    each rank from that clean process, with no threads running, so forking is
    safe. The server lives as long as this process and serves later calls.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    preload = ["torch", "torch.distributed", __name__]
    if fn.__module__ != "__main__":
        preload.append(fn.__module__)
    ctx.set_forkserver_preload(preload)  # no effect once the server runs
    return ctx


def _to_numpy_tree(value):
    """Tensors (at any depth of dicts, lists, tuples) become NumPy arrays."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_numpy_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_numpy_tree(v) for v in value)
    return value


def _rank_main(fn, rank, world_size, port, args, results, timeout):
    """One spawned rank: join the gloo group, run ``fn``, report to ``results``."""
    try:
        if sys.platform.startswith("linux"):
            os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # stay on loopback
        import torch.distributed as dist

        torch.set_num_threads(1)
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout),
        )
        try:
            out = fn(rank, world_size, *args)
        finally:
            dist.destroy_process_group()
        results.put((rank, True, _to_numpy_tree(out)))
    except BaseException:  # report everything, the parent decides
        results.put((rank, False, traceback.format_exc()))


def run_on_ranks(fn, world_size, *, args=(), timeout=60.0):
    """Run ``fn(rank, world_size, *args)`` on ``world_size`` local gloo processes.

    Each process is forked from a server that has imported torch (``spawn``
    where there is no fork server), joins a ``gloo`` process group on
    127.0.0.1 (a free port), calls ``fn`` and sends back its result, with
    tensors converted to NumPy arrays. Nothing runs longer than ``timeout``
    seconds: then every process is killed and ``TimeoutError`` raised.

    Parameters
    ----------
    fn : callable
        A module-level function (each rank imports it by name), returning
        something picklable.
    world_size : int
        Number of processes (ranks), at least 1.
    args : tuple, default ()
        Extra positional arguments for ``fn`` (picklable).
    timeout : float, default 60.0
        Seconds for the whole run, also the process group's timeout.

    Returns
    -------
    list
        ``fn``'s result on each rank, in rank order.

    Raises
    ------
    RuntimeError
        If a rank raised (the message holds its traceback) or died.
    TimeoutError
        If the ranks did not all finish within ``timeout`` seconds.
    ValueError
        If ``world_size < 1``.
    """
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be an integer >= 1, got {world_size!r}")
    ctx = _context(fn)
    results = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(
            target=_rank_main,
            args=(fn, rank, world_size, port, tuple(args), results, timeout),
            daemon=True,
        )
        for rank in range(world_size)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    done = {}
    try:
        while len(done) < world_size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"run_on_ranks: ranks {sorted(set(range(world_size)) - set(done))}"
                    f" did not finish within {timeout} s"
                )
            try:
                rank, ok, payload = results.get(timeout=min(left, 0.5))
            except queue.Empty:
                dead = [
                    r
                    for r, p in enumerate(procs)
                    if r not in done and p.exitcode not in (None, 0)
                ]
                if dead:
                    raise RuntimeError(
                        f"run_on_ranks: rank {dead[0]} died with exit code "
                        f"{procs[dead[0]].exitcode} before reporting"
                    ) from None
                continue
            if not ok:
                raise RuntimeError(f"run_on_ranks: rank {rank} raised:\n{payload}")
            done[rank] = payload
    finally:
        for p in procs:
            p.join(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
            if p.is_alive():
                p.kill()
                p.join()
        results.close()
    return [done[r] for r in range(world_size)]


def gathered_step(rank, world_size, query, key, temperature):
    """One rank's share of a batch: gathered InfoNCE losses and input gradients.

    Rank ``r`` takes rows ``r B, ..., r B + B - 1`` of the global ``query``
    and ``key`` (``B = N / world_size``), computes
    :func:`lossbook.distributed.gathered_info_nce`, one-directional and
    symmetric, and backpropagates each. Meant for :func:`run_on_ranks`.

    Returns
    -------
    dict
        ``rows`` (this rank's global row indices) and, for ``symmetric`` in
        ``(False, True)``, a dict with ``loss`` (0-d), ``query_grad`` and
        ``key_grad`` (``(B, D)`` each).
    """
    from ..distributed import gathered_info_nce

    n = len(query) // world_size
    rows = np.arange(rank * n, (rank + 1) * n)
    out = {"rows": rows}
    for symmetric in (False, True):
        q = torch.tensor(np.asarray(query)[rows], requires_grad=True)
        k = torch.tensor(np.asarray(key)[rows], requires_grad=True)
        loss = gathered_info_nce(q, k, temperature=temperature, symmetric=symmetric)
        loss.backward()
        out[symmetric] = {"loss": loss, "query_grad": q.grad, "key_grad": k.grad}
    return out


def _numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)
