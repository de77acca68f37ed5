"""Render the tables and figures of "How fast, how accurate" from the results.

A script, not a test::

    python tests/benchmarks/figures.py [RESULTS [IMAGES [TABLES]]]

reads ``speed.json`` (``bench_losses.py``), ``accuracy.json`` and
``accuracy_formulas.json`` (``accuracy.py``) and ``timings.json``
(``timings.py``) from RESULTS (default ``tests/benchmarks/results``), writes
the figures as PNG to IMAGES (default ``chapters/images``) and the tables as
Markdown to TABLES (default ``chapters/generated``), which the page
``chapters/performance.md`` includes. Nothing is measured here: the page shows
exactly what the committed result files hold.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

ROOT = Path(__file__).resolve().parents[2]
SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
# the losses torch.nn.functional has a kernel for, in the book's order
F_LOSSES = [
    "mse",
    "mae",
    "huber",
    "smooth_l1",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy[ls=0.1]",
    "triplet",
]
TORCHVISION = (
    "torchvision's losses are not measured: PyPI's torchvision does not import "
    "beside torch 2.13.0 (the matching pair is torch 2.14.1 with torchvision "
    "0.29.1, a 5.5 GB CUDA build); `bench_losses.py` includes them wherever "
    "torchvision imports."
)
plt.rcParams.update({"font.size": 10, "savefig.dpi": 160, "figure.dpi": 160})
PLAIN = FuncFormatter(lambda v, _: f"{v:g}")  # 0.5, 1, 2 rather than 5 x 10^-1


def _plain_axis(axis):
    axis.set_major_formatter(PLAIN)
    axis.set_minor_formatter(NullFormatter())


def load(results: Path, name: str):
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def _size(n: int) -> str:
    return f"10^{round(math.log10(n))}" if n >= 10 else str(n)


def _ratio(v) -> str:
    if v is None:
        return "–"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"


def _lookup(rows, loss, reference, n, threads, key="ratio"):
    for r in rows:
        if (
            r["loss"] == loss
            and r["reference"] == reference
            and r["elements"] == n
            and r["threads"] == threads
        ):
            return r.get(key)
    return None


def _threads(speed):
    found = sorted({r["threads"] for r in speed["results"]})
    return found[0], found[-1]


def speed_tables(speed) -> str:
    rows = speed["results"]
    one, many = _threads(speed)
    lines = [
        f"| loss | {_size(SIZES[0])} | {_size(SIZES[0])}, checks off | "
        + " | ".join(_size(n) for n in SIZES[1:])
        + f" | {_size(10**6)}, {many} threads | values agree |",
        "|---" * (len(SIZES) + 4) + "|",
    ]
    for loss in F_LOSSES:
        cells = [_ratio(_lookup(rows, loss, "F", SIZES[0], one))]
        cells.append(
            _ratio(_lookup(rows, loss, "F", SIZES[0], one, "ratio_checks_off"))
        )
        cells += [_ratio(_lookup(rows, loss, "F", n, one)) for n in SIZES[1:]]
        cells.append(_ratio(_lookup(rows, loss, "F", 10**6, many)))
        agree = [r["values_agree"] for r in rows if r["loss"] == loss and r["kind"]]
        cells.append("yes" if agree and all(agree) else "NO")
        lines.append(f"| `{loss}` | " + " | ".join(cells) + " |")
    f_table = "\n".join(lines)
    peers = sorted(
        {(r["loss"], r["reference"]) for r in rows if r["kind"] == "peer"},
        key=lambda p: (p[0], p[1]),
    )
    lines = [
        "| loss | peer | "
        + " | ".join(_size(n) for n in SIZES)
        + f" | {_size(10**6)}, {many} threads | values agree |",
        "|---" * (len(SIZES) + 4) + "|",
    ]
    for loss, ref in peers:
        cells = [_ratio(_lookup(rows, loss, ref, n, one)) for n in SIZES]
        cells.append(_ratio(_lookup(rows, loss, ref, 10**6, many)))
        agree = [
            r["values_agree"]
            for r in rows
            if (r["loss"], r["reference"]) == (loss, ref)
        ]
        cells.append("yes" if agree and all(agree) else "NO")
        lines.append(f"| `{loss}` | {ref} | " + " | ".join(cells) + " |")
    other = [r for r in rows if r["loss"] == "info_nce" and r["kind"] == "F"]
    if other:
        cells = [
            _ratio(_lookup(rows, "info_nce", other[0]["reference"], n, one))
            for n in SIZES
        ]
        cells.append(
            _ratio(_lookup(rows, "info_nce", other[0]["reference"], 10**6, many))
        )
        lines.append(
            f"| `info_nce` | `{other[0]['reference']}` (F) | "
            + " | ".join(cells)
            + " | yes |"
        )
    return f_table, "\n".join(lines)


def _machine_line(report) -> str:
    m = report["machine"]
    v = report["versions"]
    loads = [b["loadavg_before"][0] for b in report.get("blocks", [])]
    load = (
        f"; load average (1 min) {min(loads):.1f} to {max(loads):.1f}" if loads else ""
    )
    return (
        f"Measured {report['date']} on {m.get('cpu', '?')} "
        f"({m.get('logical_cpus', '?')} logical CPUs, "
        f"{m.get('torch_cpu_capability', '')}), "
        f"torch {v['torch']}, lossbook {v['lossbook']}{load}."
    )


def accuracy_table(acc, formulas) -> str:
    worst = _worst_per_loss(acc)
    before = _worst_per_loss(formulas) if formulas else {}
    lines = [
        "| loss | lossbook float32 | lossbook float64 | formulas float32 | "
        "F float32 | F float64 |",
        "|---|---|---|---|---|---|",
    ]
    for loss, w in worst.items():
        b = before.get(loss, {})
        lines.append(
            f"| `{loss}` | {_ulps(w.get('torch float32'))} | "
            f"{_ulps(w.get('torch float64'))} | {_ulps(b.get('torch float32'))} | "
            f"{_ulps(w.get('F float32'))} | {_ulps(w.get('F float64'))} |"
        )
    return "\n".join(lines)


def _worst_per_loss(acc):
    out = {}
    for r in acc["results"]:
        w = out.setdefault(r["loss"], {})
        for key in ("torch float32", "torch float64", "F float32", "F float64"):
            if key in r:
                v = math.inf if r[key] == "inf" else r[key]
                w[key] = max(w.get(key, 0.0), v)
    return out


def _ulps(v) -> str:
    if v is None:
        return "–"
    if math.isinf(v):
        return "inf/NaN"
    return f"{v:.3g}" if v < 1e4 else f"{v:.1e}"


def timings_table(timings) -> str:
    if not timings:
        return "(not measured yet: run `make bench-times`)"
    lines = ["| chapter | execution time (s) |", "|---|---|"]
    for row in timings["chapters"]:
        lines.append(f"| `{row['notebook']}` | {row['seconds']:.1f} |")
    test = timings.get("test")
    if test:
        status = "passed" if test["returncode"] == 0 else f"exit {test['returncode']}"
        lines.append(
            f"| `{test['command']}` (whole test command, {status}) | "
            f"{test['seconds']:.0f} |"
        )
    else:
        lines.append("| `make test` (whole test command) | not measured in this run |")
    return "\n".join(lines)


# --- figures --------------------------------------------------------------------------


def figure_speed_vs_f(speed, path: Path):
    rows = speed["results"]
    one, _ = _threads(speed)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for loss in F_LOSSES:
        xs, ys = [], []
        for n in SIZES:
            v = _lookup(rows, loss, "F", n, one)
            if v is not None:
                xs.append(n)
                ys.append(v)
        ax.plot(xs, ys, marker="o", label=loss)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(2.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements of the prediction")
    ax.set_ylabel(f"time of lossbook / time of F ({one} thread)")
    ax.set_yticks([0.25, 0.5, 1, 2, 4])
    _plain_axis(ax.yaxis)
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_speed_vs_peers(speed, path: Path):
    rows = speed["results"]
    one, _ = _threads(speed)
    peers = sorted({(r["loss"], r["reference"]) for r in rows if r["kind"] == "peer"})
    labels = [f"{loss}: {ref}" for loss, ref in peers]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(peers) + 1.6))
    shown = []
    for k, (n, marker) in enumerate(((SIZES[0], "o"), (10**6, "s"))):
        vals = [_lookup(rows, loss, ref, n, one) for loss, ref in peers]
        ys = [i + (k - 0.5) * 0.3 for i in range(len(peers))]
        pts = [(y, v) for y, v in zip(ys, vals, strict=True) if v is not None]
        # a line from equal speed to the ratio: its length is the gain or loss
        ax.hlines([y for y, _ in pts], 1.0, [v for _, v in pts],
                  color=f"C{k}", linewidth=2)  # fmt: skip
        ax.plot([v for _, v in pts], [y for y, _ in pts], marker, color=f"C{k}",
                label=f"$10^{round(math.log10(n))}$ elements",
                linestyle="none")  # fmt: skip
        shown += [v for _, v in pts]
    ax.set_xlim(min(*shown, 1.0) / 1.5, max(*shown, 1.0) * 1.5)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xticks([t for t in (0.01, 0.03, 0.1, 0.3, 0.5, 1, 2, 3, 10)
                   if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]])  # fmt: skip
    _plain_axis(ax.xaxis)
    ax.set_yticks(range(len(peers)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"time of lossbook / time of the peer ({one} thread; < 1: lossbook faster)"
    )
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_accuracy(acc, path: Path):
    worst = _worst_per_loss(acc)
    losses = [loss for loss, w in worst.items() if "F float32" in w]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    width = 0.2
    series = [
        ("lossbook float32", "torch float32"),
        ("F float32", "F float32"),
        ("lossbook float64", "torch float64"),
        ("F float64", "F float64"),
    ]
    top = 1e17
    for k, (label, key) in enumerate(series):
        vals = [min(max(worst[loss].get(key, 0.0), 0.1), top) for loss in losses]
        xs = [i + (k - 1.5) * width for i in range(len(losses))]
        ax.bar(xs, vals, width=width, label=label)
    ax.set_yscale("log")
    ax.set_ylim(0.1, top * 10)
    ax.set_xticks(range(len(losses)), losses, rotation=30, ha="right", fontsize=9)
    ax.set_ylabel("worst error (ulps; inf/NaN drawn at the top)")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.legend(fontsize=9, ncols=2)
    ax.grid(True, axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    results = Path(argv[0]) if argv else ROOT / "tests" / "benchmarks" / "results"
    images = Path(argv[1]) if len(argv) > 1 else ROOT / "chapters" / "images"
    tables = Path(argv[2]) if len(argv) > 2 else ROOT / "chapters" / "generated"
    images.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    speed = load(results, "speed.json")
    acc = load(results, "accuracy.json")
    formulas = load(results, "accuracy_formulas.json")
    timings = load(results, "timings.json")
    if speed:
        f_table, peer_table = speed_tables(speed)
        (tables / "perf_speed_f.md").write_text(
            f"{f_table}\n\n{_machine_line(speed)}\n"
        )
        (tables / "perf_speed_peers.md").write_text(f"{peer_table}\n\n{TORCHVISION}\n")
        figure_speed_vs_f(speed, images / "perf_speed_f.png")
        figure_speed_vs_peers(speed, images / "perf_speed_peers.png")
    if acc:
        (tables / "perf_accuracy.md").write_text(
            accuracy_table(acc, formulas)
            + f"\n\nMeasured {acc['date']}, torch {acc['versions']['torch']}, "
            f"{acc['elements_per_case']} elements per case.\n"
        )
        figure_accuracy(acc, images / "perf_accuracy.png")
    (tables / "perf_timings.md").write_text(timings_table(timings) + "\n")
    print(f"tables in {tables}, figures in {images}")


if __name__ == "__main__":
    main()
