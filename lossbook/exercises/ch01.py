"""Expected answers for chapter 1, what a loss function is."""

import numpy as np

from .. import regression
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
