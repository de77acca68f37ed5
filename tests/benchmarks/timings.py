"""Execution time of every chapter, and optionally the wall time of ``make test``.

A script, not a test::

    python tests/benchmarks/timings.py [--test] [--json PATH]

Each notebook of ``_toc.yml`` is executed as ``jupyter execute`` does (nbclient,
a fresh ``python3`` kernel, the notebook's folder as working directory) and
the wall time from kernel start to the last cell is recorded; the notebooks
on disk are not touched. ``--test`` also runs ``make test`` (every test: it
takes minutes) and records its wall time and exit status. With ``--json`` the
results, the machine and the load average go to a file, which
``figures.py`` renders on the page "How fast, how accurate".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = []
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            path = ROOT / f"{chapter['file']}.ipynb"
            if path.exists():
                files.append(path)
    return files


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="also time make test")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    chapters = []
    for path in toc_notebooks():
        seconds = execute(path)
        name = str(path.relative_to(ROOT))
        chapters.append({"notebook": name, "seconds": round(seconds, 2)})
        print(f"{name:<48}{seconds:>8.1f} s", flush=True)
    test = None
    if args.test:
        start = time.perf_counter()
        done = subprocess.run(["make", "test"], cwd=ROOT, check=False)
        test = {
            "command": "make test",
            "seconds": round(time.perf_counter() - start, 1),
            "returncode": done.returncode,
        }
        print(f"make test: {test['seconds']:.0f} s, exit {done.returncode}")
    if args.json:
        report = {
            "what": "wall time of executing each chapter, and of the test command",
            "date": started.isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "logical_cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "chapters": chapters,
            "test": test,
        }
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"written: {out}")
    return 0 if test is None or test["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
