"""The demo's market half: a generated Reddit dump -> ingest -> ROI predictions -> panel -> backtest.

Comments are generated from short templates (no copied text) at random times around real sessions of
the skfolio S&P 500 prices, with some deleted, bot and off-topic lines for ingestion to drop. They carry
no planted link to returns, so an honest chain reports no signal.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

DEMO_TICKERS = ["AAPL", "AMD", "MSFT", "JPM", "XOM"]
DEMO_START, DEMO_END = "2021-03-01", "2022-12-28"
DEMO_MARKET_SETTINGS = {"forecaster": "linear", "train_sessions": 150, "step_sessions": 40, "isc_null_shifts": 100}
TEMPLATES = [
    "{t} is going to rip after earnings, loading calls",
    "sold my {t} shares today, the chart looks terrible",
    "{t} guidance was weak and I am worried about margins",
    "holding {t} for the long run, dividends keep coming",
    "anyone else buying the dip on {t} this morning",
    "{t} puts printed, I told you this was overvalued",
    "${t} short interest is huge, squeeze incoming",
    "my whole portfolio is {t} and I cannot sleep",
    "the {t} analyst upgrade feels like a trap",
    "{t} went nowhere again, boring but safe",
    "I lost half my account on {t} options this week",
    "{t} buyback announced, management seems confident",
]


def demo_dump(path: Path, seed: int) -> int:
    """Write a JSONL comment dump around the demo sessions; return its number of lines."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range(DEMO_START, DEMO_END)
    lines: list[dict[str, object]] = []
    for day in days:
        for ticker in DEMO_TICKERS:
            for _ in range(rng.poisson(1.2)):
                body = TEMPLATES[rng.integers(len(TEMPLATES))].format(t=ticker)
                seconds = int(rng.integers(9 * 3600, 26 * 3600))  # 09:00-02:00 UTC: some land after the close
                lines.append({
                    "id": f"d{len(lines):06x}", "author": f"user{rng.integers(400)}", "subreddit": "wallstreetbets",
                    "created_utc": int(day.timestamp()) + seconds, "body": body, "score": int(rng.integers(-5, 200)),
                })
    extras = [{"id": "x1", "author": "AutoModerator", "subreddit": "wallstreetbets", "created_utc": lines[0]["created_utc"],
               "body": "Daily discussion thread"}, {"id": "x2", "author": "u", "subreddit": "wallstreetbets",
               "created_utc": lines[1]["created_utc"], "body": "[deleted]"}, {"id": "x3", "author": "u", "subreddit": "cooking",
               "created_utc": lines[2]["created_utc"], "body": "AAPL pie"}]
    text = "\n".join(json.dumps(r) for r in lines + extras) + "\n{not json\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(lines) + len(extras) + 1


def run_market_demo(predictor: Any, out: Path, seed: int = 0) -> dict[str, Any]:
    """Dump -> ingest -> infer -> panel (+ real prices) -> walk-forward backtest; return a summary (lines logged)."""
    from neurofin.config import MarketSettings
    from neurofin.infer.run import infer_file
    from neurofin.market.chain import run_chain
    from neurofin.market.comments.ingest import ingest_dumps
    from neurofin.market.panel.prices import demo_prices
    from neurofin.market.panel.store import PanelStore

    out = Path(out)
    settings = MarketSettings(**DEMO_MARKET_SETTINGS)
    n_lines = demo_dump(out / "RC_demo.jsonl", seed)
    report = ingest_dumps([out / "RC_demo.jsonl"], out / "comments.parquet", settings.subreddits)
    logger.info(f"    ingest: {n_lines} lines -> {report.kept} comments (dropped {report.malformed} malformed, "
               f"{report.bot} bot, {report.deleted} deleted, {report.wrong_subreddit} off-subreddit)")
    comments = pd.read_parquet(out / "comments.parquet")
    rois = infer_file(predictor, pd.DataFrame({"id": comments["id"], "text": comments["body"]}), out / "rois.parquet")
    store = PanelStore(out / "panel.duckdb", settings.exchange, settings.cutoff_minutes)
    update = store.update(comments, rois, replace_rois=True)  # a rerun's models replace the last run's rows
    store.update_prices(demo_prices(DEMO_TICKERS, DEMO_START, DEMO_END))
    logger.info(f"    panel: {update.panel_rows_written} ticker x session x subject rows; prices: skfolio S&P 500")
    result = run_chain(store, None, settings, out / "backtest")
    controls = json.loads(result.files["summary"].read_text(encoding="utf-8"))["controls"]
    ran = dict.fromkeys(result.backtest.increments["base"])  # the controls tested, in the backtest's order
    logger.info(f"    controls: {'; '.join(controls[control] for control in ran)}")
    metrics = result.backtest.metrics
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", None):
        logger.info(metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return {"comments": report.kept, "verdict": result.verdict, "backtest": str(out / "backtest")}
