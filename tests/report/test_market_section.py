"""Market section: undefined IC not drawn as 0, identical models named, HAC CIs, bounded figures, short verdict."""

import json
import struct

import numpy as np
from scipy import stats

from neurofin.report.market import (
    Backtest,
    cumulative_ic_figure,
    forecast_groups,
    ic_interval,
    market_section,
    metrics_table,
    selection_figure,
    short_verdict,
    undefined_ic,
)

from .conftest import write_backtest


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_zero_is_undefined_and_identical_models_are_grouped(report_inputs):
    backtest = Backtest.load(report_inputs["backtest"])
    assert undefined_ic(backtest.daily_ic) == ["zero"]
    groups = forecast_groups(backtest.forecasts, backtest.daily_ic)
    assert ["hist_mean", "univariate"] in groups and ["roi", "roi_known_future"] in groups
    assert ["sentiment"] in groups
    shown = metrics_table(backtest.metrics, groups, undefined_ic(backtest.daily_ic)).set_index("model")
    assert shown.loc["zero", "note"] == "IC undefined (constant forecast)"
    assert shown.loc["univariate", "note"] == "identical to hist_mean"
    assert shown.loc["roi", "note"] == ""
    _, notes = cumulative_ic_figure(backtest.daily_ic)
    assert "zero: IC undefined (constant forecasts), not drawn." in notes
    assert any(n.startswith("hist_mean, univariate: identical") for n in notes)


def test_a_nearly_identical_model_is_not_merged(report_inputs):
    backtest = Backtest.load(report_inputs["backtest"])
    forecasts = backtest.forecasts.copy()
    row = forecasts.index[(forecasts["model"] == "univariate")][5]
    forecasts.loc[row, "mean"] += 1e-9
    groups = forecast_groups(forecasts, backtest.daily_ic)
    assert ["hist_mean"] in groups and ["univariate"] in groups


def test_ic_interval_matches_an_independent_har_computation(report_inputs):
    # the interval that inverts the backtest's HAR test: EWC variance from scipy's orthonormal DCT-II, nu =
    # floor(0.4 n^(2/3)) cosine projections, Student-t(nu) quantile (not the normal one)
    from scipy.fft import dct

    backtest = Backtest.load(report_inputs["backtest"])
    forecasts = backtest.forecasts[backtest.forecasts["model"] == "roi"]
    per_date = forecasts.groupby("session").apply(
        lambda g: stats.spearmanr(g["mean"], g["actual"]).statistic, include_groups=False).to_numpy()
    n = per_date.size
    dof = int(0.4 * n ** (2 / 3))
    se = np.sqrt(np.mean(dct(per_date, type=2, norm="ortho")[1 : dof + 1] ** 2) / n)
    low, high = per_date.mean() + np.array([-1, 1]) * stats.t.ppf(0.975, dof) * se
    bounds = ic_interval(backtest.metrics).set_index(backtest.metrics["model"]).loc["roi"]
    assert np.isclose(bounds["low"], low, atol=1e-9) and np.isclose(bounds["high"], high, atol=1e-9)
    assert bounds["low"] > 0  # the planted signal's interval excludes 0
    noise = ic_interval(backtest.metrics).set_index(backtest.metrics["model"]).loc["sentiment"]
    assert noise["low"] < 0 < noise["high"]  # a model of pure noise: its interval covers 0


def test_selection_figure_size_does_not_grow_with_tickers(tmp_path):
    small = Backtest.load(write_backtest(tmp_path / "small", n_tickers_frequency=25)).frequencies
    large = Backtest.load(write_backtest(tmp_path / "large", n_tickers_frequency=500)).frequencies
    assert png_size(selection_figure(small)) == png_size(selection_figure(large))
    assert png_size(selection_figure(large))[0] <= 11 * 96


def test_verdict_is_one_short_sentence_with_the_ic_interval(report_inputs):
    backtest = Backtest.load(report_inputs["backtest"])
    long = backtest.summary.verdict.sentence()
    sentence = short_verdict(backtest.summary.verdict, backtest.metrics)
    assert "Clark-West" in long and "ROI features add to" in long and len(sentence) < 160, sentence
    # the planted roi model passes its tests but adds nothing over attention (conftest.planted_increments): the
    # head names that control, with the primary model's CI and permutation p
    assert sentence.startswith("Verdict: no brain signal: attention explains the roi forecasts; roi mean IC 0.375 (95% CI ") and sentence.count(".") <= 6
    assert "permutation p" in sentence and sentence.endswith(".")


def test_section_draws_the_permutation_null_and_notes_a_missing_one(report_inputs, tmp_path):
    section, _ = market_section(report_inputs["backtest"])
    assert "Permutation null" in section.html() and "No permutation null" not in section.html()
    folder = write_backtest(tmp_path / "without-null")
    summary = json.loads((folder / "summary.json").read_text())
    summary["permutation_null"]["values"] = []
    (folder / "summary.json").write_text(json.dumps(summary))
    section, _ = market_section(folder)
    assert "No permutation null" in section.html()


def test_backtest_page_names_same_ic_not_same_forecasts(tmp_path):
    from neurofin.report.market import write_market_report

    folder = write_backtest(tmp_path / "backtest")
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "notes": ["a note on how it ran"]}))
    page = write_market_report(folder).read_text(encoding="utf-8")
    assert "same per-session IC as hist_mean" in page and "IC undefined (constant forecast)" in page
    assert "a note on how it ran" in page
    assert "What ROI features add over each control" in page and "Sharpe vs trading cost" in page
    assert (folder / "cumulative_ic.png").is_file() and (folder / "selection_frequency.png").is_file()
