"""Browser tests of the built book: every page loads cleanly and renders.

Run after building the book, e.g.::

    jupyter-book build . -W -n --keep-going
    python -m pytest -p no:cacheprovider tests/browser -q

``LOSSBOOK_HTML`` selects another built html directory. Every page is checked
for console errors, uncaught exceptions, failed or external requests, rendered
math, loaded images, its title and its footer; every chapter page also for its
notebook download button and its Binder and Colab launch buttons, and a
full-page screenshot of it is saved to ``_build/screenshots/<chapter>.png``.
"""

from __future__ import annotations

import html
import json
import re
import urllib.request
from pathlib import PurePosixPath

import pytest


def _lines(items: list[str]) -> str:
    return "\n  " + "\n  ".join(items)


def test_site_is_built(site_dir, site_pages, missing_site):
    assert (site_dir / "index.html").is_file(), missing_site
    assert "index.html" in site_pages


def test_page_loads(page_path, visit_page):
    report = visit_page(page_path)
    assert report.status == 200, f"{report.url} answered HTTP {report.status}"
    site = report.url.removesuffix(page_path)
    assert report.final_url.startswith(site), f"{report.url} led to {report.final_url}"


def test_no_console_errors(page_path, visit_page):
    report = visit_page(page_path)
    assert not report.console_errors, "console errors:" + _lines(report.console_errors)


def test_no_uncaught_exceptions(page_path, visit_page):
    report = visit_page(page_path)
    assert not report.page_errors, "uncaught page errors:" + _lines(report.page_errors)


def test_no_failed_requests(page_path, visit_page):
    report = visit_page(page_path)
    assert report.requests, "the page made no request at all"
    assert not report.failed_requests, "failed requests:" + _lines(
        report.failed_requests
    )


def test_no_external_requests(page_path, visit_page):
    report = visit_page(page_path)
    assert not report.external_requests, (
        "requests to hosts other than 127.0.0.1 (aborted):"
        + _lines(report.external_requests)
    )


def test_math_rendered(page_path, visit_page):
    report = visit_page(page_path)
    assert report.mathjax_problem is None, report.mathjax_problem
    assert report.mjx_containers >= report.math_elements, (
        f"{report.math_elements} .math elements but only "
        f"{report.mjx_containers} mjx-container elements"
    )
    assert not report.unrendered_math, "math not typeset by MathJax:" + _lines(
        report.unrendered_math
    )
    assert not report.math_errors, "MathJax errors:" + _lines(report.math_errors)
    assert not report.raw_tex, "raw TeX left in the text:" + _lines(report.raw_tex)


def test_images_loaded(page_path, visit_page):
    report = visit_page(page_path)
    assert not report.broken_images, (
        f"{len(report.broken_images)} of {report.images} images did not load:"
        + _lines(report.broken_images)
    )


def test_title(page_path, visit_page, book_config):
    report = visit_page(page_path)
    assert book_config["title"] in report.title


def test_footer_copyright(page_path, visit_page, book_config):
    report = visit_page(page_path)
    years = re.findall(r"\b\d{4}\b", str(book_config["copyright"]))
    assert years, f"no year in _config.yml's copyright {book_config['copyright']!r}"
    lines = [
        line
        for line in report.footer.splitlines()
        if ("©" in line or "Copyright" in line) and years[0] in line
    ]
    assert lines, f"no copyright line with {years[0]} in the footer:\n{report.footer}"


def test_footer_extra(page_path, visit_page, book_config):
    extra = (book_config.get("html") or {}).get("extra_footer")
    if not extra:
        pytest.skip("no html.extra_footer in _config.yml")
    report = visit_page(page_path)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", extra)).split())
    footer = " ".join(report.footer.split())
    assert text in footer, f"html.extra_footer {text!r} not in the footer: {footer}"


def _notebook_name(chapter_path: str) -> str:
    return PurePosixPath(chapter_path).with_suffix(".ipynb").as_posix()


def test_chapter_download_button(chapter_path, visit_page):
    report = visit_page(chapter_path)
    assert not report.menu_problems, "header menus:" + _lines(report.menu_problems)
    notebook = _notebook_name(chapter_path)
    shown = report.menus["dropdown-download-buttons"]
    downloads = [
        link
        for link in shown
        if link.startswith(report.url.removesuffix(chapter_path))
        and link.endswith("/" + notebook)
    ]
    assert downloads, f"the download menu offers no {notebook}:" + _lines(shown)
    # The link works and gives the chapter's notebook.
    with urllib.request.urlopen(downloads[0], timeout=10) as response:
        assert response.status == 200
        document = json.load(response)
    assert document["nbformat"] == 4
    assert document["cells"], f"{downloads[0]} has no cells"


def test_chapter_launch_buttons(chapter_path, visit_page, book_config):
    report = visit_page(chapter_path)
    assert not report.menu_problems, "header menus:" + _lines(report.menu_problems)
    notebook = _notebook_name(chapter_path)
    shown = report.menus["dropdown-launch-buttons"]
    launch = book_config["launch_buttons"]
    for service, key in [("Binder", "binderhub_url"), ("Colab", "colab_url")]:
        prefix = launch[key].rstrip("/") + "/"
        links = [link for link in shown if link.startswith(prefix) and notebook in link]
        assert links, f"the launch menu has no {service} link to {notebook}:" + _lines(
            shown
        )


def test_chapter_screenshot(chapter_path, visit_page, cjk_fonts):
    report = visit_page(chapter_path)
    assert cjk_fonts or not report.has_cjk, (
        "the chapter has Chinese text but no Chinese font is installed: the "
        "screenshot shows boxes; install one (apt-get install fonts-wqy-microhei)"
    )
    assert report.screenshot is not None
    data = report.screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{report.screenshot} is no PNG"
    width, height = (
        int.from_bytes(data[16:20], "big"),
        int.from_bytes(data[20:24], "big"),
    )
    assert width >= 1280, f"screenshot {width} px wide"
    assert height > 900, f"screenshot {height} px high: not the full page"


def test_one_search_box(page_path, visit_page):
    report = visit_page(page_path)
    assert len(report.search_boxes) == 1, "visible search boxes at 1280 px:" + _lines(
        report.search_boxes
    )


def test_one_search_box_on_a_phone(page_path, visit_page_on_phone):
    report = visit_page_on_phone(page_path)
    assert len(report.search_boxes) == 1, "visible search boxes at 390 px:" + _lines(
        report.search_boxes
    )


# The API reference renders the library's docstrings, whose formulas are written
# for a desktop width; there a wide formula scrolls inside its own box
# (lossbook.css), and the page itself must still fit the phone.
SCROLLING_FORMULAS = {"chapters/api.html"}


def test_equations_fit_a_phone(page_path, visit_page_on_phone):
    report = visit_page_on_phone(page_path)
    assert report.page_width <= 390, f"the page is {report.page_width} px wide"
    if page_path in SCROLLING_FORMULAS:
        return
    assert not report.overflowing, (
        "display equations wider than the column at 390 px (split them over "
        "aligned rows):" + _lines(report.overflowing)
    )


def test_no_code_is_clipped_at_desktop_width(page_path, visit_page):
    report = visit_page(page_path)
    if page_path in SCROLLING_FORMULAS:  # docstring examples are not width-checked
        return
    assert not report.clipped_code, "code wider than its box at 1280 px:" + _lines(
        report.clipped_code
    )


def test_tables_are_rendered(page_path, visit_page):
    report = visit_page(page_path)
    assert not report.raw_tables, "Markdown tables left as text:" + _lines(
        report.raw_tables
    )


def test_inline_formulas_fit_a_phone(page_path, visit_page_on_phone):
    report = visit_page_on_phone(page_path)
    if page_path in SCROLLING_FORMULAS:
        return
    assert not report.inline_overflowing, (
        "inline formulas past the column at 390 px (split them):"
        + _lines(report.inline_overflowing)
    )
