"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .chain import ChainResult, load_inputs, run_chain
from .comments.calendar import session_of, sessions_of, trading_sessions
from .comments.ingest import IngestReport, ingest_dumps
from .comments.tickers import TickerUniverse, extract_tickers, load_universe
from .panel.lexicon import load_lexicon
from .panel.prices import demo_prices, read_prices
from .panel.store import PanelStore

__all__ = [
    "ChainResult",
    "IngestReport",
    "PanelStore",
    "TickerUniverse",
    "demo_prices",
    "extract_tickers",
    "ingest_dumps",
    "load_inputs",
    "load_lexicon",
    "load_universe",
    "read_prices",
    "run_chain",
    "session_of",
    "sessions_of",
    "trading_sessions",
]
