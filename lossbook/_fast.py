"""Fast paths of the losses for torch tensors in eager mode.

The public losses are written once, for NumPy and torch (the array API
formulas of their modules). On torch tensors a formula of a dozen element-wise
operations costs a dozen passes over memory forward and as many nodes of the
autograd graph backward; ``torch.nn.functional``'s losses are one fused kernel
each way. Each function here returns the loss for the common case, or
``None`` to let the caller run its formula:

- where ``torch.nn.functional``'s kernel computes the same function and was
  measured to be as accurate as our formula (``tests/benchmarks/accuracy.py``:
  MSE, MAE, Huber, smooth L1), it is called;
- elsewhere a :class:`torch.autograd.Function` computes the value with fewer
  passes (in-place updates, no ``torch.where`` on large tensors: on CPU it is
  tens of times slower than an arithmetic pass) and its ``backward`` is the
  analytic gradient of :mod:`lossbook.grad`, equal to autograd of the formula
  (a backward pass that is itself differentiated, ``create_graph=True``,
  recomputes the formula with autograd).

Every function takes the arguments of its loss after the loss has checked its
hyperparameters. A fast path runs only for plain (not traced) strided tensors
of floating dtypes (float32 or float64; mixed, computed in float64) on one
device, with a valid ``reduction`` and, for the mean, a non-empty input;
everything else (NumPy arrays, float16, integers, wrong shapes,
``torch.compile``, ``torch.func`` transforms, meta tensors) gets ``None``, and
the formula raises the errors and computes the rest. Value checks run as the
formula's would (see :mod:`lossbook._checks`): a failing fast check hands
over to the formula's checker, which raises with its message; with value
checks off nothing raises.

torch is never imported here: the functions run only on tensors, so it is
already in ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading

from . import _checks
from ._backend import traced


def _reduced(loss, reduction):
    """The reduction of the fast paths: torch's own mean and sum of ``loss``."""
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


_REDUCTIONS = ("mean", "sum", "none")
# below this many elements a call costs its kernel launches, above it its
# passes over memory: the fast paths choose their formulation by it
_FEW = 32768
_LOG_FLOOR = -100.0  # torch's clamp of the logs of binary_cross_entropy


_state = threading.local()  # .off: fast paths disabled in this thread


@contextlib.contextmanager
def disabled():
    """Inside the block every loss runs its formula (tests, benchmarks, and the
    recomputation of a gradient that is differentiated again)."""
    previous = getattr(_state, "off", False)
    _state.off = True
    try:
        yield
    finally:
        _state.off = previous


def _torch():
    return sys.modules["torch"]


def _eager(torch, tensors) -> bool:
    """No tensor of ``tensors`` is traced (see ``_backend.traced``), in one go."""
    C = torch._C
    if (
        torch.compiler.is_compiling()
        or C._len_torch_dispatch_stack() > 0
        or C._is_tracing()
    ):
        return False
    wrapped = C._functorch.is_functorch_wrapped_tensor
    for x in tensors:
        if x.is_meta or wrapped(x):
            return False
        if type(x) is not torch.Tensor and traced(x):  # subclasses: fake tensors
            return False
    return True


def _plain(reduction, first, *others):
    """``(inputs, out_dtype)`` if the inputs can take a fast path, else ``None``.

    Floating tensors of one shape and device, strided, in eager mode, with a
    valid ``reduction`` and, for the mean, a non-empty input. The inputs come
    back in the dtype the formula computes in (see ``_backend.arrays``):
    torch's promotion of their dtypes, float32 for float16 and bfloat16;
    ``out_dtype`` is the dtype the loss goes back to (the promoted float16 or
    bfloat16, except under ``torch.autocast``, which returns float32 as
    ``torch.nn.functional`` does), or ``None`` when it is the computing dtype.
    Under autocast the fast paths are otherwise unchanged: nothing here is a
    matrix product that autocast would round.
    """
    torch = sys.modules.get("torch")
    if (
        torch is None
        or not isinstance(first, torch.Tensor)
        or getattr(_state, "off", False)
        or not (isinstance(reduction, str) and reduction in _REDUCTIONS)
    ):
        return None
    tensors = (first, *others)
    dtype = first.dtype
    for x in tensors:
        if (
            not isinstance(x, torch.Tensor)
            or x.layout is not torch.strided
            or not x.is_floating_point()
            or x.shape != first.shape
            or x.device != first.device
        ):
            return None
        if x.dtype is not dtype:
            dtype = torch.promote_types(dtype, x.dtype)
    if (reduction == "mean" and first.numel() == 0) or not _eager(torch, tensors):
        return None
    back = None
    if dtype is torch.float16 or dtype is torch.bfloat16:
        if not (
            torch._C._is_any_autocast_enabled()
            and torch.is_autocast_enabled(first.device.type)
        ):
            back = dtype
        dtype = torch.float32
    elif dtype is not torch.float32 and dtype is not torch.float64:
        return None
    if any(x.dtype is not dtype for x in tensors):
        tensors = tuple(x.to(dtype) for x in tensors)
    return tensors, back


def _back(out, dtype):
    """The loss in the dtype it returns (float16 and bfloat16 inputs)."""
    return out if dtype is None else out.to(dtype)


def _in_range(x, name, lo, hi, what):
    """``_checks.in_range`` with one pass (min and max) where the data is read.

    On CPU the common case costs one ``aminmax``; a failure (NaN included:
    the comparisons are False) runs the formula's checker, which raises.
    Elsewhere (CUDA: an asynchronous assertion; checks off: nothing) the
    formula's checker decides.
    """
    if _checks._where(x) != _checks._HOST or x.numel() == 0:
        _checks.in_range(x, name, lo, hi, what)
        return
    low, high = x.aminmax()
    if not (low.item() >= lo and high.item() <= hi):
        _checks.in_range(x, name, lo, hi, what)


def _scale(grad, reduction, n):
    """The factor of each element's derivative: ``grad`` (over ``n`` for a mean).

    A Python number for a reduced loss on CPU (one read of a 0-d tensor, then
    no tensor operations), else a tensor (no host synchronisation on a device).
    """
    if reduction != "none" and grad.is_cpu:
        grad = grad.item()
    return grad / n if reduction == "mean" else grad


def _again(loss, inputs, needs, grad, *args):
    """The gradients by autograd of the formula, for a backward pass that is
    itself differentiated (``create_graph=True``): the analytic backward
    computes with values saved without a graph."""
    torch = _torch()
    with disabled(), torch.enable_grad():
        out = loss(*inputs, *args)
        wrt = [x for x, need in zip(inputs, needs, strict=False) if need]
        grads = iter(torch.autograd.grad(out, wrt, grad, create_graph=True))
    return tuple(next(grads) if need else None for need in needs)


# --- regression: torch.nn.functional's fused kernels -----------------------
# F.mse_loss, l1_loss, huber_loss and smooth_l1_loss compute the same rounded
# operations as our formulas (accuracy.py: the same worst ulps), and their
# backward is the subgradient autograd takes through our formulas (sign(0) = 0,
# clip's derivative 1 at |r| = delta).


def mse(pred, target, reduction):
    if (call := _plain(reduction, pred, target)) is None:
        return None
    xs, back = call
    return _back(_torch().nn.functional.mse_loss(*xs, reduction=reduction), back)


def mae(pred, target, reduction):
    if (call := _plain(reduction, pred, target)) is None:
        return None
    xs, back = call
    return _back(_torch().nn.functional.l1_loss(*xs, reduction=reduction), back)


def huber(pred, target, delta, reduction):
    if (call := _plain(reduction, pred, target)) is None:
        return None
    xs, back = call
    F = _torch().nn.functional
    return _back(F.huber_loss(*xs, reduction=reduction, delta=delta), back)


def smooth_l1(pred, target, beta, reduction):
    if (call := _plain(reduction, pred, target)) is None:
        return None
    xs, back = call
    F = _torch().nn.functional
    return _back(F.smooth_l1_loss(*xs, reduction=reduction, beta=beta), back)


# --- autograd Functions ---------------------------------------------------------

_FUNCTIONS = {}


def _function(name):
    """The autograd.Function ``name``, built on first use (torch imported)."""
    fn = _FUNCTIONS.get(name)
    if fn is None:
        _FUNCTIONS.update(_build(_torch()))
        fn = _FUNCTIONS[name]
    return fn


def _build(torch):
    F = torch.nn.functional

    def public(name, module=None):
        from . import classification, detection, regression

        if module is None:
            module = "regression" if name == "log_cosh" else "classification"
        return getattr(
            {"regression": regression, "classification": classification,
             "detection": detection}[module], name
        )  # fmt: skip

    class LogCosh(torch.autograd.Function):
        """log cosh(pred - target); backward tanh(r) (lossbook.grad.log_cosh)."""

        @staticmethod
        def forward(ctx, pred, target, reduction):
            r = pred - target
            n = r.numel()
            half = 0.5 / n if reduction == "mean" else 0.5
            out = None
            if r.is_cpu:
                # log cosh r = log1p(sinh^2 r) / 2: one formula for every r,
                # with no cancellation at tiny r (sinh r = r to the last bit);
                # sinh^2 overflows from |r| ~ 44 (float32) / 355 (float64),
                # where the exact form below takes over
                s = torch.sinh(r)
                s2 = s * s
                lg = torch.log1p(s2)
                if reduction == "none":
                    if bool(torch.isfinite(lg).all()):
                        out = lg.mul_(half)
                elif math.isfinite(total := float(lg.sum())):
                    out = torch.tensor(total * half, dtype=r.dtype)
            exact = out is None
            if exact:  # huge residuals, NaN, or a device (no host read)
                a = r.abs()
                far = a > 20.0  # there exp(-2 |r|) < ulp(|r|) / 4: |r| - log 2
                near = torch.sinh(torch.where(far, 0.0, r))
                s = torch.where(far, a - math.log(2.0), 0.5 * torch.log1p(near * near))
                out = s if reduction == "none" else s.sum() * (2 * half)
            if exact:
                ctx.save_for_backward(pred, target, r)
            else:  # tanh r = sinh r / sqrt(1 + sinh^2 r): no second tanh pass
                ctx.save_for_backward(pred, target, s, s2)
            ctx.reduction = reduction
            return out

        @staticmethod
        def backward(ctx, grad):
            pred, target, *saved = ctx.saved_tensors
            needs = ctx.needs_input_grad[:2]
            if torch.is_grad_enabled():
                fn = public("log_cosh")
                return (*_again(lambda a, b, r: fn(a, b, reduction=r), (pred, target),
                                needs, grad, ctx.reduction), None)  # fmt: skip
            scale = _scale(grad, ctx.reduction, pred.numel())
            if len(saved) == 1:
                g = torch.tanh(saved[0]).mul_(scale)
            else:
                sinh, sinh2 = saved
                g = sinh / sinh2.add(1.0).sqrt_()
                g.mul_(scale)
            return (g if needs[0] else None, -g if needs[1] else None, None)

    class BCE(torch.autograd.Function):
        """BCE on probabilities, each log clamped at -100 (torch's convention)."""

        @staticmethod
        def forward(ctx, p, y, reduction, clamped):
            # not F.binary_cross_entropy: its kernel is not vectorised on CPU
            # (several times slower) and raises on values outside [0, 1] even
            # with lossbook's value checks off
            log_p = torch.log(p)
            log_q = torch.log1p(-p)  # exact for small p, where log(1 - p) rounds
            if clamped:  # p = 0, p = 1 or p < e^-100 somewhere (or unknown)
                lp, lq = log_p.clamp(min=_LOG_FLOOR), log_q.clamp(min=_LOG_FLOOR)
            else:
                lp, lq = log_p, log_q
            # -[y log p + (1 - y) log(1 - p)] = (y - 1) log(1 - p) - y log p
            loss = torch.sub(y, 1.0).mul_(lq).addcmul_(lp, y, value=-1.0)
            ctx.save_for_backward(p, y, log_p, log_q)
            ctx.clamped = clamped
            ctx.reduction = reduction
            return _reduced(loss, reduction)

        @staticmethod
        def backward(ctx, grad):
            p, y, log_p, log_q = ctx.saved_tensors
            needs = ctx.needs_input_grad[:2]
            if torch.is_grad_enabled():
                return (*_again(_bce_kw(public), (p, y), needs, grad,
                                ctx.reduction), None, None)  # fmt: skip
            s = _scale(grad, ctx.reduction, p.numel())
            gp = gy = None
            if needs[0]:
                # d/dp = (1 - y) / (1 - p) - y / p
                pos = torch.rsub(y, 1)
                if ctx.clamped:
                    # where a log is clamped its derivative is 0, half at a
                    # tie, as torch.maximum's in the formula: (sign + 1) / 2;
                    # the numerator is masked first, so 0 / p is never 0 * inf
                    tiny = _TINY[p.dtype.itemsize]
                    pos.mul_(_kept(log_q)).div_(torch.rsub(p, 1).clamp_(min=tiny))
                    gp = pos.sub_(y * _kept(log_p) / p.clamp(min=tiny))
                else:
                    gp = pos.div_(torch.rsub(p, 1)).sub_(y / p)
                gp.mul_(s)
            if needs[1]:
                # d/dy = log(1 - p) - log(p), clamped
                gy = log_q.clamp(min=_LOG_FLOOR)
                gy.sub_(log_p.clamp(min=_LOG_FLOOR)).mul_(s)
            return gp, gy, None, None

    def _kept(log):
        return torch.sign(log - _LOG_FLOOR).add_(1.0).mul_(0.5)

    class BCEWithLogits(torch.autograd.Function):
        """y softplus(-z) + (1 - y) softplus(z); backward (1-y) s(z) - y s(-z)."""

        @staticmethod
        def forward(ctx, z, y, reduction):
            # y softplus(-z) + (1 - y) softplus(z): a sum of non-negative
            # terms, no cancellation for either label
            if z.numel() < _FEW:
                # few elements: the fewest kernels. softplus(z) = log1p(exp(z))
                # is accurate in both tails; above 40 it is z to within
                # exp(-40) < ulp(z) / 4 (float32 and float64); beta = -1 gives
                # -softplus(-z) in one pass
                loss = torch.rsub(y, 1).mul_(F.softplus(z, threshold=40.0))
                sp_neg = F.softplus(z, beta=-1.0, threshold=40.0)
                loss.addcmul_(sp_neg, y, value=-1.0)
            else:
                # many: the fewest transcendental passes, softplus(+-z) =
                # log1p(exp(-|z|)) + relu(+-z) (the formula's softplus) with
                # one exp and one log1p for both signs
                loss = torch.abs(z).neg_().exp_().log1p_()
                loss.addcmul_(torch.rsub(y, 1), torch.relu(z))
                loss.addcmul_(y, torch.relu(-z))
            ctx.save_for_backward(z, y)
            ctx.reduction = reduction
            return _reduced(loss, reduction)

        @staticmethod
        def backward(ctx, grad):
            z, y = ctx.saved_tensors
            needs = ctx.needs_input_grad[:2]
            if torch.is_grad_enabled():
                return (*_again(_bce_logits_kw(public), (z, y), needs, grad,
                                ctx.reduction), None)  # fmt: skip
            s = _scale(grad, ctx.reduction, z.numel())
            gz = gy = None
            if needs[0]:
                # (1 - y) sigmoid(z) - y sigmoid(-z): both terms accurate in the
                # tails (sigmoid(z) - y cancels for a confident right answer)
                gz = torch.rsub(y, 1).mul_(torch.sigmoid(z))
                gz.addcmul_(torch.sigmoid(-z), y, value=-1.0).mul_(s)
            if needs[1]:
                # d/dy = softplus(-z) - softplus(z) = -z
                gy = z * -s
            return gz, gy, None

    class CrossEntropy(torch.autograd.Function):
        """Softmax cross-entropy of (N, K) logits and class indices (N,)."""

        @staticmethod
        def forward(ctx, z, t, eps, reduction):
            k = z.shape[1]
            # as the formula (_neg_log_softmax): around the row's largest
            # logit, whose term exp(0) = 1 is left out of the sum and put back
            # by log1p, so a tiny loss keeps its digits
            m, top = z.max(dim=1, keepdim=True)
            if z.dtype is torch.float32:
                # the difference of two float32 numbers is exact in float64:
                # the rest is computed there and rounded once at the end
                d = z.double().sub_(m.double())  # <= 0: exp never overflows
                e = torch.exp(d)
            else:
                d = z - m
                # TwoSum: d + err = z - m exactly (err is d's rounding error)
                back = d - z
                err = (z - (d - back)).sub_(back.add_(m))
                # a gap beyond the largest float gives d = -inf and err = NaN;
                # such a class has probability 0: err 0 keeps exp(d) = 0 and
                # d = -inf, its true log-ratio (as the formula)
                err.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
                e = torch.exp(d)
                e.addcmul_(e, err)  # exp(d + err) to first order
                d.add_(err)  # the exact log-ratios to the top, d + err
            e.scatter_(1, top, 0.0)
            # (N, 1) columns throughout: no indexing in either pass
            rest = e.sum(dim=1, keepdim=True)
            t = t.unsqueeze(1)
            # -log p_y = log1p(rest) - (d + err)_y; smoothing adds eps/K of
            # every class's: all terms >= 0, no cancellation
            loss = torch.log1p(rest).sub_(d.gather(1, t), alpha=1 - eps)
            if eps:
                loss.sub_(d.sum(dim=1, keepdim=True), alpha=eps / k)
            ctx.save_for_backward(z, t, e, rest, top)
            ctx.eps = eps
            ctx.reduction = reduction
            if reduction == "none":
                return loss.squeeze(1).to(z.dtype)
            return (loss.mean() if reduction == "mean" else loss.sum()).to(z.dtype)

        @staticmethod
        def backward(ctx, grad):
            z, t, e, rest, top = ctx.saved_tensors
            eps = ctx.eps
            if torch.is_grad_enabled():
                return (*_again(_ce_kw(public), (z, t.squeeze(1)), (True, False),
                                grad, eps, ctx.reduction), None, None)  # fmt: skip
            k = e.shape[1]
            s = _scale(grad, ctx.reduction, e.shape[0])  # a number, or (N,)
            if not isinstance(s, float):
                s = s.unsqueeze(1)
            p_top = torch.reciprocal(rest + 1)  # the top class's probability
            g = e * p_top  # the other classes' probabilities
            # the top class: p_top - q_top; where it is the target, p_top - 1
            # is -rest p_top exactly, not the cancelling 1 / (1 + rest) - 1
            hit = t == top
            top_val = torch.where(hit, torch.mul(rest, p_top).neg_().add_(eps), p_top)
            g.scatter_(1, top, top_val)
            # the other targets: - (1 - eps) at y; smoothing: - eps/K everywhere
            g.scatter_add_(1, t, hit.to(e.dtype).sub_(1.0).mul_(1 - eps))
            if eps:
                g.sub_(eps / k)
            return g.mul_(s).to(z.dtype), None, None, None

    class Focal(torch.autograd.Function):
        """Sigmoid focal loss alpha_t (1 - p_t)^gamma ce, gamma >= 1."""

        @staticmethod
        def forward(ctx, z, y, alpha, gamma, reduction):
            # ce = y softplus(-z) + (1 - y) softplus(z), as BCE with logits
            omy = torch.rsub(y, 1)
            ce = omy * F.softplus(z, threshold=40.0)
            ce.addcmul_(F.softplus(z, beta=-1.0, threshold=40.0), y, value=-1.0)
            # 1 - p_t = (1 - y) sigmoid(z) + y sigmoid(-z): non-negative terms,
            # each sigmoid accurate in its tail (no 1 - sigmoid)
            sig = torch.sigmoid(z)
            sig_neg = torch.sigmoid(-z)
            w = omy * sig
            w.addcmul_(y, sig_neg)
            mod = w * w if gamma == 2.0 else torch.pow(w, gamma)
            loss = mod * ce
            if alpha >= 0:  # alpha_t = alpha y + (1 - alpha)(1 - y)
                a_t = torch.mul(y, 2 * alpha - 1).add_(1 - alpha)
                loss.mul_(a_t)
            else:
                a_t = None
            ctx.save_for_backward(z, y, omy, sig, sig_neg, w, ce, a_t)
            ctx.gamma = gamma
            ctx.alpha = alpha
            ctx.reduction = reduction
            return _reduced(loss, reduction)

        @staticmethod
        def backward(ctx, grad):
            z, y, omy, sig, sig_neg, w, ce, a_t = ctx.saved_tensors
            gamma = ctx.gamma
            needs = ctx.needs_input_grad[:2]
            if torch.is_grad_enabled() or needs[1]:  # d/dy: by the formula
                fn = public("focal", "detection")
                alpha = ctx.alpha
                return (*_again(
                    lambda a, b, r: fn(a, b, alpha=alpha, gamma=gamma, reduction=r),
                    (z, y), needs, grad, ctx.reduction,
                ), None, None, None)  # fmt: skip
            s = _scale(grad, ctx.reduction, z.numel())
            # d/dz = gamma w^(gamma-1) w' ce + w^gamma ce', with
            # w' = sigmoid(z) sigmoid(-z) (1 - 2y) and
            # ce' = (1 - y) sigmoid(z) - y sigmoid(-z)
            dw = sig * sig_neg
            dw.mul_(torch.rsub(y, 1, alpha=2))
            lower = w if gamma == 2.0 else torch.pow(w, gamma - 1)
            g = dw.mul_(lower).mul_(ce).mul_(gamma)
            dce = omy * sig
            dce.addcmul_(y, sig_neg, value=-1.0)
            g.addcmul_(dce, w * lower)  # w^gamma = w w^(gamma - 1)
            if a_t is not None:
                g.mul_(a_t)
            return g.mul_(s), None, None, None, None

    class Dice(torch.autograd.Function):
        """Soft Dice loss per sample of (N, M) probabilities and masks."""

        @staticmethod
        def forward(ctx, p, t, smooth, reduction):
            # 1 - ratio = sum(p (1 - t) + t (1 - p)) / (sum p + sum t + s):
            # the mismatch from non-negative terms, as the formula
            mismatch = torch.rsub(t, 1).mul_(p)
            mismatch.addcmul_(t, torch.rsub(p, 1))
            mism = mismatch.sum(dim=1)
            total = p.sum(dim=1).add_(t.sum(dim=1)).add_(smooth)
            # with smooth = 0 an all-empty sample is a perfect score: loss 0,
            # gradient 0 (total 0 is replaced by 1 in a division that the
            # mismatch 0 makes 0)
            has_mass = (total > 0).to(p.dtype)
            safe = total + (1 - has_mass)
            loss = mism / safe
            ctx.save_for_backward(p, t, loss, safe, has_mass)
            ctx.smooth = smooth
            ctx.reduction = reduction
            return _reduced(loss, reduction)

        @staticmethod
        def backward(ctx, grad):
            p, t, loss, safe, has_mass = ctx.saved_tensors
            needs = ctx.needs_input_grad[:2]
            if torch.is_grad_enabled():
                fn = public("dice", "detection")
                smooth = ctx.smooth
                return (*_again(
                    lambda a, b, r: fn(a, b, smooth=smooth, reduction=r),
                    (p, t), needs, grad, ctx.reduction,
                ), None, None)  # fmt: skip
            n = p.shape[0]
            s = _scale(grad, ctx.reduction, n)
            if not isinstance(s, float):
                s = s.reshape(-1)
            # d loss / d p_j = ((1 - 2 t_j) - loss) / total, per sample
            inv = has_mass.mul(s).div_(safe)
            shift = (loss * inv).neg_()[:, None]
            inv = inv[:, None]
            gp = gt = None
            if needs[0]:
                gp = torch.addcmul(shift, torch.rsub(t, 1, alpha=2), inv)
            if needs[1]:
                gt = torch.addcmul(shift, torch.rsub(p, 1, alpha=2), inv)
            return gp, gt, None, None

    return {
        "focal": Focal,
        "dice": Dice,
        "log_cosh": LogCosh,
        "bce": BCE,
        "bce_logits": BCEWithLogits,
        "cross_entropy": CrossEntropy,
    }


# float32: log p > -100 from p = 3.8e-44 (27 subnormal units, log -99.98) up;
# float64: from the float above e^-100 (at most two floats below it have a log
# that rounds to -100 exactly: they count as clamped, a conservative choice)
_P_FLOOR = {4: 3.7835e-44, 8: 3.7200759760208555e-44}

# the smallest subnormal numbers of float32 and float64: a floor that only
# moves an exact 0 (p = 0 or 1 - p = 0), so a masked 0 / x is never 0 / 0
_TINY = {4: 1e-45, 8: 5e-324}


def _bce_kw(public):
    fn = public("binary_cross_entropy")
    return lambda p, y, reduction: fn(p, y, reduction=reduction)


def _bce_logits_kw(public):
    fn = public("binary_cross_entropy_with_logits")
    return lambda z, y, reduction: fn(z, y, reduction=reduction)


def _ce_kw(public):
    fn = public("cross_entropy")
    return lambda z, t, eps, reduction: fn(
        z, t, label_smoothing=eps, reduction=reduction
    )


# --- the hooks ------------------------------------------------------------------


def log_cosh(pred, target, reduction):
    if (call := _plain(reduction, pred, target)) is None:
        return None
    xs, back = call
    return _back(_function("log_cosh").apply(*xs, reduction), back)


def binary_cross_entropy(prob, target, weight, reduction):
    if weight is not None or (call := _plain(reduction, prob, target)) is None:
        return None
    (p, y), back = call
    clamped = True  # whether a log may be clamped (p = 0, 1 or below e^-100)
    if p.is_cpu and p.numel():
        # one pass for the value check and for the clamps: with p in
        # (e^-100, 1) no log is clamped and the backward pass needs no mask
        low, high = (v.item() for v in p.aminmax())
        if _checks._where(p) == _checks._HOST and not (low >= 0.0 and high <= 1.0):
            _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
        clamped = not (low > _P_FLOOR[p.dtype.itemsize] and high < 1.0)
    else:
        _checks.in_range(p, "prob", 0.0, 1.0, "probabilities")
    _in_range(y, "target", 0.0, 1.0, "labels")
    return _back(_function("bce").apply(p, y, reduction, clamped), back)


def binary_cross_entropy_with_logits(logits, target, weight, pos_weight, reduction):
    if weight is not None or pos_weight is not None:
        return None
    if (call := _plain(reduction, logits, target)) is None:
        return None
    xs, back = call
    _in_range(xs[1], "target", 0.0, 1.0, "labels")
    return _back(_function("bce_logits").apply(*xs, reduction), back)


def cross_entropy(logits, target, weight, label_smoothing, ignore_index, reduction):
    if weight is not None or ignore_index is not None:
        return None
    if (call := _plain(reduction, logits)) is None:
        return None
    (z,), back = call
    torch = _torch()
    if (
        z.ndim != 2
        or z.shape[1] == 0
        or not isinstance(target, torch.Tensor)
        or target.dtype is not torch.int64
        or target.shape != z.shape[:1]
        or target.device != z.device
        or not _eager(torch, (target,))
    ):
        return None
    eps = _checks.hyper("label_smoothing", label_smoothing, "unit")
    k = z.shape[1]
    if _checks._where(target) == _checks._SKIP:
        # unchecked indices must not crash the gather below: an index outside
        # [0, K) gives an unspecified loss, as value checks off promise
        target = target.clamp(0, k - 1)
    else:
        _class_indices(target, k)
    return _back(_function("cross_entropy").apply(z, target, eps, reduction), back)


def _class_indices(t, k):
    """``_checks.class_indices`` with one pass where the data is read (CPU)."""
    if _checks._where(t) != _checks._HOST or t.numel() == 0:
        _checks.class_indices(t, "target", k)
        return
    low, high = t.aminmax()
    if not (low.item() >= 0 and high.item() < k):
        _checks.class_indices(t, "target", k)


# --- Euclidean norms of rows (triplet, contrastive, info_nce) --------------------


# the row norms where float32's plain sum of squares neither overflows nor
# loses digits to underflow (the squares of a row's largest entries stay
# normal numbers for rows of up to 10^4 entries)
_NORM_RANGE = (1e-15, 1e18)


def norm(v):
    """``torch.linalg.vector_norm(v, dim=-1)`` where it is exact, or ``None``.

    The formula (``metric._norm``) divides each row by its largest entry so
    that squares neither overflow nor underflow. For float32 rows whose
    norms lie in a safe range (read on CPU: one ``aminmax`` of the norms) the
    plain norm is as accurate (``accuracy.py``: triplet, contrastive and
    info_nce in float32 no worse, most better), one pass instead of five, and
    autograd's derivative ``v / |v|`` is the formula's. Zero, tiny or huge
    rows, NaN, float64 (whose worst ulps it would move both ways) and other
    devices take the formula.
    """
    torch = sys.modules.get("torch")
    if (
        torch is None
        or not isinstance(v, torch.Tensor)
        or getattr(_state, "off", False)
        or v.dtype is not torch.float32
        or not v.is_cpu
        or v.layout is not torch.strided
        or v.ndim == 0
        or v.numel() == 0
        or traced(v)
    ):
        return None
    n = torch.linalg.vector_norm(v, dim=-1)
    low, high = (x.item() for x in n.detach().aminmax())
    if _NORM_RANGE[0] <= low and high <= _NORM_RANGE[1]:
        return n
    return None


# --- detection ---------------------------------------------------------------------


def focal(logits, target, alpha, gamma, reduction):
    if gamma < 1.0:  # (1 - p_t)^(gamma - 1) is infinite where p_t = 1: the formula
        return None
    if (call := _plain(reduction, logits, target)) is None:
        return None
    xs, back = call
    _in_range(xs[1], "target", 0.0, 1.0, "labels")
    return _back(_function("focal").apply(*xs, alpha, gamma, reduction), back)


def dice(prob, target, smooth, reduction):
    if (call := _plain(reduction, prob, target)) is None:
        return None
    (p, t), back = call
    if p.ndim < 2 or p.shape[0] == 0:  # the formula raises, or has nothing to do
        return None
    _in_range(p, "prob", 0.0, 1.0, "probabilities")
    _in_range(t, "target", 0.0, 1.0, "mask values")
    n = p.shape[0]
    flat = p.reshape(n, -1), t.reshape(n, -1)
    return _back(_function("dice").apply(*flat, smooth, reduction), back)
