"""Tradable execution: a book is formed only from what is known before the close it is filled at.

A bid-ask bounce in the closes (each close at the bid or the ask, +-0.5%) makes consecutive close-to-close
returns negatively correlated although the mid price is a random walk: a book chosen with the close it is
filled at buys the tickers that closed at the bid at the bid and earns the bounce. A tradable book cannot.
"""

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.forecast.models import ZeroForecaster
from neurofin.testing.planted_market import planted_panel

TICKERS = tuple(f"T{k:02d}" for k in range(15))
SETTINGS = MarketSettings(train_sessions=80, step_sessions=80, isc_null_shifts=20, granger_max_lag=1,
                          quantile_levels=[0.5], null_draws=200, targets=["raw"], horizons=[1])


class AutoregressiveForecaster(ZeroForecaster):
    """AR(1) of each ticker's return on its context: phi x the last realised return (phi fitted on the context)."""

    name = "ar1"

    def forecast(self, context, future, horizon, quantile_levels):
        out = super().forecast(context, future, horizon, quantile_levels)
        returns = context.pivot(index="timestamp", columns="ticker", values="target")[out["ticker"]].to_numpy(float)
        pairs = np.isfinite(returns[1:]) & np.isfinite(returns[:-1])
        x, y = np.where(pairs, returns[:-1], np.nan), np.where(pairs, returns[1:], np.nan)
        phi = np.nanmean((x - np.nanmean(x, 0)) * (y - np.nanmean(y, 0)), 0) / np.nanvar(x, 0)
        last = pd.DataFrame(returns).ffill().to_numpy()[-1]  # the last realised return of each ticker
        return out.assign(mean=phi * last, median=phi * last)


def bounced_prices(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A null panel whose closes sit at the bid or the ask around a random-walk mid (+-0.5%)."""
    panel, prices = planted_panel(n_sessions=260, tickers=TICKERS, n_subjects=2, seed=seed)
    side = np.random.default_rng(seed + 100).choice([-1.0, 1.0], len(prices))
    return panel, prices.assign(close=prices["close"] * np.exp(0.005 * side))  # returns are recomputed from closes


def test_a_bid_ask_bounce_gives_an_autoregressive_book_no_profit_claim():
    panel, prices = bounced_prices(seed=0)
    result = run_backtest(panel, prices, SETTINGS, AutoregressiveForecaster())
    book = result.portfolio["portfolio_metrics"]
    book = book[(book["model"] == "univariate") & (book["target"] == "raw")].iloc[0]
    assert book["sharpe_low"] < 0 < book["sharpe_high"] or book["sharpe_high"] < 0  # no profit claim
    daily = result.portfolio["portfolio_daily"]
    gross = daily[(daily["model"] == "univariate") & (daily["target"] == "raw")]["gross"]
    assert abs(gross.mean()) < 2 * gross.std() / np.sqrt(gross.size)  # nor a gross edge: the bounce is not earned
