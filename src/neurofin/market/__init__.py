"""Market stage: Reddit dumps -> comments -> tickers and trading sessions -> daily ticker x ROI panel -> backtest.

    ingest_dumps(["RC_2021-01.zst"], "comments.parquet")              -> IngestReport
    PanelStore("panel.duckdb").update(comments_df, roi_df)            # incremental, idempotent
    result = run_chain(panel, prices, settings.market, out_dir)       # select -> forecast -> backtest -> verdict
"""

from neurofin.market.chain import ChainResult, load_inputs, run_chain
from neurofin.market.comments.calendar import session_of, sessions_of, trading_sessions
from neurofin.market.comments.ingest import IngestReport, ingest_dumps
from neurofin.market.comments.tickers import TickerUniverse, extract_tickers, load_universe
from neurofin.market.panel.lexicon import load_lexicon
from neurofin.market.panel.prices import demo_prices, read_prices
from neurofin.market.panel.store import PanelStore

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
