"""Walk-forward backtest of forecasts of several targets with honest baselines, controls and a pre-declared test.

Folds: the training window ends at session index e (expanding from the first session, or rolling
over the last `train_sessions`); `embargo_sessions` sessions are skipped; the next `step_sessions`
sessions are forecast, each from data up to the previous exchange session only, before its close (the book's
fill: the origin's own return and, for an h-session target, the h-1 before it are masked: targets.known_through). ISC and Granger filters are fitted on
the training window of each fold (ISC once, Granger per target kind on its 1-session target), and so is the
embedding control's PCA. Targets and horizons: market.targets x market.horizons (targets.py).

Models compared on the same (session, ticker) rows: baselines zero, hist_mean (historical mean and
quantiles), univariate (the forecaster without covariates); controls sentiment (the VADER and Loughran-McDonald
measures, market/panel/sentiment.py), attention (comment and author counts), embedding (the LM features, PCA to as many
components as ROIs);
roi (selected ROIs as past covariates), roi_known_future (selected ROIs lagged one day as known-future
covariates); and each control plus the selected ROIs (`<control>+roi`). A forecaster declares models that
are identical to another by construction (`identical`); those are copied, not recomputed, and not tested
twice.

Verdict (docs/backtest.md): only the pre-declared primary model (`market.primary_model`, default roi) on the
primary target (`market.primary_target`, 1 session) decides "signal": its per-session IC must beat a
within-session permutation null (`null.py`) AND its squared error must beat the univariate model it nests
(Clark-West, Newey-West errors), both one-sided at 5%. The verdict then names which increment over a
control holds (control+roi vs control: Clark-West and the permutation null of the ROI contribution, both
< 5% after Holm over the controls); for an ROI primary model the head claims "signal" only when it holds over
every control (claims.headline). The other covariate models get Holm-adjusted Clark-West p-values. The ROI
model is also ranked among same-dimension projections of the LM embedding (projections.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.claims import headline
from neurofin.market.evaluate.null import MIN_DRAWS, PermutationResult, permutation_ic_test
from neurofin.market.evaluate.portfolio import portfolio_tables
from neurofin.market.evaluate.projections import PCA_MODEL, projection_rank
from neurofin.market.evaluate.universe import fold_universe
from neurofin.market.forecast.controls import (
    ATTENTION,
    PROJECTION,
    embedding_columns,
    fit_embedding_pca,
    random_projections,
)
from neurofin.market.forecast.engine import OriginRequest, forecast_requests
from neurofin.market.forecast.models import (
    LAG_SUFFIX,
    Forecaster,
    RidgeForecaster,
    ZeroForecaster,
    business_day_frame,
    quantile_column,
)
from neurofin.market.panel.targets import (
    DIRECTIONAL,
    INTRADAY,
    TargetSpec,
    known_through,
    realized_trade_return,
    target_specs,
    with_targets,
)
from neurofin.market.selection.gate import (
    Selection,
    roi_columns,
    screen_features,
    select_features,
    selection_frequencies,
    sentiment_columns,
    session_frame,
)
from neurofin.progress import Progress, report

BASELINES = ("zero", "hist_mean", "univariate")
CONTROLS = ("sentiment", "attention", "embedding")
ROI_MODELS = ("roi", "roi_known_future")
AUGMENTED = tuple(f"{control}+roi" for control in CONTROLS)
MODELS = (*BASELINES, *CONTROLS, *ROI_MODELS, *AUGMENTED)
REFERENCE_MODEL = "univariate"
COVARIATE_MODELS = (*CONTROLS, *ROI_MODELS, *AUGMENTED)  # each nests the univariate model
INCREMENTS = tuple(zip(CONTROLS, AUGMENTED, strict=True))  # (control, control+roi): do ROIs add to the control?
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
    """Forecast rows, the primary target's metrics, per-fold selections, selection frequencies, the verdict and
    every target's evaluation (tidy `results`, `increments`, portfolio tables)."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    folds: list[Fold]
    selections: list[Selection]
    frequencies: pd.DataFrame
    verdict: str
    settings: dict[str, object]
    null: dict[str, object] = field(default_factory=dict)
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    increments: pd.DataFrame = field(default_factory=pd.DataFrame)
    portfolio: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    projections: dict[str, object] = field(default_factory=dict)  # projections.projection_rank of the primary model


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
    model: str, selected: dict[str, list[str]], controls: dict[str, list[str]]
) -> dict[str, tuple[list[str], list[str]]]:
    """ticker -> (past covariates, known-future covariates) of one model variant; `controls`: control -> columns."""
    if model in BASELINES:
        return {t: ([], []) for t in selected}
    if model in CONTROLS:
        return {t: (list(controls[model]), []) for t in selected}
    if model == "roi":
        return {t: (list(f), []) for t, f in selected.items()}
    if model == "roi_known_future":
        return {t: ([], [c + LAG_SUFFIX for c in f]) for t, f in selected.items()}
    if model in AUGMENTED:
        control = model.removesuffix("+roi")
        return {t: ([*controls[control], *f], []) for t, f in selected.items()}
    if model.startswith(PROJECTION):  # as many dimensions as the ticker's ROI model reads
        return {t: (list(controls[model][: len(f)]), []) for t, f in selected.items()}
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


@dataclass
class MarketData:
    """Panel and prices aligned for the chain: session frame (with every target), business-day grid, column roles."""

    panel: pd.DataFrame
    frame: pd.DataFrame
    grid: pd.DataFrame
    sessions: list[pd.Timestamp]
    rois: list[str]
    sentiment: list[str]
    attention: list[str] = field(default_factory=list)
    embedding: list[str] = field(default_factory=list)
    specs: list[TargetSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prepare_data(panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings | None = None) -> MarketData:
    """Session frame (targets + carried-forward features, see `session_frame`; one column per target) and its
    business-day grid. The primary target at horizon 1 is always included."""
    settings = settings or MarketSettings()
    rois, sentiment, embedding = roi_columns(panel), sentiment_columns(panel), embedding_columns(panel)
    frame = session_frame(panel, prices, [*rois, *sentiment, *embedding], settings)
    attention = [c for c in ATTENTION if c in frame.columns]
    has_open = INTRADAY in frame.columns and bool(frame[INTRADAY].notna().any())
    if settings.primary_target == "open_to_close" and not has_open:
        raise InputError("market.primary_target = 'open_to_close' needs open prices: give prices with an open column")
    specs, notes = target_specs([settings.primary_target, *settings.targets], [1, *settings.horizons], has_open)
    frame = with_targets(frame, specs)
    grid = business_day_frame(frame, [*rois, *sentiment, *attention, *embedding],
                              targets=("target", *(s.column for s in specs)), lagged=rois)
    sessions = list(pd.DatetimeIndex(sorted(frame["session"].unique())))
    if not embedding:
        notes.append("embedding control skipped: the panel has no emb_ columns (set infer.embedding_dims > 0 and "
                     "re-run infer and the panel)")
    return MarketData(panel, frame, grid, sessions, rois, sentiment, attention, embedding, specs, notes)


def make_folds(data: MarketData, settings: MarketSettings) -> list[Fold]:
    """The walk-forward folds of the data's sessions (an InputError when none fits)."""
    folds = walk_forward_folds(data.sessions, settings.train_sessions, settings.step_sessions,
                               settings.embargo_sessions, settings.window)
    if not folds:
        raise InputError(
            f"{len(data.sessions)} sessions leave no test session after {settings.train_sessions} training sessions "
            "and the embargo: lower market.train_sessions or supply a longer panel"
        )
    return folds


def select_per_fold(
    data: MarketData, folds: Sequence[Fold], settings: MarketSettings, kinds: Sequence[str]
) -> dict[str, list[Selection]]:
    """Target kind -> the selection of every fold: ISC once per window, Granger on the kind's 1-session target."""
    screens = [screen_features(data.panel, data.frame, f.train_start, f.train_end, settings) for f in folds]
    out = {}
    for kind in dict.fromkeys(kinds):
        framed = data.frame.assign(target=data.frame[TargetSpec(kind, 1).column])
        out[kind] = [select_features(data.panel, framed, f.train_start, f.train_end, settings, screen)
                     for f, screen in zip(folds, screens, strict=True)]
    return out


def walk_forward_selection(data: MarketData, settings: MarketSettings) -> tuple[list[Fold], list[Selection]]:
    """The walk-forward folds and the ISC + Granger selection (primary target) fitted on each fold's training window."""
    folds = make_folds(data, settings)
    return folds, select_per_fold(data, folds, settings, [settings.primary_target])[settings.primary_target]


def fold_grid(
    data: MarketData, start: pd.Timestamp, end: pd.Timestamp, settings: MarketSettings
) -> tuple[pd.DataFrame, list[str], dict[str, list[str]]]:
    """The grid plus the embedding control's components, PCA fitted on sessions [start, end], their names, and
    the projection models' columns (projection_pca: those components; projection_<j>: random projections; none
    with market.projection_draws = 0)."""
    pca = fit_embedding_pca(data.frame, data.embedding, start, end, len(data.rois), settings.seed) if data.embedding else None
    grid = data.grid.drop(columns=data.embedding)  # the models read the components, never the raw columns
    if pca is None:
        return grid, [], {}
    randoms = random_projections(pca, settings.projection_draws, settings.seed)
    scores = [pca.transform(data.grid), *(projection.transform(data.grid) for projection in randoms.values())]
    projections = {PCA_MODEL: pca.names, **{name: projection.names for name, projection in randoms.items()}} if randoms else {}
    return pd.concat([grid, *scores], axis=1), pca.names, projections


def control_columns(data: MarketData, embedding: Sequence[str]) -> dict[str, list[str]]:
    """Each control's covariate columns (the embedding's are this fold's PCA components)."""
    return {"sentiment": data.sentiment, "attention": data.attention, "embedding": list(embedding)}


def available_models(data: MarketData, embedding: Sequence[str]) -> list[str]:
    """The models this data can feed (a control without columns is left out with its `+roi` model)."""
    missing = {c for c, cols in control_columns(data, embedding).items() if not cols}
    return [model for model in MODELS if model not in missing and model.removesuffix("+roi") not in missing]


def baseline_forecasters(settings: MarketSettings) -> dict[str, Forecaster]:
    """The naive baselines that do not depend on the chosen forecaster (zero, historical mean)."""
    return {"zero": ZeroForecaster(), "hist_mean": RidgeForecaster(settings.ridge_alpha, "hist_mean")}


def forecast_models(
    models: Sequence[str], forecaster: Forecaster, grid: pd.DataFrame, requests: Sequence[OriginRequest],
    selected: dict[str, list[str]], controls: dict[str, list[str]], settings: MarketSettings,
) -> pd.DataFrame:
    """Forecasts of every request's target session for each model variant (rows ticker, mean, median, q..., model,
    session, origin; by session, then model, then ticker), batched over tickers and origins (forecast/engine.py)."""
    baselines = baseline_forecasters(settings)
    jobs = {model: (baselines.get(model, forecaster), model_covariates(model, selected, controls)) for model in models}
    return forecast_requests(jobs, grid, requests, settings.quantile_levels)


def identical_models(forecaster: Forecaster) -> dict[str, str]:
    """Model -> the model it equals by construction for this forecaster (e.g. ridge: univariate -> hist_mean)."""
    return dict(getattr(forecaster, "identical", {}))


def run_backtest(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, forecaster: Forecaster,
    progress: Progress | None = None,
) -> BacktestResult:
    """Walk-forward selection, forecasting of every distinct model variant and target, evaluation, null and verdict."""
    if settings.null_draws < MIN_DRAWS:
        raise InputError(f"market.null_draws = {settings.null_draws}: use at least {MIN_DRAWS} permutation draws")
    data = prepare_data(panel, prices, settings)
    folds = make_folds(data, settings)
    selections = select_per_fold(data, folds, settings, [s.kind for s in data.specs])
    identical = identical_models(forecaster)
    position = {s: i for i, s in enumerate(data.sessions)}
    primary_spec = TargetSpec(settings.primary_target, 1)
    rows, models = [], list(MODELS)
    total = len(data.specs) * sum(len(f.test_sessions) for f in folds)
    advance = report(progress).task("walk-forward backtest (forecasts)", total=total)
    for fold in folds:
        grid, components, projections = fold_grid(data, fold.train_start, fold.train_end, settings)
        controls = {**control_columns(data, components), **projections}
        models = available_models(data, components)
        computed = [model for model in models if model not in identical]
        universe = fold_universe(data.panel, fold.train_start, fold.train_end, settings.min_comments)
        for spec in data.specs:
            selected = {t: f for t, f in selections[spec.kind][fold.index].selected.items() if t in universe}
            spec_models = [*computed, *projections] if spec == primary_spec else computed  # projections: primary only
            requests = [OriginRequest(data.sessions[position[target] - 1], target, spec.column,
                                      known_through(data.sessions, position[target] - 1, spec.horizon))
                        for target in fold.test_sessions]
            out = forecast_models(spec_models, forecaster, grid, requests, selected, controls, settings)
            rows.append(out.assign(target=spec.kind, horizon=spec.horizon, session=out.pop("session"),
                                   origin=out.pop("origin"), fold=fold.index))
            advance(len(requests))
    forecasts = pd.concat(rows, ignore_index=True)
    copies = [forecasts[forecasts["model"] == source].assign(model=alias)
              for alias, source in identical.items() if alias in models]
    forecasts = with_actuals(pd.concat([forecasts, *copies], ignore_index=True), data)
    projected = forecasts["model"].str.startswith(PROJECTION).to_numpy()
    ranking = projection_rank(target_rows(forecasts, primary_spec), settings.primary_model)
    forecasts = forecasts[~projected].reset_index(drop=True)  # the same-dimension control is reported by its rank
    evaluation = evaluate_targets(forecasts, data.specs, settings, identical)
    metrics, null = evaluation.metrics[primary_spec], evaluation.nulls[primary_spec]
    increments = evaluation.increments
    primary_increments = increments[(increments["target"] == primary_spec.kind) & (increments["horizon"] == 1)]
    tickers = sorted(data.frame["ticker"].unique())
    primary_selections = selections[primary_spec.kind]
    return BacktestResult(
        forecasts, metrics, folds, primary_selections, selection_frequencies(primary_selections, data.rois, tickers),
        verdict(metrics, settings.primary_model, primary_increments) + (ranking.sentence() if ranking else ""),
        settings.model_dump(mode="json"), null.to_record(), evaluation.results, increments, evaluation.portfolio,
        data.notes, ranking.to_record() if ranking else {},
    )


def with_actuals(forecasts: pd.DataFrame, data: MarketData) -> pd.DataFrame:
    """Forecast rows plus `actual` (their target's realised value) and `realized` (the trade's log return, horizon 1)."""
    parts = []
    for spec in data.specs:
        values = data.frame[["ticker", "session"]].assign(actual=data.frame[spec.column],
                                                          realized=realized_trade_return(data.frame, spec))
        values = values.assign(target=spec.kind, horizon=spec.horizon)
        if spec.horizon > 1:
            values["realized"] = np.nan
        parts.append(values)
    actual = pd.concat(parts, ignore_index=True)
    return forecasts.merge(actual, on=["ticker", "session", "target", "horizon"], how="left")


def daily_ic(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Cross-sectional Spearman IC per session (rows) and model (columns)."""
    return pd.DataFrame({model: m.ic_by_date(rows) for model, rows in forecasts.groupby("model", sort=False)})


def target_rows(forecasts: pd.DataFrame, spec: TargetSpec) -> pd.DataFrame:
    """The forecast rows of one target and horizon (all rows when the table has no target column)."""
    if "target" not in forecasts.columns:
        return forecasts
    return forecasts[(forecasts["target"] == spec.kind) & (forecasts["horizon"] == spec.horizon)]


@dataclass
class Evaluation:
    """Every target's metrics table and primary-model null, the increments, the tidy results and portfolio tables."""

    metrics: dict[TargetSpec, pd.DataFrame]
    nulls: dict[TargetSpec, PermutationResult]
    increments: pd.DataFrame
    results: pd.DataFrame
    portfolio: dict[str, pd.DataFrame]


def evaluate_targets(
    forecasts: pd.DataFrame, specs: Sequence[TargetSpec], settings: MarketSettings, identical: dict[str, str]
) -> Evaluation:
    """Metrics, primary null and control increments per target and horizon; portfolios for directional 1-session targets."""
    metrics, nulls, increments, tidy, books = {}, {}, [], [], []
    for spec in specs:
        rows = target_rows(forecasts, spec)
        table, null = evaluate_with_null(rows, settings.quantile_levels, settings.primary_model, identical,
                                         settings.null_draws, settings.seed, min_lags=spec.horizon - 1)
        metrics[spec], nulls[spec] = table, null
        increment = increment_tests(rows, identical, settings.null_draws, settings.seed, min_lags=spec.horizon - 1)
        increments.append(increment.assign(target=spec.kind, horizon=spec.horizon))
        tidy.append(tidy_metrics(table.drop(columns="same_as"), spec))
        if spec.horizon == 1 and spec.kind in DIRECTIONAL:
            book = portfolio_tables(rows, settings)
            tidy.append(tidy_metrics(book["portfolio_metrics"], spec))
            books.append({name: frame.assign(target=spec.kind) for name, frame in book.items()})
    portfolio = {name: pd.concat([b[name] for b in books], ignore_index=True) for name in (books[0] if books else {})}
    return Evaluation(metrics, nulls, pd.concat(increments, ignore_index=True), pd.concat(tidy, ignore_index=True),
                      portfolio)


def tidy_metrics(table: pd.DataFrame, spec: TargetSpec) -> pd.DataFrame:
    """One row per (model, metric) of a per-model table: columns model, target, horizon, metric, value."""
    long = table.melt(id_vars="model", var_name="metric", value_name="value")
    long = long.assign(target=spec.kind, horizon=spec.horizon, value=pd.to_numeric(long["value"], errors="coerce"))
    return long[["model", "target", "horizon", "metric", "value"]]


def increment_tests(
    forecasts: pd.DataFrame, identical: dict[str, str], draws: int, seed: int, min_lags: int = 0
) -> pd.DataFrame:
    """Does adding the selected ROIs to a control help? Per (control, control+roi): Clark-West of the nested pair,
    the permutation null of the ROI contribution (the difference of the two forecasts), p = the larger of
    the two, Holm over the controls; `holds` when that is < SIGNIFICANCE with a positive Clark-West t."""
    present = set(forecasts["model"])
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    records = []
    for base, augmented in INCREMENTS:
        if not {base, augmented} <= present:
            continue
        cw = m.clark_west(wide, augmented, base, min_lags)
        null = permutation_ic_test(forecasts, augmented, base, draws, seed, horizon=min_lags + 1)
        records.append({"base": base, "augmented": augmented, "cw_t": cw.t_stat, "cw_p": cw.p_value,
                        "ic_base": float(m.ic_by_date(forecasts[forecasts["model"] == base]).mean()),
                        "ic_augmented": float(m.ic_by_date(forecasts[forecasts["model"] == augmented]).mean()),
                        "perm_p": null.p_value,
                        "p": max(cw.p_value, null.p_value) if np.isfinite(cw.p_value) else np.nan})
    table = pd.DataFrame.from_records(records, columns=["base", "augmented", "cw_t", "cw_p", "ic_base", "ic_augmented",
                                                        "perm_p", "p"])
    return table.assign(p_holm=holm(table["p"].to_numpy(float)),
                        holds=lambda t: (t["p_holm"] < SIGNIFICANCE) & (t["cw_t"] > 0))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values over the finite entries (NaN stays NaN)."""
    from statsmodels.stats.multitest import multipletests

    adjusted = np.full(p_values.shape, np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        adjusted[finite] = multipletests(p_values[finite], method="holm")[1]
    return adjusted


def evaluate_with_null(
    forecasts: pd.DataFrame, quantile_levels: Sequence[float], primary: str = "roi",
    identical: dict[str, str] | None = None, null_draws: int = 500, seed: int = 0, min_lags: int = 0,
) -> tuple[pd.DataFrame, PermutationResult]:
    """Per-model IC (pooled; per-date mean with HAC test), hit rate, OOS R^2, pinball, 80% band coverage,
    Clark-West vs univariate (covariate models), Holm-adjusted for the secondary ones, and the primary
    model's permutation p-value. `same_as` names the model a row equals by construction; `min_lags` floors
    the HAC bandwidth (h - 1 for h-session targets)."""
    identical = identical or {}
    ic_per_date = daily_ic(forecasts)
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    actual = wide["actual"].to_numpy(float)
    null = permutation_ic_test(forecasts, primary, REFERENCE_MODEL, null_draws, seed, horizon=min_lags + 1)
    records = []
    for model in [mm for mm in MODELS if mm in wide.columns]:
        rows = forecasts[forecasts["model"] == model]
        pred = wide[model].to_numpy(float)
        ic = m.hac_mean_test(ic_per_date[model].to_numpy(), min_lags=min_lags)
        hits, base = m.hit_rate(pred, actual)
        cw = m.clark_west(wide, model, REFERENCE_MODEL, min_lags) if model in COVARIATE_MODELS else None
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
    primary_source = identical.get(primary, primary)
    family = table["model"].isin(COVARIATE_MODELS) & ~table["model"].isin([primary, primary_source])
    family &= table["same_as"].isna() & table["cw_p"].notna()
    adjusted = np.full(len(table), np.nan)
    adjusted[family.to_numpy()] = holm(table.loc[family, "cw_p"].to_numpy(float))
    return adjusted


def verdict(metrics: pd.DataFrame, primary: str = "roi", increments: pd.DataFrame | None = None) -> str:
    """Plain verdict decided by the pre-declared primary model and, for an ROI model, its increments over the controls.

    The primary model passes when: mean per-session IC > 0 with permutation p < SIGNIFICANCE (null.py), and
    Clark-West t > 0 with one-sided p < SIGNIFICANCE against the univariate model it nests. The head is
    `claims.headline`: "signal in roi" also needs the increment (`increment_tests`) to hold over every control
    that ran, else it names the controls that explain the forecasts. The secondary models never change it.
    """
    row = metrics.set_index("model").loc[primary]
    found = bool(row["ic_mean"] > 0 and row["perm_p"] < SIGNIFICANCE and row["cw_t"] > 0
                 and row["cw_p"] < SIGNIFICANCE)
    head = headline(primary, found, increments).text
    text = (f"Verdict: {head} (primary model {primary}: mean IC {row['ic_mean']:.3f}, permutation p="
            f"{row['perm_p']:.3g}; Clark-West vs univariate t={row['cw_t']:.2f}, p={row['cw_p']:.3g}; both must be "
            f"< {SIGNIFICANCE:g}, one-sided).")
    if increments is None or increments.empty:
        return text
    held = increments[increments["holds"].astype(bool)]
    named = ", ".join(f"{b} (Holm p={p:.3g})" for b, p in zip(held["base"], held["p_holm"], strict=True))
    tested = ", ".join(increments["base"])
    return text + (f" ROI features add to: {named}." if named else
                   f" ROI features add to none of the controls ({tested}; Holm over them, Clark-West and "
                   "permutation null both < 0.05).")
