"""Market stage: Reddit dumps -> comments -> tickers and trading sessions -> daily ticker x ROI panel -> backtest.

    ingest_dumps(["RC_2021-01.zst"], "comments.parquet")              -> IngestReport
    PanelStore("panel.duckdb").update(comments_df, roi_df)            # incremental, idempotent
    result = run_chain(panel, prices, settings.market, out_dir)       # select -> forecast -> backtest -> verdict
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
