"""Speed of lossbook against torch.nn.functional and other libraries' losses.

A script, not a test (pytest does not collect ``tests/benchmarks``)::

    python tests/benchmarks/bench_losses.py [--sizes 1e3,1e5,1e6,1e7]
        [--threads 1,all] [--repeat 7] [--json PATH]

``make bench`` runs it in ``.venv-bench``, where the peers are installed
(``tests/benchmarks/requirements.txt``: MONAI, kornia,
pytorch-metric-learning; torchvision's losses are measured only where
torchvision imports, which PyPI's build does not beside torch 2.13.0).

For every loss and every size (the number of elements of the prediction:
``(n,)`` for element-wise losses, ``(n / 10, 10)`` logits, ``(n / 64, 64)``
embeddings, ``(n / 512, 512)`` for InfoNCE, ``(n / 1000, 1, 1000)`` maps for
Dice and focal, ``(n / 4, 4)`` boxes) it times a forward and backward pass
(``loss(...).backward()``, the gradient reset before each call) of lossbook,
of lossbook with its value checks off (switched off outside the timed calls),
and of each reference, on the same float32 CPU tensors, in one process. The
calls alternate within each round and each time is the median over the
rounds, so a machine busy with other work slows every contender alike; the
ratios lossbook / reference are what the results are for. Before timing, the
values are compared (``values_agree``): a speed-up is never a different loss.

The results go to stdout and, with ``--json``, to a file with the machine,
the versions, the date and the load average (``os.getloadavg``) before and
after each block of measurements.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

import lossbook as lb

K = 10  # classes of the cross-entropy cases: (n / K, K) logits
D = 64  # features of the embeddings: (n / D, D)
D_PAIRS = 512  # features of info_nce (its cost grows with (n / D)^2)
PIXELS = 1000  # positions per sample of the Dice and focal cases
MIN_TIME = 0.02  # seconds per round and contender (calls are repeated up to it)


def _optional(name):
    try:
        return importlib.import_module(name)
    except Exception as error:  # not installed, or fails to import (torchvision)
        return error


PEERS = {
    name: _optional(name)
    for name in (
        "monai.losses",
        "kornia.losses",
        "pytorch_metric_learning.losses",
        "torchvision.ops",
    )
}


def _available(name):
    return not isinstance(PEERS[name], Exception)


def _peer_version(name):
    module = PEERS[name]
    if isinstance(module, Exception):
        return f"unavailable: {type(module).__name__}: {str(module)[:120]}"
    return importlib.import_module(name.split(".")[0]).__version__


# --- cases -----------------------------------------------------------------------


@dataclass
class Reference:
    """One contender: its label, the call, and its kind ("F" or "peer")."""

    label: str
    call: Callable
    kind: str
    max_size: float = math.inf  # larger inputs would not fit (all-pairs matrices)
    atol: float = 0.0  # allowed difference of the values beyond rtol


@dataclass
class Case:
    loss: str
    make: Callable  # (n, generator) -> tensors; the first ones get gradients
    ours: Callable
    grads: int = 1  # how many leading inputs require gradients
    refs: list = field(default_factory=list)
    max_size: float = math.inf


def _elementwise(n, g):
    return torch.randn(n, generator=g), torch.randn(n, generator=g)


def _probabilities(n, g):
    p = torch.rand(n, generator=g) * 0.98 + 0.01
    return p, torch.randint(0, 2, (n,), generator=g).float()


def _logits_labels(n, g):
    return torch.randn(n, generator=g), torch.randint(0, 2, (n,), generator=g).float()


def _classes(n, g):
    z = torch.randn(max(n // K, 1), K, generator=g)
    return z, torch.randint(0, K, (z.shape[0],), generator=g)


def _triplets(n, g):
    rows = max(n // D, 2)
    a = torch.randn(rows, D, generator=g)
    return (
        a,
        a + 0.3 * torch.randn(rows, D, generator=g),
        torch.randn(rows, D, generator=g),
    )


def _pairs(n, g):
    rows = max(n // D_PAIRS, 2)
    q = torch.randn(rows, D_PAIRS, generator=g)
    return q, q + torch.randn(rows, D_PAIRS, generator=g)


def _maps_logits(n, g):
    rows = max(n // PIXELS, 1)
    z = 2 * torch.randn(rows, 1, PIXELS, generator=g)
    return z, (torch.rand(rows, 1, PIXELS, generator=g) < 0.3).float()


def _maps_probabilities(n, g):
    z, y = _maps_logits(n, g)
    return torch.sigmoid(z), y


def _boxes(n, g):
    rows = max(n // 4, 1)

    def boxes():
        xy = 100 * torch.rand(rows, 2, generator=g)
        return torch.cat([xy, xy + 1 + 50 * torch.rand(rows, 2, generator=g)], dim=1)

    return boxes(), boxes()


def _pml(name):
    pml = importlib.import_module("pytorch_metric_learning")
    losses = PEERS["pytorch_metric_learning.losses"]
    return getattr(losses, name), pml.distances, pml.reducers


def cases() -> list[Case]:
    out = [
        Case("mse", _elementwise, lb.mse, refs=[Reference("F", F.mse_loss, "F")]),
        Case("mae", _elementwise, lb.mae, refs=[Reference("F", F.l1_loss, "F")]),
        Case(
            "huber", _elementwise, lambda a, b: lb.huber(a, b, delta=0.5),
            refs=[Reference("F", lambda a, b: F.huber_loss(a, b, delta=0.5), "F")],
        ),
        Case(
            "smooth_l1", _elementwise, lambda a, b: lb.smooth_l1(a, b, beta=0.5),
            refs=[Reference("F", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), "F")],
        ),
        Case(
            "log_cosh", _elementwise, lb.log_cosh,
            refs=[Reference("log(cosh(r)).mean()",
                            lambda a, b: torch.log(torch.cosh(a - b)).mean(), "peer")],
        ),
        Case(
            "binary_cross_entropy", _probabilities, lb.binary_cross_entropy,
            refs=[Reference("F", F.binary_cross_entropy, "F")],
        ),
        Case(
            "binary_cross_entropy_with_logits", _logits_labels,
            lb.binary_cross_entropy_with_logits,
            refs=[Reference("F", F.binary_cross_entropy_with_logits, "F")],
        ),
        Case(
            "cross_entropy", _classes, lb.cross_entropy,
            refs=[Reference("F", F.cross_entropy, "F")],
        ),
        Case(
            "cross_entropy[ls=0.1]", _classes,
            lambda z, t: lb.cross_entropy(z, t, label_smoothing=0.1),
            refs=[Reference(
                "F", lambda z, t: F.cross_entropy(z, t, label_smoothing=0.1), "F"
            )],
        ),
        Case(
            "triplet", _triplets, lb.triplet, grads=3,
            # F adds eps = 1e-6 to every coordinate of the differences
            refs=[Reference("F", F.triplet_margin_loss, "F", atol=2e-6 * math.sqrt(D))],
        ),
        Case(
            "info_nce", _pairs, lb.info_nce, grads=2, max_size=1e6,
            refs=[Reference(
                "F.cross_entropy(cos / t)",
                lambda q, k: F.cross_entropy(
                    F.normalize(q) @ F.normalize(k).T / 0.07,
                    torch.arange(q.shape[0]),
                ),
                "F",
            )],
        ),
        Case("focal", _maps_logits, lb.focal),
        Case("dice", _maps_probabilities, lb.dice),
        Case("giou_loss", _boxes, lb.giou_loss),
        Case("diou_loss", _boxes, lb.diou_loss),
        Case("ciou_loss", _boxes, lb.ciou_loss),
    ]  # fmt: skip
    by_name = {c.loss: c for c in out}
    if _available("monai.losses"):
        losses = PEERS["monai.losses"]
        focal = losses.FocalLoss(gamma=2.0, alpha=0.25)
        dice = losses.DiceLoss(smooth_nr=1.0, smooth_dr=1.0)
        by_name["focal"].refs.append(Reference("MONAI FocalLoss", focal, "peer"))
        by_name["dice"].refs.append(Reference("MONAI DiceLoss", dice, "peer"))
    if _available("kornia.losses"):
        kfocal = PEERS["kornia.losses"].binary_focal_loss_with_logits
        by_name["focal"].refs.append(Reference(
            "kornia binary_focal_loss_with_logits",
            lambda z, y: kfocal(z, y, alpha=0.25, gamma=2.0, reduction="mean"),
            "peer",
        ))  # fmt: skip
    if _available("pytorch_metric_learning.losses"):
        ntxent, distances, reducers = _pml("NTXentLoss")
        nt = ntxent(temperature=0.07)

        def pml_info_nce(q, k):  # queries against their keys: InfoNCE
            labels = torch.arange(q.shape[0])
            # a copy: PML drops the diagonal when ref_labels is labels itself
            return nt(q, labels, ref_emb=k, ref_labels=labels.clone())

        # PML compares every positive pair with every negative pair: N^3
        by_name["info_nce"].refs.append(
            Reference("PML NTXentLoss", pml_info_nce, "peer", max_size=1e5)
        )
        triplet_loss, distances, reducers = _pml("TripletMarginLoss")
        tl = triplet_loss(
            margin=1.0,
            distance=distances.LpDistance(normalize_embeddings=False, p=2),
            reducer=reducers.MeanReducer(),
        )

        def pml_triplet(a, p, n):  # the given triplets, no mining
            rows = torch.arange(a.shape[0])
            indices = (rows, rows + a.shape[0], rows + 2 * a.shape[0])
            return tl(torch.cat([a, p, n]), torch.arange(3 * a.shape[0]), indices)

        # PML computes all pairwise distances of the 3N embeddings
        by_name["triplet"].refs.append(
            Reference("PML TripletMarginLoss", pml_triplet, "peer", max_size=1e5)
        )
    if _available("torchvision.ops"):
        ops = PEERS["torchvision.ops"]
        by_name["focal"].refs.append(Reference(
            "torchvision sigmoid_focal_loss",
            lambda z, y: ops.sigmoid_focal_loss(z, y, reduction="mean"), "peer",
        ))  # fmt: skip
        for name, fn in [
            ("giou_loss", ops.generalized_box_iou_loss),
            ("diou_loss", ops.distance_box_iou_loss),
            ("ciou_loss", ops.complete_box_iou_loss),
        ]:
            by_name[name].refs.append(Reference(
                f"torchvision {fn.__name__}",
                lambda p, t, fn=fn: fn(p, t, reduction="mean"), "peer",
            ))  # fmt: skip
    return out


# --- timing ------------------------------------------------------------------------


def _step(fn, inputs, grads):
    """One forward and backward pass of ``fn``, gradients reset first."""
    leaves = inputs[:grads]

    def step():
        for x in leaves:
            x.grad = None
        fn(*inputs).backward()

    return step


def _calls_per_round(step):
    step()  # warm-up
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, math.ceil(MIN_TIME / once))


def time_alternating(steps: dict, rounds: int, unchecked=()) -> dict:
    """Median seconds per call of each step, the steps alternating in each round.

    The steps named in ``unchecked`` run with lossbook's value checks off,
    switched off before their calls and back on after, outside the clock.
    """
    calls, times = {}, {name: [] for name in steps}
    for name, step in steps.items():
        previous = lb.set_value_checks(name not in unchecked)
        calls[name] = _calls_per_round(step)
        lb.set_value_checks(previous)
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, step in steps.items():
                previous = lb.set_value_checks(name not in unchecked)
                start = time.perf_counter()
                for _ in range(calls[name]):
                    step()
                times[name].append((time.perf_counter() - start) / calls[name])
                lb.set_value_checks(previous)
    finally:
        gc.enable()
    return {name: statistics.median(t) for name, t in times.items()}


def _value(fn, inputs):
    with torch.no_grad():
        return float(fn(*[x.detach() for x in inputs]))


def run_case(case: Case, n: int, rounds: int) -> list[dict]:
    g = torch.Generator().manual_seed(n)
    inputs = list(case.make(n, g))
    for x in inputs[: case.grads]:
        x.requires_grad_(True)
    refs = [r for r in case.refs if n <= r.max_size]
    ours_value = _value(case.ours, inputs)
    steps = {
        "ours": _step(case.ours, inputs, case.grads),
        "ours, checks off": _step(case.ours, inputs, case.grads),
    }
    for r in refs:
        steps[r.label] = _step(r.call, inputs, case.grads)
    times = time_alternating(steps, rounds, unchecked=("ours, checks off",))
    rows = []
    base = {
        "loss": case.loss,
        "elements": n,
        "shape": list(inputs[0].shape),
        "threads": torch.get_num_threads(),
        "ours_s": times["ours"],
        "ours_checks_off_s": times["ours, checks off"],
    }
    if not refs:
        rows.append({**base, "reference": None, "kind": None})
    for r in refs:
        theirs = _value(r.call, inputs)
        diff = abs(ours_value - theirs)
        # 1e-3: float32 sums in another order, and F's cross-entropy, which
        # loses the last digits of small losses; another loss differs by far more
        agree = diff <= 1e-3 * max(abs(theirs), 1e-30) + r.atol
        rows.append({
            **base,
            "reference": r.label,
            "kind": r.kind,
            "reference_s": times[r.label],
            "ratio": times["ours"] / times[r.label],
            "ratio_checks_off": times["ours, checks off"] / times[r.label],
            "ours_value": ours_value,
            "reference_value": theirs,
            "values_agree": bool(agree),
        })  # fmt: skip
    return rows


# --- the run ------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def versions() -> dict:
    return {
        "lossbook": lb.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        **{name.split(".")[0]: _peer_version(name) for name in PEERS},
    }


def _threads(spec: str) -> list[int]:
    out = []
    for item in spec.split(","):
        out.append(os.cpu_count() or 1 if item == "all" else int(item))
    return list(dict.fromkeys(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e5,1e6,1e7")
    parser.add_argument("--threads", default="1,all")
    parser.add_argument("--repeat", type=int, default=7, help="rounds per case")
    parser.add_argument("--losses", default="", help="comma-separated subset")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    wanted = {s for s in args.losses.split(",") if s}
    chosen = [c for c in cases() if not wanted or c.loss in wanted]
    started = datetime.datetime.now(datetime.timezone.utc)
    results, blocks = [], []
    print(f"{machine()}\n{versions()}")
    header = (
        f"{'loss':<34}{'elements':>9}{'thr':>4}  {'reference':<38}"
        f"{'ours':>10}{'ref':>10}{'ratio':>7}{'off':>7}  values"
    )
    print(header)
    print("-" * len(header))
    for threads in _threads(args.threads):
        torch.set_num_threads(threads)
        for n in sizes:
            load_before = os.getloadavg()
            t0 = time.perf_counter()
            # small inputs: cheap rounds, and more of them against the noise
            rounds = (
                3 * args.repeat if n <= 1e5
                else args.repeat if n < 1e7 else max(3, args.repeat // 2)
            )  # fmt: skip
            for case in chosen:
                if n > case.max_size:
                    continue
                for row in run_case(case, n, rounds):
                    results.append(row)
                    ref = row["reference"] or "-"
                    ratio = f"{row['ratio']:>7.2f}{row['ratio_checks_off']:>7.2f}" if (
                        row["reference"]) else " " * 14  # fmt: skip
                    agree = {True: "agree", False: "DIFFER", None: ""}[
                        row.get("values_agree")
                    ]
                    theirs = row.get("reference_s")
                    theirs = f"{theirs * 1e3:>8.2f}ms" if theirs else " " * 10
                    print(
                        f"{row['loss']:<34}{n:>9.0e}{threads:>4}  {ref[:37]:<38}"
                        f"{row['ours_s'] * 1e3:>8.2f}ms{theirs}{ratio}  {agree}",
                        flush=True,
                    )
            blocks.append({
                "threads": threads, "elements": n,
                "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                "seconds": time.perf_counter() - t0,
            })  # fmt: skip
    if args.json:
        report = {
            "what": "forward + backward time of lossbook / reference, float32 CPU",
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "date": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(),
            "method": (
                "median over rounds of calls alternating in each round, one "
                f"process; {3 * args.repeat} rounds up to 1e5 elements, "
                f"{args.repeat} at 1e6, {max(3, args.repeat // 2)} at 1e7; "
                f"each round >= {MIN_TIME} s per contender"
            ),
            "blocks": blocks,
            "results": results,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
