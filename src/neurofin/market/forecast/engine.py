"""Batched forecasts of many origins at once: the ridge and zero forecasters on numpy arrays, others per origin.

The business-day grid becomes a dense (ticker, column, day) cube, built once per fold (the caller passes it to
every target's call) or per call, and each model's regressors a `Design` (a control's kept by the cube). For
the ridge forecaster (`RidgeForecaster`, whose per-view `forecast` is the reference) every ticker and origin is
fitted in one batch (batched_ridge.py). Other forecasters (Chronos-2) go through `forecast_view` per origin,
batched over tickers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurofin.market.forecast.batched_ridge import (
    Design,
    Forecasts,
    column_means,
    historical_mean,
    ridge_forecasts,
    ridge_means,
)
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
    """A dense business-day grid as arrays: `by_column[t, k, d]` = column k of ticker t on day d (sorted; each
    column's days contiguous). Built once per fold, it keeps the controls' designs: every target of the fold reads
    the same ones."""

    tickers: np.ndarray
    days: pd.DatetimeIndex
    columns: dict[str, int]
    by_column: np.ndarray
    designs: dict[tuple, Design] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_grid(cls, grid: pd.DataFrame, columns: Sequence[str] | None = None) -> GridCube:
        """Cube of `columns` (floats; default every numeric column) from grid rows (ticker, timestamp, ...); every
        ticker must have every day."""
        if columns is None:
            columns = [c for c in grid.select_dtypes("number").columns if c != "is_session"]
        codes, tickers = pd.factorize(grid["ticker"], sort=True)
        day_codes, days = pd.factorize(grid["timestamp"], sort=True)
        if len(grid) != len(tickers) * len(days):
            raise ValueError("the grid is not dense: every ticker needs one row per business day (business_day_frame)")
        order = np.lexsort((day_codes, codes))
        values = grid[list(columns)].to_numpy(float)[order].reshape(len(tickers), len(days), len(columns))
        return cls(np.asarray(tickers, dtype=object), pd.DatetimeIndex(days), {c: k for k, c in enumerate(columns)},
                   np.ascontiguousarray(values.transpose(0, 2, 1)))

    @property
    def values(self) -> np.ndarray:
        """(T, D, K) view: `values[t, d, k]` = column k of ticker t on day d."""
        return self.by_column.transpose(0, 2, 1)

    def design(self, rows: np.ndarray, covariates: Sequence[tuple[Sequence[str], Sequence[str]]]) -> Design:
        """`build_design` of the tickers at `rows` with these covariates. A design whose covariates are the same for
        every ticker (a control's) is kept and reused by every target; per-ticker selections are built each time."""
        shared = {(tuple(past), tuple(known)) for past, known in covariates}
        if len(shared) != 1:
            return build_design(self, covariates, rows)
        key = (tuple(rows), *shared)
        if key not in self.designs:
            self.designs[key] = build_design(self, covariates, rows)
        return self.designs[key]

    def day(self, stamps: Sequence[pd.Timestamp]) -> np.ndarray:
        """Index of each stamp among the days (-1 before the first day; the last day at or before it)."""
        return self.days.searchsorted(pd.DatetimeIndex(stamps), side="right") - 1

    def with_columns(self, sources: Mapping[str, str]) -> GridCube:
        """This cube with each column's values replaced by those of its source column (`sources`: column -> source;
        a planted panel's target columns); the designs kept (covariates only) are shared with this cube."""
        by_column = self.by_column.copy()
        for column, source in sources.items():
            by_column[:, self.columns[column]] = self.by_column[:, self.columns[source]]
        return GridCube(self.tickers, self.days, self.columns, by_column, self.designs)

    def rows_of(self, tickers: np.ndarray) -> np.ndarray:
        """The cube's ticker index of each of `tickers` (sorted), every one of which must be in the cube."""
        index = np.minimum(np.searchsorted(self.tickers, tickers), max(len(self.tickers) - 1, 0))
        if len(self.tickers) == 0 or list(self.tickers[index]) != list(tickers):
            raise ValueError("every ticker to forecast needs rows in the grid")
        return index




def build_design(cube: GridCube, covariates: Sequence[tuple[Sequence[str], Sequence[str]]],
                 rows: np.ndarray | None = None) -> Design:
    """The design of one model: `covariates[t]` = (past columns, known-future columns) of cube ticker t (of the
    ticker at `rows[t]` when given)."""
    width = np.array([len(past) + len(known) for past, known in covariates], dtype=int)
    p = int(width.max(initial=0))
    index = np.full((len(covariates), p), -1)
    past = np.ones((len(covariates), p), dtype=bool)
    for t, (past_columns, known_columns) in enumerate(covariates):
        names = [*past_columns, *known_columns]
        index[t, : len(names)] = [cube.columns[c] for c in names]
        past[t, len(past_columns) : len(names)] = False
    rows = np.arange(len(cube.tickers)) if rows is None else rows
    source = cube.by_column[rows[:, None], np.maximum(index, 0)]  # (T, p, D): whole columns, copied
    source[index < 0] = 0.0
    return Design(source, past, width)



Covariates = Mapping[str, tuple[Sequence[str], Sequence[str]]]  # ticker -> (past columns, known-future columns)


def forecast_requests(
    models: Mapping[str, tuple[Forecaster, Covariates]], grid: pd.DataFrame, requests: Sequence[OriginRequest],
    quantile_levels: Sequence[float], cube: GridCube | None = None, bands: bool = True,
) -> pd.DataFrame:
    """Forecasts of every request by each model (name -> (forecaster, covariates)) for each ticker of its covariates.

    Rows ticker, mean, median, q..., model, session, origin; by session, then model (in the given order),
    then ticker. Ridge and zero forecasters are computed batched over tickers and origins (same values as
    their per-view `forecast`); any other forecaster, or a subclass that overrides `forecast`, is called per
    origin through `forecast_view` (batched over tickers). `cube`: the grid's `GridCube` (every ticker and column
    the ridge models read), when the caller shares one across calls on the same grid. `bands=False`: the batched
    ridge models give their means only, NaN medians and quantiles (`ridge_forecasts`; their historical-mean
    fallback without its leave-one-out quantiles).
    """
    requests = sorted(requests, key=lambda r: r.session)
    batched = {name: job for name, job in models.items() if is_batched(job[0])}
    columns = ["ticker", "mean", "median", *[quantile_column(q) for q in quantile_levels], "model", "session", "origin"]
    parts = [_batched(batched, grid, requests, quantile_levels, cube, bands)] if batched else []
    if batched and len(batched) == len(models):  # already in the final order
        return parts[0]
    for name, (forecaster, covariates) in models.items():
        if name not in batched:
            parts.extend(forecast_view(forecaster, origin_view(grid, r.origin, r.session, r.column, r.known_through),
                                       covariates, quantile_levels).assign(model=name, session=r.session, origin=r.origin)
                         for r in requests)
    return in_request_order(pd.concat(parts, ignore_index=True), list(models))[columns]


def in_request_order(rows: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    """Forecast rows by session, then model (in the given order), then ticker (stable: ties keep their order)."""
    model, names = pd.factorize(rows["model"])  # codes: faster than mapping (or sorting) the strings
    rank = np.array([list(models).index(name) for name in names], dtype=int)[model]
    ticker = pd.factorize(rows["ticker"], sort=True)[0]
    order = np.lexsort((ticker, rank, rows["session"].to_numpy()))
    return rows.iloc[order].reset_index(drop=True)


_BATCHED = (RidgeForecaster.forecast, ZeroForecaster.forecast)


def is_batched(forecaster: Forecaster) -> bool:
    """Whether the forecaster's forecasts are computed batched (ridge and zero, not a subclass overriding `forecast`)."""
    return type(forecaster).forecast in _BATCHED


def _batched(
    models: Mapping[str, tuple[Forecaster, Covariates]], grid: pd.DataFrame, requests: Sequence[OriginRequest],
    quantile_levels: Sequence[float], cube: GridCube | None, bands: bool = True,
) -> pd.DataFrame:
    """Ridge and zero forecasts of every request, one cube for all models, batched over tickers and origins (rows in
    `forecast_requests`' order: by session, then model, then ticker)."""
    tickers = np.array(sorted({t for _, covariates in models.values() for t in covariates}), dtype=object)
    targets = list(dict.fromkeys(r.column for r in requests))
    names = list(dict.fromkeys(c for _, covariates in models.values() for past, known in covariates.values()
                               for c in [*past, *known]))
    cube = cube or GridCube.from_grid(grid[grid["ticker"].isin(tickers)], [*targets, *names])
    index = cube.rows_of(tickers)
    levels = np.asarray(quantile_levels, dtype=float)
    blocks: dict[str, list[np.ndarray]] = {key: [] for key in ("ticker", "mean", "median", "band", "model", "request")}
    for column in targets:
        k = cube.columns[column]
        chosen = [j for j, r in enumerate(requests) if r.column == column]
        origin_day, target_day, known_day = (cube.day([getattr(requests[j], a) for j in chosen])
                                             for a in ("origin", "session", "known_through"))
        if np.any(target_day <= origin_day):
            raise ValueError("every target session must be a grid day after its origin")
        fallback = (historical_mean(cube.by_column[index, k], known_day, levels) if bands else
                    _means_only(column_means(cube.by_column[index, k, :, None], known_day)[..., 0], levels.size))
        for m, (forecaster, covariates) in enumerate(models.values()):
            local = np.searchsorted(tickers, sorted(covariates))
            rows = index[local]
            if isinstance(forecaster, RidgeForecaster):
                design = cube.design(rows, [covariates[t] for t in tickers[local]])
                result = ridge_forecasts(design, cube.by_column[rows, k], origin_day, target_day, known_day,
                                         forecaster.alpha, levels,
                                         Forecasts(fallback.mean[local], fallback.median[local], fallback.band[local]),
                                         bands)
            else:
                shape = (rows.size, len(chosen))
                result = Forecasts(np.zeros(shape), np.zeros(shape), np.full((*shape, levels.size), np.nan))
            blocks["ticker"].append(np.repeat(local, len(chosen)))
            blocks["mean"].append(result.mean.ravel())
            blocks["median"].append(result.median.ravel())
            blocks["band"].append(result.band.reshape(-1, levels.size))
            blocks["model"].append(np.full(result.mean.size, m))
            blocks["request"].append(np.tile(chosen, rows.size))
    return _table(blocks, tickers, list(models), requests, quantile_levels)


def _means_only(mean: np.ndarray, levels: int) -> Forecasts:
    """Forecasts with these means, NaN medians and quantile bands (`levels` quantiles)."""
    return Forecasts(mean, np.full(mean.shape, np.nan), np.full((*mean.shape, levels), np.nan))


def _table(blocks: Mapping[str, list[np.ndarray]], tickers: np.ndarray, models: Sequence[str],
           requests: Sequence[OriginRequest], quantile_levels: Sequence[float]) -> pd.DataFrame:
    """Forecast rows (`forecast_requests`' columns and order) from blocks of ticker, mean, median, band, model and
    request indices."""
    ticker, mean, median, band, model, request = (np.concatenate(blocks[key]) for key in
                                                  ("ticker", "mean", "median", "band", "model", "request"))
    sessions, origins = (pd.DatetimeIndex([getattr(r, a) for r in requests]).to_numpy() for a in ("session", "origin"))
    order = np.lexsort((ticker, model, sessions[request]))  # stable: ties keep the block order
    request, band = request[order], band[order]
    return pd.DataFrame({
        "ticker": tickers[ticker[order]], "mean": mean[order], "median": median[order],
        **{quantile_column(q): band[:, j] for j, q in enumerate(quantile_levels)},
        "model": np.array(list(models), dtype=object)[model[order]], "session": sessions[request],
        "origin": origins[request],
    })


def shared_means(
    models: Mapping[str, tuple[Forecaster, Covariates]], cube: GridCube, requests: Sequence[OriginRequest],
    columns: Sequence[str], quantile_levels: Sequence[float],
) -> list[pd.DataFrame]:
    """The means of `forecast_requests(models, ...)` read with each of `columns` as the requests' target column (one
    table per column, its rows and order; medians and quantiles NaN), each ridge model fitted once for every column
    whose missing cells are the same (`ridge_means`: the mean is linear in the target). What a power grid's
    baselines and controls need: their regressors are the same for every planted panel. Ridge and zero forecasters
    only; every request reads one target column."""
    if not all(is_batched(forecaster) for forecaster, _ in models.values()):
        raise ValueError("shared_means fits ridge and zero forecasters only")
    if len({r.column for r in requests}) > 1:
        raise ValueError("shared_means: every request reads the same target column")
    requests = sorted(requests, key=lambda r: r.session)
    tickers = np.array(sorted({t for _, covariates in models.values() for t in covariates}), dtype=object)
    index = cube.rows_of(tickers)
    origin_day, target_day, known_day = (cube.day([getattr(r, a) for r in requests])
                                         for a in ("origin", "session", "known_through"))
    targets = cube.by_column[index][:, [cube.columns[c] for c in columns]].transpose(0, 2, 1)  # (T, D, K)
    missing = [np.isnan(targets[..., k]).tobytes() for k in range(len(columns))]
    together = [np.flatnonzero([key == shared for key in missing]) for shared in dict.fromkeys(missing)]
    blocks: list[dict[str, list[np.ndarray]]] = [{key: [] for key in ("ticker", "mean", "median", "band", "model",
                                                                      "request")} for _ in columns]
    for m, (forecaster, covariates) in enumerate(models.values()):
        alpha = forecaster.alpha if isinstance(forecaster, RidgeForecaster) else 0.0
        local = np.searchsorted(tickers, sorted(covariates))
        means = np.zeros((local.size, len(requests), len(columns)))
        width = np.array([len(past) + len(known) for past, known in (covariates[t] for t in tickers[local])])
        for size in np.unique(width) if isinstance(forecaster, RidgeForecaster) else ():
            same = np.flatnonzero(width == size)  # fitted without padding columns, as `ridge_forecasts` does
            design = cube.design(index[local[same]], [covariates[t] for t in tickers[local[same]]])
            for ks in together:
                means[np.ix_(same, np.arange(len(requests)), ks)] = ridge_means(
                    design, targets[local[same]][..., ks], origin_day, target_day, known_day, alpha)
        for k, block in enumerate(blocks):
            block["ticker"].append(np.repeat(local, len(requests)))
            block["mean"].append(means[..., k].ravel())
            block["median"].append(np.full(means[..., k].size, np.nan))
            block["band"].append(np.full((means[..., k].size, len(quantile_levels)), np.nan))
            block["model"].append(np.full(means[..., k].size, m))
            block["request"].append(np.tile(np.arange(len(requests)), local.size))
    return [_table(block, tickers, list(models), requests, quantile_levels) for block in blocks]
