"""Print the built book to one PDF with Chromium, formulas and figures rendered.

Usage: ``python tests/book_pdf.py HTML_DIR OUT.pdf`` (``make pdf`` runs it on
``_build/html`` and writes ``_build/pdf/lossbook.pdf``).

Jupyter Book 1's single-page builder cannot render sphinx-exercise's gated
solutions, and its ``pdfhtml`` builder downloads a browser of its own, so the
pages of the HTML build are printed one by one, in the order of ``_toc.yml``,
by Debian's Chromium (through Playwright, as in the browser tests), each once
MathJax has typeset it, and joined with poppler's ``pdfunite``. The theme's
print style sheet drops the sidebars and buttons. Solutions stay folded, as a
reader first sees them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MATHJAX_DONE_JS = """
() => !document.querySelector(".math") ||
      (window.MathJax && MathJax.startup && MathJax.startup.promise.then(() => true))
"""


def toc_pages() -> list[str]:
    """The book's pages in reading order, as paths of the HTML build."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [entry["file"] for entry in part["chapters"]]
    return [f"{page}.html" for page in pages]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def print_book(html_dir: Path, out: Path) -> int:
    """Write ``out`` from the pages of ``html_dir``; return its page count."""
    if not (html_dir / "index.html").is_file():
        raise SystemExit(f"{html_dir} has no built book: run `make book` first")
    if shutil.which("pdfunite") is None:
        raise SystemExit("pdfunite not found: apt-get install poppler-utils")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html_dir))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    parts = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        for i, name in enumerate(toc_pages()):
            page.goto(base + name, wait_until="load")
            page.wait_for_function(MATHJAX_DONE_JS, timeout=60_000)
            page.evaluate("() => document.fonts.ready.then(() => true)")
            part = Path(tmp) / f"{i:03d}.pdf"
            page.pdf(
                path=str(part),
                format="A4",
                print_background=True,
                margin={
                    "top": "18mm",
                    "bottom": "18mm",
                    "left": "15mm",
                    "right": "15mm",
                },
            )
            parts.append(str(part))
        browser.close()
        server.shutdown()
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdfunite", *parts, str(out)], check=True)
    info = subprocess.run(
        ["pdfinfo", str(out)], capture_output=True, text=True, check=True
    ).stdout
    return int(
        next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1]
    )


if __name__ == "__main__":
    html, target = Path(sys.argv[1]), Path(sys.argv[2])
    pages = print_book(html, target)
    print(f"The book as a PDF: {target} ({pages} pages)")
