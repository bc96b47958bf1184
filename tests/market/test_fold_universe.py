"""Issue 21 part 6: each fold's universe comes from its training window, never from later sessions."""

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.universe import fold_universe
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import planted_panel


def test_a_ticker_first_mentioned_late_is_forecast_only_once_a_training_window_holds_it():
    panel, prices = planted_panel(n_sessions=140, tickers=("AAA", "BBB", "CCC", "DDD"), n_subjects=2, seed=3)
    sessions = sorted(pd.to_datetime(panel["session"]).unique())
    first_mention = sessions[115]
    late = (panel["ticker"] == "DDD") & (pd.to_datetime(panel["session"]) < first_mention)
    panel = panel[~late]  # DDD is discussed only in the last 25 sessions; its prices cover every session
    settings = MarketSettings(train_sessions=60, step_sessions=20, isc_null_shifts=20, granger_max_lag=1,
                              quantile_levels=[0.1, 0.5, 0.9], targets=["raw"], horizons=[1], null_draws=200)
    result = run_backtest(panel, prices, settings, RidgeForecaster(name="linear"))
    for fold in result.folds:
        rows = result.forecasts[result.forecasts["fold"] == fold.index]
        assert ("DDD" in set(rows["ticker"])) == (fold.train_end >= first_mention), fold
        assert {"AAA", "BBB", "CCC"} <= set(rows["ticker"])
    assert any(fold.train_end >= first_mention for fold in result.folds)  # the late ticker does enter


def test_fold_universe_counts_only_cells_with_enough_comments():
    panel = pd.DataFrame({"session": pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07"]),
                          "ticker": ["A", "B", "C", "D"], "n_comments": [3, 1, 5, 9]})
    window = pd.Timestamp("2021-01-04"), pd.Timestamp("2021-01-06")
    assert fold_universe(panel, *window) == {"A", "B", "C"}
    assert fold_universe(panel, *window, min_comments=2) == {"A", "C"}
