"""A chapter runs where only Jupyter is installed, as on Colab or Binder.

The launch buttons open a chapter in an environment without ``lossbook``. The
chapter's first cell (``tests/launch_cell.py``) must install what the chapter
needs and the chapter must then run to the end with the numbers the book shows.
This test makes that environment: a fresh virtual environment with only
``nbclient`` and ``ipykernel``, a copy of the package's sources standing in for
the repository (``LOSSBOOK_SOURCE``), and one chapter executed there by its own
kernel. It takes a minute or two (pip installs torch and the book's packages).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
from launch_cell import is_launch_cell

ROOT = Path(__file__).resolve().parents[1]
# the chapter to run (another one: LOSSBOOK_LAUNCH_CHAPTER=chapters/NN_x.ipynb)
CHAPTER = ROOT / os.environ.get(
    "LOSSBOOK_LAUNCH_CHAPTER", "chapters/09_worked_example.ipynb"
)
PIP_TIMEOUT_S = 900
RUN_TIMEOUT_S = 600


def _run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _texts(nb):
    """The stream outputs of every code cell after the launch cell."""
    cells = [c for c in nb.cells if c.cell_type == "code" and not is_launch_cell(c)]
    return [
        "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
        for c in cells
    ]


@pytest.fixture(scope="module")
def bare_jupyter(tmp_path_factory):
    """A fresh venv with Jupyter's kernel machinery and nothing of the book."""
    where = tmp_path_factory.mktemp("bare")
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "--quiet", "nbclient", "ipykernel"],
        timeout=PIP_TIMEOUT_S,
    )
    probe = subprocess.run(
        [python, "-c", "import lossbook"], capture_output=True, cwd=where
    )
    assert probe.returncode != 0, "the bare environment already has lossbook"
    # the repository as pip would fetch it: the package's sources, nothing else
    source = where / "lossbook-src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "lossbook",
        source / "lossbook",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return python, source, where


def test_a_chapter_installs_what_it_needs_and_runs(bare_jupyter):
    python, source, where = bare_jupyter
    stored = nbformat.read(CHAPTER, as_version=4)
    first_code = next(c for c in stored.cells if c.cell_type == "code")
    assert is_launch_cell(first_code), "the chapter does not start with the launch cell"

    notebook = where / CHAPTER.name
    shutil.copy(CHAPTER, notebook)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER"))
    }
    env["LOSSBOOK_SOURCE"] = source.as_uri()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    # the versions the book was executed with (and torch's CPU build, not CUDA's)
    constraints = [str(ROOT / "requirements.txt"), os.environ.get("PIP_CONSTRAINT", "")]
    env["PIP_CONSTRAINT"] = " ".join(c for c in constraints if c)
    execute = (
        "import sys, nbformat; from nbclient import NotebookClient; "
        "nb = nbformat.read(sys.argv[1], as_version=4); "
        f"NotebookClient(nb, timeout={RUN_TIMEOUT_S}, kernel_name='python3')"
        ".execute(); nbformat.write(nb, sys.argv[1])"
    )
    _run(
        [python, "-c", execute, str(notebook)],
        cwd=where,
        env=env,
        timeout=PIP_TIMEOUT_S + RUN_TIMEOUT_S,
    )
    ran = nbformat.read(notebook, as_version=4)
    errors = [
        o
        for c in ran.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors, f"the chapter failed in a bare Jupyter: {errors[0]}"
    # the first cell did install lossbook into the bare environment ...
    check = subprocess.run(
        [python, "-c", "import lossbook, sys; print(lossbook.__file__)"],
        capture_output=True,
        text=True,
        cwd=where,
    )
    assert check.returncode == 0, check.stderr
    assert str(where) in check.stdout, check.stdout
    # ... and the chapter printed what the book shows
    assert _texts(ran) == _texts(stored)
    assert sys.prefix not in check.stdout
