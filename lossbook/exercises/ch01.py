"""Expected answers for chapter 1, what a loss function is."""

import numpy as np

from .. import grad, regression
from . import register

PRED = [2.0, 0.5, -1.0, 3.0]
TARGET = [1.5, 0.5, 0.0, 0.0]

# exercise 2: nine small residuals and one that grows from SMALL_ERR to BIG_ERR
N_SMALL = 9
SMALL = 0.1
SMALL_ERR = 1.0
BIG_ERR = 10.0


@register(
    "ch01.1",
    hint="Average the per-sample losses: [MSE, MAE] of the four predictions.",
)
def _empirical_risks():
    return np.array(
        [float(regression.mse(PRED, TARGET)), float(regression.mae(PRED, TARGET))]
    )


def _total(loss, big, **kwargs):
    residuals = np.array([SMALL] * N_SMALL + [big])
    return float(loss(residuals, np.zeros_like(residuals), reduction="sum", **kwargs))


@register(
    "ch01.2",
    hint=(
        "Total (summed) loss with the big error at 10 divided by the total with "
        "it at 1, for MSE, MAE and Huber (delta = 1), in that order."
    ),
)
def _growth_factors():
    losses = [(regression.mse, {}), (regression.mae, {}), (regression.huber, {})]
    return np.array(
        [_total(f, BIG_ERR, **kw) / _total(f, SMALL_ERR, **kw) for f, kw in losses]
    )


@register(
    "ch01.3",
    hint="Far from 0, log cosh r is |r| - log 2 (plus a term below 1e-80).",
)
def _log_cosh_100_float32():
    return float(regression.log_cosh(np.float32(100.0), np.float32(0.0)))


# exercise 4: P(Y = +1) for the population minimiser of the exponential loss
P_POSITIVE = 0.9


@register(
    "ch01.4",
    hint=(
        "Minimise 0.9 exp(-s) + 0.1 exp(s); the derivative vanishes where "
        "exp(2 s) = 0.9 / 0.1."
    ),
)
def _exponential_minimiser():
    # the root of the expected loss's derivative, from lossbook's analytic
    # gradient (the chapter's solution minimises the loss values instead)
    from scipy.optimize import brentq

    def expected_slope(s):
        per_label = grad.exponential(
            np.array([s, s]), np.array([1.0, -1.0]), reduction="none"
        )
        return float(P_POSITIVE * per_label[0] + (1 - P_POSITIVE) * per_label[1])

    return brentq(expected_slope, -5.0, 5.0, xtol=1e-12)


@register(
    "ch01.5",
    hint=(
        "Fit every degree 0..14 to sine_data(60, noise=0.3, seed=0) and take the "
        "degree with the smallest MSE on sine_data(10_000, noise=0.3, seed=1)."
    ),
    rtol=1e-9,
)
def _best_degree_with_60_points():
    from ..experiments.risk import fit_polynomial, predict_polynomial, sine_data

    x, y = sine_data(60, noise=0.3, seed=0)
    x_test, y_test = sine_data(10_000, noise=0.3, seed=1)
    held_out = [
        float(
            regression.mse(predict_polynomial(fit_polynomial(x, y, d), x_test), y_test)
        )
        for d in range(15)
    ]
    return int(np.argmin(held_out))
