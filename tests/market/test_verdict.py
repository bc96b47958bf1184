"""Issue 12 points 4 and 5: permutation null for the primary model's IC, Clark-West, Holm, one primary model."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.increments import increment_tests
from neurofin.market.evaluate.metrics import clark_west, hac_mean_test
from neurofin.market.evaluate.null import permutation_ic_test
from neurofin.market.evaluate.verdict import decide
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.market import evaluate
from neurofin.testing.planted_market import planted_panel


def _rows(seed, n_dates=120, n_tickers=8, lead=0.0, sentiment_lead=0.0):
    """Long forecast rows: univariate noise; roi/sentiment add a contribution that leads the return by `lead`."""
    rng = np.random.default_rng(seed)
    sessions = np.repeat(pd.bdate_range("2022-01-03", periods=n_dates), n_tickers)
    tickers = np.tile([f"T{k}" for k in range(n_tickers)], n_dates)
    actual = rng.standard_normal(sessions.size)
    base = 0.1 * rng.standard_normal(sessions.size)
    parts = {"zero": 0.0 * actual, "hist_mean": base, "univariate": base,
             "roi": base + lead * actual + 0.5 * rng.standard_normal(sessions.size),
             "sentiment": base + sentiment_lead * actual + 0.5 * rng.standard_normal(sessions.size)}
    parts["roi_known_future"] = parts["roi"]
    return pd.concat([pd.DataFrame({"session": sessions, "ticker": tickers, "model": m, "mean": v, "q0.1": v - 1,
                                    "q0.5": v, "q0.9": v + 1, "actual": actual}) for m, v in parts.items()],
                     ignore_index=True)


def test_clark_west_matches_the_formula_with_har_errors():
    rows = _rows(0, lead=0.3)
    wide = rows.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(rows[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    y, small, big = wide["actual"], wide["univariate"], wide["roi"]
    f = (y - small) ** 2 - ((y - big) ** 2 - (small - big) ** 2)
    per_date = f.groupby(wide["session"]).mean().to_numpy()
    test = clark_west(wide, "roi", "univariate")
    har = hac_mean_test(per_date)  # the HAR t of the per-session means (tested by hand in test_metrics)
    assert test.t_stat == pytest.approx(har.t_stat, rel=1e-9) and np.isfinite(har.t_stat)
    assert test.p_value == pytest.approx(stats.t.sf(test.t_stat, har.dof))  # one-sided: the larger model must win


def test_permutation_p_value_is_calibrated_under_the_null_and_small_with_a_signal():
    p_null = [permutation_ic_test(_rows(seed, n_dates=80), "roi", "univariate", draws=200, seed=seed).p_value
              for seed in range(40)]
    assert np.mean(np.array(p_null) < 0.05) <= 0.15  # about 5% (binomial, 40 runs)
    assert 0.35 < np.mean(p_null) < 0.65  # roughly uniform
    strong = permutation_ic_test(_rows(1, lead=0.3), "roi", "univariate", draws=200, seed=1)
    assert strong.p_value == pytest.approx(1 / 201) and strong.observed > 0.1
    same = permutation_ic_test(_rows(2).assign(mean=lambda r: r["actual"] * 0), "roi", "univariate", draws=200)
    assert same.p_value == 1.0  # nothing to shuffle: never a signal


def test_only_the_primary_model_decides_and_secondaries_get_holm():
    rows = _rows(3, sentiment_lead=0.4)  # the sentiment model is strong, the primary ROI model is not
    table = evaluate(rows, [0.1, 0.5, 0.9], primary="roi", identical={"roi_known_future": "roi"}, null_draws=200)
    table = table.set_index("model")
    assert table.loc["sentiment", "cw_p"] < 1e-6 and table.loc["sentiment", "cw_p_holm"] >= table.loc["sentiment", "cw_p"]
    assert np.isnan(table.loc["roi_known_future", "cw_p_holm"])  # identical to roi: not a second look
    assert table.loc["roi_known_future", "same_as"] == "roi"
    assert np.isnan(table.loc["roi", "cw_p_holm"]) and np.isfinite(table.loc["roi", "perm_p"])
    assert decide(table.reset_index(), "roi", "raw").headline == "no signal"
    as_primary = evaluate(rows, [0.1, 0.5, 0.9], primary="sentiment", identical={"roi_known_future": "roi"},
                          null_draws=200)
    assert decide(as_primary, "sentiment", "raw").headline == "signal in sentiment"
    # Holm over the distinct secondaries (sentiment and, with roi primary, nothing else distinct): p unchanged
    assert table.loc["sentiment", "cw_p_holm"] == pytest.approx(table.loc["sentiment", "cw_p"])
    covered = np.mean((rows["actual"] >= rows["q0.1"]) & (rows["actual"] <= rows["q0.9"]))
    assert table.loc["roi", "coverage_80"] == pytest.approx(np.mean(
        (rows.loc[rows.model == "roi", "actual"] >= rows.loc[rows.model == "roi", "q0.1"])
        & (rows.loc[rows.model == "roi", "actual"] <= rows.loc[rows.model == "roi", "q0.9"])))
    assert 0 < covered < 1


def _with_controls(rows, mirrored):
    """Forecast rows plus sentiment/attention controls and their +roi models; the ROI adds nothing over `mirrored`."""
    rng = np.random.default_rng(7)
    roi = rows[rows["model"] == "roi"]
    parts = [rows[~rows["model"].isin(["sentiment"])]]
    for control in ("sentiment", "attention"):
        alone = roi["mean"] if control in mirrored else roi["mean"] - roi["actual"] * 0.3  # a mirrored control forecasts as roi
        parts.append(roi.assign(model=control, mean=alone.to_numpy()))
        parts.append(roi.assign(model=f"{control}+roi", mean=roi["mean"] + 0.01 * rng.standard_normal(len(roi))))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize(("mirrored", "head"), [
    ((), "signal in roi"),
    (("sentiment",), "no brain signal: sentiment explains the roi forecasts"),
    (("sentiment", "attention"), "no brain signal: sentiment and attention explain the roi forecasts"),
])
def test_the_headline_claims_a_brain_signal_only_where_the_roi_adds_to_every_control(mirrored, head):
    rows = _with_controls(_rows(4, lead=0.3), mirrored)
    metrics = evaluate(rows, [0.1, 0.5, 0.9], primary="roi", null_draws=200)
    increments = increment_tests(rows, {}, draws=200, seed=0)
    assert metrics.set_index("model").loc["roi", "cw_p"] < 0.01  # the ROI model alone passes its own tests
    assert set(increments.loc[~increments["holds"], "base"]) == set(mirrored)
    assert decide(metrics, "roi", "raw", increments).sentence().startswith(f"Verdict: {head} (primary model roi")
    assert decide(metrics, "roi", "raw").sentence().startswith("Verdict: no brain signal: no control ran")
    weak = evaluate(_with_controls(_rows(4), mirrored), [0.1, 0.5, 0.9], primary="roi", null_draws=200)
    assert decide(weak, "roi", "raw", increments).sentence().startswith("Verdict: no signal (")  # no primary signal: nothing to explain


def test_the_linear_backtest_computes_identical_models_once_and_records_the_null():
    panel, prices = planted_panel(n_sessions=120, tickers=("AAA", "BBB", "CCC"), n_subjects=2, seed=7)
    settings = MarketSettings(train_sessions=60, step_sessions=20, isc_null_shifts=30, granger_max_lag=2,
                              targets=["raw"], horizons=[1],
                              quantile_levels=[0.1, 0.5, 0.9], null_draws=200)
    result = run_backtest(panel, prices, settings, RidgeForecaster(name="linear"))
    table = result.metrics.set_index("model")
    assert "placebo" not in table.index
    assert table.loc["univariate", "same_as"] == "hist_mean" and table.loc["roi_known_future", "same_as"] == "roi"
    wide = result.forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean")
    np.testing.assert_array_equal(wide["univariate"], wide["hist_mean"])
    assert result.null["draws"] == 200 and 0 < result.null["p_value"] <= 1
    assert result.verdict.primary_model == "roi" and result.verdict.sentence().startswith("Verdict: ")


def test_fewer_than_200_null_draws_are_refused():
    with pytest.raises(InputError, match="200"):
        run_backtest(*planted_panel(n_sessions=80, tickers=("AAA", "BBB", "CCC"), n_subjects=2),
                     MarketSettings(train_sessions=60, null_draws=50), RidgeForecaster())
