"""The first code cell of every chapter: it installs lossbook where it is missing.

A chapter opened from the book's launch buttons (Colab, Binder) or downloaded
into a bare Jupyter has no ``lossbook``; this cell installs it, with the
packages the chapters import (the ``book`` extra of ``pyproject.toml``), from
the repository named in ``_config.yml``. Where ``lossbook`` is importable (the
project's own environment, the CI run) it does nothing and prints nothing, so
nbval sees no output. ``LOSSBOOK_SOURCE`` overrides where pip finds the package
(a ``file://`` path in ``tests/test_launch.py``, a fork's URL).

Usage: ``python tests/launch_cell.py`` inserts or updates the cell in every
chapter in place (the chapters must then be re-executed); ``tests/test_book.py``
checks that every chapter starts with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "lossbook-install"


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def source() -> str:
    """The cell's code (every line within the book's 88 characters)."""
    return "\n".join(
        [
            "# Colab, Binder or a bare Jupyter: install lossbook and the packages the",
            "# book uses. Where lossbook is importable, this cell does nothing.",
            "import importlib.util",
            "import os",
            "",
            'if importlib.util.find_spec("lossbook") is None:',
            "    src = os.environ.get(",
            f'        "LOSSBOOK_SOURCE", "git+{repository_url()}"',
            "    )",
            '    %pip install --quiet "lossbook[book] @ {src}"',
        ]
    )


def is_launch_cell(cell) -> bool:
    return cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])


def ensure(nb) -> bool:
    """Put the launch cell first in ``nb``; return True if ``nb`` changed."""
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first_code is not None and is_launch_cell(first_code):
        if first_code.source == source():
            return False
        first_code.source = source()
        return True
    cell = nbformat.v4.new_code_cell(source(), metadata={"tags": [TAG, "hide-input"]})
    index = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells)
    )
    nb.cells.insert(index, cell)
    return True


def main(paths: list[str]) -> None:
    for path in paths or sorted(str(p) for p in (ROOT / "chapters").glob("??_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if ensure(nb):
            nbformat.write(nb, path)
            print(f"{path}: launch cell set (re-execute the chapter)")


if __name__ == "__main__":
    main(sys.argv[1:])
