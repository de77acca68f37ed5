"""Build an autograded assignment (otter-grader) from each chapter of the book.

Usage::

    python tests/assignments.py --otter .venv-otter/bin/otter DEST [NN ...]

(``make assignments`` runs it for every chapter into ``_build/assignments``).
For chapter NN it writes ``DEST/chNN/master.ipynb``, an otter "assign"
notebook, and runs ``otter assign`` on it, which makes

- ``DEST/chNN/dist/student/chNN.ipynb``: the chapter with every solution removed
  and, for each self-checked exercise, a cell ``answer_chNN_k = ...`` to fill in;
- ``DEST/chNN/dist/autograder/chNN.ipynb`` (the solved notebook) and
  ``DEST/chNN/dist/autograder/chNN-autograder_*.zip``: what an instructor
  uploads to Gradescope or runs locally with
  ``otter run -a ZIP submission.ipynb -o OUT`` (scores in ``OUT/results.json``).

Each self-checked exercise (one whose solution calls ``check("chNN.k", value)``)
becomes a question worth one point. Its solution is the chapter's own solution
code, and its hidden test compares the answer with the value registered in
``lossbook/exercises`` (computed by ``lossbook`` when the assignment is built,
with the exercise's tolerances). Exercises without a numeric answer stay in the
student notebook as written questions, without their solutions.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
from student_edition import _END, _SOLUTION, _START

from lossbook.exercises import _REGISTRY, _load

ROOT = Path(__file__).resolve().parents[1]
_CHECK = re.compile(
    r"""^(\s*)_\s*=\s*check\(\s*["'](ch\d\d\.\d+)["']\s*,\s*(.+?)\)\s*(?:#.*)?$"""
)
_EXERCISE = re.compile(
    r"^(?P<fence>```+|:::+)\{exercise\}\s*(?P<title>.*?)\n(?P<body>.*?)^(?P=fence)\s*$",
    re.MULTILINE | re.DOTALL,
)


def _variable(key: str) -> str:
    return "answer_" + key.replace(".", "_")


def _literal(value) -> str:
    """``value`` (a number, bool or array) as Python source."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    array = np.asarray(value.detach() if hasattr(value, "detach") else value)
    if array.dtype == bool:
        return repr(array.tolist())
    return repr(np.asarray(array, dtype=float).tolist())


def _exercise_markdown(source: str) -> str:
    """An {exercise} directive as plain Markdown (otter shows it as the prompt)."""
    match = _EXERCISE.search(source)
    if not match:
        return source
    body = "\n".join(
        line for line in match.group("body").splitlines() if not line.startswith(":")
    ).strip()
    return f"**Exercise: {match.group('title').strip()}**\n\n{body}"


def _question(key: str, prompt: str, solution: list[str], value: str) -> list:
    exercise = _REGISTRY[key]
    expected = exercise.solve()
    name = _variable(key)
    code = [
        "# BEGIN SOLUTION",
        *solution,
        "# END SOLUTION",
        f"{name} = {value}  # SOLUTION",
    ]
    if isinstance(expected, bool | np.bool_):
        test = f"assert {name} is {bool(expected)!r}"
    else:
        test = (
            "import numpy as np\n"
            f"_got = {name}\n"
            "_got = _got.detach().cpu().numpy() if hasattr(_got, 'detach') else _got\n"
            "np.testing.assert_allclose(np.asarray(_got, dtype=float), "
            f"{_literal(expected)}, rtol={exercise.rtol!r}, atol={exercise.atol!r})"
        )
    hidden = '""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n' + test
    raw, md, cc = (
        nbformat.v4.new_raw_cell,
        nbformat.v4.new_markdown_cell,
        nbformat.v4.new_code_cell,
    )
    return [
        raw(f"# BEGIN QUESTION\nname: {key.replace('.', '_')}\npoints: 1"),
        md(prompt),
        raw("# BEGIN SOLUTION"),
        cc("\n".join(code)),
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        cc(hidden),
        raw("# END TESTS"),
        raw("# END QUESTION"),
    ]


def master_notebook(chapter: Path):
    """The otter assign notebook of one chapter, and its question keys."""
    nb = nbformat.read(chapter, as_version=4)
    stem = chapter.stem[:2]
    cells = [
        nbformat.v4.new_raw_cell(
            f"# ASSIGNMENT CONFIG\nname: ch{stem}\nrequirements: null\n"
            "run_tests: false\ninit_cell: false\ncheck_all_cell: false\n"
            "export_cell: false\ngenerate: true\nsave_environment: false"
        )
    ]
    keys, i = [], 0
    pending_prompt = None
    while i < len(nb.cells):
        cell = nb.cells[i]
        text = cell.source if cell.cell_type == "markdown" else ""
        if cell.cell_type == "markdown" and _EXERCISE.search(text):
            pending_prompt = _exercise_markdown(text)
            i += 1
            continue
        if cell.cell_type == "markdown" and _START.search(text):
            # a gated solution: its code cells up to {solution-end}
            j, code = i + 1, []
            while j < len(nb.cells) and not (
                nb.cells[j].cell_type == "markdown" and _END.search(nb.cells[j].source)
            ):
                if nb.cells[j].cell_type == "code":
                    code += nb.cells[j].source.splitlines()
                j += 1
            checks = [m for line in code if (m := _CHECK.match(line))]
            if checks and checks[-1].group(2) in _REGISTRY:
                key, value = checks[-1].group(2), checks[-1].group(3).strip()
                body = [
                    line
                    for line in code
                    if not _CHECK.match(line)
                    and not line.startswith("from lossbook.exercises import check")
                ]
                prompt = pending_prompt or f"Exercise {key}"
                cells += _question(key, prompt, body, value)
                keys.append(key)
            elif pending_prompt:
                cells.append(nbformat.v4.new_markdown_cell(pending_prompt))
            pending_prompt = None
            i = j + 1
            continue
        if pending_prompt:  # an exercise without a gated solution: a written question
            cells.append(nbformat.v4.new_markdown_cell(pending_prompt))
            pending_prompt = None
        if cell.cell_type == "markdown" and _SOLUTION.search(text):
            i += 1  # an inline {solution}: not shown to students
            continue
        new = (
            nbformat.v4.new_code_cell(cell.source)
            if cell.cell_type == "code"
            else nbformat.v4.new_markdown_cell(cell.source)
        )
        cells.append(new)
        i += 1
    if pending_prompt:
        cells.append(nbformat.v4.new_markdown_cell(pending_prompt))
    master = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return master, keys


def build(chapter: Path, dest: Path, otter: str) -> list[str]:
    """Write the master notebook and run ``otter assign``; return the question keys."""
    master, keys = master_notebook(chapter)
    name = f"ch{chapter.stem[:2]}"
    out = dest / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    nbformat.write(master, out / f"{name}.ipynb")
    subprocess.run(
        [otter, "assign", f"{name}.ipynb", "dist"],
        cwd=out,
        check=True,
        capture_output=True,
    )
    return keys


def chapters(numbers: list[str]) -> list[Path]:
    found = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if not numbers or p.name[:2] in numbers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--otter", default="otter", help="the otter executable")
    parser.add_argument("dest", type=Path)
    parser.add_argument("chapters", nargs="*", help="chapter numbers (default: all)")
    args = parser.parse_args()
    _load()
    for chapter in chapters(args.chapters):
        keys = build(chapter, args.dest, args.otter)
        print(f"{chapter.name}: {len(keys)} autograded questions -> {args.dest}")


if __name__ == "__main__":
    sys.exit(main())
