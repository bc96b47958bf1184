"""Assign comment times to NYSE trading sessions (exchange_calendars XNYS: holidays and early closes).

A comment belongs to the first session whose close minus `cutoff_minutes` (the tradable cutoff, 0 by
default) is strictly after it: before the cutoff of a trading day -> that day (pre-market included); at
or after it (close 16:00 US/Eastern, 13:00 on early-close days), on a weekend or a holiday -> the next
session. Closes are UTC instants in the calendar, so daylight-saving changes and half days need no
special case.
"""

from __future__ import annotations

import warnings
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np

from neurofin.errors import InputError

EXCHANGE = "XNYS"
CALENDAR_START = "1990-01-02"


@lru_cache(maxsize=4)
def _calendar(exchange: str) -> Any:
    import exchange_calendars as xcals
    from exchange_calendars.errors import InvalidCalendarName

    try:
        with warnings.catch_warnings():  # exchange_calendars 4.x uses a pandas API deprecated in pandas 3
            warnings.simplefilter("ignore", DeprecationWarning)
            return xcals.get_calendar(exchange, start=CALENDAR_START)
    except InvalidCalendarName as exc:
        raise InputError(f"unknown exchange calendar {exchange!r} ({exc}): use e.g. 'XNYS'") from None


@lru_cache(maxsize=4)
def _closes(exchange: str) -> tuple[np.ndarray, np.ndarray]:
    """(session close instants as int64 UTC seconds, session dates as datetime64[D]), in session order."""
    closes = _calendar(exchange).closes
    naive_utc = closes.dt.tz_convert("UTC").dt.tz_localize(None)
    close_s = naive_utc.to_numpy().astype("datetime64[s]").astype(np.int64)
    return close_s, closes.index.to_numpy().astype("datetime64[D]")


def _whole_seconds(created_utc: Any) -> np.ndarray:
    """Epoch seconds floored to whole seconds: exact against whole-second cutoffs (t < c iff floor(t) < c)."""
    stamps = np.asarray(created_utc)
    if np.issubdtype(stamps.dtype, np.floating):
        return np.floor(stamps).astype(np.int64)
    return stamps.astype(np.int64)


def sessions_of(created_utc: Any, exchange: str = EXCHANGE, cutoff_minutes: int = 0) -> np.ndarray:
    """Trading session (datetime64[D]) of each UTC epoch-second timestamp (int or fractional): the first
    session whose close minus `cutoff_minutes` is strictly after it."""
    if cutoff_minutes < 0:
        raise InputError(f"cutoff_minutes is {cutoff_minutes}: give minutes before the close, 0 or more")
    stamps = _whole_seconds(created_utc)
    close_s, days = _closes(exchange)
    index = np.searchsorted(close_s - 60 * int(cutoff_minutes), stamps, side="right")
    if stamps.size and (index.max() >= close_s.size or stamps.min() < close_s[0] - 7 * 86_400):
        raise InputError(
            f"timestamps outside the {exchange} calendar ({days[0]} .. {days[-1]}): check created_utc is in seconds"
        )
    return days[index]


def session_of(created_utc: float, exchange: str = EXCHANGE, cutoff_minutes: int = 0) -> date:
    """Trading session of one UTC epoch-second timestamp (from close - cutoff, weekend, holiday -> next session)."""
    return sessions_of(np.array([created_utc]), exchange, cutoff_minutes)[0].astype(object)


def trading_sessions(start: date | str, end: date | str, exchange: str = EXCHANGE) -> np.ndarray:
    """All sessions from start to end inclusive, as datetime64[D]."""
    _, days = _closes(exchange)
    lo, hi = np.datetime64(str(start), "D"), np.datetime64(str(end), "D")
    return days[(days >= lo) & (days <= hi)]


def session_positions(days: Any, exchange: str = EXCHANGE) -> np.ndarray:
    """Index of each day in the exchange's session list (consecutive sessions differ by 1); -1 for non-sessions."""
    _, sessions = _closes(exchange)
    target = np.asarray(days, dtype="datetime64[D]")
    pos = np.minimum(np.searchsorted(sessions, target), sessions.size - 1)
    return np.where(sessions[pos] == target, pos, -1)


def is_session(day: date | str, exchange: str = EXCHANGE) -> bool:
    """Whether a calendar day is a trading session."""
    _, days = _closes(exchange)
    target = np.datetime64(str(day), "D")
    pos = np.searchsorted(days, target)
    return bool(pos < days.size and days[pos] == target)
