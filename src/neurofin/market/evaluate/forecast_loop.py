"""The forecast loop: every distinct model variant forecasts each test session of each fold and target.

Each session is forecast from data up to the previous exchange session only, before its close (the book's fill:
the origin's own return and, for an h-session target, the h-1 before it are masked: targets.known_through), for
every ticker of the fold's universe (universe.py), batched over tickers and origins (forecast/engine.py). A forecaster declares the models identical to another
by construction (`Forecaster.identical`); those are not recomputed here (the backtest copies them).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate.cw_bootstrap import BootstrapTest, FoldTerms, bootstrap_test, fold_terms
from neurofin.market.evaluate.universe import fold_universe
from neurofin.market.evaluate.variants import AUGMENTED, BASELINES, CONTROLS, MODELS
from neurofin.market.evaluate.walk_forward import Fold, MarketData, available_models, control_columns, fold_grid
from neurofin.market.forecast.controls import PROJECTION
from neurofin.market.forecast.engine import GridCube, OriginRequest, forecast_requests
from neurofin.market.forecast.models import LAG_SUFFIX, Forecaster, RidgeForecaster, ZeroForecaster
from neurofin.market.panel.targets import TargetSpec, known_through
from neurofin.market.selection.gate import Selection
from neurofin.progress import Progress, report


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


def baseline_forecasters(settings: MarketSettings) -> dict[str, Forecaster]:
    """The naive baselines that do not depend on the chosen forecaster (zero, historical mean)."""
    return {"zero": ZeroForecaster(), "hist_mean": RidgeForecaster(settings.ridge_alpha, "hist_mean")}


def forecast_models(
    models: Sequence[str], forecaster: Forecaster, grid: pd.DataFrame, requests: Sequence[OriginRequest],
    selected: dict[str, list[str]], controls: dict[str, list[str]], settings: MarketSettings,
    cube: GridCube | None = None, bands: bool = True,
) -> pd.DataFrame:
    """Forecasts of every request's target session for each model variant (rows ticker, mean, median, q..., model,
    session, origin; by session, then model, then ticker), batched over tickers and origins (forecast/engine.py;
    `cube`: the grid's, shared by the calls on one grid; `bands=False`: the ridge fits' means only)."""
    baselines = baseline_forecasters(settings)
    jobs = {model: (baselines.get(model, forecaster), model_covariates(model, selected, controls)) for model in models}
    return forecast_requests(jobs, grid, requests, settings.quantile_levels, cube, bands)


def identical_models(forecaster: Forecaster) -> dict[str, str]:
    """Model -> the model it equals by construction for this forecaster (e.g. ridge: univariate -> hist_mean)."""
    return dict(forecaster.identical)


def bootstraps_clark_west(forecaster: Forecaster, settings: MarketSettings) -> bool:
    """Whether the primary model's Clark-West p is the fixed-regressor bootstrap's (cw_bootstrap.py): a ridge
    forecaster (batched, mean linear in the target) and market.cw_bootstrap; otherwise the t(dof) p."""
    return settings.cw_bootstrap and type(forecaster).forecast is RidgeForecaster.forecast


def forecast_folds(
    data: MarketData, folds: Sequence[Fold], selections: dict[str, list[Selection]], forecaster: Forecaster,
    settings: MarketSettings, progress: Progress | None = None,
) -> tuple[pd.DataFrame, list[str], dict[TargetSpec, BootstrapTest]]:
    """Forecast rows of every distinct model variant, target and test session (columns model, target, horizon,
    session, origin, fold, ticker, mean, quantiles), the models of the last fold (identical ones included) and,
    when `bootstraps_clark_west`, the primary model's Clark-West bootstrap test per target and horizon. What a
    verdict reads alone (a power grid's planted panels): planted.py."""
    identical = identical_models(forecaster)
    bootstrap = bootstraps_clark_west(forecaster, settings)
    terms: dict[TargetSpec, list[FoldTerms]] = {}
    position = {s: i for i, s in enumerate(data.sessions)}
    rows, models = [], list(MODELS)
    total = len(data.specs) * sum(len(f.test_sessions) for f in folds)
    advance = report(progress).task("walk-forward backtest (forecasts)", total=total)
    primary_spec = TargetSpec(settings.primary_target, 1)
    for fold in folds:
        grid, components, projections = fold_grid(data, fold.train_start, fold.train_end, settings)
        controls = {**control_columns(data, components), **projections}
        models = available_models(data, components)
        computed = [model for model in models if model not in identical]
        universe = fold_universe(data.panel, fold.train_start, fold.train_end, settings.min_comments)
        cube = GridCube.from_grid(grid)  # every target of the fold reads it, and the designs it keeps
        for spec in data.specs:
            selected = {t: f for t, f in selections[spec.kind][fold.index].selected.items() if t in universe}
            spec_models = [*computed, *projections] if spec == primary_spec else computed  # projections: primary only
            requests = [OriginRequest(data.sessions[position[target] - 1], target, spec.column,
                                      known_through(data.sessions, position[target] - 1, spec.horizon))
                        for target in fold.test_sessions]
            out = forecast_models(spec_models, forecaster, grid, requests, selected, controls, settings, cube)
            rows.append(out.assign(target=spec.kind, horizon=spec.horizon, session=out.pop("session"),
                                   origin=out.pop("origin"), fold=fold.index))
            if bootstrap and isinstance(forecaster, RidgeForecaster) and settings.primary_model in computed:
                covariates = model_covariates(settings.primary_model, selected, controls)
                terms.setdefault(spec, []).append(fold_terms(
                    cube, covariates, requests, forecaster.alpha, settings.cw_bootstrap_draws, spec.horizon,
                    settings.seed + fold.index))
            advance(len(requests))
    tests = {spec: bootstrap_test(parts, spec.horizon - 1) for spec, parts in terms.items()}
    return pd.concat(rows, ignore_index=True), models, {spec: test for spec, test in tests.items() if test}
