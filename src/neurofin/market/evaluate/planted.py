"""The forecasts a verdict reads, for many planted panels at once (a power grid's, evaluate/power.py).

Planted panels are the user's data with other prices (`walk_forward.with_prices`): the same tickers, sessions,
features and missing cells, other target columns. Per fold, what no return changes is done once for every panel:
the fold's grid (its embedding PCA once per seed), its cube, the universe, the requests, and the models whose
regressors read no selection (the baselines and the controls), fitted for every panel in one design pass
(`engine.shared_means`). Per panel remain the models that read its selection (the ROI models, each control+roi)
and, with a ridge forecaster and market.cw_bootstrap, the primary model's Clark-West bootstrap terms. Each panel's
table equals `forecast_folds(..., only=...)` on that panel (tests/market/test_power.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.evaluate.cw_bootstrap import BootstrapTest, FoldTerms, bootstrap_test, fold_terms
from neurofin.market.evaluate.forecast_loop import (
    baseline_forecasters,
    bootstraps_clark_west,
    forecast_models,
    identical_models,
    model_covariates,
)
from neurofin.market.evaluate.universe import fold_universe
from neurofin.market.evaluate.walk_forward import (
    Fold,
    MarketData,
    available_models,
    control_columns,
    fold_grid,
    target_columns,
)
from neurofin.market.forecast.engine import (
    Covariates,
    GridCube,
    OriginRequest,
    in_request_order,
    is_batched,
    shared_means,
)
from neurofin.market.forecast.models import Forecaster, RidgeForecaster
from neurofin.market.panel.targets import TargetSpec, known_through
from neurofin.market.selection.gate import Selection

KEYS = ["ticker", "timestamp"]


def _key(covariates: Covariates) -> tuple:
    """A model's regressors (ticker -> past and known-future columns) as a hashable key."""
    return tuple((ticker, tuple(past), tuple(known)) for ticker, (past, known) in sorted(covariates.items()))


def planted_forecasts(
    panels: Sequence[MarketData], folds: Sequence[Fold], selections: Sequence[dict[str, list[Selection]]],
    forecaster: Forecaster, settings: Sequence[MarketSettings], only: Collection[str],
) -> list[tuple[pd.DataFrame, dict[TargetSpec, BootstrapTest]]]:
    """Per panel, `forecast_folds(panel, folds, selection, forecaster, settings, only=only)`'s forecast rows and
    bootstrap tests (module doc). The panels share their grid but for the target columns; the settings differ in
    their seed at most."""
    first = panels[0]
    targets = target_columns(first.specs)
    if any(not p.grid[KEYS].equals(first.grid[KEYS]) or p.specs != first.specs for p in panels):
        raise ValueError("planted panels share the user's grid rows and targets (with_prices)")
    identical = identical_models(forecaster)
    position = {s: i for i, s in enumerate(first.sessions)}
    rows: list[list[pd.DataFrame]] = [[] for _ in panels]
    terms: list[dict[TargetSpec, list[FoldTerms]]] = [{} for _ in panels]
    groups: dict[int | None, list[int]] = {}  # panels sharing a fold grid: every one, or one seed with an embedding PCA
    for k, s in enumerate(settings):
        groups.setdefault(s.seed if first.embedding else None, []).append(k)
    for fold in folds:
        universe = fold_universe(first.panel, fold.train_start, fold.train_end, settings[0].min_comments)
        for members in groups.values():
            grid, components, _ = fold_grid(first, fold.train_start, fold.train_end, settings[members[0]])
            controls = control_columns(first, components)
            computed = [m for m in available_models(first, components) if m not in identical and m in only]
            baselines = baseline_forecasters(settings[members[0]])
            planted = {f"{c}@{k}": panels[k].grid[c].to_numpy() for c in targets for k in members}
            cube = GridCube.from_grid(grid.assign(**planted))
            for spec in first.specs:
                requests = [OriginRequest(first.sessions[position[target] - 1], target, spec.column,
                                          known_through(first.sessions, position[target] - 1, spec.horizon))
                            for target in fold.test_sessions]
                picked = {k: {t: f for t, f in selections[k][spec.kind][fold.index].selected.items() if t in universe}
                          for k in members}
                tables: dict[int, list[pd.DataFrame]] = {k: [] for k in members}
                calls: dict[tuple[int, ...], dict[str, tuple[Forecaster, Covariates]]] = {}
                for model in computed:  # batched: one call per set of panels whose model reads the same regressors
                    if is_batched(baselines.get(model, forecaster)):
                        alike: dict[tuple, list[int]] = {}
                        for k in members:
                            alike.setdefault(_key(model_covariates(model, picked[k], controls)), []).append(k)
                        for same in alike.values():
                            calls.setdefault(tuple(same), {})[model] = (
                                baselines.get(model, forecaster), model_covariates(model, picked[same[0]], controls))
                for group, jobs in calls.items():
                    columns = [f"{spec.column}@{k}" for k in group]
                    levels = settings[group[0]].quantile_levels
                    for k, table in zip(group, shared_means(jobs, cube, requests, columns, levels), strict=True):
                        tables[k].append(table)
                alone = [model for model in computed if all(model not in jobs for jobs in calls.values())]
                for k in members:
                    bootstrap = bootstraps_clark_west(forecaster, settings[k]) and settings[k].primary_model in computed
                    own = cube.with_columns({c: f"{c}@{k}" for c in targets}) if alone or bootstrap else cube
                    if alone:  # the other forecasters, per panel on its own grid
                        own_grid = grid.assign(**{c: planted[f"{c}@{k}"] for c in targets})
                        tables[k].append(forecast_models(alone, forecaster, own_grid, requests, picked[k], controls,
                                                         settings[k], own, bands=False))
                    out = (tables[k][0] if len(tables[k]) == 1 else  # one call: already in `computed` order
                           in_request_order(pd.concat(tables[k], ignore_index=True), computed))
                    rows[k].append(out.assign(target=spec.kind, horizon=spec.horizon, session=out.pop("session"),
                                              origin=out.pop("origin"), fold=fold.index))
                    if bootstrap and isinstance(forecaster, RidgeForecaster):
                        terms[k].setdefault(spec, []).append(fold_terms(
                            own, model_covariates(settings[k].primary_model, picked[k], controls), requests,
                            forecaster.alpha, settings[k].cw_bootstrap_draws, spec.horizon, settings[k].seed + fold.index))
    out = []
    for table, parts in zip(rows, terms, strict=True):
        tests = {spec: bootstrap_test(p, spec.horizon - 1) for spec, p in parts.items()}
        out.append((pd.concat(table, ignore_index=True), {spec: test for spec, test in tests.items() if test}))
    return out
