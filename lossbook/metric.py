"""Metric-learning losses: contrastive (pairs), triplet, InfoNCE (batches).

Embeddings are ``(N, D)`` arrays, one row per sample. Distances are
Euclidean, computed with a finite gradient where two embeddings coincide.
"""

from __future__ import annotations

import numpy as np

from . import _checks, _fast, classification
from ._backend import (
    _is_torch,
    arrays,
    check_not_empty_for_mean,
    check_reduction,
    device,
    reduce,
    stop_gradient,
)

__all__ = ["contrastive", "info_nce", "triplet"]

_NORMALIZE_EPS = 1e-12  # torch.nn.functional.normalize's floor on the norm


def _embeddings(reduction, embeddings, labels=None, temperature=None):
    """The family's checker: equal ``(N, D)`` shapes with ``D >= 1``.

    ``embeddings`` maps names to inputs; ``labels`` (optional) is the pair
    labels ``same`` of shape ``(N,)``; ``temperature`` (optional) a learnable
    scale, a 0-d array or tensor. Returns ``(xp, *embeddings[, labels][,
    temperature])``.
    """
    check_reduction(reduction)
    named = dict(embeddings) if labels is None else {**embeddings, "same": labels}
    if temperature is not None:
        named["temperature"] = temperature
    names = tuple(named)
    xp, *values = arrays(**named, float_args=names[1:])
    first = values[0]
    if first.ndim != 2 or first.shape[1] < 1:
        raise ValueError(
            f"`{names[0]}` must be 2-D (N, D): N embeddings with D >= 1 features, "
            f"got shape {tuple(first.shape)}"
        )
    for name, value in zip(names[1 : len(embeddings)], values[1:], strict=False):
        _checks.same_shape(first, value, (names[0], name))
    if labels is not None:
        same = values[len(embeddings)]
        if tuple(same.shape) != (first.shape[0],):
            raise ValueError(
                f"`same` must have shape (N,) = ({first.shape[0]},), one label per "
                f"pair, got {tuple(same.shape)}"
            )
        _checks.in_set(same, "same", (0.0, 1.0), "pair labels (1 similar, 0 not)")
    if temperature is not None:
        t = values[-1]
        if t.ndim != 0:
            raise ValueError(
                "`temperature` must be a number or a 0-d array or tensor (one "
                f"scale for the batch), got shape {tuple(t.shape)}"
            )
        _checks.positive_values(t, "temperature")
    check_not_empty_for_mean(first, reduction, names[0])
    return xp, *values


def _norm(xp, v):
    """Euclidean norm of each row; finite, with gradient 0, at a zero row."""
    if (fast := _fast.norm(v)) is not None:  # a plain norm where it is exact
        return fast
    # divide by the largest |v_j| first (no overflow or underflow of v^2); held
    # constant for autograd, since m * ||v / m|| = ||v|| for any m > 0
    m = stop_gradient(xp.max(xp.abs(v), axis=-1))
    zero = m == 0  # (a NaN row is not zero: NaN propagates)
    m = xp.where(zero, 1.0, m)
    u = v / m[..., None]
    squares = xp.sum(u * u, axis=-1)
    # double where: sqrt never sees the zero row, so autograd never meets 1/0
    return xp.where(zero, 0.0, m * xp.sqrt(xp.where(zero, 1.0, squares)))


def _contrastive(xp, d, same, margin):
    gap = xp.clip(margin - d, min=0.0)  # hinge on the distance of dissimilar pairs
    return same * d * d + (1 - same) * gap * gap


def contrastive(x1, x2, same, *, margin=1.0, reduction="mean"):
    r"""Contrastive loss on pairs: pull similar pairs together, push others apart.

    .. math::

        \ell_i = s_i\, d_i^2 + (1 - s_i) \max(0,\, m - d_i)^2, \qquad
        d_i = \lVert x^{(1)}_i - x^{(2)}_i \rVert_2

    Parameters
    ----------
    x1, x2 : array_like or torch.Tensor
        Shape ``(N, D)``: the two embeddings of each pair.
    same : array_like or torch.Tensor
        Shape ``(N,)``: 1 for a similar pair, 0 for a dissimilar one.
    margin : float, default 1.0
        :math:`m > 0`: dissimilar pairs farther apart than this cost nothing.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the N per-pair losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``x1`` is not 2-D with at least one feature, the shapes differ,
        ``same`` is not ``(N,)`` or holds values other than 0 and 1,
        ``margin <= 0``, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Conventions differ between papers and libraries; here ``same = 1``
    means *similar*, there is no factor 1/2, and both terms are squared.
    Hadsell, Chopra and LeCun (2006) write
    :math:`(1-Y)\tfrac12 D^2 + Y \tfrac12 \max(0, m - D)^2` with
    :math:`Y = 0` for similar pairs: their loss is ``0.5 * contrastive(x1,
    x2, 1 - Y)``. The distance has gradient 0 (a subgradient) where the two
    embeddings coincide, instead of the NaN of differentiating
    :math:`\sqrt{\cdot}` at 0.

    References
    ----------
    .. [1] R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality reduction by
       learning an invariant mapping", *CVPR*, 2006.

    Examples
    --------
    >>> import lossbook as lb
    >>> x1 = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    >>> x2 = [[0.3, 0.4], [0.3, 0.4], [3.0, 4.0]]
    >>> lb.contrastive(x1, x2, [1, 0, 0], reduction="none")
    array([0.25, 0.25, 0.  ])
    """
    margin = _checks.hyper("margin", margin, "positive")
    xp, a, b, s = _embeddings(reduction, {"x1": x1, "x2": x2}, same)
    return reduce(xp, _contrastive(xp, _norm(xp, a - b), s, margin), reduction)


def _triplet(xp, d_pos, d_neg, margin):
    return xp.clip(d_pos - d_neg + margin, min=0.0)


def triplet(anchor, positive, negative, *, margin=1.0, reduction="mean"):
    r"""Triplet margin loss: the positive must be closer than the negative by a margin.

    .. math::

        \ell_i = \max\big(0,\; d(a_i, p_i) - d(a_i, n_i) + m\big), \qquad
        d(x, y) = \lVert x - y \rVert_2

    Parameters
    ----------
    anchor, positive, negative : array_like or torch.Tensor
        Shape ``(N, D)``: anchors, embeddings of the same identity, and of a
        different one.
    margin : float, default 1.0
        :math:`m > 0`.
    reduction : {"mean", "sum", "none"}, default "mean"
        How the N per-triplet losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``anchor`` is not 2-D with at least one feature, the shapes differ,
        ``margin <= 0``, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed.

    Notes
    -----
    Distances are plain Euclidean, as in FaceNet's formulation up to
    squaring (FaceNet uses squared distances). ``torch.nn.functional.
    triplet_margin_loss`` computes :math:`\lVert x - y + \epsilon \rVert_2`
    with :math:`\epsilon = 10^{-6}` added to every coordinate, so its
    distances differ from these by at most :math:`\epsilon\sqrt{D}` and the
    losses by at most :math:`2\epsilon\sqrt{D}`; with ``eps=0`` it equals
    this function. Coinciding embeddings give a zero (sub)gradient here.
    Triplets that already satisfy the margin contribute 0 loss and 0
    gradient, hence the mining of hard triplets in practice.

    References
    ----------
    .. [1] F. Schroff, D. Kalenichenko and J. Philbin, "FaceNet: a unified
       embedding for face recognition and clustering", *CVPR*, 2015.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.triplet([[0.0, 0.0]], [[3.0, 4.0]], [[0.0, 5.5]], reduction="none")
    array([0.5])
    """
    margin = _checks.hyper("margin", margin, "positive")
    xp, a, p, n = _embeddings(
        reduction, {"anchor": anchor, "positive": positive, "negative": negative}
    )
    loss = _triplet(xp, _norm(xp, a - p), _norm(xp, a - n), margin)
    return reduce(xp, loss, reduction)


def _unit_rows(xp, v):
    # torch.nn.functional.normalize: divide by max(norm, 1e-12), so a zero row
    # stays zero instead of 0/0
    return v / xp.clip(_norm(xp, v), min=_NORMALIZE_EPS)[..., None]


def info_nce(query, key, *, temperature=0.07, symmetric=False, reduction="mean"):
    r"""InfoNCE: classify each query's own key among all keys of the batch.

    .. math::

        \ell_i = -\log \frac{\exp(\cos(q_i, k_i) / \tau)}
        {\sum_{j=1}^N \exp(\cos(q_i, k_j) / \tau)}

    i.e. softmax cross-entropy of the similarity matrix
    :math:`S_{ij} = \cos(q_i, k_j)/\tau` with the diagonal as the correct
    class; the other :math:`N-1` keys of the batch are the negatives.

    Parameters
    ----------
    query, key : array_like or torch.Tensor
        Shape ``(N, D)``: row ``i`` of ``key`` is the positive for row ``i``
        of ``query`` (two views, or image and text).
    temperature : float or array_like or torch.Tensor, default 0.07
        :math:`\tau > 0`; small values sharpen the softmax over negatives. A
        number, or a 0-d array (a tensor for torch inputs): a learnable
        temperature, to which gradients flow (CLIP learns
        :math:`\log(1/\tau)` and passes ``1 / logit_scale.exp()``).
    symmetric : bool, default False
        If True, average the query-to-key and key-to-query losses of each
        pair (CLIP's loss).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the N per-query losses are combined.

    Returns
    -------
    loss : numpy.ndarray or torch.Tensor
        0-d when reduced, else shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``query`` is not 2-D with at least one feature, the shapes differ,
        ``temperature`` is not positive and finite or not 0-d, ``symmetric``
        is not a bool, ``reduction`` is unknown, or the input is empty with
        ``reduction="mean"``.
    TypeError
        If NumPy and torch inputs are mixed (``temperature`` included), or
        ``symmetric`` is an array or a tensor (pass a Python bool).

    Notes
    -----
    Rows are normalised as ``torch.nn.functional.normalize`` does, and the
    cross-entropy is :func:`~lossbook.classification.cross_entropy` (a log-sum-exp that
    cannot overflow), so the loss equals ``F.cross_entropy(qn @ kn.T / t,
    torch.arange(N))``. The minimum over the similarities, :math:`\log N`
    at uniform similarity and 0 only in the limit, is why
    :math:`\log N - \mathcal L` lower-bounds the mutual information of
    the views. CLIP learns :math:`1/\tau`; MoCo/SimCLR use one-directional
    variants with extra negatives.

    References
    ----------
    .. [1] A. van den Oord, Y. Li and O. Vinyals, "Representation learning
       with contrastive predictive coding", arXiv:1807.03748, 2018.
    .. [2] A. Radford et al., "Learning transferable visual models from
       natural language supervision", *ICML*, 2021.

    Examples
    --------
    >>> import lossbook as lb
    >>> q = [[1.0, 0.0], [0.0, 1.0]]
    >>> lb.info_nce(q, q, temperature=1.0, reduction="none")
    array([0.31326169, 0.31326169])
    """
    if _is_torch(temperature) or isinstance(temperature, (np.ndarray, list, tuple)):
        learnable = temperature  # checked and converted with the embeddings
    else:
        learnable = None
        temperature = _checks.hyper("temperature", temperature, "positive")
    _checks.flag("symmetric", symmetric)
    xp, q, k, *t = _embeddings(
        reduction, {"query": query, "key": key}, temperature=learnable
    )
    if t:
        (temperature,) = t
    n = q.shape[0]
    if n == 0:
        # an empty batch has no similarity matrix; sum over D keeps the graph
        return reduce(xp, xp.sum(q * k, axis=-1), reduction)
    sim = xp.matmul(_unit_rows(xp, q), xp.permute_dims(_unit_rows(xp, k), (1, 0)))
    logits = sim / temperature
    labels = xp.arange(n, device=device(q))
    loss = classification.cross_entropy(logits, labels, reduction="none")
    if symmetric:
        back = xp.permute_dims(logits, (1, 0))  # keys classify their queries
        loss = 0.5 * (
            loss + classification.cross_entropy(back, labels, reduction="none")
        )
    return reduce(xp, loss, reduction)
