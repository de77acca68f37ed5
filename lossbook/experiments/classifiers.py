"""Two small classifiers that show classification losses at work.

- :func:`fit_linear_svm`: a linear support-vector machine, trained by
  subgradient descent on the mean hinge loss plus an L2 penalty.
- :func:`adaboost`: AdaBoost with decision stumps, written as what it is,
  stagewise minimisation of the exponential loss: each round's example weights
  are the exponential losses of the current ensemble.

Both run on NumPy arrays, are deterministic (no random numbers), and are meant
for the book's toy data sets of a few hundred points, not for production.
Their losses and gradients come from :mod:`lossbook`, so the classifiers use
exactly the functions the book derives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _checks, grad
from ..classification import exponential, hinge
from ..weighting import l2_penalty

__all__ = [
    "AdaBoost",
    "LinearSVM",
    "Stump",
    "adaboost",
    "fit_linear_svm",
    "fit_stump",
    "svm_objective",
]

_ERR_FLOOR = 1e-10  # a perfect stump would get an infinite vote; cap it near 11.5


# --- input checks ---


def _features(X):
    """``X`` as a finite float64 array of shape (N, D) with N >= 1."""
    X = np.asarray(X, dtype=np.float64)
    _checks.ndim(X, "X", 2, "(N, D): N samples of D features")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"`X` must hold at least one sample and one feature, got {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("`X` must be finite, found a NaN or an infinity")
    return X


def _labels(y, n):
    """Signed labels as float64 of shape (n,), each -1 or +1."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(
            f"`y` must have shape (N,) = ({n},), one label per row of X, got {y.shape}"
        )
    _checks.in_set(y, "y", (-1.0, 1.0), "signed labels")
    return y


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- linear SVM ---


@dataclass(frozen=True)
class LinearSVM:
    r"""A linear classifier :math:`f(x) = w^\top x + b`, from :func:`fit_linear_svm`.

    Attributes
    ----------
    w : numpy.ndarray
        Weights, shape ``(D,)``.
    b : float
        Bias (not penalised).
    lam : float
        The L2 strength :math:`\lambda` it was trained with.
    objective : numpy.ndarray
        The objective :func:`svm_objective` at every iterate, shape
        ``(steps + 1,)``; the returned ``(w, b)`` is the iterate with the
        smallest value, ``objective.min()``.
    """

    w: np.ndarray
    b: float
    lam: float
    objective: np.ndarray

    def decision_function(self, X):
        """Scores :math:`f(x) = w^\\top x + b`, shape ``(N,)``."""
        return _features(X) @ self.w + self.b

    def predict(self, X):
        """Signed labels: +1 where :math:`f(x) \\ge 0`, else -1 (float64)."""
        return np.where(self.decision_function(X) >= 0, 1.0, -1.0)

    @property
    def margin(self):
        r"""Half-width :math:`1/\lVert w \rVert` of the band :math:`|f(x)| < 1`."""
        return 1.0 / float(np.linalg.norm(self.w))

    def geometric_margin(self, X, y):
        r"""Smallest signed distance :math:`\min_i y_i f(x_i) / \lVert w \rVert`.

        Positive if and only if every point is on its correct side.
        """
        X = _features(X)
        y = _labels(y, X.shape[0])
        return float(np.min(y * self.decision_function(X))) / float(
            np.linalg.norm(self.w)
        )


def svm_objective(w, b, X, y, *, lam):
    r"""The soft-margin SVM objective: mean hinge loss plus an L2 penalty on ``w``.

    .. math::

        J(w, b) = \frac1N \sum_{i=1}^N \max\big(0,\, 1 - y_i (w^\top x_i + b)\big)
        + \lambda \lVert w \rVert^2

    Parameters
    ----------
    w : array_like
        Weights, shape ``(D,)``.
    b : float
        Bias.
    X : array_like
        Features, shape ``(N, D)``.
    y : array_like
        Signed labels in {-1, +1}, shape ``(N,)``.
    lam : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    float
        :math:`J(w, b)`.

    Examples
    --------
    >>> from lossbook.experiments.classifiers import svm_objective
    >>> svm_objective([1.0, 0.0], 0.0, [[2.0, 0.0], [0.5, 1.0]], [1, 1], lam=0.1)
    0.35
    """
    X = _features(X)
    y = _labels(y, X.shape[0])
    w = np.asarray(w, dtype=np.float64)
    return float(hinge(X @ w + b, y)) + float(l2_penalty(w, lam=lam))


def fit_linear_svm(X, y, *, lam=0.01, steps=1000):
    r"""Train a linear SVM by subgradient descent on :func:`svm_objective`.

    Parameters
    ----------
    X : array_like
        Features, shape ``(N, D)``.
    y : array_like
        Signed labels in {-1, +1}, shape ``(N,)``.
    lam : float, default 0.01
        Penalty strength :math:`\lambda > 0`; small values approach the
        hard-margin SVM on separable data.
    steps : int, default 1000
        Number of full-batch subgradient steps.

    Returns
    -------
    LinearSVM
        The iterate with the smallest objective, and the objective history.

    Raises
    ------
    ValueError
        If ``X`` is not a finite (N, D) array, ``y`` is not (N,) with values
        in {-1, +1}, ``lam <= 0`` or ``steps`` is not a positive integer.

    Notes
    -----
    Starting from :math:`w = 0, b = 0`, step :math:`t` moves against the
    subgradient

    .. math::

        g_w = \sum_i \frac{\partial \ell}{\partial s_i} x_i + 2\lambda w, \qquad
        g_b = \sum_i \frac{\partial \ell}{\partial s_i},

    with the per-score hinge gradients of :func:`lossbook.grad.hinge` (which
    include the 1/N of the mean), by the step size :math:`\eta_t =
    1/(2\lambda t)` of Pegasos [2]_. That step is tuned to a
    :math:`2\lambda`-strongly convex objective, which this one is in
    :math:`w` only: the bias :math:`b` is not penalised, and along :math:`b`
    the objective is piecewise linear, not strongly convex, so Pegasos's
    convergence rate does not cover it (the Pegasos analysis has no bias;
    its authors suggest penalising it as an extra weight instead). On the
    book's data the best iterate still comes within a fraction of a percent
    of the minimum (the tests compare it with a quadratic-programming
    solution). A subgradient step need not decrease the objective, so the
    best iterate is returned.

    References
    ----------
    .. [1] C. Cortes and V. Vapnik, "Support-vector networks", *Machine
       Learning* 20(3), 273-297, 1995.
    .. [2] S. Shalev-Shwartz, Y. Singer, N. Srebro and A. Cotter, "Pegasos:
       primal estimated sub-gradient solver for SVM", *Mathematical
       Programming* 127(1), 3-30, 2011.

    Examples
    --------
    >>> from lossbook.experiments.classifiers import fit_linear_svm
    >>> X = [[-2.0, 0.0], [-1.0, 1.0], [1.0, -1.0], [2.0, 0.0]]
    >>> svm = fit_linear_svm(X, [-1, -1, 1, 1], lam=0.01, steps=200)
    >>> svm.predict(X).tolist()
    [-1.0, -1.0, 1.0, 1.0]
    >>> bool(svm.objective.min() < svm.objective[0])
    True
    """
    X = _features(X)
    y = _labels(y, X.shape[0])
    lam = _checks.hyper("lam", lam, "positive")
    steps = _positive_int("steps", steps)
    w = np.zeros(X.shape[1])
    b = 0.0
    history = np.empty(steps + 1)
    best = (math.inf, w, b)
    for t in range(steps + 1):
        scores = X @ w + b
        history[t] = float(hinge(scores, y)) + float(l2_penalty(w, lam=lam))
        if history[t] < best[0]:
            best = (history[t], w, b)
        if t == steps:
            break
        g = grad.hinge(scores, y)  # d(mean hinge)/d(score_i), 1/N included
        eta = 1.0 / (2.0 * lam * (t + 1))
        w = w - eta * (X.T @ g + 2.0 * lam * w)
        b = b - eta * float(np.sum(g))
    return LinearSVM(w=best[1], b=float(best[2]), lam=lam, objective=history)


# --- AdaBoost with decision stumps ---


@dataclass(frozen=True)
class Stump:
    """A decision stump: a threshold on one feature.

    Predicts ``polarity`` where ``X[:, feature] > threshold`` and
    ``-polarity`` elsewhere. ``threshold = -inf`` gives a constant vote.

    Examples
    --------
    >>> from lossbook.experiments.classifiers import Stump
    >>> Stump(feature=1, threshold=0.5, polarity=-1).predict([[0.0, 1.0], [0.0, 0.0]])
    array([-1.,  1.])
    """

    feature: int
    threshold: float
    polarity: int

    def predict(self, X):
        """Votes in {-1, +1}, shape ``(N,)``, float64."""
        above = _features(X)[:, self.feature] > self.threshold
        return np.where(above, float(self.polarity), -float(self.polarity))


def fit_stump(X, y, sample_weight):
    r"""The decision stump with the smallest weighted error (exhaustive search).

    Parameters
    ----------
    X : array_like
        Features, shape ``(N, D)``.
    y : array_like
        Signed labels in {-1, +1}, shape ``(N,)``.
    sample_weight : array_like
        Non-negative weights, shape ``(N,)``, not all zero.

    Returns
    -------
    stump : Stump
        The best stump. Candidate thresholds are ``-inf`` and the midpoints
        between consecutive distinct values of each feature, with both
        polarities; ties go to the lowest feature, then the lowest threshold,
        then polarity +1.
    error : float
        Its weighted error :math:`\sum_i w_i [h(x_i) \ne y_i] / \sum_i w_i`,
        at most 1/2.

    Raises
    ------
    ValueError
        If the shapes are wrong, labels are not in {-1, +1}, or the weights
        are negative, not finite or all zero.

    Notes
    -----
    For each feature the points are sorted once; the error of every split
    then follows from cumulative sums of the weights of each class, so the
    search costs :math:`O(D\,N \log N)`.

    Examples
    --------
    >>> from lossbook.experiments.classifiers import fit_stump
    >>> stump, err = fit_stump([[0.0], [1.0], [2.0], [3.0]], [-1, -1, 1, 1],
    ...                        [0.25, 0.25, 0.25, 0.25])
    >>> stump, err
    (Stump(feature=0, threshold=1.5, polarity=1), 0.0)
    """
    X = _features(X)
    n = X.shape[0]
    y = _labels(y, n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"`sample_weight` must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.sum(w) > 0:
        raise ValueError(
            "`sample_weight` must be finite, non-negative and not all zero"
        )
    w = w / np.sum(w)
    best = (math.inf, 0, -math.inf, 1)
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        xs, ys, ws = X[order, j], y[order], w[order]
        # error of "predict +1 right of the split" with the first k points on the left
        pos_left = np.concatenate([[0.0], np.cumsum(ws * (ys > 0))])[:n]
        neg_left = np.concatenate([[0.0], np.cumsum(ws * (ys < 0))])[:n]
        err_plus = pos_left + (np.sum(ws * (ys < 0)) - neg_left)
        # a split between equal values is not a split: keep k = 0 and real gaps
        valid = np.concatenate([[True], xs[1:] > xs[:-1]])
        thresholds = np.concatenate([[-math.inf], 0.5 * (xs[:-1] + xs[1:])])
        for polarity, err in ((1, err_plus), (-1, 1.0 - err_plus)):
            err = np.where(valid, err, math.inf)
            k = int(np.argmin(err))
            if err[k] < best[0]:
                best = (float(err[k]), j, float(thresholds[k]), polarity)
    error, j, threshold, polarity = best
    return Stump(feature=j, threshold=threshold, polarity=polarity), max(error, 0.0)


@dataclass(frozen=True)
class AdaBoost:
    r"""An AdaBoost ensemble :math:`F(x) = \sum_t \alpha_t h_t(x)` of stumps.

    Attributes
    ----------
    stumps : tuple of Stump
        The weak learners :math:`h_t`, one per round.
    alphas : numpy.ndarray
        Their votes :math:`\alpha_t`, shape ``(T,)``.
    errors : numpy.ndarray
        Weighted training error :math:`\varepsilon_t` of each round's stump.
    normalisers : numpy.ndarray
        :math:`Z_t = \sum_i D_t(i)\, e^{-\alpha_t y_i h_t(x_i)}`, the factor
        by which round ``t`` multiplies the mean exponential loss.
    train_loss : numpy.ndarray
        Mean training exponential loss after each round, shape ``(T,)``
        (before round 1 it is 1).
    """

    stumps: tuple
    alphas: np.ndarray
    errors: np.ndarray
    normalisers: np.ndarray
    train_loss: np.ndarray

    def decision_function(self, X, rounds=None):
        """Scores :math:`F(x)` of the first ``rounds`` stumps (all by default)."""
        X = _features(X)
        T = len(self.stumps) if rounds is None else int(rounds)
        F = np.zeros(X.shape[0])
        for alpha, stump in zip(self.alphas[:T], self.stumps[:T], strict=True):
            F = F + alpha * stump.predict(X)
        return F

    def predict(self, X, rounds=None):
        """Signed labels: +1 where :math:`F(x) \\ge 0`, else -1 (float64)."""
        return np.where(self.decision_function(X, rounds) >= 0, 1.0, -1.0)


def adaboost(X, y, *, rounds=20):
    r"""AdaBoost with decision stumps, as stagewise exponential-loss minimisation.

    Parameters
    ----------
    X : array_like
        Features, shape ``(N, D)``.
    y : array_like
        Signed labels in {-1, +1}, shape ``(N,)``.
    rounds : int, default 20
        Number of boosting rounds :math:`T`.

    Returns
    -------
    AdaBoost
        The ensemble with its per-round errors, normalisers and losses.

    Raises
    ------
    ValueError
        If ``X`` or ``y`` is malformed or ``rounds`` is not a positive integer.

    Notes
    -----
    Round :math:`t` adds the term :math:`\alpha_t h_t` that most decreases
    the exponential loss of the current scores :math:`F_{t-1}`
    (Friedman et al. [2]_):

    .. math::

        (\alpha_t, h_t) = \arg\min_{\alpha, h} \sum_i
        e^{-y_i (F_{t-1}(x_i) + \alpha h(x_i))}
        = \arg\min_{\alpha, h} \sum_i D_t(i)\, e^{-\alpha y_i h(x_i)},
        \qquad D_t(i) \propto e^{-y_i F_{t-1}(x_i)} .

    The weights :math:`D_t` are the per-example exponential losses
    (:func:`~lossbook.classification.exponential`), normalised. For any
    :math:`\alpha > 0` the best :math:`h` is the stump of least weighted error
    :math:`\varepsilon_t` (:func:`fit_stump`); the best :math:`\alpha` is then
    :math:`\tfrac12 \log((1 - \varepsilon_t)/\varepsilon_t)`, and the mean loss is
    multiplied by :math:`Z_t = 2\sqrt{\varepsilon_t(1 - \varepsilon_t)} \le 1`, so
    it never increases and after :math:`T` rounds equals :math:`\prod_t Z_t`. This
    is Freund and Schapire's AdaBoost [1]_. A stump with :math:`\varepsilon_t = 0`
    has its error raised to 1e-10 to keep :math:`\alpha_t` finite.

    References
    ----------
    .. [1] Y. Freund and R. E. Schapire, "A decision-theoretic generalization
       of on-line learning and an application to boosting", *JCSS* 55(1),
       119-139, 1997.
    .. [2] J. Friedman, T. Hastie and R. Tibshirani, "Additive logistic
       regression: a statistical view of boosting", *Annals of Statistics*
       28(2), 337-407, 2000.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.experiments.classifiers import adaboost
    >>> X = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]]
    >>> model = adaboost(X, [-1, 1, 1, 1, -1], rounds=3)
    >>> model.predict(X).tolist()
    [-1.0, 1.0, 1.0, 1.0, -1.0]
    >>> bool(np.allclose(model.train_loss, np.cumprod(model.normalisers)))
    True
    """
    X = _features(X)
    y = _labels(y, X.shape[0])
    rounds = _positive_int("rounds", rounds)
    F = np.zeros(X.shape[0])
    stumps, alphas, errors, normalisers, losses = [], [], [], [], []
    for _ in range(rounds):
        # the example weights: the exponential losses of the current ensemble
        per_example = exponential(F, y, reduction="none")
        D = per_example / np.sum(per_example)
        stump, err = fit_stump(X, y, D)
        err = min(max(err, _ERR_FLOOR), 0.5)
        alpha = 0.5 * math.log((1.0 - err) / err)
        h = stump.predict(X)
        normalisers.append(
            float(np.sum(D * exponential(alpha * h, y, reduction="none")))
        )
        F = F + alpha * h
        stumps.append(stump)
        alphas.append(alpha)
        errors.append(err)
        losses.append(float(exponential(F, y)))
    return AdaBoost(
        stumps=tuple(stumps),
        alphas=np.array(alphas),
        errors=np.array(errors),
        normalisers=np.array(normalisers),
        train_loss=np.array(losses),
    )
