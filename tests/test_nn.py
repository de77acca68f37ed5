"""Tests of lossbook.nn: one torch.nn.Module per loss, forward == the function."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import lossbook as lb
from lossbook import (
    classification,
    detection,
    likelihood,
    metric,
    regression,
    rl,
    scoring,
    weighting,
)
from lossbook import nn as lbnn

# every loss of the API contract (API.md), by module
API_LOSSES = {
    regression: ["mse", "mae", "huber", "smooth_l1", "log_cosh", "pinball"],
    classification: [
        "zero_one",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "kl_div",
        "hinge",
        "exponential",
    ],
    metric: ["contrastive", "triplet", "info_nce"],
    detection: ["focal", "iou_loss", "giou_loss", "diou_loss", "ciou_loss", "dice"],
    rl: ["value_loss", "policy_gradient", "ppo_clip"],
    weighting: [
        "l1_penalty",
        "l2_penalty",
        "elastic_net_penalty",
        "weighted_binary_cross_entropy",
        "weighted_sum",
    ],
    likelihood: [
        "gaussian_nll",
        "laplace_nll",
        "poisson_nll",
        "bernoulli_nll",
        "categorical_nll",
    ],
    scoring: ["brier"],
}
# torch's spelling, where torch's loss means the same (API.md, second round)
TORCH_ALIASES = {
    "MSELoss": "MseLoss",
    "L1Loss": "MaeLoss",
    "BCELoss": "BinaryCrossEntropyLoss",
    "BCEWithLogitsLoss": "BinaryCrossEntropyWithLogitsLoss",
    "CrossEntropyLoss": "CrossEntropyLoss",
    "TripletMarginLoss": "TripletLoss",
}
FUNCTIONS = {name: getattr(mod, name) for mod, names in API_LOSSES.items()
             for name in names}  # fmt: skip


def expected_class_name(function_name):
    """CamelCase + "Loss", without doubling a trailing "loss" (iou_loss -> IouLoss)."""
    parts = function_name.split("_")
    if parts[-1] == "loss":
        parts = parts[:-1]
    return "".join(p[0].upper() + p[1:] for p in parts) + "Loss"


def test_the_naming_rule_on_the_contract_examples():
    assert expected_class_name("log_cosh") == "LogCoshLoss"
    assert expected_class_name("iou_loss") == "IouLoss"
    assert expected_class_name("focal") == "FocalLoss"
    assert expected_class_name("binary_cross_entropy_with_logits") == (
        "BinaryCrossEntropyWithLogitsLoss"
    )
    assert expected_class_name("mse") == "MseLoss"


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_every_loss_has_a_module_named_after_it(name):
    cls = getattr(lbnn, expected_class_name(name))
    assert issubclass(cls, torch.nn.Module)
    assert cls.__name__ == cls.__qualname__ == expected_class_name(name)
    assert cls.__module__ == "lossbook.nn"
    assert cls.__name__ in lbnn.__all__
    assert name in cls.__doc__


def test_lossbook_nn_is_reachable_from_the_top_level():
    assert lb.nn is lbnn
    assert set(lbnn.__all__) == {expected_class_name(n) for n in FUNCTIONS} | {
        "UncertaintyWeighting"
    } | set(TORCH_ALIASES)
    assert len(lbnn.__all__) == len(set(lbnn.__all__))


@pytest.mark.parametrize("alias", list(TORCH_ALIASES))
def test_torch_spellings_are_the_same_classes(alias):
    assert getattr(lbnn, alias) is getattr(lbnn, TORCH_ALIASES[alias])
    assert not hasattr(lbnn, "KLDivLoss")  # torch's takes log-probabilities


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_the_constructor_takes_the_functions_options(name):
    fn = FUNCTIONS[name]
    options = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    init = inspect.signature(getattr(lbnn, expected_class_name(name)))
    assert [p.name for p in init.parameters.values()] == [p.name for p in options]
    assert [p.default for p in init.parameters.values()] == [p.default for p in options]


def _inputs(name, rng):
    """Valid float64 tensor inputs for the loss ``name``."""

    def t(a):
        return torch.tensor(np.asarray(a), dtype=torch.float64)

    def boxes(n):
        xy = rng.uniform(0, 5, (n, 2))
        return t(np.concatenate([xy, xy + rng.uniform(0.5, 3, (n, 2))], axis=1))

    n = 4
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    labels01 = rng.integers(0, 2, n).astype(float)
    signed = 2 * labels01 - 1
    prob = rng.uniform(0.05, 0.95, n)
    if name in ("mse", "mae", "huber", "smooth_l1", "log_cosh", "value_loss",
                "gaussian_nll", "laplace_nll", "policy_gradient",
                "pinball"):  # fmt: skip
        return [t(x), t(y)]
    if name == "poisson_nll":
        return [t(x), t(rng.poisson(2.0, n))]
    if name == "kl_div":
        return [t(rng.standard_normal((n, 3))), t(rng.dirichlet(np.ones(3), n))]
    if name == "brier":
        return [t(rng.dirichlet(np.ones(3), n)), torch.tensor(rng.integers(0, 3, n))]
    if name == "zero_one":
        return [torch.tensor(labels01 > 0), torch.tensor(rng.integers(0, 2, n))]
    if name in ("binary_cross_entropy", "bernoulli_nll",
                "weighted_binary_cross_entropy"):  # fmt: skip
        return [t(prob), t(labels01)]
    if name in ("binary_cross_entropy_with_logits", "focal"):
        return [t(x), t(labels01)]
    if name in ("cross_entropy", "categorical_nll"):
        return [t(rng.standard_normal((n, 3))), torch.tensor(rng.integers(0, 3, n))]
    if name in ("hinge", "exponential"):
        return [t(x), t(signed)]
    if name == "contrastive":
        return [t(rng.standard_normal((n, 3))), t(rng.standard_normal((n, 3))),
                t(labels01)]  # fmt: skip
    if name == "triplet":
        return [t(rng.standard_normal((n, 3))) for _ in range(3)]
    if name == "info_nce":
        return [t(rng.standard_normal((n, 3))), t(rng.standard_normal((n, 3)))]
    if name.endswith("iou_loss"):
        return [boxes(n), boxes(n)]
    if name == "dice":
        return [t(rng.uniform(size=(2, 3, 3))), t(rng.integers(0, 2, (2, 3, 3)))]
    if name == "ppo_clip":
        return [t(-rng.uniform(0.1, 2, n)), t(-rng.uniform(0.1, 2, n)), t(x)]
    if name in ("l1_penalty", "l2_penalty", "elastic_net_penalty"):
        return [t(rng.standard_normal((2, 3)))]
    if name == "weighted_sum":
        return [t(rng.uniform(size=3)), t(rng.uniform(size=3))]
    raise AssertionError(f"no inputs for {name}")


# non-default options for every loss that has them (required ones included)
OPTIONS = {
    "huber": {"delta": 0.5},
    "pinball": {"quantile": 0.9},
    "smooth_l1": {"beta": 0.25},
    "binary_cross_entropy": {"weight": torch.tensor([1.0, 2.0, 0.5, 1.5])},
    "binary_cross_entropy_with_logits": {
        "weight": torch.tensor([1.0, 2.0, 0.5, 1.5]),
        "pos_weight": torch.tensor([3.0, 1.0, 1.0, 2.0]),
    },
    "cross_entropy": {"weight": torch.tensor([1.0, 2.0, 0.5]), "label_smoothing": 0.1},
    "hinge": {"margin": 2.0},
    "contrastive": {"margin": 0.5},
    "triplet": {"margin": 0.3},
    "info_nce": {"temperature": 0.5, "symmetric": True},
    "focal": {"alpha": 0.5, "gamma": 1.0},
    "iou_loss": {"eps": 1e-9},
    "giou_loss": {"eps": 1e-9},
    "diou_loss": {"eps": 1e-9},
    "ciou_loss": {"eps": 1e-9},
    "dice": {"smooth": 0.5},
    "ppo_clip": {"clip_eps": 0.1},
    "l1_penalty": {"lam": 0.1},
    "l2_penalty": {"lam": 0.2},
    "elastic_net_penalty": {"l1": 0.1, "l2": 0.3},
    "weighted_binary_cross_entropy": {"w_pos": 2.0, "w_neg": 0.5},
    "gaussian_nll": {"sigma": 2.0},
    "laplace_nll": {"b": 0.5},
}
REQUIRED = {"l1_penalty", "l2_penalty", "elastic_net_penalty",
            "weighted_binary_cross_entropy"}  # fmt: skip


def _reductions(name):
    params = inspect.signature(FUNCTIONS[name]).parameters
    return ["mean", "sum", "none"] if "reduction" in params else [None]


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_forward_equals_the_function(name):
    fn, cls = FUNCTIONS[name], getattr(lbnn, expected_class_name(name))
    inputs = _inputs(name, np.random.default_rng(1))
    options = OPTIONS.get(name, {})
    for reduction in _reductions(name):
        kw = dict(options) if reduction is None else {**options, "reduction": reduction}
        module = cls(**kw)
        torch.testing.assert_close(module(*inputs), fn(*inputs, **kw), rtol=0, atol=0)
        if name not in REQUIRED:  # the defaults are the function's defaults
            red = {} if reduction is None else {"reduction": reduction}
            torch.testing.assert_close(cls(**red)(*inputs), fn(*inputs, **red))


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n not in REQUIRED])
def test_default_modules_need_no_arguments(name):
    cls = getattr(lbnn, expected_class_name(name))
    inputs = _inputs(name, np.random.default_rng(2))
    torch.testing.assert_close(cls()(*inputs), FUNCTIONS[name](*inputs))


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_options_stay_required(name):
    with pytest.raises(TypeError):
        getattr(lbnn, expected_class_name(name))()


def test_options_can_be_given_positionally_in_the_functions_order():
    focal = lbnn.FocalLoss(0.5, 1.0)
    assert (focal.alpha, focal.gamma, focal.reduction) == (0.5, 1.0, "mean")
    z, y = _inputs("focal", np.random.default_rng(3))
    torch.testing.assert_close(focal(z, y), detection.focal(z, y, alpha=0.5, gamma=1.0))
    assert lbnn.HuberLoss(0.3, "sum").delta == 0.3
    with pytest.raises(TypeError):
        lbnn.HuberLoss(delta=0.3, nonsense=1)


def test_gradients_flow_through_the_module():
    pred = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    target = torch.zeros(3, dtype=torch.float64)
    lbnn.LogCoshLoss()(pred, target).backward()
    torch.testing.assert_close(pred.grad, lb.grad.log_cosh(pred.detach(), target))


def test_tensor_options_are_buffers_that_follow_the_module():
    weight = torch.tensor([1.0, 2.0, 0.5])
    module = lbnn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    assert dict(module.named_buffers()) == {"weight": weight}
    assert set(module.state_dict()) == {"weight"}
    assert list(module.parameters()) == []
    assert module.label_smoothing == 0.1  # plain options are attributes
    module = module.to(torch.float64)
    assert module.weight.dtype == torch.float64
    logits = torch.randn(5, 3, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 1, 0])
    torch.testing.assert_close(
        module(logits, t),
        lb.cross_entropy(logits, t, weight=weight.double(), label_smoothing=0.1),
    )
    both = lbnn.BinaryCrossEntropyWithLogitsLoss(pos_weight=torch.ones(3))
    assert set(dict(both.named_buffers())) == {"pos_weight"}
    assert both.weight is None


def test_the_repr_shows_the_options():
    assert repr(lbnn.HuberLoss(delta=0.5)) == "HuberLoss(delta=0.5, reduction='mean')"
    assert repr(lbnn.MseLoss(reduction="sum")) == "MseLoss(reduction='sum')"
    assert repr(lbnn.MSELoss()) == "MseLoss(reduction='mean')"
    assert repr(lbnn.PinballLoss(0.9)) == "PinballLoss(quantile=0.9, reduction='mean')"
    # tensors by kind and shape, not by value
    assert repr(lbnn.CrossEntropyLoss(weight=torch.ones(3))).startswith(
        "CrossEntropyLoss(weight=Tensor(shape=(3,)), "
    )


# (module, option, bad value, the function's message): rejected when built
BAD_OPTIONS = [
    ("MseLoss", "reduction", "avg", r"'mean', 'sum' or 'none', got 'avg'"),
    ("HuberLoss", "delta", -1.0, r"^delta must be a positive number"),
    ("SmoothL1Loss", "beta", -1.0, r"^beta must be a non-negative number"),
    ("PinballLoss", "quantile", 1.0, r"^quantile must be a number in \(0, 1\)"),
    ("CrossEntropyLoss", "label_smoothing", 1.0, r"^label_smoothing must be"),
    ("HingeLoss", "margin", 0.0, r"^margin must be a positive number"),
    ("TripletLoss", "margin", "1", r"^margin must be a positive number"),
    ("InfoNceLoss", "temperature", 0.0, r"^temperature must be a positive"),
    ("InfoNceLoss", "symmetric", "yes", r"^symmetric must be True or False"),
    ("FocalLoss", "alpha", 2.0, r"^alpha must be a number in \[0, 1\]"),
    ("FocalLoss", "gamma", -1.0, r"^gamma must be a non-negative number"),
    ("IouLoss", "eps", 0.0, r"^eps must be a positive number"),
    ("DiceLoss", "smooth", -1.0, r"^smooth must be a non-negative number"),
    ("PpoClipLoss", "clip_eps", 0.0, r"^clip_eps must be a positive number"),
    ("L2PenaltyLoss", "lam", -1.0, r"^lam must be a non-negative number"),
    ("GaussianNllLoss", "sigma", 0.0, r"^sigma must be a positive number"),
    ("LaplaceNllLoss", "b", math.nan, r"^b must be a positive number"),
]


@pytest.mark.parametrize(("cls", "option", "bad", "msg"), BAD_OPTIONS, ids=str)
def test_bad_options_raise_when_the_module_is_built(cls, option, bad, msg):
    with pytest.raises(ValueError, match=msg):
        getattr(lbnn, cls)(**{option: bad})


def test_every_option_of_every_module_is_checked_when_built():
    checked = {option for _, option, _, _ in BAD_OPTIONS}
    for name, fn in FUNCTIONS.items():
        for p in inspect.signature(fn).parameters.values():
            if p.kind is inspect.Parameter.KEYWORD_ONLY:
                assert p.name in lbnn._OPTION_CHECKS, (name, p.name)
    assert {"reduction", "delta", "quantile", "temperature", "sigma"} <= checked


def test_tensor_options_are_checked_when_built():
    with pytest.raises(
        ValueError, match=r"`sigma` must hold positive finite numbers \(> 0\)"
    ):
        lbnn.GaussianNllLoss(sigma=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"`temperature` must be a number or a 0-d"):
        lbnn.InfoNceLoss(temperature=torch.ones(2))
    with pytest.raises(TypeError, match=r"^margin must be a Python number"):
        lbnn.HingeLoss(margin=torch.tensor(1.0))
    with pytest.raises(TypeError, match=r"^w_pos must be a Python number"):
        lbnn.WeightedBinaryCrossEntropyLoss(w_pos=torch.tensor(1.0), w_neg=1.0)
    with pytest.raises(TypeError, match=r"^ignore_index must be None or a Python"):
        lbnn.CrossEntropyLoss(ignore_index=torch.tensor(-100))
    with pytest.raises(TypeError, match=r"^symmetric must be a Python bool"):
        lbnn.InfoNceLoss(symmetric=torch.tensor(True))
    with pytest.raises(TypeError, match=r"^weight must be None or a torch.Tensor"):
        lbnn.CrossEntropyLoss(weight=[1.0, 2.0])


def test_a_parameter_option_is_learnable():
    log_t = torch.nn.Parameter(torch.tensor(math.log(0.1)))
    module = lbnn.GaussianNllLoss(sigma=torch.nn.Parameter(torch.tensor(2.0)))
    assert [n for n, _ in module.named_parameters()] == ["sigma"]
    assert list(module.buffers()) == []
    module(torch.zeros(3), torch.ones(3)).backward()
    assert module.sigma.grad is not None
    # a temperature computed from a parameter outside the module also works
    q = torch.randn(4, 3)
    out = lbnn.InfoNceLoss()(q, q)
    out2 = lb.info_nce(q, q, temperature=log_t.exp())
    out2.backward()
    assert log_t.grad is not None and torch.isfinite(out)


def test_invalid_options_set_after_construction_raise_on_forward():
    module = lbnn.HuberLoss(delta=0.5)
    module.delta = -1.0
    with pytest.raises(ValueError, match=r"delta must be a positive number"):
        module(torch.zeros(2), torch.zeros(2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_buffers_move_to_the_device():
    module = lbnn.BinaryCrossEntropyWithLogitsLoss(pos_weight=torch.ones(3)).cuda()
    assert module.pos_weight.is_cuda
    out = module(torch.zeros(2, 3, device="cuda"), torch.ones(2, 3, device="cuda"))
    assert out.is_cuda


# --- UncertaintyWeighting ---


def test_uncertainty_weighting_starts_at_zero_and_equals_the_function():
    weigh = lbnn.UncertaintyWeighting(3)
    assert isinstance(weigh.log_sigma, torch.nn.Parameter)
    assert weigh.log_sigma.tolist() == [0.0, 0.0, 0.0]
    losses = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(4.0)]
    torch.testing.assert_close(
        weigh(losses),
        weighting.uncertainty_weighted(torch.stack(losses), weigh.log_sigma),
    )
    torch.testing.assert_close(weigh(torch.stack(losses)), weigh(losses))
    torch.testing.assert_close(weigh(losses).detach(), torch.tensor(3.5))  # sum L/2


def test_uncertainty_weighting_learns_log_sigma():
    weigh = lbnn.UncertaintyWeighting(2)
    weigh(torch.tensor([1.0, 3.0])).backward()
    # d/ds [exp(-2s) L / 2 + s] at s = 0 is 1 - L
    torch.testing.assert_close(weigh.log_sigma.grad, torch.tensor([0.0, -2.0]))


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2", None])
def test_uncertainty_weighting_needs_a_positive_integer(bad):
    with pytest.raises(
        ValueError, match=rf"num_tasks must be a positive integer, got {bad!r}"
    ):
        lbnn.UncertaintyWeighting(bad)
