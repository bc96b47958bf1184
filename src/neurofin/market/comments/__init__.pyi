"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .calendar import session_of, sessions_of, trading_sessions
from .filters import IngestReport
from .ingest import ingest_dumps
from .tickers import TickerUniverse, extract_tickers, load_universe

__all__ = [
    "IngestReport",
    "TickerUniverse",
    "extract_tickers",
    "ingest_dumps",
    "load_universe",
    "session_of",
    "sessions_of",
    "trading_sessions",
]
