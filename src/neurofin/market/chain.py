"""The market chain in one call: walk-forward selection -> forecasts -> backtest with baselines -> report.

`run_chain` is what the demo and `neurofin market backtest` call; `run_selection` and
`forecast_next_session` back `neurofin market select` and `neurofin market forecast`. Inputs are
the panel and prices of `neurofin market panel` (a PanelStore, its DuckDB path, or DataFrames in
the same schema); every output file is written atomically under `out_dir`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.io import write_json_atomic, write_table_atomic
from neurofin.market.comments.calendar import EXCHANGE
from neurofin.market.evaluate.backtest import (
    BacktestResult,
    available_models,
    control_columns,
    daily_ic,
    fold_grid,
    forecast_models,
    prepare_data,
    run_backtest,
    target_rows,
    walk_forward_selection,
)
from neurofin.market.evaluate.power import read_power
from neurofin.market.forecast.engine import OriginRequest
from neurofin.market.forecast.models import ChronosForecaster, Forecaster, RidgeForecaster, business_day_frame
from neurofin.market.panel.sentiment import sentiment_label
from neurofin.market.panel.store import PanelStore
from neurofin.market.panel.targets import TargetSpec
from neurofin.market.selection.gate import Selection, select_features, selection_frequencies, selection_record, sentiment_columns
from neurofin.progress import Progress
from neurofin.schema import LEX_PREFIX

FORECASTER_KINDS = ("linear", "ridge", "chronos")  # "ridge" is another name for the linear forecaster


@dataclass
class ChainResult:
    """The backtest of one chain run and the files it wrote."""

    backtest: BacktestResult
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """The plain-language verdict ("no signal" when there is none)."""
        return self.backtest.verdict


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


def make_forecaster(kind: str, settings: MarketSettings, chronos_model: str | Path | None = None) -> Forecaster:
    """The forecaster named by `kind`: linear (ridge on the covariates) or chronos (Chronos-2)."""
    if kind in ("linear", "ridge"):
        return RidgeForecaster(settings.ridge_alpha, name="linear")
    if kind == "chronos":
        return ChronosForecaster(chronos_model or settings.chronos_model, settings.chronos_device)
    raise InputError(f"unknown forecaster {kind!r}: choose one of {', '.join(FORECASTER_KINDS)}")


def used_forecaster(model: Forecaster) -> dict[str, str]:
    """Settings fields describing the forecaster that runs: kind ("linear"/"chronos") and the Chronos-2 model."""
    if isinstance(model, ChronosForecaster):
        return {"forecaster": "chronos", "chronos_model": str(model.model)}
    if isinstance(model, RidgeForecaster):
        return {"forecaster": "linear"}
    return {}


def write_selections(out_dir: Path, selections: list[Selection], frequencies: pd.DataFrame) -> dict[str, Path]:
    """selections.json (per-fold ISC/Granger tables and chosen ROIs) and selection_frequency.csv."""
    files = {"selections": out_dir / "selections.json", "selection_frequency": out_dir / "selection_frequency.csv"}
    write_json_atomic(files["selections"], [selection_record(s) for s in selections])
    write_table_atomic(files["selection_frequency"], frequencies, index=True)
    return files


def run_selection(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, out_dir: str | Path | None = None
) -> tuple[list[Selection], pd.DataFrame]:
    """ISC + Granger selection inside every walk-forward training window, and ROI x ticker selection frequencies."""
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
    """Select (ISC + Granger per fold) -> forecast -> backtest against baselines -> metrics -> verdict.

    `forecaster`: "linear"/"ridge", "chronos" (Chronos-2 from `chronos_model` or settings), a
    Forecaster object, or None for `settings.forecaster`. Writes forecasts.parquet, metrics.csv,
    daily_ic.csv, selections.json, selection_frequency.csv and summary.json (with plain notes on how the
    backtest ran); neurofin.report turns the folder into HTML.
    """
    store = PanelStore(panel) if isinstance(panel, (str, Path)) else panel
    panel_frame, price_frame = load_inputs(store, prices)
    if forecaster is None or isinstance(forecaster, str):
        model = make_forecaster(forecaster or settings.forecaster, settings, chronos_model)
    else:
        model = forecaster
    settings = settings.model_copy(update=used_forecaster(model))  # record what actually ran, not the defaults
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
    write_json_atomic(files["summary"], {
        "verdict": result.verdict, "forecaster": settings.forecaster, "forecaster_name": model.name,
        "model": settings.chronos_model if settings.forecaster == "chronos" else None, "n_folds": len(result.folds),
        "primary_model": settings.primary_model, "primary_target": settings.primary_target,
        "targets": sorted({f"{k}:{h}" for k, h in zip(result.forecasts["target"], result.forecasts["horizon"])}),
        "permutation_null": result.null, "projections": result.projections,
        "metrics": result.metrics.replace({np.nan: None}).to_dict(orient="records"),
        "increments": result.increments.replace({np.nan: None}).to_dict(orient="records"),
        "selection_frequency": result.frequencies.to_dict(), "settings": result.settings,
        "sentiment": sentiment, "controls": control_names(sentiment["columns"]),
        "notes": backtest_notes(result, model.name, sentiment["columns"]), "files": {k: p.name for k, p in files.items()},
        "power": read_power(out_dir),
    })
    return ChainResult(result, files)


def control_names(sentiment: list[str]) -> dict[str, str]:
    """Each control as the report names it, the sentiment control by its published measures."""
    return {"sentiment": f"sentiment ({sentiment_label(sentiment)})", "attention": "attention (comment and author counts)",
            "embedding": "embedding (LM features, PCA)"}


def backtest_notes(result: BacktestResult, forecaster_name: str, sentiment: list[str]) -> list[str]:
    """Plain sentences describing how the backtest was run (summary.json `notes`, shown by the report);
    `sentiment`: the sentiment control's panel columns."""
    s = result.settings
    test_sessions = sum(len(f.test_sessions) for f in result.folds)
    return [
        f"Forecaster: {forecaster_name}. {len(result.folds)} walk-forward folds ({s['window']} window, "
        f"{s['train_sessions']} training sessions, embargo {s['embargo_sessions']}, {s['step_sessions']} test "
        f"sessions per fold), {test_sessions} forecast sessions in all, each from data up to the previous session.",
        f"Selection inside each training window: ISC ({s['isc_scope']}, mean leave-one-out ISC above the "
        f"{s['isc_null_quantile']:g} quantile of a circular time-shift null and at least {s['isc_min_loo']:g}), "
        + (f"the encoding-quality gate (median validation r >= {s['min_roi_validation_r']:g} from "
           f"{s['roi_quality_file']}), " if s["roi_quality_file"] else "no encoding-quality gate (no market.roi_quality_file), ")
        + f"then HC3-robust Granger tests (lag {s['granger_lag_criterion']} up to {s['granger_max_lag']}) with "
        f"Benjamini-Hochberg FDR {s['fdr_alpha']:g} over ROIs x tickers. Features: the ticker's last value carried "
        f"at most {s['max_stale_sessions']} sessions; cells with fewer than {s['min_comments']} comments count as missing.",
        f"Targets: {', '.join(sorted(set(result.forecasts['target'])))} at horizons "
        f"{', '.join(str(h) for h in sorted(set(result.forecasts['horizon'])))} sessions (an h-session target is "
        "fitted only on windows realised at the origin; Hansen-Hodrick HAC with h-1 lags); the verdict reads the primary "
        f"target ({s['primary_target']}, 1 session). Market-adjusted: minus "
        + (f"the index in {s['index_file']}" if s["index_file"] else "the equal-weight mean of every priced ticker")
        + f". Features use comments up to {s['cutoff_minutes']} minutes before each session's close.",
        "Controls: attention (log comment and author counts and their change against the previous "
        f"{s['attention_window']} sessions; no comments = 0), sentiment ({sentiment_label(sentiment)}: session means of "
        f"{', '.join(c.removeprefix(LEX_PREFIX) for c in sentiment)} per comment), and the embedding (the LM features "
        "the encoding models read, PCA fitted in each training window to as many components as ROIs). Increments: "
        "control+ROI vs control, Clark-West (HAC) and the permutation null of the ROI contribution, the larger p "
        "Holm-adjusted over the controls.",
        f"Portfolio (directional targets, 1 session): long the top and short the bottom of {s['portfolio_quantiles']} "
        f"forecast buckets each session, equal weights; net of {s['cost_bps']:g} bps per unit of turnover; Sharpe "
        f"annualised (252) with a studentised block-bootstrap 95% CI ({s['bootstrap_draws']} draws).",
        *result.notes,
        "IC: Spearman rank correlation of forecasts (their mean) with realised log returns across tickers per "
        "session (mean and Newey-West t) and pooled. OOS R2 against the zero and historical-mean forecasts; "
        "coverage_80: share of returns inside the 10%-90% forecast band.",
        f"Verdict: decided by the pre-declared primary model ({s['primary_model']}) alone: its mean per-session IC "
        f"must beat a randomisation null ({s['null_draws']} draws; its covariate contribution permuted across "
        "tickers within each session, or shifted in time per ticker for overlapping targets) and it must beat the "
        "univariate model it nests in a one-sided "
        "Clark-West test with HAC errors, both at 5%. Other covariate models: Clark-West with Holm "
        "correction, not part of the verdict. Models identical by construction (same_as) are computed and tested once.",
    ]
