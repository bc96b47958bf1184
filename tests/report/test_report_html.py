"""The report's structure and self-containment, read with the standard library's HTML parser (no browser)."""

import base64
import importlib.util
import io
import json
from html.parser import HTMLParser

import numpy as np


class ReportParser(HTMLParser):
    """Collects images, links, scripts, headings, section ids and the visible text."""

    def __init__(self):
        super().__init__()
        self.images, self.urls, self.scripts, self.sections, self.headings, self.text = [], [], [], [], [], []
        self._heading = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.scripts.append((tag, attrs))
        for key in ("src", "href"):
            if key in attrs and not (attrs[key].startswith("data:") or attrs[key].startswith("#")):
                self.urls.append(attrs[key])
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


def parse(path):
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_report_is_self_contained_and_every_image_is_an_embedded_png(full_report):
    import matplotlib.image

    parser = parse(full_report["html"])
    assert parser.scripts == [] and parser.urls == []  # no JS, no stylesheet links, no network
    # per subject 5 figures; inference 2; market 4 (with the permutation null) + net P&L and Sharpe vs cost
    assert len(parser.images) == 2 * 5 + 2 + 4 + 2
    for image in parser.images:
        assert image["src"].startswith("data:image/png;base64,") and image["alt"]
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and np.ptp(pixels[..., :3]) > 0.5  # not blank


def test_report_structure_titles_and_verdict(full_report):
    parser = parse(full_report["html"])
    text = " ".join(parser.text)
    assert parser.sections == ["encoding", "inference", "market"]
    assert {"UTS01", "UTS02", "Backtest table (out of sample)", "Cumulative IC", "Forecast fans", "Word attributions",
            "IC and Sharpe by target and horizon", "What ROI features add over each control",
            "Portfolio: cumulative net P&L", "Sharpe vs trading cost"} <= set(parser.headings)
    alts = [i["alt"] for i in parser.images]
    for subject in ("UTS01", "UTS02"):
        assert sum(a.startswith(f"{subject}: ") for a in alts) == 5
    assert text.count("Verdict: no brain signal: attention explains the roi forecasts; roi mean IC 0.375") == 2  # header and market section
    assert "Provenance" in text and "weights sha256" in text and "AAA, BBB" in text and "2022-01-03 to" in text
    assert "market_adjusted:1, raw:1, raw:5 (primary raw)" in text and "explanations.parquet" in text
    if importlib.util.find_spec("cortex") is None:  # the flatmap extra is optional
        assert "No flatmap: pycortex is not installed" in text
    else:
        assert "No flatmap: the subject's pycortex database" in text  # the synthetic twin has no flat surfaces
    assert "whole-brain mean r > 0.10" in text and "language-cortex r > 0.20" in text and "NAcc r > 0.05" in text
    for subject in ("UTS01", "UTS02"):  # shown exactly as metrics.json records them, with the voxels they judge
        metrics = json.loads((full_report["root"] / "models" / subject / "metrics.json").read_text())
        for row in metrics["success_criteria"]:
            assert row["voxels"] in text and (row["value"] is None or f"{row['value']:.3f}" in text)
