"""Probabilistic classifiers for the calibration experiment.

- :func:`fit_logistic`: logistic regression, Newton's method on the mean
  :func:`lossbook.binary_cross_entropy_with_logits` (plus an optional L2
  penalty on the weights).
- :func:`platt_scaling`: Platt's sigmoid :math:`\\sigma(A s + B)` that turns
  the scores of any classifier (an SVM's, say) into probabilities, fitted by
  the same Newton solver on a held-out set.

Deterministic, NumPy in and out, sized for the book's toy data sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import grad
from ..classification import binary_cross_entropy_with_logits

__all__ = ["LogisticModel", "PlattScaling", "fit_logistic", "platt_scaling"]


def _sigmoid(z):
    # exp of a non-positive number only: no overflow at either end
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _features(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"`X` must have shape (N, D) with N, D >= 1, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("`X` must be finite, found a NaN or an infinity")
    return X


def _targets(y, n):
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(
            f"`y` must have shape ({n},), one label per row, got {y.shape}"
        )
    if not np.all((y >= 0) & (y <= 1)):
        raise ValueError(
            "`y` must hold labels 0 or 1 (or target probabilities in [0, 1])"
        )
    return y


@dataclass(frozen=True)
class LogisticModel:
    r"""A logistic-regression model :math:`P(y = 1 \mid x) = \sigma(w^\top x + b)`.

    Attributes
    ----------
    w : numpy.ndarray
        Weights, shape ``(D,)``.
    b : float
        Bias (never penalised).
    n_iter : int
        Newton iterations taken.
    converged : bool
        Whether the gradient norm fell below the tolerance.
    """

    w: np.ndarray
    b: float
    n_iter: int
    converged: bool

    def decision_function(self, X):
        """Logits :math:`w^\\top x + b`, shape ``(N,)``."""
        return _features(X) @ self.w + self.b

    def predict_proba(self, X):
        """:math:`P(y = 1 \\mid x)`, shape ``(N,)``."""
        return _sigmoid(self.decision_function(X))


def fit_logistic(X, y, *, l2=0.0, max_iter=100, tol=1e-10):
    r"""Logistic regression by Newton's method on the mean binary cross-entropy.

    Minimises

    .. math::

        J(w, b) = \frac1N \sum_{i=1}^N
        \operatorname{BCE}\big(\sigma(w^\top x_i + b), y_i\big)
        + \frac{\lambda}{2} \lVert w \rVert^2 .

    Parameters
    ----------
    X : array_like
        Features, shape ``(N, D)``.
    y : array_like
        Labels 0 or 1 (or target probabilities in [0, 1]), shape ``(N,)``.
    l2 : float, default 0.0
        :math:`\lambda \ge 0`. On separable data :math:`\lambda = 0` has no
        minimiser (the weights grow forever); use a positive value there.
    max_iter : int, default 100
        Most Newton steps.
    tol : float, default 1e-10
        Stop when the gradient's largest entry is below ``tol``.

    Returns
    -------
    LogisticModel

    Raises
    ------
    ValueError
        If the shapes or values are invalid or ``l2 < 0``.

    Notes
    -----
    The gradient with respect to the logits is :math:`(p_i - y_i)/N`
    (:func:`lossbook.grad.binary_cross_entropy_with_logits`), so with the
    augmented features :math:`\tilde x = (x, 1)` the gradient is
    :math:`\tilde X^\top (p - y)/N` and the Hessian :math:`\tilde X^\top
    \operatorname{diag}(p (1 - p)) \tilde X / N` (plus :math:`\lambda` on the
    weights' diagonal). A Newton step that does not lower :math:`J` is
    halved until it does, so :math:`J` never increases.

    Examples
    --------
    >>> from lossbook.experiments.calibration import fit_logistic
    >>> model = fit_logistic([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
    >>> round(float(model.w[0]), 4), model.converged
    (0.9082, True)
    """
    X = _features(X)
    y = _targets(y, X.shape[0])
    if isinstance(l2, bool) or not isinstance(l2, int | float) or not l2 >= 0:
        raise ValueError(f"l2 must be a non-negative number, got {l2!r}")
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    penalty = np.full(d + 1, float(l2))
    penalty[-1] = 0.0  # the bias is not penalised

    def objective(theta):
        loss = binary_cross_entropy_with_logits(A @ theta, y)
        return float(loss) + 0.5 * float(np.sum(penalty * theta**2))

    theta = np.zeros(d + 1)
    value = objective(theta)
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (reported in the result)
        z = A @ theta
        g_logit = grad.binary_cross_entropy_with_logits(z, y)  # (p - y) / N
        gradient = A.T @ g_logit + penalty * theta
        if np.max(np.abs(gradient)) < tol:
            converged = True
            break
        p = _sigmoid(z)
        hessian = (A * (p * (1 - p) / n)[:, None]).T @ A + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        t = 1.0
        while True:  # backtracking: never accept an increase
            candidate = theta - t * step
            new_value = objective(candidate)
            if new_value <= value or t < 1e-10:
                break
            t *= 0.5
        theta, value = candidate, new_value
    return LogisticModel(
        w=theta[:-1].copy(), b=float(theta[-1]), n_iter=n_iter, converged=converged
    )


@dataclass(frozen=True)
class PlattScaling:
    r"""Platt's map :math:`s \mapsto \sigma(A s + B)` from scores to probabilities.

    Attributes
    ----------
    A, B : float
        Slope and offset of the logit.
    """

    A: float
    B: float

    def __call__(self, scores):
        """Probabilities :math:`\\sigma(A s + B)`, the shape of ``scores``."""
        return _sigmoid(self.A * np.asarray(scores, dtype=np.float64) + self.B)


def platt_scaling(scores, y, *, smooth_targets=True):
    r"""Fit Platt's sigmoid to held-out scores and labels.

    Parameters
    ----------
    scores : array_like
        Real-valued scores :math:`s_i` of a classifier (e.g. an SVM's
        :math:`f(x_i)`), shape ``(N,)``, on data not used to train it.
    y : array_like
        Labels 0 or 1, shape ``(N,)``.
    smooth_targets : bool, default True
        Use Platt's targets :math:`(N_+ + 1)/(N_+ + 2)` for positives and
        :math:`1/(N_- + 2)` for negatives instead of 1 and 0, a prior that
        keeps the fit finite on separable scores.

    Returns
    -------
    PlattScaling

    Raises
    ------
    ValueError
        If the shapes or labels are invalid.

    Notes
    -----
    This is one-feature logistic regression on the scores,
    :func:`fit_logistic` with ``X = scores[:, None]``: minimising the
    binary cross-entropy, a strictly proper scoring rule, over
    :math:`(A, B)`.

    References
    ----------
    .. [1] J. C. Platt, "Probabilistic outputs for support vector machines
       and comparisons to regularized likelihood methods", in *Advances in
       Large Margin Classifiers*, MIT Press, 61-74, 2000.

    Examples
    --------
    >>> from lossbook.experiments.calibration import platt_scaling
    >>> calib = platt_scaling([-2.0, -1.0, 0.5, 1.0, 2.0, -0.5], [0, 0, 1, 1, 1, 1])
    >>> bool(calib.A > 0), float(calib([0.0])[0]) > 0.5
    (True, True)
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"`scores` must have shape (N,), got {s.shape}")
    y = _targets(y, s.shape[0])
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("`y` must hold hard labels 0 or 1")
    if smooth_targets:
        n_pos, n_neg = float(np.sum(y)), float(np.sum(1 - y))
        y = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    model = fit_logistic(s[:, None], y)
    return PlattScaling(A=float(model.w[0]), B=model.b)
