"""The built book in a real browser (issue 11): run by ``make test-book`` after ``make book``.

Every page of ``_build/html`` is opened in headless Chromium, served from 127.0.0.1: no console errors,
every image loaded, every internal link (and #anchor) resolves, no widget shown as its Python repr; every
chapter (notebook page) shows at least one figure; the search page finds "attention"; screenshots of the
introduction and of a chapter are saved to ``_build/screenshots/``. The last test shows the checker fails on a
small synthetic site with a broken link, a broken image, a console error and a widget repr.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.book import browser

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
SCREENSHOTS = Path(os.environ.get("BOOK_SCREENSHOTS", ROOT / "_build" / "screenshots"))
PAGES = browser.html_pages(HTML) if (HTML / "index.html").is_file() else []

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def driver():
    with browser.chromium() as d:
        yield d


@pytest.fixture(scope="session")
def site():
    assert (HTML / "index.html").is_file(), f"no book in {HTML}: run `make book` first"
    with browser.serve(HTML) as base_url:
        yield base_url


def chapter_pages() -> list[str]:
    return [p for p in PAGES if p.startswith("notebooks/")]


def test_the_book_was_built():
    assert (HTML / "index.html").is_file(), f"no book in {HTML}: run `make book` first"
    assert (HTML / "book" / "intro.html").is_file()
    assert chapter_pages(), "no chapter (notebook) pages in the book"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_cleanly(driver, site, page):
    report = browser.check_page(driver, site, HTML, page)
    assert not report.problems, f"{page}:\n  " + "\n  ".join(report.problems)
    if page.startswith("notebooks/"):
        assert report.figures >= 1, f"{page}: a chapter should show at least one figure, found none"


def test_search_finds_attention(driver, site):
    hits = browser.search_results(driver, site, "attention")
    assert hits, "the search page returned no results for 'attention'"


def test_screenshots(driver, site):
    intro = browser.screenshot(driver, site, "book/intro.html", SCREENSHOTS / "intro.png")
    chapter = chapter_pages()[0]
    shot = browser.screenshot(driver, site, chapter, SCREENSHOTS / f"{Path(chapter).stem}.png")
    for path in (intro, shot):
        assert path.is_file() and path.stat().st_size > 10_000, f"screenshot {path} is missing or blank"


# --- the checker itself catches what it should ------------------------------------------------------------
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a0e6b4a50000000049454e44ae426082"
)


HEAD = "<head><link rel='icon' href='data:,'></head>"  # no favicon request, so no 404 of our own making


def _synthetic_site(root: Path) -> None:
    (root / "ok.png").write_bytes(PNG_1x1)
    (root / "index.html").write_text(
        f"<html>{HEAD}<body><main><img src='ok.png'><a href='other.html#here'>fine</a></main></body></html>"
    )
    (root / "other.html").write_text(
        f"<html>{HEAD}<body><main><h1 id='here'>Here</h1><img src='ok.png'>"
        "<div class='cell_input'><pre>w.HBox([w.Text(value='code is not output')])</pre></div></main></body></html>"
    )
    (root / "broken.html").write_text(
        f"<html>{HEAD}<body><main>"
        "<img src='missing.png'>"
        "<a href='nowhere.html'>dead link</a>"
        "<a href='other.html#not-there'>dead anchor</a>"
        "<div class='cell_input'><pre>w.HBox([w.Text(value='a dog')])</pre></div>"
        "<div class='cell_output'><pre>HBox(children=(Text(value='a dog'), Button(description='Search')))</pre></div>"
        "<script>throw new Error('boom');</script>"
        "</main></body></html>"
    )


def test_checker_fails_on_a_broken_site(driver, tmp_path):
    _synthetic_site(tmp_path)
    with browser.serve(tmp_path) as base_url:
        good = browser.check_page(driver, base_url, tmp_path, "index.html")
        other = browser.check_page(driver, base_url, tmp_path, "other.html")
        bad = browser.check_page(driver, base_url, tmp_path, "broken.html")
    assert good.problems == [] and good.images_loaded == 1 and good.internal_links == 1
    assert other.problems == [] and other.figures == 1
    problems = "\n".join(bad.problems)
    assert "image not loaded: missing.png" in problems
    assert "broken link: nowhere.html" in problems
    assert "no #not-there" in problems
    assert "raw widget repr shown: 'HBox(children='" in problems
    assert "code is not output" not in problems
    assert "console error" in problems and "boom" in problems
    assert "missing.png" in problems.split("console error", 1)[1], "the 404 should show as a console error too"
