"""Expected answers for comparing the losses (``chapters/10_comparison``)."""

import numpy as np

from .. import grad, regression
from . import register
from .ch09 import PRED, TARGET

# the worked example with sample 3 turned into an outlier (residual -5)
OUTLIER_PRED = [PRED[0], PRED[1], TARGET[2] - 5.0]


@register(
    "ch10.1",
    hint="smooth_l1(beta) equals huber(delta=beta) / beta; all three residuals are "
    "below beta = 0.5.",
)
def _smooth_l1_half():
    return regression.smooth_l1(PRED, TARGET, beta=0.5)


@register(
    "ch10.2",
    hint="For each loss divide sample 3's loss by the sum of the three; give "
    "[MSE, MAE, Huber(delta=0.5)] in that order.",
)
def _outlier_shares():
    shares = []
    for loss, kwargs in (
        (regression.mse, {}),
        (regression.mae, {}),
        (regression.huber, {"delta": 0.5}),
    ):
        per_sample = loss(OUTLIER_PRED, TARGET, reduction="none", **kwargs)
        shares.append(per_sample[2] / per_sample.sum())
    return np.array(shares)


@register(
    "ch10.3",
    hint="The Huber gradient is clip(y_hat - y, -delta, delta); the mean divides it "
    "by N = 3.",
)
def _huber_grad_with_outlier():
    return grad.huber(OUTLIER_PRED, TARGET, delta=0.5, reduction="mean")


@register(
    "ch10.4",
    hint="With respect to the logit the gradient is sigmoid(z) - y.",
)
def _bce_logit_grad():
    return grad.binary_cross_entropy_with_logits(
        [-3.0, 3.0], [1.0, 0.0], reduction="none"
    )
