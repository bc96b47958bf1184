"""Walk-forward backtest of forecasts of several targets with honest baselines, controls and a pre-declared test.

The stages, one module each: walk_forward (data, folds, per-fold selection and controls), forecast_loop (every
model variant forecasts each test session), evaluation (metrics, nulls, increments, portfolios) and verdict.
Targets and horizons: market.targets x market.horizons (targets.py).

Models compared on the same (session, ticker) rows (variants.py): baselines zero, hist_mean (historical mean and
quantiles), univariate (the forecaster without covariates); controls sentiment (the VADER and Loughran-McDonald
measures, market/panel/sentiment.py), attention (comment and author counts), embedding (the LM features, PCA to as
many components as ROIs); roi (selected ROIs as past covariates), roi_known_future (selected ROIs lagged one day as
known-future covariates); and each control plus the selected ROIs (`<control>+roi`). A forecaster declares models
that are identical to another by construction (`identical`); those are copied, not recomputed, and not tested
twice.

Verdict (docs/backtest.md, verdict.py): only the pre-declared primary model (`market.primary_model`, default roi)
on the primary target (`market.primary_target`, 1 session) decides "signal": its per-session IC must beat a
within-session permutation null (`null.py`), one-sided at 5%; Clark-West against the univariate model it nests
is reported beside it (with the linear forecaster its p-value is the fixed-regressor bootstrap's, cw_bootstrap.py). The verdict then names which increment over a control holds
(control+roi vs control: Clark-West and the permutation null of the ROI contribution, both < 5% after Holm over
the controls); for an ROI primary model the head claims "signal" only when it holds over every control
(claims.headline). The other covariate models get Holm-adjusted Clark-West p-values. The ROI model is also ranked
among same-dimension projections of the LM embedding (projections.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate.cw_bootstrap import BootstrapTest
from neurofin.market.evaluate.evaluation import evaluate_targets, evaluate_with_null, target_rows, with_actuals
from neurofin.market.evaluate.forecast_loop import forecast_folds, identical_models
from neurofin.market.evaluate.increments import increment_tests, verdict_nulls
from neurofin.market.evaluate.metrics import wide_means
from neurofin.market.evaluate.null import MIN_DRAWS
from neurofin.market.evaluate.planted import planted_forecasts
from neurofin.market.evaluate.projections import projection_rank
from neurofin.market.evaluate.variants import INCREMENTS, REFERENCE_MODEL
from neurofin.market.evaluate.verdict import Verdict, decide
from neurofin.market.evaluate.walk_forward import (
    Fold,
    MarketData,
    fold_screens,
    make_folds,
    prepare_data,
    select_per_fold,
    select_planted,
)
from neurofin.market.forecast.controls import PROJECTION
from neurofin.market.forecast.models import Forecaster
from neurofin.market.panel.targets import TargetSpec
from neurofin.market.selection.gate import Screen, Selection, selection_frequencies
from neurofin.progress import Progress


@dataclass
class BacktestResult:
    """Forecast rows, the primary target's metrics, per-fold selections, selection frequencies, the verdict and
    every target's evaluation (tidy `results`, `increments`, portfolio tables)."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    folds: list[Fold]
    selections: list[Selection]
    frequencies: pd.DataFrame
    verdict: Verdict
    settings: dict[str, object]
    null: dict[str, object] = field(default_factory=dict)
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    increments: pd.DataFrame = field(default_factory=pd.DataFrame)
    portfolio: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    projections: dict[str, object] = field(default_factory=dict)  # projections.projection_rank of the primary model


def run_backtest(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, forecaster: Forecaster,
    progress: Progress | None = None, screens: Sequence[Screen] | None = None,
) -> BacktestResult:
    """Walk-forward selection, forecasting of every distinct model variant and target, evaluation, null and verdict.
    `screens`: the folds' ISC screens (`fold_screens`) when already computed on this panel (power grids)."""
    if settings.null_draws < MIN_DRAWS:
        raise InputError(f"market.null_draws = {settings.null_draws}: use at least {MIN_DRAWS} permutation draws")
    data = prepare_data(panel, prices, settings)
    folds = make_folds(data, settings)
    selections = select_per_fold(data, folds, settings, [s.kind for s in data.specs], screens)
    identical = identical_models(forecaster)
    forecasts, bootstraps = model_forecasts(data, folds, selections, forecaster, settings, progress)
    primary_spec = TargetSpec(settings.primary_target, 1)
    projected = forecasts["model"].str.startswith(PROJECTION).to_numpy()
    ranking = projection_rank(target_rows(forecasts, primary_spec), settings.primary_model)
    forecasts = forecasts[~projected].reset_index(drop=True)  # the same-dimension control is reported by its rank
    evaluation = evaluate_targets(forecasts, data.specs, settings, identical, bootstraps)
    metrics, null = evaluation.metrics[primary_spec], evaluation.nulls[primary_spec]
    increments = evaluation.increments
    primary_increments = increments[(increments["target"] == primary_spec.kind) & (increments["horizon"] == 1)]
    tickers = sorted(data.frame["ticker"].unique())
    primary_selections = selections[primary_spec.kind]
    return BacktestResult(
        forecasts, metrics, folds, primary_selections, selection_frequencies(primary_selections, data.rois, tickers),
        decide(metrics, settings.primary_model, settings.primary_target, primary_increments,
               ranking.sentence() if ranking else ""),
        settings.model_dump(mode="json"), null.to_record(), evaluation.results, increments, evaluation.portfolio,
        data.notes, ranking.to_record() if ranking else {},
    )


def model_forecasts(
    data: MarketData, folds: Sequence[Fold], selections: dict[str, list[Selection]], forecaster: Forecaster,
    settings: MarketSettings, progress: Progress | None = None,
) -> tuple[pd.DataFrame, dict[TargetSpec, BootstrapTest]]:
    """`forecast_folds`, the models identical by construction copied from their source, and the realised values
    (`with_actuals`); with the primary model's Clark-West bootstrap tests (`forecast_folds`)."""
    forecasts, models, bootstraps = forecast_folds(data, folds, selections, forecaster, settings, progress)
    return _completed(forecasts, models, data, forecaster), bootstraps


def _completed(forecasts: pd.DataFrame, models: Collection[str], data: MarketData, forecaster: Forecaster) -> pd.DataFrame:
    """The forecast rows plus the `models` identical by construction to a forecast one (copied from their source),
    with their realised values (`with_actuals`)."""
    copies = [forecasts[forecasts["model"] == source].assign(model=alias)
              for alias, source in identical_models(forecaster).items() if alias in models]
    return with_actuals(pd.concat([forecasts, *copies], ignore_index=True), data)


def verdict_models(primary: str) -> list[str]:
    """The models the verdict reads: the primary, the reference it nests, each control with control+roi, and
    hist_mean (the metrics' R^2 baseline)."""
    return list(dict.fromkeys([primary, REFERENCE_MODEL, "hist_mean", *(model for pair in INCREMENTS for model in pair)]))


def backtest_verdict(
    data: MarketData, folds: Sequence[Fold], settings: MarketSettings, forecaster: Forecaster,
    screens: Sequence[Screen] | None = None,
) -> tuple[Verdict, pd.DataFrame]:
    """The verdict of `run_backtest` and the primary model's row of the primary target's metrics, computing only
    what they read (`backtest_verdicts` of one panel)."""
    screens = fold_screens(data, folds, settings) if screens is None else screens
    return backtest_verdicts([data], folds, [settings], forecaster, screens)[0]


def backtest_verdicts(
    panels: Sequence[MarketData], folds: Sequence[Fold], settings: Sequence[MarketSettings], forecaster: Forecaster,
    screens: Sequence[Screen],
) -> list[tuple[Verdict, pd.DataFrame]]:
    """`backtest_verdict` of each planted panel (the user's data with other prices, `with_prices`; `settings[k]`
    differing in their seed at most), computing only what the verdicts read: the primary target's selection, the
    `verdict_models` forecasts (means: no quantile band; the models that read no selection fitted for every panel
    at once, `planted_forecasts`), the primary model's metrics with the primary null, the increments over the
    controls (no other target, horizon, model, projection ranking or portfolio). The metrics that read bands
    (pinball, coverage) are NaN. `screens`: the user's (`fold_screens`), every panel's."""
    spec = TargetSpec(settings[0].primary_target, 1)
    only = verdict_models(settings[0].primary_model)
    selections = select_planted(panels, folds, settings[0], spec.kind, screens)  # the selection reads no seed
    identical = identical_models(forecaster)
    verdicts = []
    for data, s, (forecasts, bootstraps) in zip(panels, settings, planted_forecasts(panels, folds, selections, forecaster,
                                                                                   settings, only), strict=True):
        rows = target_rows(_completed(forecasts, only, data, forecaster), spec)
        null, increment_nulls = verdict_nulls(rows, s.primary_model, s.null_draws, s.seed)
        wide = wide_means(rows)
        metrics, _ = evaluate_with_null(rows, s.quantile_levels, s.primary_model, identical, s.null_draws, s.seed,
                                        bootstrap=bootstraps.get(spec), models=[s.primary_model], null=null, wide=wide)
        increments = increment_tests(rows, identical, s.null_draws, s.seed, nulls=increment_nulls, wide=wide)
        verdicts.append((decide(metrics, s.primary_model, s.primary_target, increments), metrics))
    return verdicts
