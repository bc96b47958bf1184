"""The backtest's per-target outputs in the report: the tables carry the fixture's numbers, the P&L and cost figures
keep the honesty rules (idle models not drawn, identical curves named together, primary target only), and every
file is optional: an older folder renders without them, an unreadable one gets a one-line note."""

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

from neurofin.report.market import market_section
from neurofin.report.market_outputs import (
    BacktestOutputs,
    cost_figure,
    held_sentence,
    increments_table,
    pnl_figure,
    results_table,
)

from .conftest import planted_increments, planted_value, write_backtest

NEW_HEADINGS = ("IC and Sharpe by target and horizon", "What ROI features add over each control",
                "Portfolio: cumulative net P&amp;L", "Sharpe vs trading cost")


def is_png(png: bytes) -> bool:
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    return png[:8] == b"\x89PNG\r\n\x1a\n" and pixels.shape[0] > 100 and np.ptp(pixels[..., :3]) > 0.5


def cells(html: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first`."""
    row = re.search(rf"<tr>\s*<th>{re.escape(first)}</th>(.*?)</tr>", html, re.S) or re.search(
        rf"<tr>\s*<td>{re.escape(first)}</td>(.*?)</tr>", html, re.S)
    assert row, first
    return [c.strip() for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


def test_results_table_holds_ic_and_sharpe_per_target(report_inputs):
    outputs = BacktestOutputs.load(report_inputs["backtest"])
    frame = results_table(outputs.results)
    metrics = pd.read_csv(report_inputs["backtest"] / "metrics.csv").set_index("model")
    assert list(frame.columns.get_level_values(0).unique()) == ["raw, 1 session", "market_adjusted, 1 session",
                                                                 "raw, 5 sessions", ""]
    assert frame.loc["roi", ("raw, 1 session", "IC mean")] == metrics.loc["roi", "ic_mean"]
    assert frame.loc["sentiment", ("raw, 5 sessions", "IC mean")] == planted_value("sentiment", "raw", 5)
    assert ("raw, 5 sessions", "Sharpe (95% CI)") not in frame.columns  # no portfolio at horizon 5
    assert frame.loc["roi", ("raw, 1 session", "Sharpe (95% CI)")] == "1 (0.2 to 1.8)"
    assert frame.loc["zero", ("raw, 1 session", "Sharpe (95% CI)")] == "-"
    assert np.isnan(frame.loc["zero", ("raw, 1 session", "IC mean")])  # undefined, not 0
    assert frame.loc["roi_known_future", ("", "note")] == "identical to roi"  # every planted result equal
    assert frame.loc["univariate", ("", "note")] == ""  # same IC as hist_mean, a different Sharpe
    section, _ = market_section(report_inputs["backtest"])
    html = section.html()
    assert cells(html, "roi")[:2] == [f"{metrics.loc['roi', 'ic_mean']:.3g}", "1 (0.2 to 1.8)"]
    assert cells(html, "zero")[:2] == ["-", "-"]


def test_increments_table_marks_what_holds(report_inputs):
    outputs = BacktestOutputs.load(report_inputs["backtest"])
    shown = increments_table(outputs.increments, "market_adjusted")
    assert list(shown["target"]) == ["market_adjusted", "market_adjusted", "raw", "raw"]  # the primary target first
    held = shown[shown["ROIs add"] == "held"]
    assert list(held["control"]) == ["sentiment"] and list(held["target"]) == ["raw"] and held["Holm p"].item() == 0.008
    html = market_section(report_inputs["backtest"])[0].html()
    assert ("Held (Holm over the controls&#39; increments (control+roi vs control) within each target and horizon: "
            "permutation Holm p &lt; 0.05): sentiment+roi over sentiment (raw, 1 session, Holm p 0.008).") in html
    row = cells(html, "raw")
    assert row[:2] == ["1", "sentiment"] and row[-1] == "held" and row[-2] == "0.008"


def test_pnl_figure_groups_identical_curves_and_leaves_idle_models_out(report_inputs):
    outputs = BacktestOutputs.load(report_inputs["backtest"])
    png, notes = pnl_figure(outputs.portfolio_daily, "raw")
    assert is_png(png)
    assert notes == ["zero: no position taken (constant forecast), not drawn.",
                     "hist_mean, univariate: identical net P&L, drawn as one line.",
                     "roi, roi_known_future: identical net P&L, drawn as one line."]
    _, other = pnl_figure(outputs.portfolio_daily, "market_adjusted")  # every model differs on that target
    assert other == ["zero: no position taken (constant forecast), not drawn."]


def test_cost_figure_draws_defined_sharpe_only(report_inputs):
    outputs = BacktestOutputs.load(report_inputs["backtest"])
    png, notes = cost_figure(outputs.cost_sweep, "raw", 10.0)
    assert is_png(png) and notes[0] == "zero: Sharpe undefined (no position or no variance), not drawn."
    assert "roi, roi_known_future: identical Sharpe at every cost, drawn as one line." in notes


def test_section_embeds_the_new_figures_as_png(report_inputs):
    html = market_section(report_inputs["backtest"])[0].html()
    assert all(h in html for h in NEW_HEADINGS)
    sources = re.findall(r"<img alt='([^']*)' src='([^']*)'", html)
    titles = [t for t, _ in sources]
    assert "Cumulative net P&amp;L" in titles and "Sharpe vs cost" in titles
    for _, src in sources:
        assert src.startswith("data:image/png;base64,") and is_png(base64.b64decode(src.split(",", 1)[1]))


def test_an_older_backtest_renders_without_the_new_parts(tmp_path):
    folder = write_backtest(tmp_path / "old", outputs=False)
    html = market_section(folder)[0].html()
    assert not any(h in html for h in NEW_HEADINGS) and "lacks columns" not in html
    assert html.count("<img") == 4


@pytest.mark.parametrize("name", ["results.csv", "increments.csv", "cost_sweep.csv"])
def test_an_unreadable_file_gets_a_note_not_a_crash(tmp_path, name):
    folder = write_backtest(tmp_path / "odd")
    (folder / "results.parquet").unlink()  # results.csv is then the one read
    pd.read_csv(folder / name).drop(columns="target").to_csv(folder / name, index=False)
    html = market_section(folder)[0].html()
    assert f"{name} lacks columns [&#39;target&#39;]: not shown" in html
    assert "Portfolio: cumulative net P&amp;L" in html  # the other parts are still there


def test_results_csv_is_read_when_there_is_no_parquet(tmp_path):
    folder = write_backtest(tmp_path / "csv")
    (folder / "results.parquet").unlink()
    frame = results_table(BacktestOutputs.load(folder).results)
    assert frame.loc["sentiment", ("market_adjusted, 1 session", "IC mean")] == pytest.approx(
        planted_value("sentiment", "market_adjusted", 1))


def test_the_held_sentence_names_the_holm_family_the_backtest_applies():
    """Holm runs within each target x horizon (increments.py); the sentence says so and counts families, not tests
    (it used to pool all tests: 'in any of the 8 tests')."""
    from neurofin.market.evaluate.increments import HOLM_FAMILIES, holm

    increments = planted_increments()
    increments = pd.concat([increments, increments.assign(horizon=5)], ignore_index=True).assign(holds=False)
    sentence = held_sentence(increments, HOLM_FAMILIES["increments"], 0.05)
    assert sentence == ("No ROI increment holds in any of the 4 target x horizon families (Holm over the controls' "
                        "increments (control+roi vs control) within each target and horizon: permutation Holm p < "
                        "0.05).")
    # applied as stated: within one family of two controls, Holm multiplies the smaller p by 2
    np.testing.assert_allclose(holm(np.array([0.004, 0.2])), [0.008, 0.2])
