"""CLI commands of the market stage: `neurofin market ingest|panel|...`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="Reddit dumps -> ticker x session panel -> selected ROI features -> forecasts -> backtest and verdict.\n\n"
    "Example: neurofin market demo-dump --out dump, then neurofin market ingest --help for the first step",
    no_args_is_help=True,
)
# Pages written from a backtest's --out folder after `market backtest`: the top-level CLI adds the report's (the
# report stage comes after market, so this module never imports it).
BACKTEST_PAGES: list[Callable[[Path], Path]] = []


def _day(text: str | None, flag: str) -> date | None:
    from neurofin.errors import InputError

    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{flag} {text!r} is not a date: use YYYY-MM-DD") from None


@app.command("ingest")
def ingest(
    dumps: list[Path] = typer.Argument(..., help="RC_*.zst, .jsonl or .csv comment dumps."),
    out: Path = typer.Option(..., "--out", help="Parquet file of kept comments."),
    subreddits: str = typer.Option(None, "--subreddits", help="Comma-separated; default from settings."),
    start: str = typer.Option(None, "--start", help="First UTC day kept (YYYY-MM-DD)."),
    end: str = typer.Option(None, "--end", help="Last UTC day kept (YYYY-MM-DD), inclusive."),
    chunk_rows: int = typer.Option(None, "--chunk-rows", help="Comments per Parquet row group; lower it if memory is short (default: DEFAULT_CHUNK_ROWS of market/comments/ingest.py)."),
    text_column: str = typer.Option("body", "--text-column", help="Field holding the comment text."),
    time_column: str = typer.Option("created_utc", "--time-column", help="Field holding the UTC time (s, ms or ISO)."),
    id_column: str = typer.Option("id", "--id-column", help="Field holding the comment id."),
    extra_columns: str = typer.Option(None, "--extra-columns", help="Comma-separated fields to pass through."),
    keep_edited: bool = typer.Option(None, "--keep-edited/--drop-edited", help="Keep edited comments (default: settings)."),
    keep_deleted: bool = typer.Option(False, "--keep-deleted", help="Keep deleted/removed comments (their text is the dump's mark; docs/backtest.md: survivorship)."),
    config: Path = typer.Option(None, "--config", help="TOML settings file."),
    workers: int = typer.Option(1, "--workers", help="Dumps ingested at once (local processes); same output."),
    ray_address: str = typer.Option(None, "--ray-address", help="Ingest the dumps as Ray tasks: local | auto | ADDRESS."),
) -> None:
    """Stream Reddit dumps into a filtered, deduplicated Parquet table of comments.

    Example: neurofin market ingest RC_2021-01.zst --subreddits wallstreetbets,stocks --start 2021-01-01 --end 2021-12-31 --out comments.parquet
    """
    from neurofin.config import Settings
    from neurofin.errors import InputError
    from neurofin.io import guard_output, require_writable
    from neurofin.market.comments.filters import DEFAULT_ALLOWED_AUTHORS, DEFAULT_BOT_AUTHORS, DROP_REASONS
    from neurofin.market.comments.ingest import DEFAULT_CHUNK_ROWS, ingest_dumps
    from neurofin.progress import cli_progress

    market = Settings.load(config).market
    guard_output(out, "parquet", [*dumps, config])
    require_writable(out.parent, "--out")
    wanted = subreddits.split(",") if subreddits else market.subreddits
    options: dict[str, Any] = {
        "subreddits": wanted, "start": _day(start, "--start"), "end": _day(end, "--end"),
        "bot_authors": DEFAULT_BOT_AUTHORS | {a.lower() for a in market.extra_bot_authors},
        "allow_authors": DEFAULT_ALLOWED_AUTHORS | {a.lower() for a in market.allow_authors},
        "chunk_rows": chunk_rows or DEFAULT_CHUNK_ROWS, "keep_edited": market.keep_edited if keep_edited is None else keep_edited,
        "id_column": id_column, "text_column": text_column, "time_column": time_column,
        "extra_columns": extra_columns.split(",") if extra_columns else (), "keep_deleted": keep_deleted,
    }
    if workers > 1 or ray_address:
        from neurofin.scale.ingest import ingest_parallel

        report = ingest_parallel(dumps, out, workers=workers, ray_address=ray_address, **options)
    else:
        with cli_progress() as progress:
            report = ingest_dumps(dumps, out, progress=progress, **options)
    typer.echo(json.dumps(report.to_record(), indent=2))
    if report.kept == 0:
        record = report.to_record()
        reasons = ", ".join(f"{k} {record[k]}" for k in DROP_REASONS if record[k])
        raise InputError(f"kept 0 of {report.lines} comments ({reasons or 'empty input'}): check --subreddits, "
                         "--start/--end and --text-column/--time-column/--id-column")
    if report.truncated_files:
        typer.secho(f"warning: truncated dumps kept partially: {report.truncated_files}", fg="yellow", err=True)


@app.command("panel")
def panel(
    db: Path = typer.Option(..., "--db", help="DuckDB panel file (created if missing)."),
    comments: Path = typer.Option(None, "--comments", help="Comments Parquet from `neurofin market ingest`."),
    roi: Path = typer.Option(None, "--roi", help="ROI-feature Parquet (id, subject, one column per ROI)."),
    prices: Path = typer.Option(None, "--prices", help="Daily prices CSV/Parquet (date + tickers, date,ticker,close[,open] or OHLCV; opens give the open_to_close target)."),
    demo_prices: bool = typer.Option(False, "--demo-prices", help="Use the S&P 500 closes shipped in skfolio."),
    price_column: str = typer.Option(None, "--price-column", help="Price column to read (default: adjusted close, else close)."),
    ticker: str = typer.Option(None, "--ticker", help="Symbol of a single-ticker OHLCV file (default: the file name)."),
    export: Path = typer.Option(None, "--export", help="Directory for panel.parquet and prices.parquet."),
    config: Path = typer.Option(None, "--config", help="TOML settings file."),
    replace_rois: bool = typer.Option(False, "--replace-rois", help="--roi comes from another model than the panel's ROI rows: drop those rows (and the panel rows) and keep the new model's."),
) -> None:
    """Add comments and their ROI features (and/or prices) to the daily ticker x ROI panel.

    Example: neurofin market panel --db panel.duckdb --comments comments.parquet --roi roi.parquet --demo-prices --export panel_out
    """
    import pandas as pd

    from neurofin.config import Settings
    from neurofin.errors import InputError
    from neurofin.io import guard_output, require_writable
    from neurofin.market.comments.tickers import load_universe
    from neurofin.market.panel import prices as price_io
    from neurofin.market.panel.lexicon import load_lexicon
    from neurofin.market.panel.sentiment import sentiment_measures
    from neurofin.market.panel.store import PanelStore

    if (comments is None) != (roi is None):
        raise InputError("pass --comments and --roi together (the ROI features of those comments)")
    if prices is not None and demo_prices:
        raise InputError("pass either --prices FILE or --demo-prices, not both")
    market = Settings.load(config).market
    inputs = [comments, roi, prices, config]
    guard_output(db, "duckdb", inputs, "--db")
    if export is not None:
        guard_output(export, "folder", [*inputs, db], "--export")
        for name in ("panel.parquet", "prices.parquet"):  # the files written in it
            guard_output(export / name, "parquet", [*inputs, db], "--export")
        require_writable(export, "--export")
    store = PanelStore(db, exchange=market.exchange, cutoff_minutes=market.cutoff_minutes)
    summary: dict[str, object] = {}
    if comments is not None and roi is not None:
        for path in (comments, roi):
            if not path.is_file():
                raise InputError(f"{path} not found: check the path")
        universe = load_universe(market.symbols_file, market.blacklist_file)
        slang = load_lexicon(market.lexicon_file) if "slang" in market.sentiment_extras else None
        sentiment = sentiment_measures(market.sentiment_extras, slang, market.finance_sentiment_model)
        update = store.update(
            pd.read_parquet(comments), pd.read_parquet(roi), universe=universe, sentiment=sentiment,
            replace_rois=replace_rois,
        )
        summary["panel"] = update.to_record()
        if update.panel_rows_written == 0:
            why = ("no comment mentions a ticker of the universe (check the texts or market.symbols_file)"
                   if update.comments_with_tickers == 0 else
                   "no comment that mentions a ticker has an ROI row (check that --roi holds the ids of --comments)")
            raise InputError(f"0 panel rows written from {update.comments_in} comments: {why}")
    if prices is not None or demo_prices:
        column = price_column or market.price_column
        closes = (price_io.read_prices(prices, column, ticker, market.exchange) if prices is not None
                  else price_io.demo_prices())
        summary["price_rows"] = store.update_prices(closes)
        summary["price_column"] = closes.attrs.get("price_column", "close")
        summary["open_column"] = closes.attrs.get("open_column")
    if export is not None:
        summary["exported"] = [str(p) for p in store.export_parquet(export)]
    if not summary:
        raise InputError("nothing to do: pass --comments/--roi, --prices/--demo-prices or --export")
    typer.echo(json.dumps(summary, indent=2))


def _chain_inputs(db: Path, prices: Path | None, config: Path | None, overrides: dict[str, object], out: Path):
    """(settings.market, panel, prices) for the select/forecast/backtest commands, once --out is a usable folder."""
    from neurofin.config import Settings
    from neurofin.io import guard_output
    from neurofin.market.chain import load_inputs

    market = Settings.load(config, overrides={f"market.{k}": v for k, v in overrides.items()}).market
    guard_output(out, "folder", [db, prices, config, market.roi_quality_file])
    panel_frame, price_frame = load_inputs(db, prices, market.price_column, market.exchange)
    return market, panel_frame, price_frame


DB_OPTION = typer.Option(..., "--db", help="DuckDB panel written by `neurofin market panel`.")
PRICES_OPTION = typer.Option(None, "--prices", help="Daily closes CSV/Parquet; default: the prices table of --db.")
OUT_OPTION = typer.Option(..., "--out", help="Output folder (files are written atomically).")
CONFIG_OPTION = typer.Option(None, "--config", help="TOML settings file.")
FORECASTER_OPTION = typer.Option(None, "--forecaster", help="A registered forecaster: linear, chronos or one added "
                                 "with neurofin.market.forecast.register; default from settings.")
CHRONOS_OPTION = typer.Option(None, "--chronos-model", help="Chronos-2 Hugging Face id or local directory.")
QUALITY_OPTION = typer.Option(None, "--roi-quality", help="roi,subject,validation_r table (`neurofin infer` writes "
                              "OUT.roi_quality.csv): ROIs the encoding models predict poorly are never selected.")


@app.command("select")
def select(
    db: Path = DB_OPTION, prices: Path = PRICES_OPTION, out: Path = OUT_OPTION, config: Path = CONFIG_OPTION,
    roi_quality: Path = QUALITY_OPTION,
    train_sessions: int = typer.Option(None, "--train-sessions", help="Training window length (sessions)."),
) -> None:
    """Run the ISC filter and the selection rule inside every walk-forward training window; write selection frequencies.

    Writes selections.json (per-fold ISC and selection-rule tables: pooled IC, or Granger with
    market.selection_rule = "granger") and selection_frequency.csv (ROI x ticker).

    Example: neurofin market select --db panel.duckdb --out market_out
    """
    from neurofin.market.chain import run_selection

    market, panel_frame, price_frame = _chain_inputs(db, prices, config, {"train_sessions": train_sessions, "roi_quality_file": roi_quality}, out)
    selections, frequencies = run_selection(panel_frame, price_frame, market, out)
    typer.echo(f"{len(selections)} folds; share of folds each ROI was selected per ticker:")
    typer.echo(frequencies.round(2).to_string())


@app.command("forecast")
def forecast(
    db: Path = DB_OPTION, prices: Path = PRICES_OPTION, out: Path = OUT_OPTION, config: Path = CONFIG_OPTION,
    forecaster: str = FORECASTER_OPTION, chronos_model: str = CHRONOS_OPTION,
) -> None:
    """Forecast the next session's log return of every ticker, with ROIs selected on the latest window.

    Writes forecasts.csv (one row per ticker x model: mean and quantiles) and selection.json.

    Example: neurofin market forecast --db panel.duckdb --forecaster chronos --chronos-model amazon/chronos-2 --out market_out
    """
    from neurofin.market.chain import forecast_next_session
    from neurofin.market.forecast.registry import make_forecaster

    market, panel_frame, price_frame = _chain_inputs(db, prices, config, {"chronos_model": chronos_model}, out)
    model = make_forecaster(forecaster or market.forecaster, market)
    forecasts, selection = forecast_next_session(panel_frame, price_frame, market, model, out)
    typer.echo(f"selected ROIs: {json.dumps(selection.selected)}")
    typer.echo(forecasts.pivot(index="ticker", columns="model", values="mean").to_string())


@app.command("backtest")
def backtest(
    db: Path = DB_OPTION, prices: Path = PRICES_OPTION, out: Path = OUT_OPTION, config: Path = CONFIG_OPTION,
    roi_quality: Path = QUALITY_OPTION,
    forecaster: str = FORECASTER_OPTION, chronos_model: str = CHRONOS_OPTION,
    train_sessions: int = typer.Option(None, "--train-sessions", help="Training window length (sessions)."),
    step_sessions: int = typer.Option(None, "--step-sessions", help="Test sessions per fold."),
) -> None:
    """Walk-forward backtest: selection per fold, forecasts, baselines, metrics, report and a plain verdict.

    Writes forecasts.parquet, metrics.csv (primary target), results.parquet/.csv (every model x target x
    horizon x metric), increments.csv, portfolio_daily.parquet, cost_sweep.csv, ticker_ic.csv, daily_ic.csv,
    selections.json, selection_frequency.csv, summary.json, report.html and its PNG figures.

    Example: neurofin market backtest --db panel.duckdb --forecaster linear --out market_out
    """
    from neurofin.market.chain import run_chain

    market, panel_frame, price_frame = _chain_inputs(
        db, prices, config, {"train_sessions": train_sessions, "step_sessions": step_sessions, "roi_quality_file": roi_quality},
        out)
    import pandas as pd

    from neurofin.progress import cli_progress

    with cli_progress() as progress:
        result = run_chain(panel_frame, price_frame, market, out, forecaster=forecaster, chronos_model=chronos_model,
                           progress=progress)
    pages = [write(out) for write in BACKTEST_PAGES]
    shown = ["model", "same_as", "ic_mean", "perm_p", "cw_t", "cw_p", "cw_p_holm", "r2_vs_zero", "coverage_80"]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", None):
        typer.echo(result.backtest.metrics[shown].round(4).to_string(index=False))
        typer.echo(result.backtest.increments.round(4).to_string(index=False))
    typer.echo(result.verdict)
    if result.summary.power:
        typer.echo(result.summary.power["sentence"])
    for page in pages:
        typer.echo(f"report: {page}")


@app.command("power")
def power(
    db: Path = DB_OPTION, prices: Path = PRICES_OPTION, out: Path = OUT_OPTION, config: Path = CONFIG_OPTION,
    roi_quality: Path = QUALITY_OPTION,
    forecaster: str = FORECASTER_OPTION, chronos_model: str = CHRONOS_OPTION,
    ics: str = typer.Option("0,0.05,0.1,0.2", "--ics", help="Comma-separated planted ICs (correlations in [0, 1))."),
    reps: int = typer.Option(5, "--reps", help="Backtests per planted IC."),
    roi: str = typer.Option(None, "--roi", help="ROI that carries the planted lead (default: the panel's first)."),
    train_sessions: int = typer.Option(None, "--train-sessions", help="Training window length (sessions)."),
    step_sessions: int = typer.Option(None, "--step-sessions", help="Test sessions per fold."),
) -> None:
    """How large a lead could the backtest detect on this panel? Plants leads of each IC into its own returns.

    Runs the backtest --reps times per IC on the panel with planted returns (same tickers, sessions, missing cells
    and comment counts) and writes power.json: the verdict's detection rate per IC and the smallest IC detected
    80% of the time. A backtest in the same --out folder (before or after) shows it next to its verdict.

    Example: neurofin market power --db panel.duckdb --ics 0,0.05,0.1,0.2 --reps 5 --out market_out
    """
    from neurofin.errors import InputError
    from neurofin.io import write_json_atomic
    from neurofin.market.evaluate.power import POWER_FILE, verdict_power
    from neurofin.market.forecast.registry import make_forecaster
    from neurofin.progress import cli_progress

    try:
        grid = [float(value) for value in ics.split(",")]
    except ValueError:
        raise InputError(f"--ics {ics!r} is not a comma-separated list of numbers, e.g. 0,0.05,0.1") from None
    market, panel_frame, price_frame = _chain_inputs(
        db, prices, config, {"train_sessions": train_sessions, "step_sessions": step_sessions, "roi_quality_file": roi_quality},
        out)
    if chronos_model is not None:
        market = market.model_copy(update={"chronos_model": str(chronos_model)})
    model = make_forecaster(forecaster or market.forecaster, market)
    with cli_progress() as progress:
        result = verdict_power(panel_frame, price_frame, market, model, grid, reps, roi, progress)
    record = result.to_record()
    write_json_atomic(out / POWER_FILE, record)
    summary_path = out / "summary.json"
    if summary_path.is_file():  # a backtest already in the folder: show the power next to its verdict
        write_json_atomic(summary_path, {**json.loads(summary_path.read_text()), "power": record})
        for write in BACKTEST_PAGES:
            write(out)
    typer.echo(result.sentence())


@app.command("demo-dump")
def demo_dump_command(
    out: Path = typer.Option(..., "--out", help="JSONL file to write (a Reddit-dump-shaped comment file)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same file."),
) -> None:
    """Write a generated Reddit dump (template comments about 5 tickers, 2021-2022; no planted market signal).

    It holds deleted, bot, off-subreddit and malformed lines for `market ingest` to drop, like a real dump.

    Example: neurofin market demo-dump --out RC_demo.jsonl
    """
    from neurofin.io import guard_output
    from neurofin.market.demo import demo_dump

    guard_output(out, "jsonl")
    n_lines = demo_dump(out, seed)
    typer.echo(f"{n_lines} lines -> {out}")


def register(root: typer.Typer) -> None:
    """Attach the `market` group to the root app."""
    root.add_typer(app, name="market")
