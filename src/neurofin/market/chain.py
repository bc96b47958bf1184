"""The market chain in one call: walk-forward selection -> forecasts -> backtest with baselines -> report.

`run_chain` is what the demo and `neurofin market backtest` call; `run_selection` and
`forecast_next_session` back `neurofin market select` and `neurofin market forecast`. Inputs are
the panel and prices of `neurofin market panel` (a PanelStore, its DuckDB path, or DataFrames in
the same schema); every output file is written atomically under `out_dir`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.io import write_json_atomic, write_table_atomic
from neurofin.market.comments.calendar import EXCHANGE
from neurofin.market.evaluate.backtest import BacktestResult, run_backtest
from neurofin.market.evaluate.evaluation import daily_ic, target_rows
from neurofin.market.evaluate.forecast_loop import forecast_models
from neurofin.market.evaluate.power import read_power
from neurofin.market.evaluate.walk_forward import (
    available_models,
    control_columns,
    fold_grid,
    prepare_data,
    walk_forward_selection,
)
from neurofin.market.forecast.engine import OriginRequest
from neurofin.market.forecast.models import Forecaster, business_day_frame
from neurofin.market.forecast.registry import make_forecaster, recorded_settings
from neurofin.market.panel.store import PanelStore
from neurofin.market.panel.targets import TargetSpec
from neurofin.market.selection.gate import Selection, select_features, selection_frequencies, selection_record, sentiment_columns
from neurofin.market.summary import BacktestSummary, backtest_summary
from neurofin.progress import Progress


@dataclass
class ChainResult:
    """The backtest of one chain run, its summary record (summary.json) and the files it wrote."""

    backtest: BacktestResult
    summary: BacktestSummary
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """The plain-language verdict ("no signal" when there is none), rendered from the backtest's record."""
        return self.backtest.verdict.sentence()


def with_log_returns(prices: pd.DataFrame, exchange: str = EXCHANGE) -> pd.DataFrame:
    """Long prices (session, ticker, close) plus log returns between consecutive exchange sessions only."""
    from neurofin.market.panel.prices import log_returns

    return log_returns(prices, exchange)


def load_inputs(
    panel: pd.DataFrame | PanelStore | str | Path, prices: pd.DataFrame | str | Path | None = None,
    price_column: str | None = None, exchange: str = EXCHANGE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(panel, prices) frames from a PanelStore / DuckDB path / frame; prices default to the store's table.

    A prices file (CSV/Parquet, wide or long) gets its log returns computed here.
    """
    from neurofin.market.panel.prices import read_prices

    store = PanelStore(panel) if isinstance(panel, (str, Path)) else panel
    panel_frame = store.load_panel() if isinstance(store, PanelStore) else store
    if prices is None:
        if not isinstance(store, PanelStore):
            raise InputError("pass prices with a panel DataFrame (or give the DuckDB panel that holds them)")
        prices = store.load_prices()
    elif isinstance(prices, (str, Path)):
        prices = with_log_returns(read_prices(prices, column=price_column, exchange=exchange), exchange)
    return panel_frame, prices


def write_selections(out_dir: Path, selections: list[Selection], frequencies: pd.DataFrame) -> dict[str, Path]:
    """selections.json (per-fold ISC and selection-rule tables, chosen ROIs) and selection_frequency.csv."""
    files = {"selections": out_dir / "selections.json", "selection_frequency": out_dir / "selection_frequency.csv"}
    write_json_atomic(files["selections"], [selection_record(s) for s in selections])
    write_table_atomic(files["selection_frequency"], frequencies, index=True)
    return files


def run_selection(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, out_dir: str | Path | None = None
) -> tuple[list[Selection], pd.DataFrame]:
    """ISC + selection rule inside every walk-forward training window, and ROI x ticker selection frequencies."""
    data = prepare_data(panel, prices, settings)
    _, selections = walk_forward_selection(data, settings)
    frequencies = selection_frequencies(selections, data.rois, sorted(data.frame["ticker"].unique()))
    if out_dir is not None:
        write_selections(Path(out_dir), selections, frequencies)
    return selections, frequencies


def next_session(last: pd.Timestamp, exchange: str) -> pd.Timestamp:
    """The first trading session of `exchange` after `last`."""
    from neurofin.market.comments.calendar import trading_sessions

    after = trading_sessions((last + pd.Timedelta(days=1)).date(), (last + pd.Timedelta(days=14)).date(), exchange)
    if not after.size:
        raise InputError(f"the {exchange} calendar has no session after {last.date()}: update exchange_calendars")
    return pd.Timestamp(after[0])


def forecast_next_session(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, forecaster: Forecaster,
    out_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, Selection]:
    """Select ROIs on the latest training window and forecast the primary target of the next session for every ticker.

    Rows: ticker, model (every variant), session (the forecast session), origin
    (the last session with data), mean and quantile columns.
    """
    data = prepare_data(panel, prices, settings)
    last = data.sessions[-1]
    start = data.sessions[0] if settings.window == "expanding" else data.sessions[max(0, len(data.sessions) - settings.train_sessions)]
    primary = f"target:{settings.primary_target}:1"
    selection = select_features(panel, data.frame.assign(target=data.frame[primary]), start, last, settings)
    target = next_session(last, settings.exchange)
    tickers = sorted(data.frame["ticker"].unique())
    extended = pd.concat([data.frame, pd.DataFrame({"ticker": tickers, "session": target})], ignore_index=True)
    data.grid = business_day_frame(extended, [*data.rois, *data.sentiment, *data.attention, *data.embedding],
                                   targets=("target", primary), lagged=data.rois)
    grid, components, _ = fold_grid(data, start, last, settings)
    controls = control_columns(data, components)
    forecasts = forecast_models(available_models(data, components), forecaster, grid,
                                [OriginRequest(last, target, primary, last)], selection.selected, controls,
                                settings).assign(target=settings.primary_target, horizon=1)
    if out_dir is not None:
        out_dir = Path(out_dir)
        write_table_atomic(out_dir / "forecasts.csv", forecasts)
        write_json_atomic(out_dir / "selection.json", selection_record(selection))
    return forecasts, selection


def run_chain(
    panel: pd.DataFrame | PanelStore | str | Path,
    prices: pd.DataFrame | str | Path | None,
    settings: MarketSettings,
    out_dir: str | Path,
    forecaster: str | Forecaster | None = None,
    chronos_model: str | Path | None = None,
    progress: Progress | None = None,
) -> ChainResult:
    """Select (ISC + selection rule per fold) -> forecast -> backtest against baselines -> metrics -> verdict.

    `forecaster`: a registered name ("linear"/"ridge", "chronos": Chronos-2 from `chronos_model` or settings,
    neurofin.market.forecast.registry), a Forecaster object, or None for `settings.forecaster`. Writes forecasts.parquet, metrics.csv,
    daily_ic.csv, selections.json, selection_frequency.csv and summary.json (with plain notes on how the
    backtest ran); neurofin.report turns the folder into HTML.
    """
    store = PanelStore(panel) if isinstance(panel, (str, Path)) else panel
    panel_frame, price_frame = load_inputs(store, prices)
    if chronos_model is not None:
        settings = settings.model_copy(update={"chronos_model": str(chronos_model)})
    if forecaster is None or isinstance(forecaster, str):
        model = make_forecaster(forecaster or settings.forecaster, settings)
    else:
        model = forecaster
    settings = settings.model_copy(update=recorded_settings(model))  # record what actually ran, not the defaults
    if "cutoff_minutes" in panel_frame.attrs:  # a stored panel's sessions were assigned with its own cutoff
        settings = settings.model_copy(update={"cutoff_minutes": panel_frame.attrs["cutoff_minutes"]})
    result = run_backtest(panel_frame, price_frame, settings, model, progress=progress)
    sentiment = panel_frame.attrs.get("sentiment") or {"columns": sentiment_columns(panel_frame)}  # a store's: versions too
    out_dir = Path(out_dir)
    primary = target_rows(result.forecasts, TargetSpec(settings.primary_target, 1))
    files = write_selections(out_dir, result.selections, result.frequencies)
    tables = {"forecasts": ("forecasts.parquet", result.forecasts), "metrics": ("metrics.csv", result.metrics),
              "results": ("results.parquet", result.results), "results_csv": ("results.csv", result.results),
              "increments": ("increments.csv", result.increments),
              **{name: (f"{name}{'.parquet' if name == 'portfolio_daily' else '.csv'}", frame)
                 for name, frame in result.portfolio.items() if name != "portfolio_metrics"}}
    for name, (filename, frame) in tables.items():
        files[name] = out_dir / filename
        write_table_atomic(files[name], frame)
    files["daily_ic"] = out_dir / "daily_ic.csv"
    write_table_atomic(files["daily_ic"], daily_ic(primary), index=True)
    files["summary"] = out_dir / "summary.json"
    summary = backtest_summary(result, model.name, sentiment, {k: p.name for k, p in files.items()},
                               read_power(out_dir))
    write_json_atomic(files["summary"], summary.model_dump(mode="json"))
    return ChainResult(result, summary, files)
