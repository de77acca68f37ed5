"""Loss landscapes: a loss evaluated over parameters, for plots and convexity checks.

The functions here evaluate any element-wise ``lossbook`` loss (one that
accepts ``reduction="none"``) on NumPy grids, in one vectorised call, so a
chapter can draw the contours of a loss over the parameters ``(w, b)`` of a
line, or the loss of a constant prediction, without writing a loop or a
second copy of the formula.
"""

from __future__ import annotations

import numpy as np

__all__ = ["chord_gap", "constant_loss_curve", "line_loss_grid"]


def _vector(value, name):
    """A 1-D float64 array, or a ``ValueError`` naming the argument."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array, got shape {arr.shape}"
        )
    return arr


def line_loss_grid(x, y, loss, w, b, /, **loss_kwargs):
    r"""Mean loss of the line :math:`\hat y = w x + b` at every point of a grid.

    .. math::

        Z_{jk} = \frac1N \sum_{i=1}^N \ell\bigl(w_k x_i + b_j,\; y_i\bigr)

    Parameters
    ----------
    x, y : array_like
        Inputs and targets, shape ``(n,)``.
    loss : callable
        An element-wise loss ``loss(pred, target, reduction="none",
        **loss_kwargs)`` returning the per-element losses, e.g.
        :func:`~lossbook.regression.mse` or :func:`lossbook.likelihood.gaussian_nll`.
    w, b : array_like
        1-D grids of slopes and intercepts.
    **loss_kwargs
        Passed on to ``loss`` (e.g. ``delta=1.0``, or ``b=2.0`` for
        :func:`lossbook.likelihood.laplace_nll`: the grid arguments are
        positional-only, so their names never clash with a loss's options).

    Returns
    -------
    Z : numpy.ndarray
        Shape ``(len(b), len(w))``, float64: row ``j``, column ``k`` holds the
        mean loss at ``(w[k], b[j])``. This is the layout
        ``matplotlib.pyplot.contour(w, b, Z)`` expects.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` are not 1-D arrays of one length, or ``w`` or ``b``
        is not a non-empty 1-D array.

    Notes
    -----
    The mean over the samples is the empirical risk of the loss, the value
    ``loss(pred, target)`` returns with its default ``reduction="mean"``. The
    grid is evaluated in one call: an array of shape
    ``(len(b), len(w), n)`` is built, so keep the product of the three sizes
    to a few million.

    References
    ----------
    .. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*,
       Springer, 2006, sec. 3.1.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook.experiments.landscape import line_loss_grid
    >>> Z = line_loss_grid([0.0, 1.0], [1.0, 3.0], lb.mse, [1.0, 2.0], [0.0, 1.0])
    >>> Z
    array([[2.5, 1. ],
           [0.5, 0. ]])
    """
    x = _vector(x, "x")
    y = _vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"`x` and `y` must have the same shape, got {x.shape} and {y.shape}"
        )
    w = _vector(w, "w")
    b = _vector(b, "b")
    # (len(b), len(w), n): one prediction vector per grid point
    pred = w[None, :, None] * x + b[:, None, None]
    target = np.broadcast_to(y, pred.shape)
    per_element = np.asarray(loss(pred, target, reduction="none", **loss_kwargs))
    return per_element.mean(axis=-1)


def constant_loss_curve(y, loss, c, /, **loss_kwargs):
    r"""Mean loss of predicting one constant :math:`c` for every target.

    .. math::

        R(c) = \frac1N \sum_{i=1}^N \ell(c, y_i)

    Its minimiser is the estimate of a location parameter that the loss
    implies: the mean for :func:`~lossbook.regression.mse`, a median for
    :func:`~lossbook.regression.mae`.

    Parameters
    ----------
    y : array_like
        Targets, shape ``(n,)``.
    loss : callable
        An element-wise loss, as for :func:`line_loss_grid`.
    c : array_like
        1-D grid of constants.
    **loss_kwargs
        Passed on to ``loss``.

    Returns
    -------
    R : numpy.ndarray
        Shape ``(len(c),)``, float64.

    Raises
    ------
    ValueError
        If ``y`` or ``c`` is not a non-empty 1-D array.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, *The Elements of
       Statistical Learning*, 2nd ed., Springer, 2009, sec. 2.4.

    Examples
    --------
    >>> import numpy as np
    >>> import lossbook as lb
    >>> from lossbook.experiments.landscape import constant_loss_curve
    >>> c = np.linspace(0.0, 10.0, 11)
    >>> R = constant_loss_curve([1.0, 2.0, 9.0], lb.mae, c)
    >>> float(c[np.argmin(R)])  # the median
    2.0
    """
    y = _vector(y, "y")
    c = _vector(c, "c")
    # a line with slope 0 is a constant: the grid over b alone
    return line_loss_grid(np.zeros_like(y), y, loss, [0.0], c, **loss_kwargs)[:, 0]


def chord_gap(f, a, b, t, /):
    r"""How far the chord of ``f`` lies above ``f`` between ``a`` and ``b``.

    .. math::

        g(t) = t\,f(a) + (1 - t)\,f(b) - f\bigl(t a + (1 - t) b\bigr),
        \qquad t \in [0, 1]

    A function is convex exactly when :math:`g(t) \ge 0` for every pair of
    points and every :math:`t`; one negative value proves it is not convex.
    This is a numerical check along one segment, not a proof of convexity.

    Parameters
    ----------
    f : callable
        Maps an array shaped like ``a`` to a scalar (a 0-d array, a 0-d tensor
        or a Python number), e.g. ``lambda p: lb.mse(p, target)``.
    a, b : array_like
        The two end points, of equal shape.
    t : array_like
        1-D array of mixing weights in ``[0, 1]``.

    Returns
    -------
    gap : numpy.ndarray
        Shape ``(len(t),)``, float64; 0 at ``t = 0`` and ``t = 1``.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in shape, or ``t`` is not a non-empty 1-D
        array of values in ``[0, 1]``.

    References
    ----------
    .. [1] S. Boyd and L. Vandenberghe, *Convex Optimization*, Cambridge
       University Press, 2004, sec. 3.1.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook.experiments.landscape import chord_gap
    >>> target = [0.0, 0.0]
    >>> chord_gap(lambda p: lb.mse(p, target), [2.0, 0.0], [0.0, 2.0], [0.0, 0.5, 1.0])
    array([0., 1., 0.])
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"`a` and `b` must have the same shape, got {a.shape} and {b.shape}"
        )
    t = _vector(t, "t")
    if not np.all((t >= 0.0) & (t <= 1.0)):
        bad = float(t[~((t >= 0.0) & (t <= 1.0))][0])
        raise ValueError(f"`t` must hold mixing weights in [0, 1], found {bad!r}")
    fa, fb = float(f(a)), float(f(b))
    return np.array(
        [s * fa + (1.0 - s) * fb - float(f(s * a + (1.0 - s) * b)) for s in t]
    )
