"""Tests of lossbook.metric: contrastive and InfoNCE against brute-force loops
in mpmath, triplet and InfoNCE against torch.nn.functional, gradients
(gradcheck, finiteness where embeddings coincide), the API contract and
properties (hypothesis)."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import metric
from lossbook.metric import contrastive, info_nce, triplet

FEW = settings(max_examples=50, deadline=None)


def reduced(per_item, reduction):
    per_item = np.asarray(per_item, dtype=np.float64)
    return {"none": per_item, "sum": per_item.sum(), "mean": per_item.mean()}[reduction]


def mp_distance(a, b):
    with mpmath.workdps(40):
        return mpmath.sqrt(
            mpmath.fsum(
                (mpmath.mpf(float(x)) - mpmath.mpf(float(y))) ** 2
                for x, y in zip(a, b, strict=True)
            )
        )


# --- contrastive ---


def pairs(rng, n=8, d=3):
    x1 = rng.standard_normal((n, d))
    x2 = x1 + 0.6 * rng.standard_normal((n, d))
    same = (rng.uniform(size=n) < 0.5).astype(np.float64)
    same[:2] = [0.0, 1.0]
    x2[0] = x1[0]  # a dissimilar pair at distance 0: the largest push
    x2[1] = x1[1]  # a similar pair at distance 0: loss 0
    return x1, x2, same


@pytest.mark.parametrize("margin", [1.0, 0.5, 2.0])
def test_contrastive_matches_a_brute_force_loop(margin, backend, reduction, rng):
    x1, x2, same = pairs(rng)
    x1, x2 = x1.astype(backend.dtype), x2.astype(backend.dtype)
    per_pair = []
    for a, b, s in zip(x1, x2, same, strict=True):
        d = mp_distance(a, b)
        per_pair.append(float(s * d**2 + (1 - s) * max(0, margin - d) ** 2))
    got = contrastive(
        backend(x1), backend(x2), backend(same), margin=margin, reduction=reduction
    )
    backend.check_native(got, (8,) if reduction == "none" else ())
    np.testing.assert_allclose(
        backend.numpy(got), reduced(per_pair, reduction), rtol=32 * backend.eps, atol=0
    )


def test_contrastive_is_twice_hadsell_with_flipped_labels(rng):
    # Hadsell et al. (2006): (1 - Y) D^2 / 2 + Y max(0, m - D)^2 / 2, Y = 0 similar
    x1, x2, same = pairs(rng)
    y = 1 - same
    hadsell = [
        float(
            (1 - yi) * mp_distance(a, b) ** 2 / 2
            + yi * max(0, 1 - mp_distance(a, b)) ** 2 / 2
        )
        for a, b, yi in zip(x1, x2, y, strict=True)
    ]
    np.testing.assert_allclose(
        0.5 * contrastive(x1, x2, 1 - y, reduction="none"), hadsell, rtol=1e-14
    )


def test_contrastive_gradcheck_and_finite_gradient_at_distance_0(rng):
    x1, x2, same = pairs(rng, n=5, d=3)
    a = torch.tensor(x1, requires_grad=True)
    b = torch.tensor(x2[:, :] + 0.05, requires_grad=True)  # no zero distance
    s = torch.tensor(same)
    assert torch.autograd.gradcheck(
        lambda u, v: contrastive(u, v, s, reduction="none"), (a, b)
    )
    # coinciding embeddings: the similar term's gradient 2(x1 - x2) is 0, and
    # the dissimilar term gets the zero subgradient, not NaN
    same_point = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0.0, 1.0], dtype=torch.float64)
    loss = contrastive(same_point, torch.zeros(2, 3, dtype=torch.float64), labels)
    assert float(loss.detach()) == 0.5  # (1 - 0)^2 for the dissimilar pair, / 2
    (g,) = torch.autograd.grad(loss, same_point)
    assert torch.equal(g, torch.zeros_like(g))


# --- triplet ---


def triplets(rng, n=10, d=4):
    a = rng.standard_normal((n, d))
    p = a + 0.5 * rng.standard_normal((n, d))
    neg = a + 0.8 * rng.standard_normal((n, d))
    return a, p, neg


@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_triplet_equals_torch_with_eps_0(margin, backend, reduction, rng):
    a, p, n = (x.astype(backend.dtype) for x in triplets(rng))
    got = triplet(
        backend(a), backend(p), backend(n), margin=margin, reduction=reduction
    )
    backend.check_native(got, (10,) if reduction == "none" else ())
    ref = F.triplet_margin_loss(
        backend.torch(a), backend.torch(p), backend.torch(n),
        margin=margin, eps=0.0, reduction=reduction,
    )  # fmt: skip
    np.testing.assert_allclose(
        backend.numpy(got), ref.numpy(), rtol=16 * backend.eps, atol=8 * backend.eps
    )


def test_triplet_is_within_2_eps_sqrt_d_of_torch_default(rng):
    # torch adds eps = 1e-6 to every coordinate of the difference:
    # | ||v + eps 1|| - ||v|| | <= ||eps 1|| = eps sqrt(D) per distance
    a, p, n = triplets(rng, n=50, d=16)
    got = triplet(a, p, n, reduction="none")
    ref = F.triplet_margin_loss(
        *(torch.from_numpy(x) for x in (a, p, n)), reduction="none"
    ).numpy()
    bound = 2 * 1e-6 * math.sqrt(16)
    assert np.max(np.abs(got - ref)) <= bound
    assert np.max(np.abs(got - ref)) > 0  # the eps is real


def test_triplet_gradcheck_and_finite_gradient_when_anchor_equals_positive(rng):
    a, p, n = (torch.tensor(x, requires_grad=True) for x in triplets(rng, n=4, d=3))
    assert torch.autograd.gradcheck(
        lambda u, v, w: triplet(u, v, w, margin=2.0, reduction="none"), (a, p, n)
    )
    anchor = torch.ones(1, 3, dtype=torch.float64, requires_grad=True)
    loss = triplet(
        anchor,
        anchor.detach().clone(),
        torch.zeros(1, 3, dtype=torch.float64),
        margin=5.0,
    )
    (g,) = torch.autograd.grad(loss, anchor)
    assert torch.isfinite(g).all()
    # only the negative term pulls: -d/da ||a - n|| = -(a - n) / ||a - n||
    torch.testing.assert_close(g, -torch.ones(1, 3, dtype=torch.float64) / math.sqrt(3))


def test_distances_neither_overflow_nor_underflow():
    # squares of 1e200 overflow and of 1e-200 underflow in float64 (1e30 and
    # 1e-30 in float32): the norm scales by the largest coordinate first
    for dtype, scale in ((np.float64, 1e200), (np.float32, 1e30)):
        p = np.array([[3.0, 4.0]], dtype) * dtype(scale)
        n = np.array([[0.0, 4.0]], dtype) * dtype(scale)
        out = triplet(np.zeros((1, 2), dtype), p, n, margin=1.0)
        assert float(out) == pytest.approx(scale, rel=8 * float(np.finfo(dtype).eps))
    for dtype, scale in ((np.float64, 1e-200), (np.float32, 1e-30)):
        p = np.array([[3.0, 4.0]], dtype) * dtype(scale)
        n = np.array([[0.0, 4.0]], dtype) * dtype(scale)
        # 5 s - 4 s + a margin too small to matter
        out = triplet(np.zeros((1, 2), dtype), p, n, margin=float(scale) * 1e-6)
        assert float(out) == pytest.approx(scale, rel=1e-5)
    # cosine similarities of huge rows (tiny rows hit normalize's 1e-12 floor,
    # as in torch.nn.functional.normalize)
    q = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]])
    k = np.array([[0.5, 2.0], [-1.0, 1.0], [0.0, -1.0]])
    for dtype, scale in ((np.float64, 1e200), (np.float32, 1e30)):
        base = info_nce(q.astype(dtype), k.astype(dtype), reduction="none")
        big = info_nce((q * scale).astype(dtype), (k * scale).astype(dtype))
        np.testing.assert_allclose(big, base.mean(), rtol=64 * np.finfo(dtype).eps)


# --- InfoNCE ---


def views(rng, n=6, d=5):
    q = rng.standard_normal((n, d))
    k = q + 0.7 * rng.standard_normal((n, d))
    return q, k


@pytest.mark.parametrize("temperature", [0.07, 1.0])
@pytest.mark.parametrize("symmetric", [False, True])
def test_info_nce_matches_torch_cross_entropy(
    temperature, symmetric, backend, reduction, rng
):
    q, k = (x.astype(backend.dtype) for x in views(rng))
    got = info_nce(
        backend(q), backend(k), temperature=temperature, symmetric=symmetric,
        reduction=reduction,
    )  # fmt: skip
    backend.check_native(got, (6,) if reduction == "none" else ())
    qn, kn = F.normalize(backend.torch(q)), F.normalize(backend.torch(k))
    logits = qn @ kn.T / temperature
    labels = torch.arange(6)
    ref = F.cross_entropy(logits, labels, reduction="none")
    if symmetric:
        ref = 0.5 * (ref + F.cross_entropy(logits.T, labels, reduction="none"))
    ref = {"none": ref, "sum": ref.sum(), "mean": ref.mean()}[reduction]
    np.testing.assert_allclose(
        backend.numpy(got), ref.numpy(), rtol=64 * backend.eps, atol=64 * backend.eps
    )


def mp_info_nce(q, k, t):
    """-log(e^{s_ii/t} / sum_j e^{s_ij/t}) with a double loop over pairs."""
    with mpmath.workdps(40):

        def cos(a, b):
            dot = mpmath.fsum(
                mpmath.mpf(float(x)) * mpmath.mpf(float(y))
                for x, y in zip(a, b, strict=True)
            )
            return dot / (mp_distance(a, 0 * a) * mp_distance(b, 0 * b))

        out = []
        for i in range(len(q)):
            logits = [cos(q[i], k[j]) / t for j in range(len(k))]
            out.append(
                float(
                    -logits[i] + mpmath.log(mpmath.fsum(mpmath.exp(v) for v in logits))
                )
            )
        return np.array(out)


def test_info_nce_matches_a_brute_force_double_loop(backend, rng):
    q, k = (x.astype(backend.dtype) for x in views(rng, n=5, d=3))
    expected = mp_info_nce(q, k, 0.1)
    got = info_nce(backend(q), backend(k), temperature=0.1, reduction="none")
    np.testing.assert_allclose(backend.numpy(got), expected, rtol=256 * backend.eps)
    both = info_nce(
        backend(q), backend(k), temperature=0.1, symmetric=True, reduction="none"
    )
    backwards = mp_info_nce(k, q, 0.1)  # key i classifies its query among all
    np.testing.assert_allclose(
        backend.numpy(both), 0.5 * (expected + backwards), rtol=256 * backend.eps
    )


def test_info_nce_limits():
    # identical, orthogonal unit views with tau = 1: cos = 1 on the diagonal,
    # 0 elsewhere, so each loss is log(e + N - 1) - 1
    n = 4
    eye = np.eye(n)
    expected = math.log(math.e + n - 1) - 1
    np.testing.assert_allclose(
        info_nce(eye, eye, temperature=1.0, reduction="none"), expected
    )
    # identical similarities everywhere: log N
    ones = np.ones((n, 2))
    assert float(info_nce(ones, ones)) == pytest.approx(math.log(n))


def test_info_nce_gradcheck_and_a_zero_query(rng):
    q, k = (torch.tensor(x, requires_grad=True) for x in views(rng, n=4, d=3))
    for symmetric in (False, True):
        assert torch.autograd.gradcheck(
            lambda u, v, s=symmetric: info_nce(
                u, v, temperature=0.5, symmetric=s, reduction="none"
            ),
            (q, k),
        )
    zero = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    out = info_nce(zero, torch.ones(2, 3, dtype=torch.float64))
    (g,) = torch.autograd.grad(out, zero)
    assert float(out.detach()) == pytest.approx(math.log(2))  # all similarities 0
    assert torch.isfinite(g).all()


def test_info_nce_of_an_empty_batch():
    e = torch.zeros(0, 3, requires_grad=True)
    assert float(info_nce(e, e, reduction="sum").detach()) == 0.0
    assert tuple(info_nce(e, e, reduction="none").shape) == (0,)
    with pytest.raises(ValueError, match=r"`query` is empty \(shape \(0, 3\)\)"):
        info_nce(e, e)


# --- every function: NumPy equals torch, dtypes, autograd ---

CALLS = {
    "contrastive": lambda x, rng: contrastive(
        x(pairs(rng)[0]),
        x(pairs(rng)[1]),
        x(pairs(rng)[2]),
        margin=1.5,
        reduction="none",
    ),
    "triplet": lambda x, rng: triplet(*(x(v) for v in triplets(rng)), reduction="none"),
    "info_nce": lambda x, rng: info_nce(
        *(x(v) for v in views(rng)), symmetric=True, reduction="none"
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_equals_torch(name, dtype):
    a = CALLS[name](lambda v: np.asarray(v, dtype), np.random.default_rng(3))
    b = CALLS[name](
        lambda v: torch.tensor(np.asarray(v, dtype)), np.random.default_rng(3)
    )
    assert a.dtype == dtype and b.dtype == torch.from_numpy(np.zeros(1, dtype)).dtype
    np.testing.assert_allclose(a, b.numpy(), rtol=16 * np.finfo(dtype).eps, atol=1e-6)


@pytest.mark.parametrize("name", list(CALLS))
def test_torch_inputs_keep_autograd(name):
    leaves = []

    def leaf(v):
        t = torch.tensor(np.asarray(v), requires_grad=True)
        leaves.append(t)
        return t

    out = CALLS[name](leaf, np.random.default_rng(4))
    out.sum().backward()
    assert leaves[0].grad is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_metric_losses_stay_on_the_cuda_device():
    x = torch.randn(4, 3, device="cuda")
    y = torch.randn(4, 3, device="cuda")
    assert contrastive(x, y, torch.ones(4, device="cuda")).device == x.device
    assert triplet(x, y, -y).device == x.device
    assert info_nce(x, y).device == x.device
    torch.testing.assert_close(info_nce(x, y).cpu(), info_nce(x.cpu(), y.cpu()))


# --- the API contract: bad inputs ---


def test_embedding_shapes_are_checked():
    x = np.zeros((3, 2))
    with pytest.raises(
        ValueError, match=r"`x1` must be 2-D \(N, D\): .* got shape \(3,\)"
    ):
        contrastive(np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(
        ValueError, match=r"`anchor` must be 2-D \(N, D\).* got shape \(3, 0\)"
    ):
        triplet(np.zeros((3, 0)), np.zeros((3, 0)), np.zeros((3, 0)))
    with pytest.raises(
        ValueError,
        match=r"`anchor` and `negative` must have the same shape, got \(3, 2\) and",
    ):
        triplet(x, x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"`query` and `key` must have the same shape"):
        info_nce(x, np.zeros((2, 2)))
    with pytest.raises(
        ValueError,
        match=r"`same` must have shape \(N,\) = \(3,\), one label per pair, got \(3, 1",
    ):
        contrastive(x, x, np.zeros((3, 1)))


def test_labels_and_hyperparameters_are_checked():
    x = np.zeros((3, 2))
    with pytest.raises(
        ValueError,
        match=r"`same` must hold pair labels \(1 similar, 0 not\) in \{0, 1\}, found -",
    ):
        contrastive(x, x, [1, 0, -1])
    for loss, args in ((contrastive, (x, x, [1, 0, 1])), (triplet, (x, x, x))):
        for bad in (0.0, -1.0, math.nan, "1"):
            got = re.escape(repr(bad))
            msg = rf"^margin must be a positive number \(> 0\), got {got}$"
            with pytest.raises(ValueError, match=msg):
                loss(*args, margin=bad)
    for bad in (0.0, -0.07, math.inf):
        with pytest.raises(
            ValueError, match=r"^temperature must be a positive number \(> 0\), got"
        ):
            info_nce(x, x, temperature=bad)
    with pytest.raises(
        ValueError, match=r"^symmetric must be True or False, got 'yes'$"
    ):
        info_nce(x, x, symmetric="yes")


@pytest.mark.parametrize("name", list(CALLS))
def test_reduction_typos_mixing_and_empty_means(name):
    loss = getattr(metric, name)
    x = np.ones((2, 3))
    args = {
        "contrastive": (x, x, [1.0, 0.0]),
        "triplet": (x, x, x),
        "info_nce": (x, x),
    }[name]
    with pytest.raises(ValueError, match=r"'mean', 'sum' or 'none', got 'avg'"):
        loss(*args, reduction="avg")
    mixed = (torch.tensor(args[0]), *args[1:])
    with pytest.raises(
        TypeError, match=r"is a torch.Tensor but `.*` is a numpy.ndarray"
    ):
        loss(*mixed)
    empty = np.zeros((0, 3))
    eargs = {
        "contrastive": (empty, empty, np.zeros(0)),
        "triplet": (empty,) * 3,
        "info_nce": (empty,) * 2,
    }[name]
    with pytest.raises(ValueError, match=r"is empty \(shape \(0, 3\)\)"):
        loss(*eargs)
    assert float(loss(*eargs, reduction="sum")) == 0.0


def test_options_are_keyword_only():
    x = np.ones((2, 3))
    with pytest.raises(TypeError):
        triplet(x, x, x, 0.5)
    with pytest.raises(TypeError):
        info_nce(x, x, 0.1)


def test_functions_are_exported_from_the_top_level_and_the_module():
    for name in metric.__all__:
        assert getattr(lb, name) is getattr(metric, name)
        assert name in lb.__all__


# --- properties (hypothesis) ---

coord = st.floats(-100, 100, allow_subnormal=False)


def matrices(n, d):
    return st.lists(st.lists(coord, min_size=d, max_size=d), min_size=n, max_size=n)


def unit_scale_matrices(n, d):
    """Rows well away from normalize's 1e-12 floor, where cosine is scale-free."""
    row = st.lists(coord, min_size=d, max_size=d).filter(
        lambda r: max(abs(v) for v in r) > 1e-3
    )
    return st.lists(row, min_size=n, max_size=n)


shapes = st.tuples(st.integers(1, 5), st.integers(1, 4))


@FEW
@given(data=st.data(), shape=shapes, margin=st.floats(0.01, 10))
def test_contrastive_is_non_negative_and_zero_for_coinciding_similar_pairs(
    data, shape, margin
):
    x1 = np.asarray(data.draw(matrices(*shape)))
    x2 = np.asarray(data.draw(matrices(*shape)))
    same = np.asarray(
        data.draw(
            st.lists(st.sampled_from([0.0, 1.0]), min_size=shape[0], max_size=shape[0])
        )
    )
    assert np.all(contrastive(x1, x2, same, margin=margin, reduction="none") >= 0)
    assert (
        float(contrastive(x1, x1, np.ones(shape[0]), margin=margin, reduction="sum"))
        == 0.0
    )
    # symmetric in the order of the pair
    np.testing.assert_array_equal(
        contrastive(x1, x2, same, margin=margin, reduction="none"),
        contrastive(x2, x1, same, margin=margin, reduction="none"),
    )


@FEW
@given(data=st.data(), shape=shapes, margin=st.floats(0.01, 10))
def test_triplet_is_non_negative_and_at_least_the_margin_when_positive_is_negative(
    data, shape, margin
):
    a = np.asarray(data.draw(matrices(*shape)))
    p = np.asarray(data.draw(matrices(*shape)))
    n = np.asarray(data.draw(matrices(*shape)))
    assert np.all(triplet(a, p, n, margin=margin, reduction="none") >= 0)
    # d(a, p) - d(a, p) + m = m exactly
    np.testing.assert_allclose(
        triplet(a, p, p, margin=margin, reduction="none"), margin
    )


@FEW
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 5), st.integers(2, 4)),
    t=st.floats(0.05, 5),
)
def test_info_nce_is_non_negative_scale_invariant_and_symmetric(data, shape, t):
    q = np.asarray(data.draw(unit_scale_matrices(*shape)))
    k = np.asarray(data.draw(unit_scale_matrices(*shape)))
    loss = info_nce(q, k, temperature=t, reduction="none")
    assert np.all(loss >= 0)
    # cosine similarity ignores the length of each row
    np.testing.assert_allclose(
        info_nce(3.0 * q, 0.5 * k, temperature=t, reduction="none"),
        loss,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        info_nce(q, k, temperature=t, symmetric=True),
        info_nce(k, q, temperature=t, symmetric=True),
        rtol=1e-12,
    )


# --- a learnable temperature (0-d array or tensor) ---


@pytest.mark.parametrize("symmetric", [False, True])
def test_a_tensor_temperature_gets_the_gradient_torch_gets(symmetric, rng):
    q = torch.tensor(rng.standard_normal((6, 4)))
    k = torch.tensor(rng.standard_normal((6, 4)))
    t = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    loss = info_nce(q, k, temperature=t, symmetric=symmetric)
    (g,) = torch.autograd.grad(loss, t)
    t_ref = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    logits = F.normalize(q) @ F.normalize(k).T / t_ref
    labels = torch.arange(6)
    ref = F.cross_entropy(logits, labels)
    if symmetric:
        ref = 0.5 * (ref + F.cross_entropy(logits.T, labels))
    (g_ref,) = torch.autograd.grad(ref, t_ref)
    torch.testing.assert_close(loss, ref, rtol=1e-13, atol=0)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=0)
    # CLIP's parametrisation: a learnable log-scale, temperature = 1 / exp(s)
    s = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    (gs,) = torch.autograd.grad(info_nce(q, k, temperature=1 / s.exp()), s)
    assert torch.isfinite(gs) and gs != 0


def test_a_0d_array_temperature_equals_the_number(backend, rng):
    q, k = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    number = info_nce(backend(q), backend(k), temperature=0.3, reduction="none")
    array = info_nce(backend(q), backend(k), temperature=backend(0.3), reduction="none")
    backend.check_native(array, (5,))
    np.testing.assert_array_equal(backend.numpy(array), backend.numpy(number))


def test_a_tensor_temperature_is_checked():
    x = torch.ones(3, 2)
    with pytest.raises(
        ValueError,
        match=r"`temperature` must hold positive finite numbers \(> 0\), found -0.1",
    ):
        info_nce(x, x, temperature=torch.tensor(-0.1))
    with pytest.raises(ValueError, match=r"found nan"):
        info_nce(x, x, temperature=torch.tensor(math.nan))
    with pytest.raises(
        ValueError, match=r"`temperature` must be a number or a 0-d array or tensor"
    ):
        info_nce(x, x, temperature=torch.full((3,), 0.1))
    with pytest.raises(
        TypeError, match=r"`query` is a torch.Tensor but `temperature` is a numpy"
    ):
        info_nce(x, x, temperature=np.array(0.1))


def test_other_hyperparameters_as_tensors_are_a_type_error():
    x = torch.ones(3, 2)
    same = torch.tensor([1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match=r"^margin must be a Python number, got a"):
        contrastive(x, x, same, margin=torch.tensor(1.0))
    with pytest.raises(TypeError, match=r"^margin must be a Python number"):
        triplet(x, x, x, margin=np.array(1.0))
    with pytest.raises(TypeError, match=r"^symmetric must be a Python bool, got a"):
        info_nce(x, x, symmetric=torch.tensor(True))
