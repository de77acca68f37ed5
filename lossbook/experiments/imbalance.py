"""Class imbalance: a 1:99 data set, a linear model fitted by any loss, and metrics.

- :func:`imbalanced_points`: rare positives among easy and hard negatives, the
  situation of a dense detector's anchors;
- :func:`fit_linear_logits`: a linear score :math:`z = x^\\top w + b` fitted to
  the optimum of any ``lossbook`` loss of logits (L-BFGS, float64);
- :func:`precision_recall_at`, :func:`precision_recall_curve` and
  :func:`average_precision`: the threshold metrics and the threshold-free
  summary that compare the fitted models.

The metrics follow scikit-learn's definitions (``average_precision_score`` is
the step-wise sum :math:`\\sum_k (R_k - R_{k-1}) P_k`, without interpolation)
and are written out here so that the book does not depend on them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "average_precision",
    "fit_linear_logits",
    "imbalanced_points",
    "precision_recall_at",
    "precision_recall_curve",
]


def imbalanced_points(
    n,
    *,
    pos_frac=0.01,
    hard_frac=0.1,
    pos_centre=(2.0, 0.0),
    pos_scale=0.7,
    easy_centre=(3.0, -6.0),
    seed=0,
):
    r"""Rare positives among many easy and a few hard negatives, in the plane.

    Each point is positive with probability ``pos_frac``. Positives are drawn
    from :math:`\mathcal N(\mu_+, s^2 I)`; a share ``hard_frac`` of the
    negatives from :math:`\mathcal N(0, I)`, next to the positives (hard
    negatives), the rest from :math:`\mathcal N(\mu_e, I)`, far away (easy
    negatives, like the background anchors of an image).

    Parameters
    ----------
    n : int
        Number of points.
    pos_frac : float, default 0.01
        Probability that a point is positive (1:99 by default).
    hard_frac : float, default 0.1
        Share of the negatives that are hard.
    pos_centre : tuple of float, default (2.0, 0.0)
        Mean :math:`\mu_+` of the positives.
    pos_scale : float, default 0.7
        Standard deviation :math:`s` of the positives.
    easy_centre : tuple of float, default (3.0, -6.0)
        Mean :math:`\mu_e` of the easy negatives.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    x : numpy.ndarray
        Shape ``(n, 2)``, float64.
    y : numpy.ndarray
        Shape ``(n,)``, float64 labels in {0, 1}.
    hard : numpy.ndarray
        Shape ``(n,)``, boolean: the hard negatives.

    Raises
    ------
    ValueError
        If ``pos_frac`` or ``hard_frac`` is outside [0, 1].

    Examples
    --------
    >>> from lossbook.experiments.imbalance import imbalanced_points
    >>> x, y, hard = imbalanced_points(1000, seed=1)
    >>> x.shape, int(y.sum()), bool((y[hard] == 0).all())
    ((1000, 2), 9, True)
    """
    for name, value in (("pos_frac", pos_frac), ("hard_frac", hard_frac)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos_frac).astype(np.float64)
    hard = (y == 0) & (rng.random(n) < hard_frac)
    easy = (y == 0) & ~hard
    x = rng.standard_normal((n, 2))
    x[y == 1] = pos_scale * x[y == 1] + np.asarray(pos_centre)
    x[easy] += np.asarray(easy_centre)
    return x, y, hard


def fit_linear_logits(features, target, loss, *, max_iter=500, bias_init=None):
    r"""Fit logits :math:`z = x^\top w + b` by minimising ``loss(z, target)``.

    Full-batch L-BFGS with a strong-Wolfe line search, in float64, from
    :math:`w = 0` and, by default, :math:`b` at the log-odds of the positive
    rate (the "prior" start of RetinaNet), so every loss starts from the same
    model and ends at its own optimum.

    Parameters
    ----------
    features : array_like
        Shape ``(..., F)``: one feature vector per example (per pixel for an
        image of shape ``(N, H, W, F)``).
    target : array_like
        Shape ``(...)``: labels in {0, 1}, with both classes present unless
        ``bias_init`` is given.
    loss : callable
        ``loss(logits, target)`` returning a 0-d tensor, e.g.
        ``lambda z, t: lb.focal(z, t, gamma=2.0)``; ``logits`` has the shape
        of ``target``.
    max_iter : int, default 500
        Iterations of L-BFGS.
    bias_init : float, optional
        Starting bias; default :math:`\log(\bar y / (1 - \bar y))`.

    Returns
    -------
    w : numpy.ndarray
        Shape ``(F,)``.
    b : float

    Raises
    ------
    ValueError
        If the shapes do not match, or the prior start is undefined (only one
        class present) and ``bias_init`` is not given.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook.experiments.imbalance import fit_linear_logits
    >>> x = [[-2.0], [-1.0], [1.0], [2.0], [0.5], [-0.5]]
    >>> w, b = fit_linear_logits(x, [0, 0, 1, 1, 0, 1],
    ...                          lb.binary_cross_entropy_with_logits)
    >>> round(float(w[0]), 3), round(b, 3)
    (1.351, 0.0)
    """
    import torch

    f = torch.as_tensor(np.asarray(features, dtype=np.float64))
    t = torch.as_tensor(np.asarray(target, dtype=np.float64))
    if f.ndim < 1 or tuple(f.shape[:-1]) != tuple(t.shape):
        raise ValueError(
            f"features must have shape target.shape + (F,), got features "
            f"{tuple(f.shape)} and target {tuple(t.shape)}"
        )
    if bias_init is None:
        rate = float(t.mean())
        if not 0.0 < rate < 1.0:
            raise ValueError(
                f"the positive rate is {rate!r}: with one class only the prior "
                "start log(rate / (1 - rate)) is undefined; pass bias_init"
            )
        bias_init = float(np.log(rate / (1.0 - rate)))
    w = torch.zeros(f.shape[-1], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(float(bias_init), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = loss(f @ w + b, t)
        value.backward()
        return value

    opt.step(closure)
    return w.detach().numpy().copy(), float(b.detach())


def _scores_labels(scores, labels):
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if s.shape != y.shape:
        raise ValueError(
            f"scores and labels must have the same number of elements, got "
            f"{s.size} and {y.size}"
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return s, y


def precision_recall_at(scores, labels, threshold):
    r"""Precision and recall of the rule "positive where score >= threshold".

    .. math::

        P = \frac{TP}{TP + FP}, \qquad R = \frac{TP}{TP + FN}

    Parameters
    ----------
    scores : array_like
        Any shape; higher means more likely positive (logits or probabilities).
    labels : array_like
        Labels in {0, 1}, as many as ``scores``.
    threshold : float
        Decision threshold on the scores (0 for logits is 0.5 for
        probabilities).

    Returns
    -------
    precision, recall : float
        Precision is 0 when nothing is predicted positive and recall is 0 when
        there are no positives (scikit-learn's ``zero_division=0``).

    Raises
    ------
    ValueError
        If the sizes differ, a label is not 0 or 1, or a score is not finite.

    Examples
    --------
    >>> from lossbook.experiments.imbalance import precision_recall_at
    >>> precision_recall_at([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], 0.5)
    (0.5, 0.5)
    """
    s, y = _scores_labels(scores, labels)
    predicted = s >= threshold
    tp = float(np.sum(predicted & (y == 1)))
    n_pred, n_pos = float(predicted.sum()), float(y.sum())
    return (tp / n_pred if n_pred else 0.0), (tp / n_pos if n_pos else 0.0)


def precision_recall_curve(scores, labels):
    r"""Precision and recall at every distinct score used as the threshold.

    Parameters
    ----------
    scores : array_like
        Any shape.
    labels : array_like
        Labels in {0, 1}, as many as ``scores``, at least one positive.

    Returns
    -------
    precision, recall, thresholds : numpy.ndarray
        The rule "score >= thresholds[k]" has precision ``precision[k]`` and
        recall ``recall[k]``; thresholds decrease, so recall increases.

    Raises
    ------
    ValueError
        If the sizes differ, a label is not 0 or 1, a score is not finite, or
        there is no positive.

    Examples
    --------
    >>> from lossbook.experiments.imbalance import precision_recall_curve
    >>> p, r, t = precision_recall_curve([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
    >>> p.tolist(), r.tolist(), t.tolist()
    ([1.0, 0.5, 0.6666666666666666, 0.5], [0.5, 0.5, 1.0, 1.0], [0.9, 0.8, 0.3, 0.1])
    """
    s, y = _scores_labels(scores, labels)
    n_pos = y.sum()
    if n_pos == 0:
        raise ValueError("labels hold no positive: precision-recall is undefined")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    # the last index of each run of equal scores: a threshold admits ties together
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    tp = np.cumsum(y)[last]
    n_pred = last + 1.0
    return tp / n_pred, tp / n_pos, s[last]


def average_precision(scores, labels):
    r"""Average precision: the area under the step-wise precision-recall curve.

    .. math::

        \mathrm{AP} = \sum_k (R_k - R_{k-1})\, P_k, \qquad R_0 = 0,

    over the thresholds of :func:`precision_recall_curve`; with distinct
    scores it is the mean, over the positives, of the precision at each
    positive's rank. Threshold-free: it depends only on the ranking.

    Parameters
    ----------
    scores : array_like
        Any shape.
    labels : array_like
        Labels in {0, 1}, as many as ``scores``, at least one positive.

    Returns
    -------
    float
        In (0, 1]; equals scikit-learn's ``average_precision_score``.

    Raises
    ------
    ValueError
        As :func:`precision_recall_curve`.

    Examples
    --------
    >>> from lossbook.experiments.imbalance import average_precision
    >>> average_precision([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])  # (1 + 2/3) / 2
    0.8333333333333333
    """
    precision, recall, _ = precision_recall_curve(scores, labels)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))
