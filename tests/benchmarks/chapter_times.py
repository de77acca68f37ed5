"""Measure how long each chapter takes to execute, and to read.

Usage: ``.venv/bin/python tests/benchmarks/chapter_times.py [--repeat 1]``
writes ``tests/benchmarks/results/chapters.json``: for every notebook in
``_toc.yml``, the wall time of ``jupyter execute`` in a fresh kernel (kernel
start included; the median of the repeats), the words of prose and code, and
the machine, versions, load and date of the measurement. The instructors' page
and the "How fast, how accurate" page render it. Run it on a quiet machine:
the load average at the start and the end is recorded beside the times.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "benchmarks" / "results" / "chapters.json"
WORD = re.compile(r"[A-Za-z0-9_']+|[\u3400-\u9fff]")


def toc_notebooks() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [f for f in files if (ROOT / f"{f}.ipynb").exists()]


def words(nb) -> tuple[int, int]:
    """Words of prose (markdown) and of code in a notebook."""
    prose = sum(
        len(WORD.findall(c.source)) for c in nb.cells if c.cell_type == "markdown"
    )
    code = sum(len(WORD.findall(c.source)) for c in nb.cells if c.cell_type == "code")
    return prose, code


def execute_seconds(path: Path) -> float:
    jupyter = Path(sys.executable).parent / "jupyter"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        start = time.perf_counter()
        subprocess.run(
            [jupyter, "execute", "--inplace", str(copy)],
            cwd=path.parent,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    import torch

    load_before = os.getloadavg()[0]
    chapters = {}
    for name in toc_notebooks():
        path = ROOT / f"{name}.ipynb"
        prose, code = words(nbformat.read(path, as_version=4))
        runs = [execute_seconds(path) for _ in range(args.repeat)]
        chapters[Path(name).stem] = {
            "execute_s": round(statistics.median(runs), 2),
            "runs_s": [round(r, 2) for r in runs],
            "prose_words": prose,
            "code_words": code,
        }
        print(f"{name}: {chapters[Path(name).stem]['execute_s']:.1f} s", flush=True)
    result = {
        "what": "wall time of `jupyter execute` per notebook, fresh kernel",
        "date": datetime.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        },
        "chapters": chapters,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
