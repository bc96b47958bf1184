"""Forecast targets: what the forecast of (ticker, session t) is scored against (docs/backtest.md "Targets").

For horizon h (sessions) the target is realised over sessions t .. t+h-1 and forecast from data up to
session t-1 (the origin):
- raw: the h-session log return, sum of the session log returns t .. t+h-1 (close of t-1 to close of t+h-1);
- market_adjusted: the same minus the market's h-session log return (per session: the equal-weight mean
  of every priced ticker's log return, or the index series given in market.index_file);
- absolute: |raw| (a volatility proxy);
- open_to_close: ln(close_{t+h-1} / open_t), the session-t open-to-close return plus the next h-1 log
  returns; needs open prices (skipped otherwise).
A target is NaN unless every session it spans has its return. It is known at the close of t+h-1. A
forecast of session t is made before the close of its origin o = t-1 (its book is filled at that close,
docs/backtest.md "Tradable timing"): it reads the origin's comment features (cut off before the close) but
fits only on rows whose window ends by o-1 (`known_through`): the origin's own return and, for h > 1, the
h-1 rows before it are not yet realised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

TARGETS = ("raw", "market_adjusted", "absolute", "open_to_close")
DIRECTIONAL = ("raw", "market_adjusted", "open_to_close")  # a long/short portfolio trades these (horizon 1)
INTRADAY = "intraday"  # frame column: ln(close / open) of the session
MARKET = "market"  # frame column: the market's log return of the session


@dataclass(frozen=True)
class TargetSpec:
    """One target kind at one horizon; `column` names it in the session frame and the grid."""

    kind: str
    horizon: int

    @property
    def column(self) -> str:
        """Frame column holding this target."""
        return f"target:{self.kind}:{self.horizon}"

    @property
    def label(self) -> str:
        """Human-readable name, e.g. 'raw, 1 session'."""
        return f"{self.kind}, {self.horizon} session{'s' if self.horizon > 1 else ''}"


def target_specs(kinds: Sequence[str], horizons: Sequence[int], has_open: bool) -> tuple[list[TargetSpec], list[str]]:
    """The (kind, horizon) pairs that can be computed, and notes on the ones left out."""
    notes = []
    if "open_to_close" in kinds and not has_open:
        notes.append("open_to_close target skipped: the prices have no open column")
    usable = [k for k in dict.fromkeys(kinds) if k != "open_to_close" or has_open]
    return [TargetSpec(k, h) for k in usable for h in sorted(set(horizons))], notes


def _forward_sum(values: pd.Series, tickers: pd.Series, horizon: int) -> pd.Series:
    """Sum of each ticker's values over rows t .. t+h-1 (rows: consecutive sessions); NaN if any is missing."""
    if horizon == 1:
        return values.astype(float)
    backward = values.groupby(tickers, sort=False).transform(lambda s: s.rolling(horizon, min_periods=horizon).sum())
    return backward.groupby(tickers, sort=False).shift(-(horizon - 1))


def with_targets(frame: pd.DataFrame, specs: Sequence[TargetSpec]) -> pd.DataFrame:
    """The session frame (rows by ticker then session; `target` = session log return, `market`, `intraday`)
    plus one column per spec (`TargetSpec.column`)."""
    out = frame.copy()
    tickers, log_return = frame["ticker"], frame["target"]
    for spec in specs:
        raw = _forward_sum(log_return, tickers, spec.horizon)
        if spec.kind == "raw":
            values = raw
        elif spec.kind == "market_adjusted":
            values = _forward_sum(log_return - frame[MARKET], tickers, spec.horizon)
        elif spec.kind == "absolute":
            values = raw.abs()
        elif spec.kind == "open_to_close":  # the session's open-to-close, then the next h-1 close-to-close returns
            values = frame[INTRADAY]
            if spec.horizon > 1:
                values = values + _forward_sum(log_return.groupby(tickers, sort=False).shift(-1), tickers, spec.horizon - 1)
        else:
            raise ValueError(f"unknown target {spec.kind!r}; choose from {TARGETS}")
        out[spec.column] = values.to_numpy(float)
    return out


def realized_trade_return(frame: pd.DataFrame, spec: TargetSpec) -> pd.Series:
    """Log return a position held for the target's window earns (horizon 1): the intraday return for
    open_to_close, the close-to-close return otherwise (an equal-weight long/short book earns the same on
    raw and market-adjusted returns: the market part cancels)."""
    return frame[INTRADAY] if spec.kind == "open_to_close" else frame["target"]


def known_through(sessions: Sequence[pd.Timestamp], origin_index: int, horizon: int) -> pd.Timestamp:
    """The last session whose h-session target is realised before the origin's close, at which the forecast's book
    is filled: the origin's own close is not known yet (the day before the first session: none yet)."""
    last = origin_index - horizon
    return pd.Timestamp(sessions[last]) if last >= 0 else pd.Timestamp(sessions[0]) - pd.Timedelta(days=1)


def market_returns(prices: pd.DataFrame, index: pd.DataFrame | None = None) -> pd.Series:
    """Per-session market log return: the index's (session, log_return) when given, else the equal-weight
    mean over every priced ticker with a return that session."""
    source = index if index is not None else prices
    returns = source[["session", "log_return"]].assign(session=pd.to_datetime(source["session"]))
    return returns.groupby("session")["log_return"].mean().rename(MARKET)


def intraday_returns(prices: pd.DataFrame) -> pd.Series | None:
    """ln(close / open) per row of long prices with an `open` column (None without one)."""
    if "open" not in prices.columns or "close" not in prices.columns:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.log(prices["close"].to_numpy(float) / prices["open"].to_numpy(float)), index=prices.index)
