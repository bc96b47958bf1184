"""The report rendered in a real headless Chromium driven by playwright: no console or page errors, no request
leaving the file, every image loaded, a non-blank screenshot and the verdict on the page.

The browser is Debian's `chromium` (`make browser`, run by .ci/run) or playwright's own
(`python -m playwright install chromium`); the test skips, saying so, only where neither is installed.
NEUROFIN_CHROMIUM=path picks another Chromium binary.

NEUROFIN_REPORT_HTML=path checks that report instead of the fixture's (e.g. the demo's); NEUROFIN_REPORT_PNG=path
keeps the screenshot there (docs/report.png is made this way from the demo's report, see docs/report.md).
"""

import io
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 1500


class Counter(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = 0
        self.verdict = ""
        self._in_verdict = False

    def handle_starttag(self, tag, attrs):
        self.images += tag == "img"
        self._in_verdict = self._in_verdict or ("class", "verdict") in attrs

    def handle_data(self, data):
        if self._in_verdict and not self.verdict:
            self.verdict = data.strip()


def chromium_path(playwright: Playwright) -> str:
    """$NEUROFIN_CHROMIUM, else a system Chromium on PATH, else playwright's own build; skip when none is installed."""
    candidates = [os.environ.get("NEUROFIN_CHROMIUM"), *map(shutil.which, SYSTEM_CHROMIUMS), playwright.chromium.executable_path]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        pytest.skip("no Chromium installed: run `make browser` (Debian's chromium via apt) or "
                    "`python -m playwright install chromium`")
    return found


def render(browser: Browser, html: Path, png: Path) -> dict:
    """Open the file, block any request that would leave it, and collect errors, image counts, text and a screenshot."""
    errors: list[str] = []
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    page.on("console", lambda message: errors.append(f"console.{message.type}: {message.text}")
            if message.type in ("error", "assert") else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url} ({request.failure})"))

    def local_only(route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            errors.append(f"external request: {route.request.url}")
            route.abort()

    page.route("**/*", local_only)
    page.goto(html.resolve().as_uri(), wait_until="load", timeout=120_000)
    images = page.evaluate("[document.images.length, [...document.images].filter(i => i.complete && i.naturalWidth > 0).length]")
    page.screenshot(path=str(png), full_page=False)
    return {"errors": errors, "images_total": images[0], "images_loaded": images[1], "text": page.inner_text("body")}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(playwright))
        yield browser
        browser.close()


def test_the_check_sees_a_broken_page(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<p>text</p><img src='missing.png'><img src='https://example.com/x.png'>"
                    "<script>console.error('boom'); undefined_function();</script>", encoding="utf-8")
    result = render(browser, page, tmp_path / "broken.png")
    assert (result["images_total"], result["images_loaded"]) == (2, 0)
    assert "console.error: boom" in result["errors"] and "external request: https://example.com/x.png" in result["errors"]
    assert any(e.startswith("uncaught: ") and "undefined_function" in e for e in result["errors"])
    assert any(e.startswith("failed: ") and e.split()[1].endswith("/missing.png") for e in result["errors"])


def test_report_renders_in_a_real_browser(browser, full_report, tmp_path):
    import matplotlib.image

    html = Path(os.environ.get("NEUROFIN_REPORT_HTML") or full_report["html"])
    png = Path(os.environ.get("NEUROFIN_REPORT_PNG") or tmp_path / "report.png")
    result = render(browser, html, png)
    counter = Counter()
    counter.feed(html.read_text(encoding="utf-8"))
    assert result["errors"] == [] and result["text"].strip()
    assert result["images_total"] == counter.images > 0 and result["images_loaded"] == counter.images
    assert counter.verdict.startswith("Verdict: ") and counter.verdict in result["text"]
    pixels = matplotlib.image.imread(io.BytesIO(png.read_bytes()), format="png")
    assert pixels.shape[:2] == (HEIGHT, WIDTH) and np.std(pixels[..., :3]) > 0.05  # a screenshot with content
