"""Check a built HTML site in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Used by tests/book/test_browser.py (``make test-book``). Nothing here reaches the network: the site is served
from a folder on 127.0.0.1 at a free port, and Chromium starts with its background networking switched off.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]

# What a widget looks like when the HTML shows its Python repr instead of the widget or its static twin.
WIDGET_REPR = re.compile(
    r"\b(HBox|VBox|GridBox|Box|Text|Textarea|IntSlider|FloatSlider|IntRangeSlider|FloatRangeSlider|Dropdown|"
    r"Button|ToggleButton|ToggleButtons|RadioButtons|Select|SelectMultiple|Checkbox|Output|FloatProgress|"
    r"IntProgress|HTML|HTMLMath|Label|Tab|Accordion|Image|Play|Combobox|interactive)\((children|value|layout|"
    r"description|options|max|min|index|outputs|style)="
)
WIDGET_ERRORS = ("Error rendering Jupyter widget", "Widget Javascript not detected", "Loading widget...")


def find_executable(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@contextlib.contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1 at a free port; yields the base URL (ending in '/')."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output clean
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium():
    """A headless Chromium driven by chromedriver, with browser console logging on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = find_executable("chromium", "chromium-browser", "google-chrome")
    driver_path = find_executable("chromedriver")
    if not browser or not driver_path:
        raise RuntimeError("needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver")
    profile = tempfile.mkdtemp(prefix="book-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class PageReport:
    path: str
    problems: list[str] = field(default_factory=list)
    images_loaded: int = 0
    figures: int = 0
    internal_links: int = 0


def html_pages(root: Path) -> list[str]:
    """Every page of a Sphinx HTML build, relative to ``root`` (assets and execution reports left out)."""
    skip = ("_static/", "_sources/", "_images/", "_downloads/", "reports/", "_sphinx_design_static/")
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        if not rel.startswith(skip):
            pages.append(rel)
    return pages


def _target_file(root: Path, url_path: str) -> Path:
    path = root / unquote(url_path).lstrip("/")
    if url_path.endswith("/") or path.is_dir():
        path = path / "index.html"
    return path


@functools.lru_cache(maxsize=256)
def _ids_in(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(re.findall(r"""\b(?:id|name)=["']([^"']+)["']""", text))


_JS_IMAGES = """
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = 'eager'; });
return imgs.map(i => [i.getAttribute('src') || '', i.currentSrc || i.src, i.complete, i.naturalWidth]);
"""

_JS_LINKS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));"

_JS_OUTPUT_TEXT = """
return Array.from(document.querySelectorAll('.cell_output, .output')).map(e => e.innerText).join('\\n');
"""

_JS_FIGURES = """
const main = document.querySelector('main') || document.querySelector('article') || document.body;
const imgs = Array.from(main.querySelectorAll('img')).filter(i => i.complete && i.naturalWidth > 0);
const svgs = Array.from(main.querySelectorAll('.cell_output svg, figure svg'));
return imgs.length + svgs.length;
"""


def check_page(driver, base_url: str, root: Path, rel: str, wait_s: float = 10.0) -> PageReport:
    """Open one page and list what is wrong with it."""
    report = PageReport(rel)
    url = urljoin(base_url, rel)
    driver.get_log("browser")  # drop what an earlier page left behind
    driver.get(url)
    deadline = time.monotonic() + wait_s
    while driver.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.05)
    # Images: wait until each has finished loading (or failed), then every one must have a size.
    images = driver.execute_script(_JS_IMAGES)
    while not all(done for _, _, done, _ in images) and time.monotonic() < deadline:
        time.sleep(0.1)
        images = driver.execute_script(_JS_IMAGES)
    for src, current, done, width in images:
        if not done or not width:
            report.problems.append(f"image not loaded: {src or current}")
        else:
            report.images_loaded += 1
    report.figures = driver.execute_script(_JS_FIGURES)
    # Internal links: the file must exist, and so must the #fragment in it.
    page_url = driver.current_url
    origin = urlsplit(base_url)
    for href in driver.execute_script(_JS_LINKS):
        if not href or href.startswith(("mailto:", "javascript:", "data:", "tel:")):
            continue
        target = urlsplit(urljoin(page_url, href))
        if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
            continue
        report.internal_links += 1
        path = _target_file(root, target.path)
        if not path.is_file():
            report.problems.append(f"broken link: {href} -> {target.path} does not exist")
        elif target.fragment and path.suffix == ".html" and unquote(target.fragment) not in _ids_in(path):
            report.problems.append(f"broken link: {href} -> no #{target.fragment} in {target.path}")
    # Widgets must never show as their Python repr: look at what cells printed, not at their code.
    text = driver.execute_script(_JS_OUTPUT_TEXT)
    for match in WIDGET_REPR.finditer(text):
        report.problems.append(f"raw widget repr shown: {match.group(0)!r}")
    for message in WIDGET_ERRORS:
        if message in text:
            report.problems.append(f"widget not rendered: {message!r}")
    # Console: any error (level SEVERE), failed resource loads included.
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            report.problems.append(f"console error: {entry.get('message')}")
    return report


def search_results(driver, base_url: str, query: str, wait_s: float = 30.0) -> list[str]:
    """Titles of the hits on Sphinx's search page for ``query`` (waits for the index to load)."""
    driver.get(urljoin(base_url, f"search.html?q={query}"))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        status = driver.execute_script(
            "const s = document.querySelector('#search-results .search-summary, #search-results p');"
            "return s ? s.innerText : '';"
        )
        hits = driver.execute_script(
            "return Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.innerText);"
        )
        if hits and status:
            return hits
        if status and ("did not match" in status or "found 0" in status.lower()):
            return []
        time.sleep(0.2)
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.innerText);"
    )


def screenshot(driver, base_url: str, rel: str, out: Path, height: int = 1600) -> Path:
    """Save a PNG of ``rel`` at 1280 px wide (and up to ``height`` px of the page)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.get(urljoin(base_url, rel))
    page_height = driver.execute_script("return document.documentElement.scrollHeight") or height
    driver.set_window_size(1280, min(max(page_height, 800), height))
    time.sleep(0.3)
    driver.save_screenshot(str(out))
    driver.set_window_size(1280, 1000)
    return out
