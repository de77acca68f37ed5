"""Write the student edition of the book: the same sources without solutions.

Usage: ``python tests/student_edition.py DEST`` (``make student`` runs it and
builds DEST). sphinx-exercise's ``hide_solutions`` cannot handle gated solutions,
so the solutions are removed from copies of the notebooks instead: every cell
holding a ``{solution}`` directive, and every cell from a ``{solution-start}``
to its ``{solution-end}``.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COPIED = ["_config.yml", "_toc.yml", "intro.md", "references.bib", "chapters"]
_SOLUTION = re.compile(r"^(```+|:::+)\{solution\}", re.MULTILINE)
_START = re.compile(r"^(```+|:::+)\{solution-start\}", re.MULTILINE)
_END = re.compile(r"^(```+|:::+)\{solution-end\}", re.MULTILINE)


def strip_solutions(nb):
    """Return ``nb`` without its solution cells; raise on an unclosed gate."""
    kept, gated = [], False
    for cell in nb.cells:
        text = cell.source if cell.cell_type == "markdown" else ""
        if _START.search(text):
            gated = True
            continue
        if gated:
            if _END.search(text):
                gated = False
            continue
        if _SOLUTION.search(text):
            continue
        kept.append(cell)
    if gated:
        raise ValueError("a {solution-start} has no matching {solution-end}")
    nb.cells = kept
    return nb


def write_edition(dest):
    """Copy the book to ``dest`` and strip the solutions from every notebook."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(".ipynb*"))
        else:
            shutil.copy2(src, dest / name)
    (dest / "_build").mkdir()
    (dest / "_build" / "_mathjax").symlink_to(ROOT / "_build" / "_mathjax")
    for path in sorted((dest / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(strip_solutions(nb), path)
    return dest


if __name__ == "__main__":
    print(f"student edition sources in {write_edition(sys.argv[1])}")
