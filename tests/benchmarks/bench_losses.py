"""Time lossbook against torch.nn.functional on CPU tensors.

A script, not a test (pytest does not collect ``tests/benchmarks``)::

    python tests/benchmarks/bench_losses.py [--threads 1] [--repeat 5] [--dtype float32]

For every loss with a ``torch.nn.functional`` counterpart and inputs of 1e3 and
1e6 elements it measures, in the same run and with ``timeit`` (best of
``--repeat``), the forward pass and forward + backward of lossbook on torch
tensors and of the torch function, and the forward pass of lossbook on NumPy
arrays. It prints the ratios lossbook / torch (forward, forward + backward) and
NumPy / torch backend (lossbook on NumPy arrays over lossbook on tensors);
ratios above 1 mean lossbook (or its NumPy path) is slower.
"""

from __future__ import annotations

import argparse
import platform
import timeit

import numpy as np
import torch
import torch.nn.functional as F

import lossbook as lb

SIZES = (1_000, 1_000_000)
K = 10  # classes of the cross-entropy cases: (size / K, K) logits


def cases(n, dtype, rng):
    """(name, lossbook fn, torch fn, first input, target, options) for n elements."""
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    prob = rng.uniform(0.01, 0.99, n).astype(dtype)
    labels = rng.integers(0, 2, n).astype(dtype)
    logits = rng.standard_normal((n // K, K)).astype(dtype)
    index = rng.integers(0, K, n // K)
    return [
        ("mse", lb.mse, F.mse_loss, x, y, {}),
        ("mae", lb.mae, F.l1_loss, x, y, {}),
        ("huber", lb.huber, F.huber_loss, x, y, {"delta": 0.5}),
        ("smooth_l1", lb.smooth_l1, F.smooth_l1_loss, x, y, {"beta": 0.5}),
        ("binary_cross_entropy", lb.binary_cross_entropy, F.binary_cross_entropy,
         prob, labels, {}),
        ("bce_with_logits", lb.binary_cross_entropy_with_logits,
         F.binary_cross_entropy_with_logits, x, labels, {}),
        ("cross_entropy", lb.cross_entropy, F.cross_entropy, logits, index, {}),
        ("cross_entropy+ls", lb.cross_entropy, F.cross_entropy, logits, index,
         {"label_smoothing": 0.1}),
    ]  # fmt: skip


def best(stmt, repeat, min_time=0.05):
    """Best time of one call in seconds: timeit, best of ``repeat`` rounds."""
    timer = timeit.Timer(stmt)
    number = 1
    while timer.timeit(number) < min_time:  # calls per round: at least min_time
        number *= 4
    return min(timer.repeat(repeat=repeat, number=number)) / number


def measure(fn, first, target, options, repeat):
    a = torch.from_numpy(first)
    t = torch.from_numpy(target)
    g = a.clone().requires_grad_(True)

    def forward():
        fn(a, t, **options)

    def forward_backward():
        fn(g, t, **options).backward()

    return best(forward, repeat), best(forward_backward, repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = np.dtype(args.dtype).type
    rng = np.random.default_rng(0)
    cpu = platform.processor() or platform.machine()
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, {cpu}, "
        f"{args.threads} torch thread(s), {args.dtype}, best of {args.repeat}"
    )
    header = (
        f"{'loss':<22}{'elements':>10}{'lb fwd':>11}{'torch fwd':>11}{'ratio':>7}"
        f"{'lb f+b':>11}{'torch f+b':>11}{'ratio':>7}{'np fwd':>11}{'np/torch':>9}"
    )
    print(header)
    print("-" * len(header))
    for n in SIZES:
        for name, ours, theirs, first, target, options in cases(n, dtype, rng):
            lf, lfb = measure(ours, first, target, options, args.repeat)
            tf, tfb = measure(theirs, first, target, options, args.repeat)
            nf = best(lambda o=ours, f=first, t=target, k=options: o(f, t, **k),
                      args.repeat)  # fmt: skip
            print(
                f"{name:<22}{n:>10.0e}{lf * 1e6:>9.1f}us{tf * 1e6:>9.1f}us"
                f"{lf / tf:>7.2f}{lfb * 1e6:>9.1f}us{tfb * 1e6:>9.1f}us"
                f"{lfb / tfb:>7.2f}{nf * 1e6:>9.1f}us{nf / lf:>9.2f}"
            )


if __name__ == "__main__":
    main()
