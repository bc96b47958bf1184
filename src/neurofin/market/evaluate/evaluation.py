"""Evaluation of the forecasts: realised values, per-model metrics with the primary model's permutation null,
Holm over the secondary models, the control increments and portfolios per target and horizon, and tidy results."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.cw_bootstrap import BootstrapTest
from neurofin.market.evaluate.increments import holm, increment_tests, verdict_nulls
from neurofin.market.evaluate.null import PermutationResult, permutation_ic_test
from neurofin.market.evaluate.portfolio import portfolio_tables
from neurofin.market.evaluate.variants import COVARIATE_MODELS, MODELS, REFERENCE_MODEL
from neurofin.market.evaluate.walk_forward import MarketData
from neurofin.market.forecast.models import quantile_column
from neurofin.market.panel.targets import DIRECTIONAL, TargetSpec, realized_trade_return


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
    forecasts: pd.DataFrame, specs: Sequence[TargetSpec], settings: MarketSettings, identical: dict[str, str],
    bootstraps: Mapping[TargetSpec, BootstrapTest] | None = None,
) -> Evaluation:
    """Metrics, primary null and control increments per target and horizon; portfolios for directional 1-session
    targets. `bootstraps`: the primary model's Clark-West bootstrap test per target and horizon (cw_bootstrap.py)."""
    metrics, nulls, increments, tidy, books = {}, {}, [], [], []
    for spec in specs:
        rows = target_rows(forecasts, spec)
        null, increment_nulls = verdict_nulls(rows, settings.primary_model, settings.null_draws, settings.seed,
                                              spec.horizon - 1)
        wide = m.wide_means(rows)
        table, null = evaluate_with_null(rows, settings.quantile_levels, settings.primary_model, identical,
                                         settings.null_draws, settings.seed, min_lags=spec.horizon - 1,
                                         bootstrap=(bootstraps or {}).get(spec), null=null, wide=wide)
        metrics[spec], nulls[spec] = table, null
        increment = increment_tests(rows, identical, settings.null_draws, settings.seed, min_lags=spec.horizon - 1,
                                    nulls=increment_nulls, wide=wide)
        increments.append(increment.assign(target=spec.kind, horizon=spec.horizon))
        tidy.append(tidy_metrics(table.drop(columns=["same_as", "cw_method"]), spec))
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


def evaluate_with_null(
    forecasts: pd.DataFrame, quantile_levels: Sequence[float], primary: str = "roi",
    identical: dict[str, str] | None = None, null_draws: int = 500, seed: int = 0, min_lags: int = 0,
    bootstrap: BootstrapTest | None = None, models: Collection[str] | None = None, null: PermutationResult | None = None,
    wide: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, PermutationResult]:
    """Per-model IC (pooled; per-date mean with HAR test), hit rate, OOS R^2, pinball, 80% band coverage,
    Clark-West vs univariate (covariate models), Holm-adjusted for the secondary ones, and the primary
    model's permutation p-value. `same_as` names the model a row equals by construction; `min_lags`: the
    sessions neighbouring targets share (h - 1 for h-session targets), for the HAR tests and the null.
    `bootstrap`: the primary model's Clark-West fixed-regressor bootstrap (cw_bootstrap.py, linear forecaster), whose
    p-value its cw_p (and that of a model identical to it) then is (cw_method "frb"); every other cw_p is the one-sided t(dof) p (cw_method "t", undersized
    under recursive estimation: docs/backtest.md "Size of the tests"). `models`: the rows of the table (default every
    model of the forecasts; the others are still read as the reference and the R^2 baseline). `null`: the primary
    model's permutation null when already drawn (`increments.verdict_nulls`); `wide`: the forecasts' `metrics.wide_means`
    when already built."""
    identical = identical or {}
    wide = m.wide_means(forecasts) if wide is None else wide
    listed = [mm for mm in MODELS if mm in wide.columns and (models is None or mm in models)]
    ic_per_date = daily_ic(forecasts[forecasts["model"].isin(listed)])
    actual = wide["actual"].to_numpy(float)
    null = null if null is not None else permutation_ic_test(forecasts, primary, REFERENCE_MODEL, null_draws, seed, horizon=min_lags + 1)
    records = []
    for model in listed:
        rows = forecasts[forecasts["model"] == model]
        pred = wide[model].to_numpy(float)
        ic = m.hac_mean_test(ic_per_date[model].to_numpy(), overlap=min_lags)
        hits, base = m.hit_rate(pred, actual)
        cw = m.clark_west(wide, model, REFERENCE_MODEL, min_lags) if model in COVARIATE_MODELS else None
        quantiles = rows[[quantile_column(q) for q in quantile_levels]].to_numpy(float)
        band = [quantile_column(q) for q in (0.1, 0.9)]
        coverage = (m.band_coverage(rows[band[0]].to_numpy(float), rows[band[1]].to_numpy(float),
                                    rows["actual"].to_numpy(float)) if set(band) <= set(rows.columns) else float("nan"))
        records.append({
            "model": model, "same_as": identical.get(model), "n": int(np.isfinite(pred).sum()),
            "ic_pooled": m.spearman(pred, actual), "ic_mean": ic.mean, "ic_t": ic.t_stat, "ic_dof": ic.dof, "ic_p": ic.p_value,
            "perm_p": null.p_value if model == primary else float("nan"),
            "hit_rate": hits, "base_rate": base,
            "r2_vs_zero": m.oos_r2(pred, actual, np.zeros_like(actual)),
            "r2_vs_hist_mean": m.oos_r2(pred, actual, wide["hist_mean"].to_numpy(float)),
            "pinball": m.pinball_loss(quantiles, rows["actual"].to_numpy(float), quantile_levels),
            "coverage_80": coverage,
            "cw_t": cw.t_stat if cw else float("nan"), "cw_p": cw.p_value if cw else float("nan"),
            "cw_method": "t" if cw else None,
        })
        if cw and identical.get(model, model) == identical.get(primary, primary) and bootstrap is not None:
            records[-1].update(cw_p=bootstrap.p_value, cw_method="frb")
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
