"""The autograded assignments: built from every chapter, graded as a grader would.

``tests/assignments.py`` turns each chapter into an otter-grader assignment
(``make assignments``). Here every chapter's assignment is built, the student
notebooks are checked for leaked solutions, and the worked example's assignment
is graded by otter itself: its solved notebook at full marks and the blank
student notebook at zero. otter lives in ``.venv-otter`` (``make test`` sets it up).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from assignments import build, chapters

from lossbook.exercises import _load, keys

ROOT = Path(__file__).resolve().parents[1]
OTTER = ROOT / ".venv-otter" / "bin" / "otter"
GRADED = "09"  # the chapter whose assignment is graded end to end


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not OTTER.exists():
        pytest.fail(f"{OTTER} is missing: run `make test` (it sets otter up)")
    _load()
    dest = tmp_path_factory.mktemp("assignments")
    return dest, {p.name[:2]: build(p, dest, str(OTTER)) for p in chapters([])}


def test_every_self_check_becomes_a_question(built):
    _, questions = built
    for number, found in questions.items():
        registered = [k for k in keys() if k.startswith(f"ch{number}.")]
        assert sorted(found) == sorted(registered), f"chapter {number}"
        assert len(found) >= 3, f"chapter {number}: {len(found)} autograded questions"


def test_student_notebooks_hold_no_solution(built):
    dest, questions = built
    for number, found in questions.items():
        student = dest / f"ch{number}" / "dist" / "student" / f"ch{number}.ipynb"
        nb = nbformat.read(student, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "{solution" not in text, f"chapter {number}: a solution directive"
        assert "BEGIN SOLUTION" not in text, f"chapter {number}: a solution block"
        assert "hidden: true" not in text, f"chapter {number}: a hidden test"
        for key in found:
            var = "answer_" + key.replace(".", "_")
            assert re.search(rf"^{var} = \.\.\.$", text, re.M), f"{key}: no blank"


def _grade(dest, notebook):
    dist = dest / f"ch{GRADED}" / "dist"
    (zip_file,) = (dist / "autograder").glob("*.zip")
    out = notebook.parent / f"graded-{notebook.parent.name}"
    out.mkdir()
    subprocess.run(
        [OTTER, "run", "-a", zip_file, notebook, "-o", out],
        check=True,
        capture_output=True,
        timeout=600,
    )
    results = json.loads((out / "results.json").read_text())
    # one entry per question (the "Public Tests" summary has no score)
    return {
        t["name"]: (t["score"], t["max_score"])
        for t in results["tests"]
        if t["name"].startswith("ch")
    }


def test_the_solved_notebook_gets_full_marks(built):
    dest, questions = built
    solved = dest / f"ch{GRADED}" / "dist" / "autograder" / f"ch{GRADED}.ipynb"
    scores = _grade(dest, solved)
    assert len(scores) == len(questions[GRADED])
    assert all(got == best == 1 for got, best in scores.values()), scores


def test_the_blank_notebook_gets_zero(built):
    dest, questions = built
    blank = dest / f"ch{GRADED}" / "dist" / "student" / f"ch{GRADED}.ipynb"
    scores = _grade(dest, blank)
    assert len(scores) == len(questions[GRADED])
    assert all(got == 0 and best == 1 for got, best in scores.values()), scores
