"""Word attributions in the report: examples chosen from the scores, one shaded span per word, the shading's sign
that of the contribution, contributions summing to the value shown, hostile text escaped, a note when absent."""

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.infer.explain import POSITIVE
from neurofin.report.build import build_report
from neurofin.report.explanations import choose_examples, read_explanations
from neurofin.report.inference import NO_EXPLANATIONS, inference_section, read_scores

from .conftest import HOSTILE


class Examples(HTMLParser):
    """Per div.explain: its note text and its word spans (data-c, style background, text)."""

    def __init__(self):
        super().__init__()
        self.examples, self.legends, self._span, self._note = [], 0, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "explain":
            self.examples.append({"note": "", "spans": []})
        elif tag == "p" and attrs.get("class") == "legend":
            self.legends += 1
        elif tag == "p" and attrs.get("class") == "note" and self.examples and not self.examples[-1]["spans"]:
            self._note = True
        elif tag == "span" and attrs.get("class") == "w" and self.examples and "data-c" in attrs:
            self._span = {"c": attrs["data-c"], "style": attrs["style"], "word": ""}
            self.examples[-1]["spans"].append(self._span)

    def handle_endtag(self, tag):
        if tag == "span":
            self._span = None
        if tag == "p":
            self._note = False

    def handle_data(self, data):
        if self._span is not None:
            self._span["word"] += data
        elif self._note:
            self.examples[-1]["note"] += data


def parse(html):
    parser = Examples()
    parser.feed(html)
    return parser


def test_examples_are_the_extremes_of_the_roi_stated_as_such(report_inputs):
    rows, _, _ = read_scores(report_inputs["rois"])
    ranked = rows.sort_values("limbic")
    frame = read_explanations(report_inputs["explanations"])
    chosen = frame.drop_duplicates("id")
    assert list(chosen["id"]) == [*ranked["id"].iloc[::-1][:2], *ranked["id"][:2]]
    assert list(chosen["chosen_by"]) == ["highest limbic in rois.parquet"] * 2 + ["lowest limbic in rois.parquet"] * 2
    assert set(chosen["roi"]) == {"limbic"}


def test_choose_examples_skips_repeated_texts_and_unknown_rois():
    scores = pd.DataFrame({"id": list("abcde"), "text": ["x", "x", "y", "z", "w"], "v": [5.0, 4.0, 3.0, 2.0, np.nan]})
    examples = choose_examples(scores, "v", per_side=1)
    assert list(examples["id"]) == ["a", "d"] and list(examples["text"]) == ["x", "z"]
    with pytest.raises(InputError, match="no ROI 'nope'"):
        choose_examples(scores, "nope")


def test_spans_count_words_shading_follows_sign_and_values_sum(report_inputs):
    frame = read_explanations(report_inputs["explanations"])
    ensemble = frame[frame["subject"] == "ensemble"]
    scores = read_scores(report_inputs["rois"])[0].set_index("id")
    html = inference_section(report_inputs["rois"], report_inputs["explanations"]).html()
    parsed = parse(html)
    assert parsed.legends == 1 and len(parsed.examples) == 4
    for example, (key, rows) in zip(parsed.examples, ensemble.groupby("id", sort=False), strict=True):
        assert [s["word"] for s in example["spans"]] == list(rows["word"])  # one span per word, text unescaped back
        signs = [float(s["c"]) for s in example["spans"]]
        assert np.sign(signs).tolist() == np.sign(rows["limbic"].to_numpy()).tolist()
        for span in example["spans"]:
            assert (POSITIVE in span["style"]) == (float(span["c"]) > 0)
        total = rows["limbic"].sum()
        assert total == pytest.approx(scores.loc[key, "limbic"], abs=1e-9)
        note = example["note"]
        assert f"limbic = {total:+.4g} = sum of its {len(rows)} word contributions; scores file {total:+.4g}" in note


def test_hostile_text_is_escaped(report_inputs):
    html = inference_section(report_inputs["rois"], report_inputs["explanations"]).html()
    assert "<script" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert HOSTILE in " ".join(s["word"] for e in parse(html).examples for s in e["spans"])
    assert "&amp;" in html


def test_without_a_file_the_section_says_how_to_make_one(report_inputs, tmp_path):
    html = inference_section(report_inputs["rois"]).html()
    assert NO_EXPLANATIONS.split(":")[0] in html and "--explanations" in html and "class='explain'" not in html
    with pytest.raises(InputError, match="pass --rois with it"):
        build_report(tmp_path / "r.html", backtest=report_inputs["backtest"], explanations=report_inputs["explanations"])


def test_a_file_that_is_not_an_explanations_file_is_a_user_error(report_inputs, tmp_path):
    frame = read_explanations(report_inputs["explanations"])
    frame.drop(columns="chosen_by").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=re.escape("lacks columns ['chosen_by']")):
        read_explanations(tmp_path / "bad.csv")
    frame.assign(roi="missing_roi").to_csv(tmp_path / "roi.csv", index=False)
    with pytest.raises(InputError, match="without a contribution column: \\['missing_roi'\\]"):
        read_explanations(tmp_path / "roi.csv")
    with pytest.raises(InputError, match="does not exist"):
        read_explanations(tmp_path / "absent.parquet")
