"""The report rendered in a real headless Chromium (tools/browser_check.py): no console errors, every image loaded,
a non-blank screenshot and the verdict on the page. Skipped, with the reason, where no browser can be obtained.

NEUROFIN_REPORT_HTML=path checks that report instead of the fixture's (e.g. the demo's); NEUROFIN_REPORT_PNG=path
keeps the screenshot there (docs/report.png is made this way from the demo's report, see docs/report.md).
"""

import importlib.util
import io
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "browser_check.py"


def browser_check():
    spec = importlib.util.spec_from_file_location("browser_check", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_report_renders_in_a_real_browser(full_report, tmp_path):
    import matplotlib.image

    html = Path(os.environ.get("NEUROFIN_REPORT_HTML") or full_report["html"])
    png = Path(os.environ.get("NEUROFIN_REPORT_PNG") or tmp_path / "report.png")
    tool = browser_check()
    try:
        result = tool.check(str(html), str(png), width=1280, height=1500, full_page=False, timeout=120, quiet=True)
    except tool.BrowserUnavailable as exc:
        pytest.skip(f"no headless browser could be obtained: {str(exc).splitlines()[0]}")
    counter = Counter()
    counter.feed(html.read_text(encoding="utf-8"))
    assert result["errors"] == [] and not result["blank"] and result["ok"]
    assert result["images_total"] == counter.images > 0 and result["images_loaded"] == counter.images
    assert counter.verdict.startswith("Verdict: ") and counter.verdict in result["text"]
    pixels = matplotlib.image.imread(io.BytesIO(png.read_bytes()), format="png")
    assert pixels.shape[:2] == (1500, 1280) and np.std(pixels[..., :3]) > 0.05  # a screenshot with content
