"""Fixtures for the browser tests of the built book.

The built HTML site (``_build/html`` under the repository root, or the directory
named by the environment variable ``LOSSBOOK_HTML``; a relative value is taken
relative to the repository root) is served by Python's ``http.server`` on
127.0.0.1 and visited with Debian's Chromium through Playwright.

Every page of the site is discovered from the built HTML, and every test that
asks for ``page_path`` (or ``chapter_path``) is parametrized over those pages,
with the page's path as the test id. Each page is visited once, in a fresh
browser context; everything the tests check is recorded during that visit in a
:class:`PageReport`, which the tests of that page share.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = REPO_ROOT / "_config.yml"
SCREENSHOT_DIR = REPO_ROOT / "_build" / "screenshots"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOST = "127.0.0.1"

# Bounded waits (milliseconds).
NAVIGATION_TIMEOUT_MS = 30_000
MATHJAX_START_MS = 10_000
MATHJAX_TIMEOUT_MS = 30_000
IMAGE_TIMEOUT_MS = 15_000
SETTLE_TIMEOUT_S = 10.0  # for late requests (fonts, lazy images) to finish
SETTLE_QUIET_S = 0.3

# Generated pages that are not part of the book's content.
SKIPPED_PAGES = {"search.html", "genindex.html", "py-modindex.html"}
SKIPPED_DIRS = {"_static", "_sources", "_modules", "_images"}
CHAPTER_NAME = re.compile(r"^\d{2}")


def html_dir() -> Path:
    """Return the directory of the built HTML site (it may not exist)."""
    value = os.environ.get("LOSSBOOK_HTML")
    if not value:
        return REPO_ROOT / "_build" / "html"
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def missing_site_message(root: Path) -> str:
    return (
        f"The built HTML site {root} does not exist (or has no index.html). Build "
        "the book first: `jupyter-book build . -W -n --keep-going` in the "
        "repository root, or point LOSSBOOK_HTML at a built html directory."
    )


def discover_pages(root: Path) -> list[str]:
    """Every content page of the built site, as POSIX paths relative to root."""
    if not root.is_dir():
        return []
    pages = []
    for path in root.rglob("*.html"):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED_DIRS or rel.as_posix() in SKIPPED_PAGES:
            continue
        pages.append(rel.as_posix())
    return sorted(pages)


def is_chapter(page: str) -> bool:
    """A chapter page: ``chapters/NN_slug.html``."""
    parts = page.split("/")
    return (
        len(parts) == 2
        and parts[0] == "chapters"
        and bool(CHAPTER_NAME.match(parts[1]))
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    root = html_dir()
    pages = discover_pages(root)
    chapters = [page for page in pages if is_chapter(page)]
    if not (root / "index.html").is_file():
        # No site: run each test once, so that it fails (through the site_root
        # fixture) with the message to build first, instead of being skipped.
        pages = chapters = ["site-not-built"]
    if "page_path" in metafunc.fixturenames:
        metafunc.parametrize("page_path", pages, ids=pages)
    if "chapter_path" in metafunc.fixturenames:
        metafunc.parametrize("chapter_path", chapters, ids=chapters)


@pytest.fixture(scope="session")
def book_config() -> dict:
    """The book's ``_config.yml``."""
    with CONFIG_FILE.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built html directory, whether or not it exists."""
    return html_dir()


@pytest.fixture(scope="session")
def missing_site(site_dir: Path) -> str:
    """The message telling to build the site first."""
    return missing_site_message(site_dir)


@pytest.fixture(scope="session")
def site_pages(site_dir: Path) -> list[str]:
    """The content pages of the built site."""
    return discover_pages(site_dir)


@pytest.fixture(scope="session")
def site_root(site_dir: Path) -> Path:
    """The built html directory; fails the tests that need it if it is missing."""
    if not (site_dir / "index.html").is_file():
        pytest.fail(missing_site_message(site_dir), pytrace=False)
    return site_dir


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site_url(site_root: Path):
    """Serve the built site on 127.0.0.1; yield its base URL (ends with '/')."""
    handler = functools.partial(_QuietHandler, directory=str(site_root))
    server = ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, name="site-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's Chromium with "
            "`apt-get install -y chromium` (never `playwright install`).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageReport:
    """What one visit of one page recorded."""

    path: str
    url: str
    status: int | None = None
    final_url: str = ""
    title: str = ""
    footer: str = ""
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    math_elements: int = 0
    mathjax_problem: str | None = None
    mjx_containers: int = 0
    unrendered_math: list[str] = field(default_factory=list)
    math_errors: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    # header menus (chapters only): menu -> links visible once its button is clicked
    menus: dict[str, list[str]] = field(default_factory=dict)
    menu_problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    has_cjk: bool = False  # Chinese text: the screenshot needs a CJK font
    search_boxes: list[str] = field(default_factory=list)  # visible ones
    clipped_code: list[str] = field(default_factory=list)  # code wider than its box
    raw_tables: list[str] = field(default_factory=list)  # Markdown tables left as text

    def __repr__(self) -> str:  # keep assertion messages short
        return f"PageReport({self.path!r})"


def is_local(url: str) -> bool:
    """True for URLs that need no network: 127.0.0.1, data: and blob:."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob"}:
        return True
    return parts.scheme in {"http", "https"} and parts.hostname == LOCAL_HOST


# Text nodes outside code with a TeX delimiter that MathJax should have consumed.
RAW_TEX_JS = r"""
() => {
  const skipped = new Set(["PRE", "CODE", "SCRIPT", "STYLE", "TEXTAREA", "NOSCRIPT",
                           "MJX-CONTAINER"]);
  const delimiters = ["\\[", "\\(", "$$", "\\begin{"];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let el = node.parentElement; el; el = el.parentElement) {
        if (skipped.has(el.tagName.toUpperCase())) return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const hits = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue;
    if (delimiters.some((d) => text.includes(d))) hits.push(text.trim().slice(0, 160));
  }
  return hits;
}
"""

MATHJAX_READY_JS = "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
# Resolves to true once typesetting is done, or to a reason, bounded in time.
MATHJAX_DONE_JS = r"""
(timeoutMs) => Promise.race([
  MathJax.startup.promise.then(() => true, (error) => "rejected: " + error),
  new Promise((resolve) => setTimeout(() => resolve("timed out"), timeoutMs)),
])
"""

MATH_STATE_JS = r"""
() => {
  const errors = [];
  // TeX errors and undefined macros, from MathJax's internal MathML of each formula
  // (the noundefined package typesets an unknown \foo as the red text "\foo").
  const doc = window.MathJax && MathJax.startup && MathJax.startup.document;
  for (const item of (doc && doc.math) || []) {
    const tex = String(item.math).trim().slice(0, 80);
    item.root.walkTree((node) => {
      if (node.isKind("merror")) {
        const message = node.attributes.get("data-mjx-error") || "TeX error";
        errors.push(tex + ": " + message);
      } else if (node.isKind("mtext")) {
        const text = node.childNodes
          .map((child) => (child.getText ? child.getText() : ""))
          .join("");
        if (text.startsWith("\\")) errors.push(tex + ": undefined macro " + text);
      }
    });
  }
  if (!errors.length) {
    for (const el of document.querySelectorAll("mjx-merror")) {
      errors.push(el.getAttribute("data-mjx-error") || "TeX error");
    }
  }
  return {
    containers: document.querySelectorAll("mjx-container").length,
    unrendered: [...document.querySelectorAll(".math")]
      .filter((el) => !el.querySelector("mjx-container"))
      .map((el) => (el.id ? "#" + el.id + ": " : "")
                   + el.textContent.trim().slice(0, 120)),
    errors: [...new Set(errors)],
  };
}
"""

# Load every image (lazy ones too), each scrolled into view; return the broken ones.
IMAGES_JS = r"""
async (timeoutMs) => {
  const images = [...document.images];
  for (const img of images) {
    img.loading = "eager";
    img.scrollIntoView({block: "center"});
  }
  const settled = (img) => img.complete ? Promise.resolve() : new Promise((resolve) => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
  await Promise.race([
    Promise.all(images.map(settled)),
    new Promise((resolve) => setTimeout(resolve, timeoutMs)),
  ]);
  window.scrollTo(0, 0);
  return {
    count: images.length,
    broken: images.filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.getAttribute("src") || img.outerHTML.slice(0, 160)),
  };
}
"""


# Visible search boxes and buttons (the theme hides the ones a width does not use).
SEARCH_BOXES_JS = r"""
() => [...document.querySelectorAll(".search-button-field, .search-button")]
  .filter((el) => el.offsetParent !== null && el.getClientRects().length > 0)
  .map((el) => el.className + " @ " + Math.round(el.getBoundingClientRect().top) + "px")
"""

# Display equations wider than the article's column (MathJax's box against the
# column's box), skipping hidden ones (folded solutions have no size).
EQUATION_OVERFLOW_JS = r"""
() => {
  const column = document.querySelector("article.bd-article") || document.body;
  const box = column.getBoundingClientRect();
  const style = getComputedStyle(column);
  const left = box.left + parseFloat(style.paddingLeft) - 1;
  const right = box.right - parseFloat(style.paddingRight) + 1;
  const wide = [];
  for (const el of document.querySelectorAll('mjx-container[display="true"]')) {
    const math = el.querySelector("mjx-math") || el;
    const r = math.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.left < left || r.right > right) {
      const where = el.closest("[id]");
      wide.push((where ? "#" + where.id + ": " : "") + Math.round(r.width)
                + " px wide, column " + Math.round(right - left) + " px");
    }
  }
  return wide;
}
"""

# Code blocks whose text is wider than their box (a horizontal scroll bar): the
# book keeps lines within 88 characters so that none is clipped at 1280 px.
CLIPPED_CODE_JS = r"""
() => [...document.querySelectorAll("article.bd-article pre")]
  .filter((el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
  .map((el) => el.scrollWidth + " px in " + el.clientWidth + " px: "
               + el.textContent.split("\n")
                   .reduce((a, b) => (a.length > b.length ? a : b))
                 .slice(0, 90))
"""

# Markdown tables that were printed but not rendered: text with a |---| rule
# (which the smart-quotes pass may have turned into em dashes).
RAW_TABLES_JS = r"""
() => [...document.querySelectorAll("article.bd-article p")]
  .filter((el) => /\|\s*:?(-{3,}|[\u2013\u2014]+\s*\|)/.test(el.textContent))
  .map((el) => el.textContent.trim().slice(0, 120))
"""

# Inline formulas that run past the column's right edge (MathJax does not wrap them).
INLINE_OVERFLOW_JS = r"""
() => {
  const column = document.querySelector("article.bd-article") || document.body;
  const box = column.getBoundingClientRect();
  const right = box.right - parseFloat(getComputedStyle(column).paddingRight) + 1;
  const wide = [];
  const inline = 'article.bd-article mjx-container:not([display="true"])';
  for (const el of document.querySelectorAll(inline)) {
    if (el.closest("table, .sidebar, .margin")) continue;  // those scroll or float
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > right) {
      const where = el.closest("[id]");
      const tex = el.querySelector("mjx-assistive-mml") ? el.textContent : "";
      wide.push((where ? "#" + where.id + ": " : "") + Math.round(r.right - right)
                + " px past the column: " + tex.slice(0, 60));
    }
  }
  return wide;
}
"""

PHONE_VIEWPORT = {"width": 390, "height": 844}


@dataclass
class PhoneReport:
    """What a visit of one page at a phone's width (390 px) recorded."""

    path: str
    equations: int = 0
    overflowing: list[str] = field(default_factory=list)
    inline_overflowing: list[str] = field(default_factory=list)
    search_boxes: list[str] = field(default_factory=list)
    page_width: int = 0

    def __repr__(self) -> str:
        return f"PhoneReport({self.path!r})"


def visit_phone(browser, base_url: str, path: str) -> PhoneReport:
    """Open one page at 390 px and measure its display equations."""
    report = PhoneReport(path=path)
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        service_workers="block",
    )
    context.set_default_timeout(NAVIGATION_TIMEOUT_MS)
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if is_local(route.request.url)
            else route.abort("blockedbyclient")
        ),
    )
    try:
        page = context.new_page()
        page.goto(base_url + path, wait_until="load")
        # a redirect page (Jupyter Book's index.html) navigates on: follow it
        page.wait_for_timeout(250)
        page.wait_for_load_state("load")
        if page.locator(".math").count():
            page.wait_for_function(MATHJAX_READY_JS, timeout=MATHJAX_START_MS)
            done = page.evaluate(MATHJAX_DONE_JS, MATHJAX_TIMEOUT_MS)
            if done is not True:
                raise AssertionError(f"MathJax did not finish at 390 px: {done}")
        # widths are final once MathJax's web fonts have loaded
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.wait_for_timeout(100)
        report.equations = page.locator('mjx-container[display="true"]').count()
        report.overflowing = page.evaluate(EQUATION_OVERFLOW_JS)
        report.inline_overflowing = page.evaluate(INLINE_OVERFLOW_JS)
        report.search_boxes = page.evaluate(SEARCH_BOXES_JS)
        # a mobile browser widens its layout viewport to fit wider content
        report.page_width = page.evaluate(
            "() => Math.max(window.innerWidth, document.documentElement.scrollWidth)"
        )
    finally:
        context.close()
    return report


# sphinx-book-theme's header dropdowns: download (.ipynb, .pdf) and launch buttons.
HEADER_MENUS = ("dropdown-download-buttons", "dropdown-launch-buttons")
MENU_TIMEOUT_MS = 5_000


def open_menu(page, menu: str, report: PageReport) -> None:
    """Click a header dropdown's button; record the links it then shows."""
    toggle = page.locator(f".{menu} > button.dropdown-toggle")
    if toggle.count() != 1:
        report.menu_problems.append(f"{toggle.count()} .{menu} buttons, not 1")
        return
    try:
        toggle.click(timeout=MENU_TIMEOUT_MS)
        menu_links = page.locator(f".{menu} .dropdown-menu a[href]")
        menu_links.first.wait_for(state="visible", timeout=MENU_TIMEOUT_MS)
    except PlaywrightTimeoutError as error:
        report.menu_problems.append(f".{menu}: {error.message.splitlines()[0]}")
        return
    report.menus[menu] = [
        link.evaluate("el => el.href") for link in menu_links.all() if link.is_visible()
    ]
    page.keyboard.press("Escape")


def settle(page, in_flight: set) -> None:
    """Wait (bounded) until no request has been in flight for a short while."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    quiet_since = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if in_flight:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= SETTLE_QUIET_S:
            return
        page.wait_for_timeout(50)  # lets Playwright deliver pending events


def visit(browser, base_url: str, path: str, screenshot: Path | None) -> PageReport:
    """Open one page in a fresh context and record everything the tests check."""
    report = PageReport(path=path, url=base_url + path)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, service_workers="block"
    )
    context.set_default_timeout(NAVIGATION_TIMEOUT_MS)

    def route(route):
        # Keep the test hermetic: nothing leaves 127.0.0.1 (recorded below as a
        # failure through the "request" event).
        if is_local(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    in_flight = set()

    def on_request(request):
        in_flight.add(request)
        report.requests.append(request.url)
        if not is_local(request.url):
            report.external_requests.append(request.url)

    def on_request_failed(request):
        in_flight.discard(request)
        if is_local(request.url):
            report.failed_requests.append(f"{request.url}: {request.failure}")

    def on_response(response):
        if response.status >= 400:
            report.failed_requests.append(f"{response.url}: HTTP {response.status}")

    def on_console(message):
        if message.type == "error":
            where = message.location or {}
            url, line = where.get("url", "?"), where.get("lineNumber", "?")
            report.console_errors.append(f"{message.text} [{url}:{line}]")

    context.route("**/*", route)
    context.on("request", on_request)
    context.on("requestfailed", on_request_failed)
    context.on("requestfinished", lambda request: in_flight.discard(request))
    context.on("response", on_response)
    try:
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: report.page_errors.append(str(error)))

        response = page.goto(report.url, wait_until="load")
        report.status = response.status if response else None
        # Let the network go quiet; a redirect page (Jupyter Book's index.html)
        # navigates on: wait for the page it leads to as well.
        settle(page, in_flight)
        page.wait_for_load_state("load")
        report.final_url = page.url

        report.math_elements = page.locator(".math").count()
        if report.math_elements:
            try:
                # Its script has run by now (loaded, network quiet): a short wait.
                page.wait_for_function(MATHJAX_READY_JS, timeout=MATHJAX_START_MS)
            except PlaywrightTimeoutError:
                report.mathjax_problem = (
                    "MathJax did not start (MathJax.startup.promise is missing "
                    f"{MATHJAX_START_MS / 1000:.0f} s after the page went idle)"
                )
            else:
                done = page.evaluate(MATHJAX_DONE_JS, MATHJAX_TIMEOUT_MS)
                if done is not True:
                    report.mathjax_problem = f"MathJax did not finish: {done}"
        state = page.evaluate(MATH_STATE_JS)
        report.mjx_containers = state["containers"]
        report.unrendered_math = state["unrendered"]
        report.math_errors = state["errors"]
        report.raw_tex = page.evaluate(RAW_TEX_JS)

        report.search_boxes = page.evaluate(SEARCH_BOXES_JS)
        report.clipped_code = page.evaluate(CLIPPED_CODE_JS)
        report.raw_tables = page.evaluate(RAW_TABLES_JS)
        images = page.evaluate(IMAGES_JS, IMAGE_TIMEOUT_MS)
        report.images = images["count"]
        report.broken_images = images["broken"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            report.screenshot = screenshot
            for menu in HEADER_MENUS:
                open_menu(page, menu, report)
        # What scrolling, fonts (MathJax's too) or the screenshot requested late
        # must finish before the context closes, so that its failures count.
        page.evaluate("() => document.fonts.ready.then(() => true)")
        settle(page, in_flight)

        report.title = page.title()
        report.has_cjk = page.evaluate(
            r"() => /[\u3400-\u9fff]/.test(document.body.innerText)"
        )
        report.footer = "\n".join(page.locator("footer").all_inner_texts())
    finally:
        context.close()
    return report


@pytest.fixture(scope="session")
def cjk_fonts() -> list[str]:
    """Font families installed for Chinese (fontconfig), as Chromium sees them."""
    try:
        result = subprocess.run(
            ["fc-list", ":lang=zh", "family"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.fail(f"cannot list fonts with fc-list: {error}", pytrace=False)
    return sorted({line.strip() for line in result.stdout.splitlines() if line.strip()})


@pytest.fixture(scope="session")
def _visits() -> dict:
    return {}


@pytest.fixture
def visit_page(site_url, chromium, _visits):
    """Return the (cached) :class:`PageReport` of a page, visiting it once."""

    def get(path: str) -> PageReport:
        if path not in _visits:
            shot = None
            if is_chapter(path):
                shot = SCREENSHOT_DIR / f"{Path(path).stem}.png"
            try:
                _visits[path] = visit(chromium, site_url, path, shot)
            except Exception as error:  # re-raised for every test of this page
                _visits[path] = error
        result = _visits[path]
        if isinstance(result, Exception):
            raise result
        return result

    return get


@pytest.fixture(scope="session")
def _phone_visits() -> dict:
    return {}


@pytest.fixture
def visit_page_on_phone(site_url, chromium, _phone_visits):
    """Return the (cached) :class:`PhoneReport` of a page at 390 px."""

    def get(path: str) -> PhoneReport:
        if path not in _phone_visits:
            try:
                _phone_visits[path] = visit_phone(chromium, site_url, path)
            except Exception as error:  # re-raised for every test of this page
                _phone_visits[path] = error
        result = _phone_visits[path]
        if isinstance(result, Exception):
            raise result
        return result

    return get
