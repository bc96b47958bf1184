"""Issue 21 part 2: the verdict's power on the user's own panel, from leads planted into its returns."""

import numpy as np
import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate import walk_forward
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.power import plant_lead, verdict_power
from neurofin.market.evaluate.walk_forward import fold_screens, make_folds, prepare_data, with_prices
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.market.selection.gate import session_frame
from neurofin.testing.planted_market import planted_panel

ROI = "Limbic_OFC"


def _lead_and_return(panel, prices, settings):
    frame = session_frame(panel, prices, [ROI], settings).sort_values(["ticker", "session"])
    return frame.assign(lead=frame.groupby("ticker")[ROI].shift(1))


def test_planted_returns_carry_the_ic_and_keep_the_panels_cells():
    panel, prices = planted_panel(n_sessions=400, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=1)
    prices.loc[(prices["ticker"] == "C") & (prices.index % 7 == 3), "close"] = np.nan  # missing closes
    settings = MarketSettings()
    user = _lead_and_return(panel, prices, settings)
    for ic in (0.0, 0.3):
        planted = plant_lead(panel, prices, ic, ROI, settings, seed=2)
        frame = _lead_and_return(panel, planted, settings)
        assert frame[["ticker", "session"]].equals(user[["ticker", "session"]])  # same tickers and sessions
        assert (frame["target"].isna() == user["target"].isna()).all()  # a missing return stays missing
        corr = frame[["lead", "target"]].corr().iloc[0, 1]
        assert corr == pytest.approx(ic, abs=0.07)  # 2000 pairs: se about 0.022
        ratio = frame.groupby("ticker")["target"].std() / user.groupby("ticker")["target"].std()
        np.testing.assert_allclose(ratio, 1.0, atol=0.1)  # each ticker keeps its volatility
    with pytest.raises(InputError, match="planted IC"):
        plant_lead(panel, prices, 1.0, ROI, settings)


@pytest.mark.slow
def test_detection_rises_with_the_planted_ic_and_is_rare_at_zero():
    panel, prices = planted_panel(n_sessions=170, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    settings = MarketSettings(train_sessions=80, step_sessions=45, isc_null_shifts=20, granger_max_lag=1,
                              quantile_levels=[0.1, 0.5, 0.9], null_draws=200)
    result = verdict_power(panel, prices, settings, RidgeForecaster(name="linear"), ics=(0.0, 0.6), reps=4, roi=ROI)
    assert result.detections[0] <= 1 and result.detections[1] >= 3  # size about 5%; a strong lead is found
    assert result.smallest_ic == 0.6
    assert "this panel could detect IC >= 0.6" in result.sentence()
    assert pd.DataFrame(result.rows).groupby("ic")["ic_mean"].mean().is_monotonic_increasing


SMALL = MarketSettings(train_sessions=80, step_sessions=35, isc_null_shifts=20, granger_max_lag=1, targets=["raw"],
                       horizons=[1], quantile_levels=[0.1, 0.5, 0.9], null_draws=200)


def test_a_planted_return_leaves_every_folds_screen_unchanged_so_the_backtest_can_reuse_it():
    """The ISC screen reads no return: the user's screens equal the planted panel's, and a backtest given them
    equals one that screens again (forecasts, metrics, verdict)."""
    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    planted = plant_lead(panel, prices, 0.4, ROI, SMALL, seed=3)
    user_data, planted_data = prepare_data(panel, prices, SMALL), prepare_data(panel, planted, SMALL)
    folds = make_folds(user_data, SMALL)
    screens = fold_screens(user_data, folds, SMALL)
    assert len(folds) == 2 and any(s.candidates for s in screens)
    for mine, theirs in zip(screens, fold_screens(planted_data, folds, SMALL), strict=True):
        pd.testing.assert_frame_equal(mine.isc, theirs.isc)
        assert mine.candidates == theirs.candidates
    fresh = run_backtest(panel, planted, SMALL, RidgeForecaster(name="linear"))
    reused = run_backtest(panel, planted, SMALL, RidgeForecaster(name="linear"), screens=screens)
    pd.testing.assert_frame_equal(reused.forecasts, fresh.forecasts)
    pd.testing.assert_frame_equal(reused.metrics, fresh.metrics)
    assert reused.verdict == fresh.verdict


@pytest.mark.parametrize("targets", [["raw"], ["raw", "market_adjusted", "absolute"]])
def test_planted_prices_rebuild_only_the_price_columns_and_equal_a_whole_preparation(targets):
    """`with_prices` (a planted panel's data from the user's: returns, market, targets) equals `prepare_data` on the
    planted prices: frame, grid, targets, sessions and notes; prices on other sessions are prepared whole."""
    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    prices.loc[(prices["ticker"] == "C") & (prices.index % 9 == 4), "close"] = np.nan  # missing closes
    settings = SMALL.model_copy(update={"targets": targets, "horizons": [1, 3]})
    user = prepare_data(panel, prices, settings)
    for ic, seed in ((0.0, 1), (0.4, 2)):
        planted = plant_lead(panel, prices, ic, ROI, settings, seed)
        rebuilt, whole = with_prices(user, planted, settings), prepare_data(panel, planted, settings)
        assert not rebuilt.frame["target"].equals(user.frame["target"])  # the returns did change
        pd.testing.assert_frame_equal(rebuilt.frame, whole.frame, check_like=True)
        pd.testing.assert_frame_equal(rebuilt.grid, whole.grid)
        assert (rebuilt.specs, rebuilt.sessions, rebuilt.notes) == (whole.specs, whole.sessions, whole.notes)
    shorter = prices[pd.to_datetime(prices["session"]) < pd.Timestamp(user.sessions[-10])]
    pd.testing.assert_frame_equal(with_prices(user, shorter, settings).grid, prepare_data(panel, shorter, settings).grid)


def test_the_power_grid_screens_each_fold_once(monkeypatch):
    """Every (IC, rep) reuses the user's screens: ISC runs once per fold, not once per fold and backtest."""
    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    calls = []
    screen = walk_forward.screen_features
    monkeypatch.setattr(walk_forward, "screen_features", lambda *a, **k: calls.append(a[2]) or screen(*a, **k))
    result = verdict_power(panel, prices, SMALL, RidgeForecaster(name="linear"), ics=(0.0, 0.5), reps=1, roi=ROI)
    folds = make_folds(prepare_data(panel, prices, SMALL), SMALL)
    assert sorted(calls) == sorted(f.train_start for f in folds)  # old code: once per fold per backtest (2 x)
    assert len(result.rows) == 2


def test_the_power_grid_computes_only_what_the_verdict_reads_and_matches_a_full_backtest_per_panel(monkeypatch):
    """Issue 22: each planted panel forecasts only the verdict's models and skips the portfolio tables, the models
    that read no return's selection are fitted once per fold for every panel, and each panel's detections and
    statistics equal those of the whole backtest run on that planted panel."""
    from neurofin.market.evaluate import evaluation, forecast_loop, planted
    from neurofin.market.evaluate.backtest import verdict_models

    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    settings = SMALL.model_copy(update={"targets": ["raw", "absolute"], "horizons": [1, 5]})
    forecaster = RidgeForecaster(name="linear")
    models, books, fits = set(), [], []
    forecast, shared = forecast_loop.forecast_requests, planted.shared_means
    monkeypatch.setattr(forecast_loop, "forecast_requests", lambda jobs, *a: models.update(jobs) or forecast(jobs, *a))
    monkeypatch.setattr(planted, "shared_means", lambda jobs, *a: models.update(jobs) or fits.append(jobs) or
                        shared(jobs, *a))
    monkeypatch.setattr(evaluation, "portfolio_tables", lambda *a: books.append(a))
    result = verdict_power(panel, prices, settings, forecaster, ics=(0.0, 0.5), reps=1, roi=ROI)
    assert models <= set(verdict_models(settings.primary_model)) and not books  # old code: every model, a book per panel
    fitted = [model for jobs in fits for model in jobs]
    for model in ("hist_mean", "sentiment", "attention"):  # old code: once per fold and panel
        assert fitted.count(model) == len(make_folds(prepare_data(panel, prices, SMALL), SMALL))
    monkeypatch.undo()
    assert result.detections[1] >= 1  # the comparison covers a detection
    for row in result.rows:
        seed = settings.seed + 1000 * [0.0, 0.5].index(row["ic"]) + row["rep"]
        one = settings.model_copy(update={"seed": seed, "targets": ["raw"], "horizons": [1], "cw_bootstrap": False})
        full = run_backtest(panel, plant_lead(panel, prices, row["ic"], ROI, one, seed), one, forecaster)
        primary = full.metrics.set_index("model").loc[one.primary_model]
        assert row["signal"] == (full.verdict.claim == "signal")
        for name in ("ic_mean", "perm_p", "cw_p"):
            assert row[name] == pytest.approx(primary[name], abs=1e-9, rel=0)


class PerOrigin(RidgeForecaster):
    """A forecaster the engine does not batch (it overrides `forecast`): forecast per panel, on its own grid."""

    def forecast(self, context, future, horizon, quantile_levels):
        return super().forecast(context, future, horizon, quantile_levels)


@pytest.mark.parametrize("forecaster", [pytest.param(RidgeForecaster(name="linear"), id="batched"),
                                        pytest.param(PerOrigin(name="linear"), id="per_origin", marks=pytest.mark.slow)])
def test_planted_forecasts_equal_each_panels_own_forecast_loop(forecaster):
    """Issue 22: the planted panels' verdict forecasts computed together (`planted_forecasts`: one grid, cube and
    universe per fold, each model fitted once for the panels whose regressors agree) equal each panel's own
    `forecast_folds`, means to 1e-9: panels with their own seeds (the embedding PCA reads it), selections and
    missing cells (one panel misses closes the others have); the Clark-West bootstrap tests too."""
    from neurofin.market.evaluate.backtest import verdict_models
    from neurofin.market.evaluate.forecast_loop import forecast_folds
    from neurofin.market.evaluate.planted import planted_forecasts
    from neurofin.market.evaluate.walk_forward import select_per_fold

    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, embedding_dims=4,
                                  seed=4)
    settings = SMALL
    user = prepare_data(panel, prices, settings)
    folds = make_folds(user, settings)
    screens = fold_screens(user, folds, settings)
    holed = prices.assign(close=prices["close"].where((prices["ticker"] != "B") | (prices.index % 11 != 5)))
    other = next(r for r in user.rois if r != ROI)
    plantings = [(prices, ROI, 0.0, 1), (prices, ROI, 0.5, 1), (prices, other, 0.5, 2), (holed, ROI, 0.3, 3)]
    sets = [settings.model_copy(update={"seed": seed}) for *_, seed in plantings]
    panels = [with_prices(user, plant_lead(panel, px, ic, roi, s, s.seed), s)
              for (px, roi, ic, _), s in zip(plantings, sets, strict=True)]
    selections = [select_per_fold(p, folds, s, [s.primary_target], screens) for p, s in zip(panels, sets, strict=True)]
    assert len({str([f.selected for f in s[settings.primary_target]]) for s in selections}) > 1  # they differ
    only = verdict_models(settings.primary_model)
    together = planted_forecasts(panels, folds, selections, forecaster, sets, only)
    keys = ["model", "session", "ticker", "fold"]
    for p, selection, s, (got, bootstraps) in zip(panels, selections, sets, together, strict=True):
        want, _, want_bootstraps = forecast_folds(p, folds, selection, forecaster, s)
        assert bootstraps == want_bootstraps and bool(bootstraps) == (type(forecaster) is RidgeForecaster)
        want = want[want["model"].isin(only)].reset_index(drop=True)
        assert got[keys].equals(want[keys])
        np.testing.assert_allclose(got["mean"], want["mean"], rtol=0, atol=1e-9)
    assert {"embedding", "embedding+roi", "roi", "hist_mean"} <= set(got["model"])


def test_the_verdicts_nulls_drawn_together_equal_those_drawn_apart():
    """`verdict_nulls` draws the primary null and the increments' in one pass: the same p-values and draws as
    `permutation_ic_test` and `increment_tests` drawing their own."""
    from neurofin.market.evaluate.backtest import model_forecasts
    from neurofin.market.evaluate.increments import increment_tests, verdict_nulls
    from neurofin.market.evaluate.null import permutation_ic_test
    from neurofin.market.evaluate.walk_forward import select_per_fold

    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    data = prepare_data(panel, plant_lead(panel, prices, 0.5, ROI, SMALL, seed=1), SMALL)
    folds = make_folds(data, SMALL)
    forecaster = RidgeForecaster(name="linear")
    rows, _ = model_forecasts(data, folds, select_per_fold(data, folds, SMALL, ["raw"]), forecaster, SMALL)
    null, nulls = verdict_nulls(rows, "roi", 200, 7)
    assert null == permutation_ic_test(rows, "roi", "univariate", 200, 7)
    identical = dict(forecaster.identical)
    together = increment_tests(rows, identical, 200, 7, nulls=nulls)
    pd.testing.assert_frame_equal(together, increment_tests(rows, identical, 200, 7))
    assert len(nulls) == len(together) >= 2 and together["perm_p"].notna().all()  # sentiment, attention


@pytest.mark.parametrize("rule", ["pooled_ic", "granger"])
def test_the_planted_panels_selected_together_equal_each_panels_own_selection(rule):
    """`select_planted` runs the selection rule on every planted panel's target at once (the pooled IC ranks each
    feature once): each panel's selections and rule tables equal its own `select_per_fold`, with panels whose
    returns miss other cells."""
    from neurofin.market.evaluate.walk_forward import select_per_fold, select_planted

    panel, prices = planted_panel(n_sessions=150, tickers=("A", "B", "C", "D", "E"), n_subjects=2, seed=4)
    settings = SMALL.model_copy(update={"selection_rule": rule})
    user = prepare_data(panel, prices, settings)
    folds = make_folds(user, settings)
    screens = fold_screens(user, folds, settings)
    holed = prices.assign(close=prices["close"].where((prices["ticker"] != "B") | (prices.index % 11 != 5)))
    other = next(r for r in user.rois if r != ROI)
    panels = [with_prices(user, plant_lead(panel, px, ic, roi, settings, seed), settings)
              for px, roi, ic, seed in ((prices, ROI, 0.0, 1), (prices, other, 0.6, 2), (holed, ROI, 0.6, 3))]
    together = select_planted(panels, folds, settings, "raw", screens)
    chosen = set()
    for p, got in zip(panels, together, strict=True):
        want = select_per_fold(p, folds, settings, ["raw"], screens)
        for mine, theirs in zip(got["raw"], want["raw"], strict=True):
            assert mine.selected == theirs.selected
            pd.testing.assert_frame_equal(mine.rule_table, theirs.rule_table)
        chosen.add(str([s.selected for s in got["raw"]]))
    assert len(chosen) > 1  # the panels' selections differ
