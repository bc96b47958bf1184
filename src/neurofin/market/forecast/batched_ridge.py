"""Batched ridge algebra: one model's forecasts for every ticker and origin at once (engine.py feeds it).

The normal equations of each origin's expanding window are updated, not recomputed: the days every window
reads are summed once per ticker (BLAS products X'X, X'y), the later days added one at a time (cumulative
sums), and the ridge solves are stacked over (ticker, origin). The leave-one-out residual bands need every
residual of every window (each refit moves them all): leverages and residual numerators come from two batched
products over the days a window can read, and the residuals are sorted once per (ticker, origin). The
historical mean's bands need no refit: one sort per ticker serves every origin, its windows differing by their
last days only. Tickers are grouped by their number of columns (the zero padding left out) and cut into chunks
run on a thread pool (numpy releases the GIL), each BLAS call on one thread. Numerically the sums are taken around a per-ticker shift (the mean of the first origin's rows), which
changes nothing mathematically and keeps the centred cross-products accurate. `ridge_means` fits many target
columns of the same design at once (means only): ridge forecasts are linear in the target, so a power grid of
planted targets (or the Clark-West bootstrap's draws, evaluate/cw_bootstrap.py, with `ridge_fitted`'s full-sample
fits) costs one design pass; their historical means come from one cumulative sum (`column_means`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from neurofin.market.forecast.models import MIN_FIT_ROWS

CHUNK_ELEMENTS = 4_000_000  # tickers per batch are chosen so that no intermediate array exceeds about this many floats
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Design:
    """Regressors of one model for every ticker: `rows[t, :, d]` explains day d's target, `past[t, j]` tells whether
    column j is a past covariate (row d reads day d-1, the query the origin) or known-future (row d reads day d,
    the query the target session). Tickers with fewer columns are padded with zeros (`width[t]` real columns),
    which leaves a standardised ridge fit unchanged."""

    source: np.ndarray  # (T, p, D) covariate values on their own day
    past: np.ndarray  # (T, p) bool
    width: np.ndarray  # (T,) real columns per ticker

    @property
    def rows(self) -> np.ndarray:
        """(T, p, D) regressors of each day's target."""
        rows = self.source.copy()
        rows[..., 1:][self.past] = self.source[..., :-1][self.past]  # a past column reads the day before
        rows[..., :1][self.past] = np.nan
        return rows

    def query(self, origin_day: np.ndarray, target_day: np.ndarray) -> np.ndarray:
        """(T, O, p) regressors of each origin's forecast."""
        return np.where(self.past[..., None], self.source[..., origin_day], self.source[..., target_day]).transpose(0, 2, 1)


@dataclass(frozen=True)
class Forecasts:
    """Per (ticker, origin): mean, median and the quantile band (T, O, L)."""

    mean: np.ndarray
    median: np.ndarray
    band: np.ndarray


def _chunks(n_tickers: int, per_ticker: int) -> list[slice]:
    """Ticker slices whose intermediate arrays stay under CHUNK_ELEMENTS floats; one per worker at least when
    the whole is worth a thread pool (over CHUNK_ELEMENTS / 4 floats)."""
    size = max(1, CHUNK_ELEMENTS // max(per_ticker, 1))
    if n_tickers * per_ticker > CHUNK_ELEMENTS // 4:
        size = min(size, -(-n_tickers // WORKERS))
    return [slice(start, min(start + size, n_tickers)) for start in range(0, n_tickers, size)]


@cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded by numpy (found once)."""
    return ThreadpoolController()


def _in_parallel(job: Callable[[Any], None], parts: Sequence[slice | np.ndarray]) -> None:
    """`job(part)` for every ticker slice (or index array), WORKERS threads at a time (numpy releases the GIL in its loops, sorts and
    BLAS calls), each BLAS call on one thread: the per-ticker products are small, and BLAS threads on top of ours
    only wait for each other."""
    with _blas().limit(limits=1, user_api="blas"):
        if len(parts) <= 1:
            for part in parts:
                job(part)
            return
        with ThreadPoolExecutor(min(WORKERS, len(parts))) as pool:
            list(pool.map(job, parts))


def _interpolated(pick: Callable[[np.ndarray], np.ndarray], count: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles (numpy's default) at `levels` (..., L) of windows of `count` entries, whose
    rank-r entry (ranks (..., L)) is `pick(r)`; windows without entries give NaN."""
    position = (np.maximum(count, 1) - 1)[..., None] * levels
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, np.maximum(count[..., None] - 1, 0))
    a, b = pick(np.clip(low, 0, None)), pick(high)
    with np.errstate(invalid="ignore"):  # windows without entries: inf - inf, masked below
        out = a + (b - a) * (position - low)
    return np.where(count[..., None] > 0, out, np.nan)


def _sorted_pick(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """rank -> entry of (..., D) rows, each row sorted in place (entries outside a window must be +inf)."""
    values.sort(axis=-1)
    return lambda rank: np.take_along_axis(values, rank, axis=-1)


def _growing_pick(values: np.ndarray, known_day: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """rank (T, O, L) -> entry of that rank among the finite values (T, D) of days <= known_day[o], from one sort.

    Every window is the longest one less its days after known_day[o], at sorted positions e_0 < e_1 < ... (at most
    D - known_day.min() of them): e_i has e_i - i window entries before it, so the rank-r entry sits at sorted
    position r + #{i: e_i - i <= r}.
    """
    keys = np.where(np.isfinite(values), values, np.inf)
    order = np.argsort(keys, axis=-1)
    ordered = np.take_along_axis(keys, order, axis=-1)
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.broadcast_to(np.arange(keys.shape[1]), keys.shape), axis=-1)
    first = int(known_day.min())
    later = np.arange(first + 1, keys.shape[1])
    left_out = np.sort(np.where(later > known_day[:, None], position[:, None, first + 1 :], 2 * keys.shape[1]), axis=-1)
    before = left_out - np.arange(later.size)  # (T, O, H) window entries before each left-out position

    def pick(rank: np.ndarray) -> np.ndarray:
        at = np.minimum(rank + (before[..., None, :] <= rank[..., None]).sum(axis=-1), keys.shape[1] - 1)
        return np.take_along_axis(ordered, at.reshape(len(keys), -1), axis=-1).reshape(at.shape)

    return pick


def _historical_means(target: np.ndarray, known_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, O) means of the realised targets (T, D) of each origin's window (0 without any) and their counts."""
    observed = np.isfinite(target)[:, None, :] & (np.arange(target.shape[1]) <= known_day[:, None])[None]
    count = observed.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed, target[:, None, :], 0.0).sum(axis=-1) / count
    return np.where(count > 0, mean, 0.0), count


def historical_mean(target: np.ndarray, known_day: np.ndarray, levels: np.ndarray) -> Forecasts:
    """The ridge forecaster without covariates: mean of the realised targets and their leave-one-out quantiles.

    `target` (T, D); origin o reads days <= known_day[o]. Fewer than two targets: no spread (mean, or 0).
    """
    mean, count = _historical_means(target, known_day)
    days = max(int(known_day.max()) + 1, 1)
    ranked = _interpolated(_growing_pick(target[:, :days], known_day), count, np.append(levels, 0.5))
    quantiles, median = ranked[..., :-1], ranked[..., -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        inflate = np.where(count >= 2, count / (count - 1.0), 0.0)  # LOO residual = (y - mean) * n / (n - 1)
    spread = np.where(count >= 2, 1.0, 0.0)
    band = mean[..., None] + np.nan_to_num((quantiles - mean[..., None]) * inflate[..., None]) * spread[..., None]
    return Forecasts(mean, mean + np.nan_to_num((median - mean) * inflate) * spread, band)


def _upper_products(rows: np.ndarray, tail: Sequence[np.ndarray] = ()) -> np.ndarray:
    """(T, p(p+1)/2 + k, d) upper-triangle products x_i x_j (i <= j, row-major) of rows (T, p, d), then the rows
    of the `tail` arrays (T, k_i, d)."""
    p = rows.shape[1]
    out = np.empty((rows.shape[0], p * (p + 1) // 2 + sum(a.shape[1] for a in tail), rows.shape[2]))
    start = 0
    for i in range(p):
        np.multiply(rows[:, i : i + 1], rows[:, i:], out=out[:, start : start + p - i])
        start += p - i
    for a in tail:
        out[:, start : start + a.shape[1]] = a
        start += a.shape[1]
    return out


def _window_sums(common: np.ndarray, later: np.ndarray, known_day: np.ndarray) -> np.ndarray:
    """(T, O, m) sums over each origin's window (days <= known_day[o]) from the sums `common` (T, m) of the days
    every window reads (<= known_day.min()) and the later days' terms `later` (T, m, known_day.max() -
    known_day.min()): the normal equations of the expanding window are updated day by day (cumulative sums),
    not recomputed per origin."""
    grown = np.concatenate([common[..., None], later], axis=-1)
    np.cumsum(grown, axis=-1, out=grown)
    return grown[..., known_day - known_day.min()].transpose(0, 2, 1)


def _ridge_solve(known_day: np.ndarray, usable: np.ndarray, rows: np.ndarray, y: np.ndarray,
                 alpha: float, tail: Sequence[np.ndarray] = ()) -> dict[str, np.ndarray]:
    """Per (ticker, origin) standardised ridge fit from window sums: counts, means, scales and the solved system.

    `rows` (T, p, d) shifted regressors (0 where unusable) and `y` (T, d) (0 where unusable) of the first d days,
    `usable` (T, d); origin o fits on the usable days <= known_day[o]. The days every window reads are summed by
    BLAS products (X'X, X'y), the later ones added day by day. `products` (T, p(p+1)/2 + k, d): each row's
    upper-triangle x x', then the rows of `tail` (see `_upper_products`).
    """
    p = rows.shape[1]
    upper = np.triu_indices(p)
    products = _upper_products(rows, tail)
    q = p * (p + 1) // 2
    f = int(known_day.min()) + 1
    head = rows[..., :f]
    common = np.concatenate([usable[:, :f].sum(axis=-1)[:, None], y[:, :f].sum(axis=-1)[:, None], head.sum(axis=-1),
                             (head @ y[:, :f, None])[..., 0], (head @ head.transpose(0, 2, 1))[:, upper[0], upper[1]]],
                            axis=1)
    later = np.concatenate([usable[:, None, f:], y[:, None, f:], rows[..., f:], rows[..., f:] * y[:, None, f:],
                            products[:, :q, f:]], axis=1)
    sums = _window_sums(common, later, known_day)
    n, ybar, centre, xy, summed_upper = np.split(sums, [1, 2, 2 + p, 2 + 2 * p], axis=-1)
    n = n[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = ybar[..., 0] / n
        centre = centre / n[..., None]
        summed = np.empty((*n.shape, p, p))
        summed[..., upper[0], upper[1]] = summed[..., upper[1], upper[0]] = summed_upper
        cross = summed - n[..., None, None] * centre[..., :, None] * centre[..., None, :]
        xy = xy - n[..., None] * centre * ybar[..., None]
        variance = np.maximum(np.diagonal(cross, axis1=-2, axis2=-1) / n[..., None], 0.0)
        scale = np.sqrt(variance)
        scale = np.where(scale > 0, scale, 1.0)
        gram = cross / (scale[..., :, None] * scale[..., None, :]) + alpha * np.eye(p)
        gram = np.where(np.isfinite(gram), gram, np.eye(p))  # empty windows fall back to the historical mean
        inverse = np.linalg.inv(gram)
        coef = (inverse @ (xy / scale)[..., None])[..., 0]
    return {"n": n, "ybar": ybar, "centre": centre, "scale": scale, "inverse": inverse, "slope": coef / scale,
            "products": products}


def _usable(rows: np.ndarray, target: np.ndarray, first_day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(usable days (T, D), rows (T, p, D) shifted by the mean of the first window's usable rows and zeroed where
    unusable, shift (T, p))."""
    usable = np.isfinite(target) & np.all(np.isfinite(rows), axis=1)
    shifted = np.where(usable[:, None], rows, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = shifted[..., : first_day + 1].sum(axis=-1) / usable[:, : first_day + 1].sum(axis=1)[:, None]
    shift = np.nan_to_num(shift)
    np.subtract(shifted, shift[..., None], out=shifted, where=usable[:, None])
    return usable, shifted, shift


def ridge_forecasts(
    design: Design, target: np.ndarray, origin_day: np.ndarray, target_day: np.ndarray, known_day: np.ndarray,
    alpha: float, levels: Sequence[float] | np.ndarray, fallback: Forecasts | None = None, bands: bool = True,
) -> Forecasts:
    """`RidgeForecaster.forecast` for every ticker and origin at once (see its docstring for the model).
    `bands=False`: the means only (the same values); the fitted rows' median and quantiles are NaN, their
    leave-one-out residuals never computed (what a verdict reads: `backtest_verdict`).

    `target` (T, D) the target column; per origin o: the origin's day, the target session's day and the
    last day whose target is realised. Tickers without columns, with fewer than MIN_FIT_ROWS usable rows
    or a non-finite query get the historical mean (`fallback`: `historical_mean` of the same target, if known).
    Tickers of equal width are fitted together, without the padding columns.
    """
    levels_array = np.append(np.asarray(levels, dtype=float), 0.5)  # the median last
    fallback = fallback or historical_mean(target, known_day, levels_array[:-1])
    mean, median = fallback.mean.copy(), fallback.median.copy()
    band = fallback.band.copy()
    days = max(int(known_day.max()) + 1, 1)  # no window reads a later row

    def forecast_part(part: np.ndarray) -> None:
        width = int(design.width[part[0]])  # the padding columns (zeros) are left out
        sub = Design(design.source[part, :width], design.past[part, :width], design.width[part])
        y = target[part, :days]
        usable, shifted, shift = _usable(Design(sub.source[..., :days], sub.past, sub.width).rows, y,
                                         int(known_day.min()))
        tail = (shifted, np.ones_like(y[:, None]), np.where(usable, y, np.nan)[:, None]) if bands else ()
        fit = _ridge_solve(known_day, usable, shifted, np.where(usable, y, 0.0), alpha, tail)  # tail: the LOO rows
        query = sub.query(origin_day, target_day) - shift[:, None, :]
        forecast = fit["ybar"] + np.einsum("toj,toj->to", query - fit["centre"], fit["slope"])
        ok = (fit["n"] >= MIN_FIT_ROWS) & np.all(np.isfinite(query), axis=-1)
        mean[part] = np.where(ok, forecast, mean[part])
        if not bands:
            median[part] = np.where(ok, np.nan, median[part])
            band[part] = np.where(ok[..., None], np.nan, band[part])
            return
        residuals = _loo_residuals(fit, known_day)
        ranked = _interpolated(_sorted_pick(residuals), fit["n"].astype(int), levels_array)
        median[part] = np.where(ok, forecast + ranked[..., -1], median[part])
        band[part] = np.where(ok[..., None], forecast[..., None] + ranked[..., :-1], band[part])

    parts = []
    for width in np.unique(design.width[design.width > 0]):  # tickers without columns keep the historical mean
        group = np.flatnonzero(design.width == width)
        q = width * (width + 1) // 2
        parts += [group[part] for part in _chunks(group.size, days * (3 * q + 4 * width + 4 + 3 * len(known_day)))]
    _in_parallel(forecast_part, parts)
    return Forecasts(mean, median, band)


def _loo_residuals(fit: dict[str, np.ndarray], known_day: np.ndarray) -> np.ndarray:
    """(T, O, d) leave-one-out residuals of the first d days' rows under every origin's fit, whose `products` end
    with the rows' (x_d (shifted), 1, y_d (NaN where unusable)); NaN outside each window (sorted last, like the
    unusable rows).

    leverage_d = 1/n + (x_d - c)' M (x_d - c), residual_d = (y_d - ybar - (x_d - c)'b) / (1 - leverage_d), with
    M = S^-1 (Z'Z + aI)^-1 S^-1: two batched products, 1 - leverage_d from the rows' upper-triangle products and
    the terms linear in (x_d, 1), the numerator from (x_d, 1, y_d).
    """
    metric = fit["inverse"] / (fit["scale"][..., :, None] * fit["scale"][..., None, :])
    centre, slope, n, products = fit["centre"], fit["slope"], fit["n"], fit["products"]
    upper = np.triu_indices(metric.shape[-1])
    twice = np.where(upper[0] == upper[1], -1.0, -2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.concatenate([metric[..., upper[0], upper[1]] * twice, 2.0 * (metric @ centre[..., None])[..., 0],
                               (1.0 - 1.0 / n - np.einsum("toj,tojk,tok->to", centre, metric, centre))[..., None],
                               np.zeros((*n.shape, 1))], axis=-1) @ products  # 1 - leverage, in place below
        numerator = np.concatenate([-slope, (np.einsum("toj,toj->to", centre, slope) - fit["ybar"])[..., None],
                                    np.ones((*n.shape, 1))], axis=-1) @ products[:, upper[0].size :]
        residuals = np.divide(numerator, kept, out=kept)
    for o, day in enumerate(known_day):
        residuals[:, o, day + 1 :] = np.nan
    return residuals


def ridge_means(
    design: Design, targets: np.ndarray, origin_day: np.ndarray, target_day: np.ndarray, known_day: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Mean forecasts (T, O, K) of K target columns `targets` (T, D, K) that share their missing cells.

    Equal to `ridge_forecasts(...).mean` of each column (the ridge mean is linear in the target once the
    usable rows are fixed): a power grid of planted targets is fitted in one design pass, no quantiles.
    """
    first = targets[..., 0]
    if design.source.shape[1] == 0:
        return column_means(targets, known_day)
    out = np.empty((targets.shape[0], len(known_day), targets.shape[-1]))
    days = max(int(known_day.max()) + 1, 1)  # no window reads a later row
    p, K = design.source.shape[1], targets.shape[-1]

    def forecast_part(part: slice) -> None:
        sub = Design(design.source[part], design.past[part], design.width[part])
        usable, shifted, shift = _usable(Design(sub.source[..., :days], sub.past, sub.width).rows, first[part, :days],
                                         int(known_day.min()))
        y = np.where(usable[:, None, :], targets[part, :days].transpose(0, 2, 1), 0.0)  # (T, K, d)
        fit = _ridge_solve(known_day, usable, shifted, y[:, 0], alpha)  # the design's part, shared by every column
        T, f = y.shape[0], int(known_day.min()) + 1
        common = np.concatenate([y[..., :f].sum(axis=-1), (shifted[..., :f] @ y[..., :f].transpose(0, 2, 1))
                                 .reshape(T, p * K)], axis=1)
        later = np.concatenate([y[..., f:], (shifted[:, :, None, f:] * y[:, None, :, f:]).reshape(T, p * K, -1)],
                               axis=1)
        sums = _window_sums(common, later, known_day)
        query = sub.query(origin_day, target_day) - shift[:, None, :] - fit["centre"]
        with np.errstate(invalid="ignore", divide="ignore"):
            ybar = sums[..., :K] / fit["n"][..., None]  # (T, O, K)
            xy = sums[..., K:].reshape(*ybar.shape[:2], p, K) - fit["n"][..., None, None] * (
                fit["centre"][..., :, None] * ybar[..., None, :])
            slope = (fit["inverse"] @ (xy / fit["scale"][..., None])) / fit["scale"][..., None]
            forecast = ybar + np.einsum("toj,tojk->tok", query, slope)
        fallback = column_means(targets[part], known_day)
        ok = (sub.width > 0)[:, None] & (fit["n"] >= MIN_FIT_ROWS) & np.all(np.isfinite(query), axis=-1)
        out[part] = np.where(ok[..., None], forecast, fallback)

    _in_parallel(forecast_part, _chunks(targets.shape[0], days * (p * (p + 1) // 2 + 2 * (p + 1) * (K + 2))))
    return out


def column_means(targets: np.ndarray, known_day: np.ndarray) -> np.ndarray:
    """(T, O, K) means of the realised entries of K target columns (T, D, K) over each origin's days <= known_day[o]
    (0 without any): `_historical_means` of every column, the days every window reads summed once and the later
    ones added day by day (`_window_sums`), in the columns' own layout (no transposed copy of the days)."""
    first, days = int(known_day.min()) + 1, int(known_day.max()) + 1
    finite = np.isfinite(targets[:, :days])
    values = np.where(finite, targets[:, :days], 0.0)
    counts, totals = (_window_sums(a[:, :first].sum(axis=1), a[:, first:].transpose(0, 2, 1), known_day)
                      for a in (finite, values))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / counts, 0.0)


def ridge_fitted(design: Design, target: np.ndarray, alpha: float) -> np.ndarray:
    """(T, D) in-sample fitted means of one ridge fit per ticker on all its usable days of `target` (T, D); NaN on
    the unusable days and for tickers without columns or with fewer than MIN_FIT_ROWS usable rows."""
    last = np.array([target.shape[1] - 1])
    usable, shifted, _ = _usable(Design(design.source[..., : target.shape[1]], design.past, design.width).rows, target,
                                 int(last[0]))
    fit = _ridge_solve(last, usable, shifted, np.where(usable, target, 0.0), alpha)
    fitted = fit["ybar"] + np.einsum("tjd,tj->td", shifted - fit["centre"][:, 0, :, None], fit["slope"][:, 0])
    ok = usable & ((design.width > 0) & (fit["n"][:, 0] >= MIN_FIT_ROWS))[:, None]
    return np.where(ok, fitted, np.nan)
