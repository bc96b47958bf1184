"""Targets: each one against an independent computation from the closes; multi-session targets never leak."""

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.metrics import hac_mean_test
from neurofin.market.evaluate.walk_forward import prepare_data
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import planted_panel

TICKERS = ("AAA", "BBB", "CCC")


def _data(**settings):
    panel, prices = planted_panel(n_sessions=90, tickers=TICKERS, n_subjects=2, embedding_dims=2, seed=4)
    walk = 50 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.02, 90)))
    extra = prices[prices["ticker"] == "AAA"].assign(ticker="ZZZ", close=walk, open=walk)
    prices = pd.concat([prices, extra], ignore_index=True)  # priced, never commented: still part of the market
    return prices, prepare_data(panel, prices, MarketSettings(**settings))


def test_targets_match_the_closes_and_opens():
    prices, data = _data(targets=["raw", "market_adjusted", "absolute", "open_to_close"], horizons=[1, 5])
    px = prices.assign(session=pd.to_datetime(prices["session"])).sort_values(["ticker", "session"])
    close = px.pivot(index="session", columns="ticker", values="close")
    opens = px.pivot(index="session", columns="ticker", values="open")
    log_return = np.log(close / close.shift(1))
    market = log_return.mean(axis=1)  # every priced ticker, ZZZ included
    frame = data.frame.set_index(["ticker", "session"])
    for ticker in TICKERS:
        rows = frame.loc[ticker]
        sessions = rows.index
        for h in (1, 5):
            end = close[ticker].shift(-(h - 1))
            raw = np.log(end / close[ticker].shift(1)).reindex(sessions)
            np.testing.assert_allclose(rows[f"target:raw:{h}"], raw, equal_nan=True)
            np.testing.assert_allclose(rows[f"target:absolute:{h}"], raw.abs(), equal_nan=True)
            adjusted = (log_return[ticker] - market).rolling(h).sum().shift(-(h - 1)).reindex(sessions)
            np.testing.assert_allclose(rows[f"target:market_adjusted:{h}"], adjusted, equal_nan=True)
            intraday = np.log(end / opens[ticker]).reindex(sessions)
            np.testing.assert_allclose(rows[f"target:open_to_close:{h}"], intraday, equal_nan=True)
            assert rows[f"target:raw:{h}"].iloc[-(h - 1) :].isna().all() if h > 1 else True  # not realised in the data


def test_open_to_close_is_skipped_with_a_note_without_opens():
    panel, prices = planted_panel(n_sessions=60, tickers=TICKERS, n_subjects=2, seed=4)
    data = prepare_data(panel, prices, MarketSettings(horizons=[1]))
    assert {s.kind for s in data.specs} == {"raw", "market_adjusted", "absolute"}
    assert any("open_to_close target skipped" in note for note in data.notes)


class ContextSpy(RidgeForecaster):
    """Records, per call, the origin and the last timestamp with a known target."""

    def __init__(self):
        super().__init__(name="spy")
        self.calls = []

    def forecast(self, context, future, horizon, quantile_levels):
        known = context.loc[context["target"].notna(), "timestamp"]
        self.calls.append((context["timestamp"].max(), known.max()))
        return super().forecast(context, future, horizon, quantile_levels)


def test_a_five_session_target_is_fitted_only_on_windows_realised_before_the_origin_close():
    panel, prices = planted_panel(n_sessions=100, tickers=TICKERS, n_subjects=2, seed=1)
    settings = MarketSettings(train_sessions=60, step_sessions=20, isc_null_shifts=20, granger_max_lag=1,
                              targets=["raw"], horizons=[5], quantile_levels=[0.5], null_draws=200)
    spy = ContextSpy()
    result = run_backtest(panel, prices, settings, spy)
    sessions = list(pd.DatetimeIndex(sorted(pd.to_datetime(prices["session"]).unique())))
    lags = {sessions.index(origin) - sessions.index(last_known) for origin, last_known in spy.calls}
    assert lags == {1, 5}  # 1-session target: known up to the session before the origin (whose close fills the book)
    assert set(result.forecasts["horizon"]) == {1, 5}


def test_overlapping_targets_widen_the_har_bandwidth():
    series = np.random.default_rng(0).standard_normal(300)
    assert hac_mean_test(series).dof == 17  # 0.4 * 300^(2/3): bandwidth 300 / 17 sessions
    assert hac_mean_test(series, overlap=9).dof == 15  # 300 / (2 * 10): two overlaps per bandwidth
