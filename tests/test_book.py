"""Checks of the book's sources: the toc, the notebooks nbval runs, the chapters.

nbval (run with ``--nbval`` over ``chapters/``) compares every stored output;
these tests make sure that covers every chapter in the table of contents and
that no code cell escapes the comparison.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from student_edition import strip_solutions

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTER_NAME = re.compile(r"^chapters/(\d\d)_[a-z0-9_]+$")


def _toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [entry["file"] for entry in part["chapters"]]
    return files


TOC_FILES = _toc_files()
CHAPTERS = [f for f in TOC_FILES if CHAPTER_NAME.match(f)]


def _notebook(name):
    return nbformat.read(ROOT / f"{name}.ipynb", as_version=4)


def test_toc_lists_existing_files_only():
    for name in TOC_FILES:
        candidates = [ROOT / f"{name}{ext}" for ext in (".ipynb", ".md")]
        assert any(c.exists() for c in candidates), f"{name} in _toc.yml is missing"


def test_chapters_follow_the_notes_order_and_are_numbered():
    numbers = [int(CHAPTER_NAME.match(f).group(1)) for f in CHAPTERS]
    assert numbers, "no chapters in _toc.yml"
    assert numbers == sorted(set(numbers)), f"chapters out of order: {numbers}"
    assert all(1 <= n <= 12 for n in numbers)
    chapter_part = next(p for p in TOC["parts"] if CHAPTERS[0] in str(p))
    assert chapter_part.get("numbered") is True


def test_nbval_covers_exactly_the_toc_notebooks():
    """``pytest --nbval chapters`` runs every notebook there: exactly the toc's."""
    on_disk = {
        f"chapters/{p.stem}"
        for p in (ROOT / "chapters").glob("*.ipynb")
        if not p.name.startswith(".")
    }
    in_toc = {f for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()}
    assert on_disk == in_toc, (
        f"not in the toc: {sorted(on_disk - in_toc)}; "
        f"toc notebooks nbval would miss: {sorted(in_toc - on_disk)}"
    )
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    assert re.search(r"pytest --nbval .*\bchapters\b", makefile)
    assert "nbval-lax" not in makefile


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_code_cell_has_stored_outputs(name):
    nb = _notebook(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    counts = [c.execution_count for c in code]
    unexecuted = [i for i, c in enumerate(counts) if c is None]
    assert not unexecuted, f"{name}: code cells {unexecuted} have no stored output"
    # executed top to bottom in one fresh kernel
    assert counts == list(range(1, len(code) + 1)), f"{name}: counts {counts}"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_a_figure_and_exercises_with_solutions(name):
    nb = _notebook(name)
    pngs = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert pngs, f"{name} has no figure"
    svg = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/svg+xml" in o.get("data", {})
    ]
    assert not svg, f"{name}: plot to PNG (nbval compares SVG text)"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    exercises = re.findall(r"\{exercise\}.*\n:label: *(\S+)", text)
    solved = set(re.findall(r"\{solution(?:-start)?\} *(\S+)", text))
    assert len(exercises) >= 3, f"{name}: {len(exercises)} exercises"
    missing = [label for label in exercises if label not in solved]
    assert not missing, f"{name}: exercises without solution {missing}"
    starts = len(re.findall(r"\{solution-start\}", text))
    assert starts == len(re.findall(r"\{solution-end\}", text))


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_uses_the_library_not_copies_of_it(name):
    nb = _notebook(name)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^\s*(import lossbook|from lossbook)", code, re.MULTILINE)
    import lossbook

    for public in lossbook.__all__:
        assert not re.search(rf"^\s*def {public}\(", code, re.MULTILINE), (
            f"{name} redefines lossbook.{public}"
        )


def test_student_edition_strips_every_solution():
    for name in CHAPTERS:
        nb = strip_solutions(_notebook(name))
        text = "\n".join(c.source for c in nb.cells)
        assert "{solution" not in text, name
        assert "{exercise}" in text, name


def test_student_edition_rejects_an_unclosed_gate():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("```{solution-start} x\n```")]
    with pytest.raises(ValueError, match="solution-end"):
        strip_solutions(nb)


def test_nothing_reads_the_shared_folder_or_ships_mathjax():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [f for f in tracked if "mathjax" in f.lower() and f.endswith(".js")]
    assert not [f for f in tracked if f.startswith("_static/")]
    offenders = []
    for f in tracked:
        path = ROOT / f
        if path.suffix in {".py", ".ipynb", ".yml", ".toml", ".md", ".cfg"} or (
            f in {"Makefile", ".ci/run"}
        ):
            if "../" + "shared" in path.read_text(errors="replace"):
                offenders.append(f)
    assert not offenders, f"files referring to the shared folder: {offenders}"


def test_config_serves_mathjax_locally_and_offers_downloads():
    sphinx = CONFIG["sphinx"]["config"]
    assert not sphinx["mathjax_path"].startswith(("http:", "https:", "//"))
    assert CONFIG["html"]["use_download_button"] is True
    assert CONFIG["repository"]["url"].startswith("https://")
    assert CONFIG["launch_buttons"]["binderhub_url"]
    assert CONFIG["launch_buttons"]["colab_url"]


# --- the presentation standard ("How a chapter looks") --------------------------

MAX_WIDTH = 88
FIGURE_NAME = re.compile(r"^fig-ch(\d\d)-[a-z0-9-]+$")
PANEL_PROSE = re.compile(
    r"\b(?:figure|fig\.|panel)\s*\(?[a-d]\)"
    r"|\b(?:left|right|upper|lower|top|bottom)(?:-hand)? (?:panel|plot|figure)\b",
    re.IGNORECASE,
)


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _figure_cells(nb):
    return [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and any("image/png" in o.get("data", {}) for o in c.outputs)
    ]


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_figure_is_numbered_captioned_described_and_referenced(name):
    nb = _notebook(name)
    number = CHAPTER_NAME.match(name).group(1)
    text = _markdown(nb)
    problems = []
    for cell in _figure_cells(nb):
        where = cell.source.strip().splitlines()[0][:60] if cell.source else "?"
        meta = cell.metadata.get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        fig = figure.get("name", "")
        pngs = sum("image/png" in o.get("data", {}) for o in cell.outputs)
        if pngs != 1:
            problems.append(f"{where!r}: {pngs} images in one cell (one figure each)")
        match = FIGURE_NAME.match(fig)
        if not match or match.group(1) != number:
            problems.append(f"{where!r}: figure name {fig!r} is not fig-ch{number}-...")
        if len(figure.get("caption", "").strip()) < 20:
            problems.append(f"{where!r} ({fig}): no caption (mystnb.figure.caption)")
        if len(image.get("alt", "").strip()) < 20:
            problems.append(f"{where!r} ({fig}): no alt text (mystnb.image.alt)")
        ref = rf"\{{numref\}}`(?:[^`<]*<)?{re.escape(fig)}>?`"
        if fig and not re.search(ref, text):
            problems.append(f"{fig}: never referenced with {{numref}}")
        if "hide-input" not in cell.metadata.get("tags", []):
            problems.append(f"{where!r} ({fig}): plotting code not folded (hide-input)")
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def _text_outputs(cell):
    for out in cell.outputs:
        if out.get("output_type") == "stream":
            yield out.get("text", "")
        elif "data" in out:
            data = out["data"]
            richer = {"image/png", "text/html", "text/markdown", "text/latex"}
            if "text/plain" in data and not richer & set(data):
                yield data["text/plain"]
        elif out.get("output_type") == "error":
            yield "\n".join(out.get("traceback", []))


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_code_or_output_line_is_wider_than_the_page(name):
    nb = _notebook(name)
    wide = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        texts = [("source", cell.source)] + [("output", t) for t in _text_outputs(cell)]
        for kind, text in texts:
            for line in text.splitlines():
                if len(line) > MAX_WIDTH:
                    wide.append(f"code cell {i + 1} {kind}: {len(line)} chars: {line}")
    assert not wide, f"{name}: lines over {MAX_WIDTH} characters\n  " + "\n  ".join(
        wide
    )


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_links_the_glossary_and_names_no_panels(name):
    text = _markdown(_notebook(name))
    assert re.search(r"\{term\}`", text), f"{name}: no {{term}} link to the glossary"
    panels = [m.group(0) for m in PANEL_PROSE.finditer(text)]
    assert not panels, f"{name}: refer to figures by {{numref}}, not {panels}"
    assert re.search(r"learning objectives", text, re.IGNORECASE), (
        f"{name}: no learning objectives"
    )


def test_glossary_is_sorted_and_bilingual():
    text = (ROOT / "chapters" / "glossary.md").read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)(?:\n```|\Z)", text, re.DOTALL)
    assert block, "chapters/glossary.md has no {glossary} block"
    body = block.group(1)
    entries = re.findall(r"^([^\s:][^\n]*)\n((?:[ \t]+[^\n]*\n?)+)", body, re.M)
    terms = [term.strip() for term, _ in entries]
    assert len(terms) >= 20, f"only {len(terms)} glossary terms"
    # Sphinx sorts the rendered glossary (:sorted:), or the source is in order
    in_order = terms == sorted(terms, key=str.casefold)
    assert in_order or re.search(r"^:sorted:", body, re.M), "glossary is not sorted"
    assert len(set(map(str.casefold, terms))) == len(terms), "a term is listed twice"
    no_chinese = [t for t, body in entries if not re.search(r"[\u3400-\u9fff]", body)]
    assert not no_chinese, f"glossary terms without the notes' Chinese: {no_chinese}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_installs_what_it_needs_first(name):
    """The launch buttons open a chapter where lossbook may be missing."""
    from launch_cell import is_launch_cell, source

    first = next(c for c in _notebook(name).cells if c.cell_type == "code")
    assert is_launch_cell(first), f"{name}: run `python tests/launch_cell.py`"
    assert first.source == source(), f"{name}: the launch cell is out of date"
    assert not first.outputs, f"{name}: the launch cell printed something here"
