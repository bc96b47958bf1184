"""The forecast loop: every distinct model variant forecasts each test session of each fold and target.

Each session is forecast from data up to the previous exchange session only (for an h-session target, from rows
whose target is realised by then: targets.known_through). A forecaster declares the models identical to another
by construction (`Forecaster.identical`); those are not recomputed here (the backtest copies them).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate.variants import AUGMENTED, BASELINES, CONTROLS, MODELS
from neurofin.market.evaluate.walk_forward import Fold, MarketData, available_models, control_columns, fold_grid
from neurofin.market.forecast.models import (
    LAG_SUFFIX,
    Forecaster,
    OriginView,
    RidgeForecaster,
    ZeroForecaster,
    forecast_view,
    origin_view,
)
from neurofin.market.panel.targets import known_through
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
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def baseline_forecasters(settings: MarketSettings) -> dict[str, Forecaster]:
    """The naive baselines that do not depend on the chosen forecaster (zero, historical mean)."""
    return {"zero": ZeroForecaster(), "hist_mean": RidgeForecaster(settings.ridge_alpha, "hist_mean")}


def forecast_models(
    models: Sequence[str], forecaster: Forecaster, view: OriginView, selected: dict[str, list[str]],
    controls: dict[str, list[str]], settings: MarketSettings,
) -> pd.DataFrame:
    """Forecasts of the view's target session for each model variant (rows ticker, model, mean, median, q...)."""
    baselines = baseline_forecasters(settings)
    parts = [
        forecast_view(baselines.get(model, forecaster), view, model_covariates(model, selected, controls),
                      settings.quantile_levels).assign(model=model)
        for model in models
    ]
    return pd.concat(parts, ignore_index=True)


def identical_models(forecaster: Forecaster) -> dict[str, str]:
    """Model -> the model it equals by construction for this forecaster (e.g. ridge: univariate -> hist_mean)."""
    return dict(forecaster.identical)


def forecast_folds(
    data: MarketData, folds: Sequence[Fold], selections: dict[str, list[Selection]], forecaster: Forecaster,
    settings: MarketSettings, progress: Progress | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Forecast rows of every distinct model variant, target and test session (columns model, target, horizon,
    session, origin, fold, ticker, mean, quantiles) and the models of the last fold (identical ones included)."""
    identical = identical_models(forecaster)
    position = {s: i for i, s in enumerate(data.sessions)}
    rows, models = [], list(MODELS)
    total = len(data.specs) * sum(len(f.test_sessions) for f in folds)
    advance = report(progress).task("walk-forward backtest (forecasts)", total=total)
    for fold in folds:
        grid, components = fold_grid(data, fold.train_start, fold.train_end, settings)
        controls = control_columns(data, components)
        models = available_models(data, components)
        computed = [model for model in models if model not in identical]
        for spec in data.specs:
            selected = selections[spec.kind][fold.index].selected
            for target in fold.test_sessions:
                origin = position[target] - 1
                view = origin_view(grid, data.sessions[origin], target, spec.column,
                                   known_through(data.sessions, origin, spec.horizon))
                out = forecast_models(computed, forecaster, view, selected, controls, settings)
                rows.append(out.assign(target=spec.kind, horizon=spec.horizon, session=target,
                                       origin=data.sessions[origin], fold=fold.index))
                advance(1)
    return pd.concat(rows, ignore_index=True), models
