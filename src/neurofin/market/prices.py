"""Daily closing prices: read a CSV/Parquet file (wide or long) or the real S&P 500 sample in skfolio.

The long form used everywhere is a DataFrame with columns session (datetime64, the trading day),
ticker (str) and close (float, > 0). Log returns are computed by the panel store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.errors import InputError

DATE_NAMES = ("date", "session", "day", "timestamp")


def _date_column(frame: pd.DataFrame) -> str | None:
    lowered = {str(c).lower(): c for c in frame.columns}
    return next((lowered[name] for name in DATE_NAMES if name in lowered), None)


def to_long(frame: pd.DataFrame, source: str = "prices") -> pd.DataFrame:
    """Normalise wide (date + one column per ticker) or long (date, ticker, close) prices to long form."""
    frame = frame.copy()
    if _date_column(frame) is None:
        if isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.rename_axis("date").reset_index()
        else:
            raise InputError(f"{source}: no date column; name it one of {', '.join(DATE_NAMES)}")
    date_col = _date_column(frame)
    lowered = {str(c).lower(): c for c in frame.columns}
    if "ticker" in lowered and "close" in lowered:
        long = frame[[date_col, lowered["ticker"], lowered["close"]]]
        long.columns = ["session", "ticker", "close"]
    else:
        long = frame.melt(id_vars=[date_col], var_name="ticker", value_name="close")
        long = long.rename(columns={date_col: "session"})
    try:
        stamps = pd.to_datetime(long["session"])
        long["session"] = (stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps).dt.normalize()
        long["close"] = pd.to_numeric(long["close"], errors="raise").astype(np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{source}: cannot read dates/prices ({exc}); use ISO dates and numeric closes") from None
    if long["session"].isna().any():
        raise InputError(f"{source}: a row has no date; give every row an ISO date")
    long["ticker"] = long["ticker"].astype(str).str.strip().str.upper()
    long = long[np.isfinite(long["close"])]
    if (long["close"] <= 0).any():
        bad = long.loc[long["close"] <= 0].iloc[0]
        raise InputError(f"{source}: non-positive close {bad['close']} for {bad['ticker']} on {bad['session']:%Y-%m-%d}")
    if long.duplicated(["session", "ticker"]).any():
        dup = long.loc[long.duplicated(["session", "ticker"])].iloc[0]
        raise InputError(f"{source}: {dup['ticker']} has two closes on {dup['session']:%Y-%m-%d}; keep one per day")
    return long.sort_values(["ticker", "session"]).reset_index(drop=True)


def read_prices(path: str | Path) -> pd.DataFrame:
    """Long-form daily closes from a .csv or .parquet file (wide or long layout)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"price file {path} not found: pass a .csv or .parquet of daily closes")
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(f"price file {path}: use .csv or .parquet")
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError) as exc:  # pandas parser errors and pyarrow's ArrowInvalid are ValueErrors
        raise InputError(f"price file {path} is not a readable {path.suffix[1:]} table ({exc}); check the file") from None
    return to_long(frame, source=str(path))


def demo_prices(tickers: list[str] | None = None, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Real daily closes of 20 S&P 500 stocks (1990-2022) shipped offline in skfolio, in long form."""
    from skfolio.datasets import load_sp500_dataset

    wide = load_sp500_dataset()
    if tickers is not None:
        missing = sorted(set(tickers) - set(wide.columns))
        if missing:
            raise InputError(f"the skfolio demo prices have no {missing}; choose from {sorted(wide.columns)}")
        wide = wide[tickers]
    wide = wide.loc[start:end]
    return to_long(wide, source="skfolio sp500 dataset")
