"""Comments: Reddit dumps -> clean comment rows, the tickers each names, and the exchange session each counts for.

Owns ingestion (ingest: the output table; dumps: reading and decoding dump files; filters: the keep/drop rules
and the report; dedupe: the id index), the ticker universe and extraction (tickers) and the NYSE calendar
(calendar).
"""

from neurofin.market.comments.calendar import session_of, sessions_of, trading_sessions
from neurofin.market.comments.filters import IngestReport
from neurofin.market.comments.ingest import ingest_dumps
from neurofin.market.comments.tickers import TickerUniverse, extract_tickers, load_universe

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
