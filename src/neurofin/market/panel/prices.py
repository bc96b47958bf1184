"""Daily prices: read a CSV/Parquet file (long, wide or single-ticker OHLCV) or the real S&P 500 sample in skfolio.

The long form used everywhere is a DataFrame with columns session (datetime64, an exchange session),
ticker (str), close (float, > 0: the adjusted close when the file has one) and, when the file has opens,
open (float, > 0 or NaN; on the same adjustment basis as close). Log returns link consecutive exchange
sessions only (`log_returns`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.extras import import_extra
from neurofin.market.comments.calendar import EXCHANGE, session_positions

DATE_NAMES = ("date", "session", "day", "timestamp")


def _date_column(frame: pd.DataFrame) -> str | None:
    lowered = {str(c).lower(): c for c in frame.columns}
    return next((lowered[name] for name in DATE_NAMES if name in lowered), None)


def check_sessions(long: pd.DataFrame, exchange: str = EXCHANGE, source: str = "prices") -> None:
    """Raise InputError naming the dates of `long` that are not trading sessions of `exchange`."""
    days = pd.DatetimeIndex(long["session"].unique()).sort_values()
    bad = days[session_positions(days, exchange) < 0]
    if len(bad):
        shown = ", ".join(f"{d:%Y-%m-%d}" for d in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise InputError(f"{source}: {shown} is not a {exchange} session (holiday, weekend or outside the calendar): "
                         "drop those rows, or set market.exchange to the exchange these prices come from")


def log_returns(long: pd.DataFrame, exchange: str = EXCHANGE) -> pd.DataFrame:
    """Long prices plus log_return = ln(close_t / close_prev), only when prev is the exchange session before t.

    A missing close makes that session's return and the next one NaN: never a multi-session return
    whose forecast origin would sit inside the gap (look-ahead).
    """
    ordered = long.sort_values(["ticker", "session"], ignore_index=True)
    position = pd.Series(session_positions(ordered["session"], exchange), index=ordered.index)
    by_ticker = ordered.groupby("ticker", sort=False)
    consecutive = (position - position.groupby(ordered["ticker"]).shift(1)) == 1
    ratio = ordered["close"] / by_ticker["close"].shift(1)
    return ordered.assign(log_return=np.log(ratio.where(consecutive & (position >= 0))))


ADJUSTED_NAMES = ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close", "adjusted")
CLOSE_NAMES = ("close", "price")
OPEN_NAMES = ("open",)
TICKER_NAMES = ("ticker", "symbol")
WIDE = "wide: one column per ticker"


def _pick(lowered: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((lowered[name] for name in names if name in lowered), None)


def price_column(frame: pd.DataFrame, column: str | None = None, source: str = "prices") -> str | None:
    """The price column to read: `column` if given, else an adjusted close, else the close; None for a wide table."""
    if column is not None:
        if column not in frame.columns:
            raise InputError(f"{source} has no column {column!r}: choose one of {[str(c) for c in frame.columns]}")
        return column
    lowered = {str(c).lower().strip(): c for c in frame.columns}
    return _pick(lowered, ADJUSTED_NAMES) or _pick(lowered, CLOSE_NAMES)


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="raise").astype(np.float64)


def open_prices(frame: pd.DataFrame, price: str | None) -> tuple[pd.Series | None, str | None]:
    """The frame's open prices on the basis of the price column read, and how they were read (None: no usable open).

    An adjusted price scales each row's open by price / close (the adjustment factor of that row); opens
    need a raw close column to be put on an adjusted basis, and are left out without one.
    """
    lowered = {str(c).lower().strip(): c for c in frame.columns}
    open_col, close_col = _pick(lowered, OPEN_NAMES), _pick(lowered, CLOSE_NAMES)
    if open_col is None or close_col is None or price in (None, WIDE, open_col):
        return None, None
    opens = _numeric(frame[open_col])
    if price == close_col:
        return opens, str(open_col)
    return opens * _numeric(frame[price]) / _numeric(frame[close_col]), f"{open_col} x {price} / {close_col}"


def to_long(
    frame: pd.DataFrame, source: str = "prices", exchange: str = EXCHANGE, column: str | None = None,
    ticker: str | None = None,
) -> pd.DataFrame:
    """Normalise daily prices to long form (session, ticker, close[, open]); `attrs["price_column"]` (and
    `attrs["open_column"]` with opens) say what was read.

    Layouts: long (date, ticker/symbol, price columns), single-ticker OHLCV (date, Open, High, Low, Close,
    [Adj Close], Volume: the ticker is `ticker`), wide (date + one column per ticker). The price is
    `column` if given, else the adjusted close when present (splits and dividends would otherwise enter
    as returns), else the close; an Open column is kept on the same basis (`open_prices`). Dates must be
    sessions of `exchange`.
    """
    frame = frame.copy()
    if _date_column(frame) is None:
        if isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.rename_axis("date").reset_index()
        else:
            raise InputError(f"{source}: no date column; name it one of {', '.join(DATE_NAMES)}")
    date_col = _date_column(frame)
    lowered = {str(c).lower().strip(): c for c in frame.columns}
    chosen = price_column(frame, column, source)
    ticker_col = _pick(lowered, TICKER_NAMES)
    if ticker_col is not None and chosen is not None:
        long = frame[[date_col, ticker_col, chosen]]
        long.columns = ["session", "ticker", "close"]
    elif chosen is not None:
        if ticker is None:
            raise InputError(f"{source} holds one ticker's prices ({chosen!r} column) but not which ticker: "
                             "pass its symbol (--ticker) or name the file after it")
        long = pd.DataFrame({"session": frame[date_col], "ticker": ticker, "close": frame[chosen]})
    else:
        long = frame.melt(id_vars=[date_col], var_name="ticker", value_name="close")
        long = long.rename(columns={date_col: "session"})
        chosen = WIDE
    if chosen == WIDE and "volume" in lowered:
        raise InputError(f"{source} looks like OHLCV data without a close column: name the price column to read")
    try:
        stamps = pd.to_datetime(long["session"])
        long["session"] = (stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps).dt.normalize()
        long["close"] = _numeric(long["close"])
        opens, open_column = open_prices(frame, chosen)
        if opens is not None:
            long["open"] = opens.where(np.isfinite(opens))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{source}: cannot read dates/prices ({exc}); use ISO dates and numeric closes") from None
    if long["session"].isna().any():
        raise InputError(f"{source}: a row has no date; give every row an ISO date")
    long["ticker"] = long["ticker"].astype(str).str.strip().str.upper()
    long = long[np.isfinite(long["close"])]
    if (long["close"] <= 0).any():
        bad = long.loc[long["close"] <= 0].iloc[0]
        raise InputError(f"{source}: non-positive close {bad['close']} for {bad['ticker']} on {bad['session']:%Y-%m-%d}")
    if opens is not None and (long["open"] <= 0).any():
        bad = long.loc[long["open"] <= 0].iloc[0]
        raise InputError(f"{source}: non-positive open {bad['open']} for {bad['ticker']} on {bad['session']:%Y-%m-%d}: "
                         "fix or blank that open")
    if long.duplicated(["session", "ticker"]).any():
        dup = long.loc[long.duplicated(["session", "ticker"])].iloc[0]
        raise InputError(f"{source}: {dup['ticker']} has two closes on {dup['session']:%Y-%m-%d}; keep one per day")
    check_sessions(long, exchange, source)
    out = long.sort_values(["ticker", "session"]).reset_index(drop=True)
    out.attrs["price_column"] = str(chosen)
    if open_column is not None:
        out.attrs["open_column"] = open_column
    return out


def read_prices(
    path: str | Path, column: str | None = None, ticker: str | None = None, exchange: str = EXCHANGE
) -> pd.DataFrame:
    """Long-form daily prices from a .csv or .parquet file (see `to_long`); a single-ticker file's ticker
    defaults to the file name (aapl.csv -> AAPL)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"price file {path} not found: pass a .csv or .parquet of daily closes")
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(f"price file {path}: use .csv or .parquet")
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError) as exc:  # pandas parser errors and pyarrow's ArrowInvalid are ValueErrors
        raise InputError(f"price file {path} is not a readable {path.suffix[1:]} table ({exc}); check the file") from None
    return to_long(frame, source=str(path), exchange=exchange, column=column, ticker=ticker or path.stem)


def demo_prices(tickers: list[str] | None = None, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Real daily closes of 20 S&P 500 stocks (1990-2022) shipped offline in skfolio, in long form."""
    datasets = import_extra("skfolio.datasets", "demo", "the demo prices (skfolio's S&P 500 sample)")
    wide = datasets.load_sp500_dataset()
    if tickers is not None:
        missing = sorted(set(tickers) - set(wide.columns))
        if missing:
            raise InputError(f"the skfolio demo prices have no {missing}; choose from {sorted(wide.columns)}")
        wide = wide[tickers]
    wide = wide.loc[start:end]
    long = to_long(wide, source="skfolio sp500 dataset")
    long.attrs["price_column"] = "skfolio sp500 dataset (adjusted closes)"
    return long
