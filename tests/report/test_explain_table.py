"""`neurofin explain --table` writes the report's explanations file from a real Predictor (planted encoding model,
stand-in LM): the report shades its words and shows a value equal to what `predict_rois` gives for the text."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infer"))

from planted import make_planted, planted_explain_cli, text_of

from neurofin.infer.predictor import Predictor
from neurofin.report.explanations import explanations_html, read_explanations


def test_explain_table_is_what_the_report_renders(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    planted = make_planted(tmp_path / "ds003020")
    app, package = planted_explain_cli(planted, monkeypatch, tmp_path)
    text = text_of(planted.held_out[:6])
    table = tmp_path / "explanations.parquet"
    result = CliRunner().invoke(app, ["explain", text, "--packages", str(package), "--table", str(table),
                                          "--roi", "class_region"])
    assert result.exit_code == 0, result.output
    frame = read_explanations(table)
    assert set(frame["roi"]) == {"class_region"} and set(frame["chosen_by"]) == {"given to `neurofin explain`"}
    value = Predictor.from_packages([package], region_matrices=planted.regions()).predict_rois([text])
    expected = value.set_index("subject").loc["ensemble", "class_region"]
    html = explanations_html(frame, "ensemble", None)
    assert html.count("data-c=") == 6 and f"class_region = {expected:+.4g} = sum of its 6 word contributions" in html
    wrong = CliRunner().invoke(app, ["explain", text, "--packages", str(package), "--table", str(table),
                                         "--roi", "nope"])
    assert wrong.exit_code != 0 and "no ROI 'nope'" in str(wrong.exception) and "= value" not in wrong.output
