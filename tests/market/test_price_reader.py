"""Issue 12 point 3: adjusted closes preferred (and named), long / wide / single-ticker OHLCV, explicit column."""

import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.market.comments.calendar import trading_sessions
from neurofin.market.panel.prices import log_returns, read_prices

DAYS = pd.DatetimeIndex(trading_sessions("2020-08-24", "2020-09-04"))  # AAPL split 4:1 effective 2020-08-31


def _ohlcv(split_day="2020-08-31"):
    """One ticker's OHLCV with a 4:1 split: Close drops 4x on the split day, Adj Close is continuous."""
    adj = np.linspace(120.0, 125.0, DAYS.size)
    close = np.where(pd.Timestamp(split_day) > DAYS, adj * 4, adj)
    return pd.DataFrame({"Date": DAYS.strftime("%Y-%m-%d"), "Open": close, "High": close * 1.01, "Low": close * 0.99,
                         "Close": close, "Adj Close": adj, "Volume": 1_000_000})


def test_single_ticker_ohlcv_reads_the_adjusted_close_and_survives_a_split(tmp_path):
    path = tmp_path / "aapl.csv"
    _ohlcv().to_csv(path, index=False)
    prices = read_prices(path)
    assert set(prices["ticker"]) == {"AAPL"}  # from the file name, not OPEN/HIGH/LOW/CLOSE/VOLUME
    assert prices.attrs["price_column"] == "Adj Close"
    returns = log_returns(prices)["log_return"].dropna()
    assert returns.abs().max() < 0.05  # the split is not a -1.39 log return
    unadjusted = read_prices(path, column="Close")
    assert unadjusted.attrs["price_column"] == "Close"
    assert log_returns(unadjusted)["log_return"].min() == pytest.approx(np.log(1 / 4), abs=0.01)
    assert set(read_prices(path, ticker="msft")["ticker"]) == {"MSFT"}
    with pytest.raises(InputError, match="no column 'Last'"):
        read_prices(path, column="Last")


def test_long_ohlcv_with_tickers_prefers_adjusted_close(tmp_path):
    long = pd.concat([_ohlcv().assign(Ticker=t) for t in ("AAPL", "TSLA")], ignore_index=True)
    path = tmp_path / "long.parquet"
    long.to_parquet(path)
    prices = read_prices(path)
    assert prices.attrs["price_column"] == "Adj Close" and set(prices["ticker"]) == {"AAPL", "TSLA"}
    np.testing.assert_allclose(prices.loc[prices["ticker"] == "TSLA", "close"], _ohlcv()["Adj Close"])


def test_wide_files_still_read_every_column_as_a_ticker(tmp_path):
    path = tmp_path / "wide.csv"
    pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "AAPL": 1.0 + np.arange(DAYS.size), "OPEN": 2.0}).to_csv(path, index=False)
    prices = read_prices(path)  # a ticker literally named OPEN is fine when there is no close column
    assert set(prices["ticker"]) == {"AAPL", "OPEN"} and prices.attrs["price_column"] == "wide: one column per ticker"
