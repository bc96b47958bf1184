"""Walk-forward backtest of one-session-ahead log-return forecasts with honest baselines and a pre-declared test.

Folds: the training window ends at session index e (expanding from the first session, or rolling
over the last `train_sessions`); `embargo_sessions` sessions are skipped; the next `step_sessions`
sessions are forecast, each from data up to the previous exchange session only. ISC and Granger
filters are fitted on the training window of each fold. Models compared on the same (session, ticker)
rows: zero, hist_mean (historical mean and quantiles), univariate (the forecaster without covariates),
lexicon (lexicon-sentiment covariates), roi (selected ROIs as past covariates), roi_known_future
(selected ROIs lagged one day as known-future covariates). A forecaster declares models that are
identical to another by construction (`identical`); those are copied, not recomputed, and not tested
twice.

Verdict (docs/backtest.md): only the pre-declared primary model (`market.primary_model`, default roi)
decides. "signal" needs its per-session IC to beat a within-session permutation null (`null.py`) AND
its squared error to beat the univariate model it nests (Clark-West, Newey-West errors), both one-sided
at 5%. The other covariate models are reported with Holm-adjusted Clark-West p-values only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market import metrics as m
from neurofin.market.forecast import (
    LAG_SUFFIX,
    Forecaster,
    RidgeForecaster,
    ZeroForecaster,
    business_day_frame,
    forecast_at_origin,
    quantile_column,
)
from neurofin.market.null import MIN_DRAWS, PermutationResult, permutation_ic_test
from neurofin.market.selection import (
    Selection,
    lexicon_columns,
    roi_columns,
    select_features,
    selection_frequencies,
    session_frame,
)
from neurofin.progress import Progress, report

MODELS = ("zero", "hist_mean", "univariate", "lexicon", "roi", "roi_known_future")
REFERENCE_MODEL = "univariate"
COVARIATE_MODELS = ("lexicon", "roi", "roi_known_future")  # each nests the univariate model
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Fold:
    """One walk-forward split: training sessions [train_start, train_end], then the test sessions."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_sessions: tuple[pd.Timestamp, ...]


@dataclass
class BacktestResult:
    """Forecast rows, per-model metrics, per-fold selections, selection frequencies and the verdict."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    folds: list[Fold]
    selections: list[Selection]
    frequencies: pd.DataFrame
    verdict: str
    settings: dict[str, object]
    null: dict[str, object] = field(default_factory=dict)


def walk_forward_folds(
    sessions: Sequence[pd.Timestamp], train_sessions: int, step: int, embargo: int, window: str = "expanding"
) -> list[Fold]:
    """Expanding or rolling training windows, each followed by an embargo gap and `step` test sessions."""
    if window not in ("expanding", "rolling"):
        raise ValueError(f"window must be 'expanding' or 'rolling', got {window!r}")
    if train_sessions < 2 or step < 1 or embargo < 0:
        raise InputError("need train_sessions >= 2, step_sessions >= 1 and embargo_sessions >= 0")
    sessions = list(sessions)
    folds: list[Fold] = []
    end = train_sessions - 1
    while end + 1 + embargo < len(sessions):
        start = 0 if window == "expanding" else end - train_sessions + 1
        test = tuple(sessions[end + 1 + embargo : end + 1 + embargo + step])
        folds.append(Fold(len(folds), sessions[start], sessions[end], test))
        end += step
    return folds


def model_covariates(
    model: str, selected: dict[str, list[str]], lexicons: Sequence[str]
) -> dict[str, tuple[list[str], list[str]]]:
    """ticker -> (past covariates, known-future covariates) of one model variant."""
    if model in ("zero", "hist_mean", "univariate"):
        return {t: ([], []) for t in selected}
    if model == "lexicon":
        return {t: (list(lexicons), []) for t in selected}
    if model == "roi":
        return {t: (list(f), []) for t, f in selected.items()}
    if model == "roi_known_future":
        return {t: ([], [c + LAG_SUFFIX for c in f]) for t, f in selected.items()}
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


@dataclass
class MarketData:
    """Panel and prices aligned for the chain: session frame, business-day grid and column roles."""

    panel: pd.DataFrame
    frame: pd.DataFrame
    grid: pd.DataFrame
    sessions: list[pd.Timestamp]
    rois: list[str]
    lexicons: list[str]


def prepare_data(panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings | None = None) -> MarketData:
    """Session frame (targets + carried-forward features, see `session_frame`) and its business-day grid."""
    rois, lexicons = roi_columns(panel), lexicon_columns(panel)
    frame = session_frame(panel, prices, [*rois, *lexicons], settings)
    grid = business_day_frame(frame, [*rois, *lexicons])
    sessions = list(pd.DatetimeIndex(sorted(frame["session"].unique())))
    return MarketData(panel, frame, grid, sessions, rois, lexicons)


def walk_forward_selection(data: MarketData, settings: MarketSettings) -> tuple[list[Fold], list[Selection]]:
    """The walk-forward folds and the ISC + Granger selection fitted on each fold's training window."""
    folds = walk_forward_folds(data.sessions, settings.train_sessions, settings.step_sessions,
                               settings.embargo_sessions, settings.window)
    if not folds:
        raise InputError(
            f"{len(data.sessions)} sessions leave no test session after {settings.train_sessions} training sessions "
            "and the embargo: lower market.train_sessions or supply a longer panel"
        )
    return folds, [select_features(data.panel, data.frame, f.train_start, f.train_end, settings) for f in folds]


def baseline_forecasters(settings: MarketSettings) -> dict[str, Forecaster]:
    """The naive baselines that do not depend on the chosen forecaster (zero, historical mean)."""
    return {"zero": ZeroForecaster(), "hist_mean": RidgeForecaster(settings.ridge_alpha, "hist_mean")}


def forecast_models(
    models: Sequence[str], forecaster: Forecaster, grids: dict[str, pd.DataFrame], origin: pd.Timestamp,
    target: pd.Timestamp, selected: dict[str, list[str]], lexicons: Sequence[str], settings: MarketSettings,
) -> pd.DataFrame:
    """Forecasts of `target` from data up to `origin` for each model variant (grids: model -> grid, default key '')."""
    baselines = baseline_forecasters(settings)
    parts = [
        forecast_at_origin(baselines.get(model, forecaster), grids.get(model, grids[""]), origin, target,
                           model_covariates(model, selected, lexicons), settings.quantile_levels).assign(model=model)
        for model in models
    ]
    return pd.concat(parts, ignore_index=True).assign(session=target, origin=origin)


def identical_models(forecaster: Forecaster) -> dict[str, str]:
    """Model -> the model it equals by construction for this forecaster (e.g. ridge: univariate -> hist_mean)."""
    return dict(getattr(forecaster, "identical", {}))


def run_backtest(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, forecaster: Forecaster,
    progress: Progress | None = None,
) -> BacktestResult:
    """Walk-forward selection, forecasting of every distinct model variant, evaluation, null and verdict."""
    if settings.null_draws < MIN_DRAWS:
        raise InputError(f"market.null_draws = {settings.null_draws}: use at least {MIN_DRAWS} permutation draws")
    data = prepare_data(panel, prices, settings)
    folds, selections = walk_forward_selection(data, settings)
    identical = identical_models(forecaster)
    computed = [model for model in MODELS if model not in identical]
    previous = {s: data.sessions[i - 1] for i, s in enumerate(data.sessions) if i > 0}
    rows = []
    advance = report(progress).task("walk-forward backtest (test sessions)", total=sum(len(f.test_sessions) for f in folds))
    for fold, selection in zip(folds, selections, strict=True):
        for target in fold.test_sessions:
            out = forecast_models(computed, forecaster, {"": data.grid}, previous[target], target,
                                  selection.selected, data.lexicons, settings)
            rows.append(out.assign(fold=fold.index))
            advance(1)
    forecasts = pd.concat(rows, ignore_index=True)
    copies = [forecasts[forecasts["model"] == source].assign(model=alias) for alias, source in identical.items()]
    actual = data.frame[["ticker", "session", "target"]].rename(columns={"target": "actual"})
    forecasts = pd.concat([forecasts, *copies], ignore_index=True).merge(actual, on=["ticker", "session"], how="left")
    metrics, null = evaluate_with_null(forecasts, settings.quantile_levels, settings.primary_model, identical,
                                       settings.null_draws, settings.seed)
    tickers = sorted(data.frame["ticker"].unique())
    return BacktestResult(forecasts, metrics, folds, selections, selection_frequencies(selections, data.rois, tickers),
                          verdict(metrics, settings.primary_model), settings.model_dump(mode="json"), null.to_record())


def daily_ic(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Cross-sectional Spearman IC per session (rows) and model (columns)."""
    return pd.DataFrame({model: m.ic_by_date(rows) for model, rows in forecasts.groupby("model", sort=False)})


def evaluate(
    forecasts: pd.DataFrame, quantile_levels: Sequence[float], primary: str = "roi",
    identical: dict[str, str] | None = None, null_draws: int = 500, seed: int = 0,
) -> pd.DataFrame:
    """The metrics table of `evaluate_with_null` (one row per model)."""
    return evaluate_with_null(forecasts, quantile_levels, primary, identical, null_draws, seed)[0]


def evaluate_with_null(
    forecasts: pd.DataFrame, quantile_levels: Sequence[float], primary: str = "roi",
    identical: dict[str, str] | None = None, null_draws: int = 500, seed: int = 0,
) -> tuple[pd.DataFrame, PermutationResult]:
    """Per-model IC (pooled; per-date mean with HAC test), hit rate, OOS R^2, pinball, 80% band coverage,
    Clark-West vs univariate (covariate models), Holm-adjusted for the secondary ones, and the primary
    model's permutation p-value. `same_as` names the model a row equals by construction."""
    identical = identical or {}
    ic_per_date = daily_ic(forecasts)
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    actual = wide["actual"].to_numpy(float)
    null = permutation_ic_test(forecasts, primary, REFERENCE_MODEL, null_draws, seed)
    records = []
    for model in [mm for mm in MODELS if mm in wide.columns]:
        rows = forecasts[forecasts["model"] == model]
        pred = wide[model].to_numpy(float)
        ic = m.hac_mean_test(ic_per_date[model].to_numpy())
        hits, base = m.hit_rate(pred, actual)
        cw = m.clark_west(wide, model, REFERENCE_MODEL) if model in COVARIATE_MODELS else None
        quantiles = rows[[quantile_column(q) for q in quantile_levels]].to_numpy(float)
        band = [quantile_column(q) for q in (0.1, 0.9)]
        coverage = (m.band_coverage(rows[band[0]].to_numpy(float), rows[band[1]].to_numpy(float),
                                    rows["actual"].to_numpy(float)) if set(band) <= set(rows.columns) else float("nan"))
        records.append({
            "model": model, "same_as": identical.get(model), "n": int(np.isfinite(pred).sum()),
            "ic_pooled": m.spearman(pred, actual), "ic_mean": ic.mean, "ic_t": ic.t_stat, "ic_p": ic.p_value,
            "perm_p": null.p_value if model == primary else float("nan"),
            "hit_rate": hits, "base_rate": base,
            "r2_vs_zero": m.oos_r2(pred, actual, np.zeros_like(actual)),
            "r2_vs_hist_mean": m.oos_r2(pred, actual, wide["hist_mean"].to_numpy(float)),
            "pinball": m.pinball_loss(quantiles, rows["actual"].to_numpy(float), quantile_levels),
            "coverage_80": coverage,
            "cw_t": cw.t_stat if cw else float("nan"), "cw_p": cw.p_value if cw else float("nan"),
        })
    table = pd.DataFrame.from_records(records)
    return table.assign(cw_p_holm=holm_secondary(table, primary, identical)), null


def holm_secondary(table: pd.DataFrame, primary: str, identical: dict[str, str]) -> np.ndarray:
    """Holm-adjusted Clark-West p-values of the distinct secondary covariate models (NaN elsewhere)."""
    from statsmodels.stats.multitest import multipletests

    primary_source = identical.get(primary, primary)
    family = table["model"].isin(COVARIATE_MODELS) & ~table["model"].isin([primary, primary_source])
    family &= table["same_as"].isna() & table["cw_p"].notna()
    adjusted = np.full(len(table), np.nan)
    if family.any():
        adjusted[family.to_numpy()] = multipletests(table.loc[family, "cw_p"].to_numpy(float), method="holm")[1]
    return adjusted


def verdict(metrics: pd.DataFrame, primary: str = "roi") -> str:
    """Plain verdict decided by the pre-declared primary model alone.

    "signal" needs: mean per-session IC > 0 with permutation p < SIGNIFICANCE (null.py), and Clark-West
    t > 0 with one-sided p < SIGNIFICANCE against the univariate model it nests. Secondary models are
    listed with Holm-adjusted Clark-West p-values and never change the verdict.
    """
    table = metrics.set_index("model")
    row = table.loc[primary]
    found = bool(row["ic_mean"] > 0 and row["perm_p"] < SIGNIFICANCE and row["cw_t"] > 0
                 and row["cw_p"] < SIGNIFICANCE)
    head = f"signal in {primary}" if found else "no signal"
    secondary = [
        f"{model}: Clark-West t={table.loc[model, 'cw_t']:.2f} (Holm p={table.loc[model, 'cw_p_holm']:.3g})"
        for model in COVARIATE_MODELS
        if model in table.index and model != primary and np.isfinite(table.loc[model, "cw_p_holm"])
    ]
    return (f"Verdict: {head} (primary model {primary}: mean IC {row['ic_mean']:.3f}, permutation p="
            f"{row['perm_p']:.3g}; Clark-West vs univariate t={row['cw_t']:.2f}, p={row['cw_p']:.3g}; both must be "
            f"< {SIGNIFICANCE:g}, one-sided)" + (f"; secondary, not part of the verdict: {'; '.join(secondary)}"
                                                 if secondary else "") + ".")
