"""The report's and `neurofin explain`'s HTML from the jinja2 templates: hostile text comes out escaped, and the
documents say what the f-string HTML before them said.

tests/report/data/html_before/*.jsonl hold what the f-string code (commit 37988fc) made of the same inputs, read
by the standard library's HTML parser: every tag with its attributes and every text, figures' data URIs
shortened to their type. NEUROFIN_WRITE_HTML_BEFORE=1 rewrites them from the code at hand (run it only on that
commit). Rewritten once since, from the code of issue 21's HAR / Clark-West bootstrap change: a diff showed only
numbers (IC intervals, t and p values) and the new `cw_method` column changed.
"""

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.infer.explain import explain_html
from neurofin.report.html import Figure, Section, key_value_table, page, paragraph, table

BEFORE = Path(__file__).resolve().parent / "data" / "html_before"
HOSTILE = "<script>alert('x')</script> & \"quoted\""
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5c1a7a80000000049454e44ae426082")


class Events(HTMLParser):
    """Tags (attributes sorted, data URIs cut to their type) and texts of a document, in order."""

    def __init__(self, skip_class: str = ""):
        super().__init__()
        self.items: list[list] = []
        self.skip_class, self._skipping = skip_class, 0

    def handle_starttag(self, tag, attrs):
        if self._skipping or (self.skip_class and ("class", self.skip_class) in attrs):
            self._skipping += 1
            return
        shown = sorted([k, v.split(",")[0] if v and v.startswith("data:") else v] for k, v in attrs)
        self.items.append(["start", tag, shown])

    def handle_endtag(self, tag):
        if self._skipping:
            self._skipping -= 1
            return
        self.items.append(["end", tag])

    def handle_data(self, data):
        if not self._skipping:
            self.items.append(["text", data])


def events(document: str, skip_class: str = "") -> list[list]:
    parser = Events(skip_class)
    parser.feed(document)
    parser.close()
    return parser.items


def blocks_page() -> str:
    """Every building block of report/html.py, fed hostile text."""
    frame = pd.DataFrame({"roi": [HOSTILE, "b"], "r": [0.123456, np.nan], "n": [3, 4]})
    section = Section(f"anchor{HOSTILE}", f"Section {HOSTILE}")
    section.add(Figure(f"title {HOSTILE}", PNG, f"caption {HOSTILE}"), Figure("no caption", PNG),
                paragraph(f"plain {HOSTILE}"), paragraph(f"note {HOSTILE}", "note"), table(frame),
                key_value_table([(f"key {HOSTILE}", 1.5), ("b", HOSTILE)]))
    empty = Section("empty", "Empty")
    return page(f"Title {HOSTILE}", [paragraph(HOSTILE, "verdict"), key_value_table([("k", "v")], "prov")],
                [section, empty])


def explain_snippet() -> str:
    """explain_html over planted contributions of hostile words and a hostile region name."""
    words = ["plain", HOSTILE, "a&b", "it's"]
    regions = ["<b>region</b> & co", "flat"]
    frame = pd.DataFrame({"subject": "ensemble", "position": range(len(words)), "word": words,
                          regions[0]: [0.5, -1.25, 0.0, np.nan], regions[1]: [0.0] * len(words)})
    return explain_html(frame, regions)


def compare_or_write(name: str, items: list[list]) -> None:
    path = BEFORE / f"{name}.jsonl"
    if os.environ.get("NEUROFIN_WRITE_HTML_BEFORE"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    assert items == [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_hostile_text_is_escaped_everywhere():
    for document in (blocks_page(), explain_snippet()):
        assert "<script>" not in document and "&lt;script&gt;" in document
        assert " & " not in document and "a&b" not in document
        texts = "".join(item[1] for item in events(document) if item[0] == "text")
        assert HOSTILE in texts  # the parser reads back the text as written
    assert [item[1] for item in events(explain_snippet()) if item[0] == "start"].count("script") == 0
    assert "&lt;b&gt;region&lt;/b&gt; &amp; co" in explain_snippet()


def test_building_blocks_say_what_the_f_strings_said():
    compare_or_write("blocks", events(blocks_page()))


def test_explain_html_says_what_the_f_strings_said():
    compare_or_write("explain", events(explain_snippet()))


def test_the_report_says_what_the_f_strings_said(full_report):
    document = Path(full_report["html"]).read_text(encoding="utf-8")
    items = events(document, skip_class="prov")  # the provenance table holds the time and temporary paths
    assert len(items) > 500
    compare_or_write("full_report", items)

