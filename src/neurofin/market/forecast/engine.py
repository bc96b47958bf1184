"""Batched forecasts of many origins at once: the ridge and zero forecasters on numpy arrays, others per origin.

The business-day grid becomes a dense (ticker, day, column) cube, built once per call, and each model's
regressors a `Design`. For the ridge forecaster (`RidgeForecaster`, whose per-view `forecast` is the
reference) every ticker and origin is fitted in one batch (batched_ridge.py). Other forecasters (Chronos-2) go through `forecast_view` per origin, batched over tickers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.market.forecast.batched_ridge import Design, Forecasts, historical_mean, ridge_forecasts
from neurofin.market.forecast.models import (
    Forecaster,
    RidgeForecaster,
    ZeroForecaster,
    forecast_view,
    origin_view,
    quantile_column,
)


@dataclass(frozen=True)
class OriginRequest:
    """One forecast: the target session from the grid up to `origin`, targets from `column` realised by `known_through`."""

    origin: pd.Timestamp
    session: pd.Timestamp
    column: str
    known_through: pd.Timestamp


@dataclass(frozen=True)
class GridCube:
    """A dense business-day grid as arrays: `values[t, d, k]` = column k of ticker t on day d (sorted)."""

    tickers: np.ndarray
    days: pd.DatetimeIndex
    columns: dict[str, int]
    values: np.ndarray

    @classmethod
    def from_grid(cls, grid: pd.DataFrame, columns: Sequence[str]) -> GridCube:
        """Cube of `columns` (floats) from grid rows (ticker, timestamp, ...); every ticker must have every day."""
        codes, tickers = pd.factorize(grid["ticker"], sort=True)
        day_codes, days = pd.factorize(grid["timestamp"], sort=True)
        if len(grid) != len(tickers) * len(days):
            raise ValueError("the grid is not dense: every ticker needs one row per business day (business_day_frame)")
        order = np.lexsort((day_codes, codes))
        values = grid[list(columns)].to_numpy(float)[order].reshape(len(tickers), len(days), len(columns))
        return cls(np.asarray(tickers, dtype=object), pd.DatetimeIndex(days), {c: k for k, c in enumerate(columns)},
                   values)

    def day(self, stamps: Sequence[pd.Timestamp]) -> np.ndarray:
        """Index of each stamp among the days (-1 before the first day; the last day at or before it)."""
        return self.days.searchsorted(pd.DatetimeIndex(stamps), side="right") - 1




def build_design(cube: GridCube, covariates: Sequence[tuple[Sequence[str], Sequence[str]]]) -> Design:
    """The design of one model: `covariates[t]` = (past columns, known-future columns) of cube ticker t."""
    width = np.array([len(past) + len(known) for past, known in covariates], dtype=int)
    p = int(width.max(initial=0))
    index = np.full((len(covariates), p), -1)
    past = np.ones((len(covariates), p), dtype=bool)
    for t, (past_columns, known_columns) in enumerate(covariates):
        names = [*past_columns, *known_columns]
        index[t, : len(names)] = [cube.columns[c] for c in names]
        past[t, len(past_columns) : len(names)] = False
    gathered = np.take_along_axis(cube.values, np.maximum(index, 0)[:, None, :], axis=2)
    source = np.where(index[:, None, :] >= 0, gathered, 0.0)
    return Design(source, past, width)



Covariates = Mapping[str, tuple[Sequence[str], Sequence[str]]]  # ticker -> (past columns, known-future columns)


def forecast_requests(
    models: Mapping[str, tuple[Forecaster, Covariates]], grid: pd.DataFrame, requests: Sequence[OriginRequest],
    quantile_levels: Sequence[float],
) -> pd.DataFrame:
    """Forecasts of every request by each model (name -> (forecaster, covariates)) for each ticker of its covariates.

    Rows ticker, mean, median, q..., model, session, origin; by session, then model (in the given order),
    then ticker. Ridge and zero forecasters are computed batched over tickers and origins (same values as
    their per-view `forecast`); any other forecaster, or a subclass that overrides `forecast`, is called per
    origin through `forecast_view` (batched over tickers).
    """
    requests = sorted(requests, key=lambda r: r.session)
    batched = {name: job for name, job in models.items() if type(job[0]).forecast in _BATCHED}
    parts = [_batched(batched, grid, requests, quantile_levels)] if batched else []
    for name, (forecaster, covariates) in models.items():
        if name not in batched:
            parts.extend(forecast_view(forecaster, origin_view(grid, r.origin, r.session, r.column, r.known_through),
                                       covariates, quantile_levels).assign(model=name, session=r.session, origin=r.origin)
                         for r in requests)
    out = pd.concat(parts, ignore_index=True)
    rank = out["model"].map({name: k for k, name in enumerate(models)})
    order = np.lexsort((out["ticker"].to_numpy(), rank.to_numpy(), out["session"].to_numpy()))
    columns = ["ticker", "mean", "median", *[quantile_column(q) for q in quantile_levels], "model", "session", "origin"]
    return out.iloc[order][columns].reset_index(drop=True)


_BATCHED = (RidgeForecaster.forecast, ZeroForecaster.forecast)


def _batched(
    models: Mapping[str, tuple[Forecaster, Covariates]], grid: pd.DataFrame, requests: Sequence[OriginRequest],
    quantile_levels: Sequence[float],
) -> pd.DataFrame:
    """Ridge and zero forecasts of every request, one cube for all models, batched over tickers and origins."""
    tickers = sorted({t for _, covariates in models.values() for t in covariates})
    targets = list(dict.fromkeys(r.column for r in requests))
    names = list(dict.fromkeys(c for _, covariates in models.values() for past, known in covariates.values()
                               for c in [*past, *known]))
    cube = GridCube.from_grid(grid[grid["ticker"].isin(tickers)], [*targets, *names])
    if list(cube.tickers) != tickers:
        raise ValueError("every ticker to forecast needs rows in the grid")
    levels = np.asarray(quantile_levels, dtype=float)
    blocks = []
    for k, column in enumerate(targets):
        chosen = [r for r in requests if r.column == column]
        origin_day, target_day, known_day = (cube.day([getattr(r, a) for r in chosen])
                                             for a in ("origin", "session", "known_through"))
        if np.any(target_day <= origin_day):
            raise ValueError("every target session must be a grid day after its origin")
        fallback = historical_mean(cube.values[..., k], known_day, levels)
        for name, (forecaster, covariates) in models.items():
            rows = np.searchsorted(cube.tickers, sorted(covariates))
            if isinstance(forecaster, RidgeForecaster):
                design = build_design(cube, [covariates[t] for t in cube.tickers[rows]])
                result = ridge_forecasts(design, cube.values[rows, :, k], origin_day, target_day, known_day,
                                         forecaster.alpha, levels,
                                         Forecasts(fallback.mean[rows], fallback.median[rows], fallback.band[rows]))
            else:
                shape = (rows.size, len(chosen))
                result = Forecasts(np.zeros(shape), np.zeros(shape), np.full((*shape, levels.size), np.nan))
            blocks.append(pd.DataFrame({
                "ticker": np.repeat(cube.tickers[rows], len(chosen)), "mean": result.mean.ravel(),
                "median": result.median.ravel(),
                **{quantile_column(q): result.band[..., j].ravel() for j, q in enumerate(quantile_levels)},
                "model": name,
                "session": np.tile(pd.DatetimeIndex([r.session for r in chosen]).to_numpy(), rows.size),
                "origin": np.tile(pd.DatetimeIndex([r.origin for r in chosen]).to_numpy(), rows.size),
            }))
    return pd.concat(blocks, ignore_index=True)
