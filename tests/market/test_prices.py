"""Daily closes from CSV/Parquet and the skfolio S&P 500 sample; log returns in the panel store."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.market.panel.prices import demo_prices, read_prices, to_long
from neurofin.market.panel.store import PanelStore

DAYS = pd.to_datetime(["2023-03-13", "2023-03-14", "2023-03-15", "2023-03-16", "2023-03-17"])
CLOSES = {"TSLA": [100.0, 104.0, 98.0, 99.5, 120.0], "GME": [20.0, 21.0, 20.5, 19.0, 19.0]}


def wide_frame() -> pd.DataFrame:
    return pd.DataFrame({"Date": DAYS.strftime("%Y-%m-%d"), **CLOSES})


def independent_log_returns(closes: list[float]) -> list[float]:
    """ln(close_t / close_{t-1}) written out with math on plain floats; NaN for the first day."""
    return [np.nan] + [float(np.log(b) - np.log(a)) for a, b in zip(closes[:-1], closes[1:], strict=True)]


def test_wide_csv_and_long_parquet_read_the_same(tmp_path: Path) -> None:
    csv_path = tmp_path / "closes.csv"
    wide_frame().to_csv(csv_path, index=False)
    long = pd.DataFrame(
        [(d, t, CLOSES[t][i]) for t in CLOSES for i, d in enumerate(DAYS)], columns=["session", "Ticker", "close"]
    )
    parquet_path = tmp_path / "closes.parquet"
    long.sample(frac=1.0, random_state=0).to_parquet(parquet_path)  # order must not matter
    from_csv, from_parquet = read_prices(csv_path), read_prices(parquet_path)
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)
    assert list(from_csv.columns) == ["session", "ticker", "close"]
    assert from_csv.loc[from_csv["ticker"] == "TSLA", "close"].tolist() == CLOSES["TSLA"]
    assert from_csv["session"].tolist()[:5] == list(DAYS)  # GME first (sorted by ticker), then dates


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"when": ["2023-03-13"], "TSLA": [1.0]}), "no date column"),
        (pd.DataFrame({"date": ["2023-03-13"], "TSLA": [0.0]}), "non-positive close"),
        (pd.DataFrame({"date": ["2023-03-13", "2023-03-13"], "ticker": ["A", "a"], "close": [1.0, 2.0]}), "two closes"),
        (pd.DataFrame({"date": ["not a date"], "TSLA": [1.0]}), "cannot read"),
    ],
)
def test_bad_price_tables_raise_user_errors(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        to_long(frame)


def test_bad_price_files_raise_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_prices(tmp_path / "none.csv")
    other = tmp_path / "closes.xlsx"
    other.write_bytes(b"x")
    with pytest.raises(InputError, match="use .csv or .parquet"):
        read_prices(other)


def test_log_returns_match_independent_computation_and_updates_are_idempotent(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    wide = wide_frame()
    store.update_prices(wide.iloc[:3])  # first three days
    store.update_prices(wide.iloc[3:])  # new days append; the 3/16 return uses the stored 3/15 close
    store.update_prices(wide.iloc[3:])  # rerun: nothing changes
    prices = store.load_prices()
    assert len(prices) == 10
    for ticker, closes in CLOSES.items():
        rows = prices[prices["ticker"] == ticker]
        assert rows["close"].tolist() == closes
        returns = rows["log_return"].to_numpy(dtype=float)
        np.testing.assert_allclose(returns, independent_log_returns(closes), atol=1e-12)
    corrected = wide.iloc[[2]].assign(TSLA=[100.0])  # a corrected close changes two returns
    store.update_prices(corrected)
    tsla = store.load_prices(["tsla"])
    fixed = [100.0, 104.0, 100.0, 99.5, 120.0]
    np.testing.assert_allclose(tsla["log_return"].to_numpy(dtype=float), independent_log_returns(fixed), atol=1e-12)


def test_demo_prices_are_the_real_skfolio_closes(tmp_path: Path) -> None:
    from skfolio.datasets import load_sp500_dataset

    wide = load_sp500_dataset()
    demo = demo_prices(["AAPL", "JPM"], start="2020-01-01", end="2020-12-31")
    assert set(demo["ticker"]) == {"AAPL", "JPM"}
    for ticker in ("AAPL", "JPM"):
        rows = demo[demo["ticker"] == ticker]
        source = wide.loc["2020-01-01":"2020-12-31", ticker]
        assert len(rows) == len(source) == 253  # NYSE sessions in 2020
        np.testing.assert_array_equal(rows["close"].to_numpy(), source.to_numpy())
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update_prices(demo)
    aapl = store.load_prices(["AAPL"])
    expected = np.diff(np.log(wide.loc["2020-01-01":"2020-12-31", "AAPL"].to_numpy()))
    np.testing.assert_allclose(aapl["log_return"].to_numpy(dtype=float)[1:], expected, rtol=1e-9, atol=1e-14)
    assert np.isnan(aapl["log_return"].iloc[0])
    with pytest.raises(InputError, match="no \\['NOPE'\\]"):
        demo_prices(["NOPE"])
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(InputError, match="no prices"):
        PanelStore(empty).load_prices()
