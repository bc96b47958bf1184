"""Point 1 of issue 12: a missing close must never turn into a multi-session return (look-ahead)."""

import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.market.chain import with_log_returns
from neurofin.market.comments.calendar import trading_sessions
from neurofin.market.evaluate.metrics import spearman
from neurofin.market.evaluate.walk_forward import prepare_data
from neurofin.market.forecast.models import RidgeForecaster, forecast_at_origin
from neurofin.market.panel.prices import to_long
from neurofin.market.panel.store import PanelStore

TICKERS = [f"T{k:02d}" for k in range(20)]


def _same_day_scenario(drop: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Panel whose ROI tracks the SAME-day return (no predictive content) and closes with `drop` of them missing."""
    rng = np.random.default_rng(seed)
    sessions = pd.DatetimeIndex(trading_sessions("2019-01-02", "2020-06-30"))
    prices, panel = [], []
    for ticker in TICKERS:
        returns = 0.01 * rng.standard_normal(sessions.size)
        close = 100.0 * np.exp(np.cumsum(returns))
        kept = rng.random(sessions.size) >= drop
        kept[0] = True
        prices.append(pd.DataFrame({"session": sessions[kept], "ticker": ticker, "close": close[kept]}))
        panel.append(pd.DataFrame({"session": sessions, "ticker": ticker, "subject": "ensemble", "n_comments": 5,
                                   "n_authors": 3, "roi": returns + 0.001 * rng.standard_normal(sessions.size)}))
    return pd.concat(panel, ignore_index=True), with_log_returns(pd.concat(prices, ignore_index=True))


def _pooled_ic(panel: pd.DataFrame, prices: pd.DataFrame) -> float:
    data = prepare_data(panel, prices)
    actual = data.frame.pivot(index="session", columns="ticker", values="target")
    preds, truth = [], []
    for origin, target in zip(data.sessions[200:-1], data.sessions[201:], strict=True):
        out = forecast_at_origin(RidgeForecaster(), data.grid, origin, target, {t: (["roi"], []) for t in TICKERS}, [0.5])
        preds.append(out["mean"].to_numpy())
        truth.append(actual.loc[target, out["ticker"]].to_numpy(float))
    return spearman(np.concatenate(preds), np.concatenate(truth))


def test_a_same_day_roi_cannot_predict_through_missing_closes():
    assert abs(_pooled_ic(*_same_day_scenario(drop=0.0))) < 0.02
    assert abs(_pooled_ic(*_same_day_scenario(drop=0.10))) < 0.02


def test_log_returns_only_between_consecutive_sessions():
    days = ["2021-03-01", "2021-03-02", "2021-03-04", "2021-03-05", "2021-04-01", "2021-04-05"]  # 03-03 missing
    closes = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]  # 04-02 is Good Friday: 04-01 -> 04-05 is consecutive
    frame = with_log_returns(pd.DataFrame({"session": pd.to_datetime(days), "ticker": "A", "close": closes}))
    expected = [np.nan, np.log(11 / 10), np.nan, np.log(13 / 12), np.nan, np.log(15 / 14)]
    np.testing.assert_allclose(frame["log_return"].to_numpy(float), expected, atol=1e-12)


def test_the_store_writes_no_multi_session_return(tmp_path):
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update_prices(pd.DataFrame({"date": ["2021-03-01", "2021-03-02", "2021-03-04"], "A": [10.0, 11.0, 12.0]}))
    returns = store.load_prices()["log_return"].to_numpy(float)
    assert np.isnan(returns[2]) and returns[1] == pytest.approx(np.log(1.1))
    store.update_prices(pd.DataFrame({"date": ["2021-03-03"], "A": [11.5]}))  # the gap filled later
    np.testing.assert_allclose(store.load_prices()["log_return"].to_numpy(float)[2:],
                               [np.log(11.5 / 11), np.log(12 / 11.5)], atol=1e-12)


def test_a_holiday_row_is_rejected_with_its_date():
    frame = pd.DataFrame({"date": ["2021-12-23", "2021-12-24", "2021-12-27"], "A": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="2021-12-24.*not a XNYS session"):
        to_long(frame)
