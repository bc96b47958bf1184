"""Market stage: Reddit dumps -> comments -> tickers and trading sessions -> daily ticker x ROI panel + prices.

Public API (imported lazily so `neurofin --help` stays fast):
    ingest_dumps(dumps, out, subreddits=None, start=None, end=None, ...) -> IngestReport
    load_universe(symbols_file=None, blacklist_file=None) -> TickerUniverse
    extract_tickers(text, universe) -> list[str]
    session_of(created_utc) -> date;  sessions_of(created_utc_array) -> datetime64[D] array
    PanelStore(path).update(comments_df, roi_df) / .load_panel() / .update_prices(df) / .load_prices()
    read_prices(path), demo_prices(tickers, start, end) -> long (session, ticker, close) frame
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ingest_dumps": "ingest",
    "IngestReport": "ingest",
    "load_universe": "tickers",
    "extract_tickers": "tickers",
    "TickerUniverse": "tickers",
    "session_of": "calendar",
    "sessions_of": "calendar",
    "trading_sessions": "calendar",
    "PanelStore": "panel",
    "read_prices": "prices",
    "demo_prices": "prices",
    "load_lexicon": "lexicon",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neurofin.market' has no attribute {name!r}")
    return getattr(import_module(f"neurofin.market.{_EXPORTS[name]}"), name)
