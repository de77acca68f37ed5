"""Expected answers for the worked example (``chapters/09_worked_example``)."""

from .. import classification, grad, regression
from . import register

PRED = [1.2, 0.3, 0.7]
TARGET = [1.0, 0.0, 1.0]
PROB = [0.8, 0.3, 0.6]


@register("ch09.1", hint="Average the three squared residuals.")
def _mse_total():
    return regression.mse(PRED, TARGET)


@register(
    "ch09.2",
    hint="Samples with |r| > delta use delta * (|r| - delta / 2); the rest r**2 / 2. "
    "Average all three.",
)
def _huber_quarter():
    return regression.huber(PRED, TARGET, delta=0.25)


@register(
    "ch09.3",
    hint="Only sample 3 changes: its loss becomes -log(0.9). Average all three.",
)
def _bce_confident_third():
    return classification.binary_cross_entropy(
        [PROB[0], PROB[1], 0.9], TARGET, reduction="mean"
    )


@register(
    "ch09.4",
    hint="A sum is not divided by N: each entry is 2 * (y_hat_i - y_i).",
)
def _mse_grad_of_sum():
    return grad.mse(PRED, TARGET, reduction="sum")


@register(
    "ch09.5",
    hint="The derivative of |y_hat - y| is sign(y_hat - y), and the mean divides "
    "it by N = 3.",
)
def _mae_grad_of_mean():
    return grad.mae(PRED, TARGET, reduction="mean")
