"""InfoNCE across processes: negatives gathered from every rank of torch.distributed.

CLIP-scale contrastive training splits a batch of ``W * B`` pairs over ``W``
processes. Each process could compute :func:`~lossbook.metric.info_nce` on its own
``B`` pairs, but then every query sees only ``B - 1`` negatives, and the
bound on the mutual information it estimates tops out at ``log B``.
:func:`gathered_info_nce` all-gathers the keys (and, for the symmetric loss,
the queries) of every rank, so that each query is scored against all
``W * B`` keys, as if the whole batch sat on one machine.

This module needs PyTorch with ``torch.distributed``; it is not imported by
``import lossbook`` (use ``import lossbook.distributed``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from . import _checks, classification, metric
from ._backend import _is_torch, _kind, reduce

__all__ = ["gathered_info_nce"]

# the non-deprecated names of torch >= 2.13, with the older ones as fallback
_all_gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
_reduce_scatter = (
    getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
)

# dtypes sent as small integers in the shape check
_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


class _GatherRows(torch.autograd.Function):
    """All-gather along dim 0 whose backward returns each owner its rows' gradient.

    Forward: rank ``r`` holds ``x_r`` of shape ``(B, D)``; every rank gets the
    concatenation ``(x_0, ..., x_{W-1})`` of shape ``(W B, D)``.
    Backward: rank ``s`` holds ``dL_s/dX`` for the whole gathered tensor; the
    gradient of rank ``r``'s rows is ``sum_s dL_s/dx_r``, the ``r``-th block of
    the sum over ranks: one reduce-scatter (sum), not an all-reduce.
    """

    @staticmethod
    def forward(ctx, x, group, world):
        ctx.group, ctx.world = group, world
        x = x.contiguous()
        out = x.new_empty((world * x.shape[0], *x.shape[1:]))
        _all_gather(out, x, group=group)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad = grad.contiguous()
        mine = grad.new_empty((grad.shape[0] // ctx.world, *grad.shape[1:]))
        _reduce_scatter(mine, grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return mine, None, None


def _gather_rows(x, group, world):
    if world == 1:
        return x  # nothing to gather; keep the graph as it is
    return _GatherRows.apply(x, group, world)


def _process_group(group):
    """``(world, rank)`` of ``group``; a clear error where there is none."""
    if not dist.is_available():
        raise RuntimeError(
            "gathered_info_nce needs torch.distributed, which this PyTorch build "
            "lacks; use lossbook.info_nce on one process"
        )
    if not dist.is_initialized():
        raise RuntimeError(
            "gathered_info_nce needs an initialised process group: call "
            "torch.distributed.init_process_group(...) on every rank first "
            "(on a single process, use lossbook.info_nce)"
        )
    rank = dist.get_rank(group)
    if rank < 0:
        raise ValueError(
            f"this process (global rank {dist.get_rank()}) is not a member of "
            f"`group` {group!r}; pass a group it belongs to, or None for all ranks"
        )
    return dist.get_world_size(group), rank


def _local_inputs(query, key, temperature, symmetric):
    """Check one rank's arguments; return ``(xp, q, k, t)`` or raise."""
    for name, value in (("query", query), ("key", key)):
        if not _is_torch(value):
            raise TypeError(
                f"`{name}` must be a torch.Tensor (torch.distributed moves "
                f"tensors), got {_kind(value)}"
            )
    # the rules of lossbook.info_nce: a positive number, or a positive 0-d
    # tensor (learnable) converted and checked with the embeddings
    learnable = temperature if _is_torch(temperature) else None
    if learnable is None:
        temperature = _checks.hyper("temperature", temperature, "positive")
    _checks.flag("symmetric", symmetric)
    xp, q, k, *t = metric._embeddings(
        "mean", {"query": query, "key": key}, temperature=learnable
    )
    return xp, q, k, (t[0] if t else temperature)


def _agree_across_ranks(query, local_error, group, world, rank):
    """Every rank learns every rank's batch shape and dtype (one tiny all-gather).

    Run before the real all-gathers, whose tensors must have equal shapes on
    every rank: a mismatch would otherwise hang or mix up rows. Each rank
    raises the same error, so none is left waiting in a collective.
    """
    ok = local_error is None
    shape = tuple(query.shape) if ok else (-1, -1)
    code = _DTYPES.index(query.dtype) if ok and query.dtype in _DTYPES else -1
    device = query.device if _is_torch(query) else torch.device("cpu")
    mine = torch.tensor([int(ok), *shape, code], dtype=torch.int64, device=device)
    table = mine.new_empty((world, 4))
    _all_gather(table, mine[None], group=group)
    rows = table.tolist()  # one host transfer of 4 W integers
    if not ok:
        raise local_error
    failed = [r for r, row in enumerate(rows) if not row[0]]
    if failed:
        raise ValueError(
            f"gathered_info_nce: the inputs of rank(s) {failed} were rejected "
            "(see the error raised there); every rank stops"
        )
    shapes = {r: tuple(row[1:3]) for r, row in enumerate(rows)}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            "gathered_info_nce: every rank must pass `query` and `key` of the same "
            f"shape (B, D), got (B, D) per rank {shapes}; pad or drop the last "
            "batch (DataLoader(drop_last=True)) so batch sizes agree"
        )
    dtypes = {r: row[3] for r, row in enumerate(rows)}
    if len(set(dtypes.values())) > 1:
        names = {r: str(_DTYPES[c]) if c >= 0 else "other" for r, c in dtypes.items()}
        raise ValueError(
            f"gathered_info_nce: every rank must pass the same dtype, got {names}"
        )


def gathered_info_nce(query, key, *, temperature=0.07, symmetric=False, group=None):
    r"""InfoNCE whose negatives are the keys of every rank of ``torch.distributed``.

    Rank :math:`r` of :math:`W` holds pairs :math:`(q_i, k_i)`,
    :math:`i \in \mathcal B_r`, :math:`|\mathcal B_r| = B`. The keys of all
    ranks are all-gathered (with gradients), and each local query is
    classified among all :math:`M = W B` keys:

    .. math::

        \ell_i = -\log \frac{\exp(\cos(q_i, k_i)/\tau)}
        {\sum_{j=1}^{M} \exp(\cos(q_i, k_j)/\tau)}, \qquad
        L_r = \frac1B \sum_{i \in \mathcal B_r} \ell_i .

    With ``symmetric=True`` the queries are gathered too and
    :math:`\ell_i` is the mean of the query-to-key and key-to-query terms
    (CLIP). :math:`\ell_i` is exactly the per-pair loss of
    :func:`~lossbook.metric.info_nce` on the concatenated batch of :math:`M` pairs.

    Parameters
    ----------
    query, key : torch.Tensor
        Shape ``(B, D)``, this rank's pairs; ``B``, ``D`` and the dtype must
        agree on every rank of ``group``.
    temperature : float or torch.Tensor, default 0.07
        :math:`\tau > 0`; a 0-d tensor (e.g. a learnable parameter
        replicated on every rank) gets its gradient.
    symmetric : bool, default False
        If True, average the query-to-key and key-to-query losses (CLIP).
    group : torch.distributed.ProcessGroup, optional
        The ranks that share negatives; ``None`` is the default (world) group.

    Returns
    -------
    loss : torch.Tensor
        0-d: :math:`L_r`, the mean loss of this rank's ``B`` queries.

    Raises
    ------
    RuntimeError
        If ``torch.distributed`` is unavailable or not initialised.
    ValueError
        If this process is not in ``group``; if ``B``, ``D`` or the dtype
        differ between ranks (every rank raises, none hangs); if any rank's
        inputs fail the checks of :func:`~lossbook.metric.info_nce` (then that rank
        raises its own error and the others say which rank failed).
    TypeError
        If ``query`` or ``key`` is not a torch tensor.

    Notes
    -----
    **Gradients.** The gathered copy of rank :math:`r`'s rows enters every
    rank's loss, so the backward of the all-gather is a reduce-scatter: rank
    :math:`r` receives :math:`\sum_s \partial L_s / \partial x_r`. The
    single-process loss on the concatenated batch is
    :math:`L = \frac1M \sum_i \ell_i = \frac1W \sum_s L_s`, hence

    .. math::

        g_r = \sum_{s=1}^{W} \frac{\partial L_s}{\partial x_r}
        = W \frac{\partial L}{\partial x_r} :

    the input gradients rank :math:`r` receives are :math:`W` times the
    single-process gradients of its rows (divided by :math:`W`, not
    multiplied, they equal them). DDP averages parameter
    gradients over ranks, dividing by :math:`W`: for encoder weights
    :math:`\theta`, with :math:`J_r` the Jacobian of rank :math:`r`'s rows,
    :math:`\frac1W \sum_r J_r^\top W \partial L / \partial x_r =
    \partial L / \partial \theta`; a replicated temperature gets
    :math:`\partial L_r / \partial \tau` on rank :math:`r`, whose average
    is :math:`\partial L / \partial \tau`. Training with DDP is therefore
    exactly training :func:`~lossbook.metric.info_nce` on the concatenated batch.

    **Cost per step and rank.** :math:`B \times WB` similarities (twice that
    when symmetric) instead of :math:`B \times B`, and the memory of the
    gathered ``(WB, D)`` keys; the all-gather receives :math:`(W-1) B D`
    numbers per gathered tensor and the backward's reduce-scatter sends as
    many. A first all-gather of four integers per rank checks that the
    shapes agree; it synchronises with the host. Every rank must call
    ``backward`` on a loss that uses the result, since the backward is a
    collective too.

    References
    ----------
    .. [1] A. Radford et al., "Learning transferable visual models from
       natural language supervision", *ICML*, 2021.
    .. [2] A. van den Oord, Y. Li and O. Vinyals, "Representation learning
       with contrastive predictive coding", arXiv:1807.03748, 2018.

    Examples
    --------
    On one process (world size 1) it is :func:`~lossbook.metric.info_nce`:

    >>> import torch, torch.distributed as dist
    >>> import lossbook as lb
    >>> from lossbook.distributed import gathered_info_nce
    >>> store = dist.HashStore()
    >>> dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> k = torch.tensor([[1.0, 0.1], [0.2, 1.0], [1.0, 0.8]])
    >>> bool(torch.allclose(gathered_info_nce(q, k), lb.info_nce(q, k)))
    True
    >>> dist.destroy_process_group()
    """
    world, rank = _process_group(group)
    try:
        xp, q, k, t = _local_inputs(query, key, temperature, symmetric)
        local_error = None
    except (TypeError, ValueError) as err:
        local_error = err
    _agree_across_ranks(query, local_error, group, world, rank)

    n = q.shape[0]
    qn, kn = metric._unit_rows(xp, q), metric._unit_rows(xp, k)
    labels = rank * n + torch.arange(n, device=q.device)  # own keys' global rows
    keys = _gather_rows(kn, group, world)  # (W n, D); gradients go back to owners
    loss = classification.cross_entropy(qn @ keys.T / t, labels, reduction="none")
    if symmetric:
        queries = _gather_rows(qn, group, world)
        # column i of the global similarity matrix: key i against every query
        back = classification.cross_entropy(
            kn @ queries.T / t, labels, reduction="none"
        )
        loss = 0.5 * (loss + back)
    return reduce(xp, loss, "mean")
