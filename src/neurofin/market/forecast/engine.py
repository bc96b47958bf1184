"""Batched forecasts of many origins at once: the ridge and zero forecasters on numpy arrays, others per origin.

The business-day grid becomes a dense (ticker, day, column) cube, built once per call. For the ridge
forecaster (`RidgeForecaster`, whose per-view `forecast` is the reference) every ticker and origin is
fitted in one batch: the normal equations of each origin's expanding window are running sums over the
rows known at that origin (row sums accumulated once, read at every origin's boundary), the ridge solves
are stacked over (ticker, origin), and the leave-one-out residual bands come from one sort per origin.
Numerically the sums are taken around a per-ticker shift (the mean of the first origin's rows), which
changes nothing mathematically and keeps the centred cross-products accurate.

`ridge_means` fits many target columns of the same design at once (means only): ridge forecasts are
linear in the target, so a power grid of planted targets costs one design pass.
Other forecasters (Chronos-2) go through `forecast_view` per origin, batched over tickers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.market.forecast.models import (
    MIN_FIT_ROWS,
    Forecaster,
    RidgeForecaster,
    ZeroForecaster,
    forecast_view,
    origin_view,
    quantile_column,
)

CHUNK_ELEMENTS = 4_000_000  # tickers per batch are chosen so that no intermediate array exceeds about this many floats


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


@dataclass(frozen=True)
class Design:
    """Regressors of one model for every ticker: `rows[t, d]` explains day d's target, `past[t, j]` tells whether
    column j is a past covariate (row d reads day d-1, the query the origin) or known-future (row d reads day d,
    the query the target session). Tickers with fewer columns are padded with zeros (`width[t]` real columns),
    which leaves a standardised ridge fit unchanged."""

    source: np.ndarray  # (T, D, p) covariate values on their own day
    past: np.ndarray  # (T, p) bool
    width: np.ndarray  # (T,) real columns per ticker

    @property
    def rows(self) -> np.ndarray:
        """(T, D, p) regressors of each day's target."""
        lagged = np.concatenate([np.full_like(self.source[:, :1], np.nan), self.source[:, :-1]], axis=1)
        return np.where(self.past[:, None, :], lagged, self.source)

    def query(self, origin_day: np.ndarray, target_day: np.ndarray) -> np.ndarray:
        """(T, O, p) regressors of each origin's forecast."""
        return np.where(self.past[:, None, :], self.source[:, origin_day], self.source[:, target_day])


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


@dataclass(frozen=True)
class Forecasts:
    """Per (ticker, origin): mean, median and the quantile band (T, O, L)."""

    mean: np.ndarray
    median: np.ndarray
    band: np.ndarray


def _chunks(n_tickers: int, per_ticker: int) -> list[slice]:
    """Ticker slices whose intermediate arrays stay under CHUNK_ELEMENTS floats."""
    size = max(1, CHUNK_ELEMENTS // max(per_ticker, 1))
    return [slice(start, min(start + size, n_tickers)) for start in range(0, n_tickers, size)]


def _window(known_day: np.ndarray, n_days: int) -> np.ndarray:
    """(O, D) 0/1 weights: row d is in origin o's fitting window (d <= known_day[o])."""
    return (np.arange(n_days)[None, :] <= known_day[:, None]).astype(float)


def _sorted_quantiles(values: np.ndarray, valid: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear-interpolation quantiles (numpy's default) and the median of the valid entries of each row of (..., D).

    Returns (quantiles (..., L), median (...)); rows with no valid entry give NaN.
    """
    ordered = np.sort(np.where(valid, values, np.inf), axis=-1)
    count = valid.sum(axis=-1)

    def at(position: np.ndarray) -> np.ndarray:
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, np.maximum(count[..., None] - 1, 0))
        a = np.take_along_axis(ordered, np.clip(low, 0, None), axis=-1)
        b = np.take_along_axis(ordered, high, axis=-1)
        with np.errstate(invalid="ignore"):  # rows without entries: inf - inf, masked below
            out = a + (b - a) * (position - low)
        return np.where(count[..., None] > 0, out, np.nan)

    quantiles = at((np.maximum(count, 1) - 1)[..., None] * levels)
    return quantiles, at((np.maximum(count, 1) - 1)[..., None] * np.array([0.5]))[..., 0]


def historical_mean(target: np.ndarray, known_day: np.ndarray, levels: np.ndarray) -> Forecasts:
    """The ridge forecaster without covariates: mean of the realised targets and their leave-one-out quantiles.

    `target` (T, D); origin o reads days <= known_day[o]. Fewer than two targets: no spread (mean, or 0).
    """
    observed = np.isfinite(target)[:, None, :] & (np.arange(target.shape[1]) <= known_day[:, None])[None]
    count = observed.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed, target[:, None, :], 0.0).sum(axis=-1) / count
        quantiles, median = _sorted_quantiles(np.broadcast_to(target[:, None, :], observed.shape), observed, levels)
        inflate = np.where(count >= 2, count / (count - 1.0), 0.0)  # LOO residual = (y - mean) * n / (n - 1)
    mean = np.where(count > 0, mean, 0.0)
    spread = np.where(count >= 2, 1.0, 0.0)
    band = mean[..., None] + np.nan_to_num((quantiles - mean[..., None]) * inflate[..., None]) * spread[..., None]
    return Forecasts(mean, mean + np.nan_to_num((median - mean) * inflate) * spread, band)


def _ridge_solve(windows: np.ndarray, rows: np.ndarray, y: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """Per (ticker, origin) standardised ridge fit from running sums: counts, means, scales and the solved system.

    `rows` (T, D, p) shifted regressors (0 where unusable), `y` (T, D) (0 where unusable), `windows` (T, O, D)
    weights of the rows each origin may fit on. `products` (T, D, p(p+1)/2): each row's upper-triangle x x'.
    """
    p = rows.shape[-1]
    upper = np.triu_indices(p)
    products = rows[..., upper[0]] * rows[..., upper[1]]
    n = windows.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = (windows @ y[..., None])[..., 0] / n
        centre = (windows @ rows) / n[..., None]
        summed = np.empty((*n.shape, p, p))
        summed[..., upper[0], upper[1]] = summed[..., upper[1], upper[0]] = windows @ products
        cross = summed - n[..., None, None] * centre[..., :, None] * centre[..., None, :]
        xy = (windows @ (rows * y[..., None])) - n[..., None] * centre * ybar[..., None]
        variance = np.maximum(np.diagonal(cross, axis1=-2, axis2=-1) / n[..., None], 0.0)
        scale = np.sqrt(variance)
        scale = np.where(scale > 0, scale, 1.0)
        gram = cross / (scale[..., :, None] * scale[..., None, :]) + alpha * np.eye(p)
        gram = np.where(np.isfinite(gram), gram, np.eye(p))  # empty windows fall back to the historical mean
        inverse = np.linalg.inv(gram)
        coef = (inverse @ (xy / scale)[..., None])[..., 0]
    return {"n": n, "ybar": ybar, "centre": centre, "scale": scale, "inverse": inverse, "slope": coef / scale,
            "products": products}


def _quadratic(products: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """(T, D, O) x_d' M_o x_d from the rows' upper-triangle products (T, D, p(p+1)/2) and M (T, O, p, p) symmetric."""
    upper = np.triu_indices(metric.shape[-1])
    weights = np.where(upper[0] == upper[1], 1.0, 2.0)
    return products @ np.ascontiguousarray((metric[..., upper[0], upper[1]] * weights).transpose(0, 2, 1))


def _usable(rows: np.ndarray, target: np.ndarray, first_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(usable rows (T, D), rows shifted by the mean of the first window's usable rows and zeroed where unusable, shift)."""
    usable = np.isfinite(target) & np.all(np.isfinite(rows), axis=-1)
    first = usable & (np.arange(target.shape[1]) <= first_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(first[..., None], rows, 0.0).sum(axis=1) / first.sum(axis=1)[:, None]
    shift = np.nan_to_num(shift)
    return usable, np.where(usable[..., None], rows - shift[:, None, :], 0.0), shift


def ridge_forecasts(
    design: Design, target: np.ndarray, origin_day: np.ndarray, target_day: np.ndarray, known_day: np.ndarray,
    alpha: float, levels: Sequence[float] | np.ndarray, fallback: Forecasts | None = None,
) -> Forecasts:
    """`RidgeForecaster.forecast` for every ticker and origin at once (see its docstring for the model).

    `target` (T, D) the target column; per origin o: the origin's day, the target session's day and the
    last day whose target is realised. Tickers without columns, with fewer than MIN_FIT_ROWS usable rows
    or a non-finite query get the historical mean (`fallback`: `historical_mean` of the same target, if known).
    """
    levels_array = np.asarray(levels, dtype=float)
    fallback = fallback or historical_mean(target, known_day, levels_array)
    T, D, p = design.source.shape
    if p == 0:
        return fallback
    mean, median = fallback.mean.copy(), fallback.median.copy()
    band = fallback.band.copy()
    weights = _window(known_day, D)
    for part in _chunks(T, D * max(p * (p + 1) // 2, len(known_day), levels_array.size)):
        sub = Design(design.source[part], design.past[part], design.width[part])
        rows, y = sub.rows, target[part]
        usable, shifted, shift = _usable(rows, y, int(known_day.min()))
        windows = weights[None] * usable[:, None, :]
        fit = _ridge_solve(windows, shifted, np.where(usable, y, 0.0), alpha)
        query = sub.query(origin_day, target_day) - shift[:, None, :]
        forecast = fit["ybar"] + np.einsum("toj,toj->to", query - fit["centre"], fit["slope"])
        metric = fit["inverse"] / (fit["scale"][..., :, None] * fit["scale"][..., None, :])  # S^-1 (Z'Z + aI)^-1 S^-1
        # leverage_d = 1/n + (x_d - c)' M (x_d - c), residual_d = (y_d - ybar - (x_d - c)'b) / (1 - leverage_d)
        with np.errstate(invalid="ignore", divide="ignore"):
            quadratic = _quadratic(fit["products"], metric)
            cross = shifted @ (metric @ fit["centre"][..., None])[..., 0].transpose(0, 2, 1)
            constant = np.einsum("toj,tojk,tok->to", fit["centre"], metric, fit["centre"])
            leverage = 1.0 / fit["n"][:, None, :] + quadratic - 2.0 * cross + constant[:, None, :]
            fitted = shifted @ fit["slope"].transpose(0, 2, 1) - np.einsum("toj,toj->to", fit["centre"], fit["slope"])[:, None, :]
            residuals = ((y[..., None] - fit["ybar"][:, None, :] - fitted) / (1.0 - leverage)).transpose(0, 2, 1)
        quantiles, middle = _sorted_quantiles(residuals, windows > 0, levels_array)
        ok = ((sub.width > 0)[:, None] & (fit["n"] >= MIN_FIT_ROWS)
              & np.all(np.isfinite(query), axis=-1))
        mean[part] = np.where(ok, forecast, mean[part])
        median[part] = np.where(ok, forecast + middle, median[part])
        band[part] = np.where(ok[..., None], forecast[..., None] + quantiles, band[part])
    return Forecasts(mean, median, band)


def ridge_means(
    design: Design, targets: np.ndarray, origin_day: np.ndarray, target_day: np.ndarray, known_day: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Mean forecasts (T, O, K) of K target columns `targets` (T, D, K) that share their missing cells.

    Equal to `ridge_forecasts(...).mean` of each column (the ridge mean is linear in the target once the
    usable rows are fixed): a power grid of planted targets is fitted in one design pass, no quantiles.
    """
    first = targets[..., 0]
    if design.source.shape[-1] == 0:
        return np.stack([historical_mean(targets[..., k], known_day, np.array([0.5])).mean
                         for k in range(targets.shape[-1])], axis=-1)
    out = np.empty((targets.shape[0], len(known_day), targets.shape[-1]))
    weights = _window(known_day, targets.shape[1])
    p = design.source.shape[-1]
    for part in _chunks(targets.shape[0], targets.shape[1] * max(p * (p + 1) // 2, targets.shape[-1] * p, len(known_day))):
        sub = Design(design.source[part], design.past[part], design.width[part])
        usable, shifted, shift = _usable(sub.rows, first[part], int(known_day.min()))
        windows = weights[None] * usable[:, None, :]
        y = np.where(usable[..., None], targets[part], 0.0)
        fit = _ridge_solve(windows, shifted, y[..., 0], alpha)  # the design's part, shared by every column
        query = sub.query(origin_day, target_day) - shift[:, None, :] - fit["centre"]
        with np.errstate(invalid="ignore", divide="ignore"):
            ybar = (windows @ y) / fit["n"][..., None]  # (T, O, K)
            xy = np.einsum("tod,tdj,tdk->tojk", windows, shifted, y) - fit["n"][..., None, None] * (
                fit["centre"][..., :, None] * ybar[..., None, :])
            slope = (fit["inverse"] @ (xy / fit["scale"][..., None])) / fit["scale"][..., None]
            forecast = ybar + np.einsum("toj,tojk->tok", query, slope)
        fallback = np.stack([historical_mean(targets[part, :, k], known_day, np.array([0.5])).mean
                             for k in range(targets.shape[-1])], axis=-1)
        ok = (sub.width > 0)[:, None] & (fit["n"] >= MIN_FIT_ROWS) & np.all(np.isfinite(query), axis=-1)
        out[part] = np.where(ok[..., None], forecast, fallback)
    return out


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
