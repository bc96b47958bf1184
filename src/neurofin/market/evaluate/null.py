"""Randomisation test of the primary model's covariate contribution (what the ROI features add to its forecasts).

Statistic: the mean over sessions of the cross-sectional Spearman IC of the contribution (the model's forecast
minus the reference model's) with the returns. Ranking the contribution on its own, not added to the reference
forecast, makes the test exact: with the reference in the ranks (the statistic before) the null that keeps the
reference in place rejected 3.2% / 6.8% / 15.7% of 1000 null tables at 5 / 10 / 20%, the contribution alone
5.2 / 11.4 / 20.2% (benchmarks/results/null_diagnostics.json). Null: the contribution is reassigned while the
returns stay in place:

- horizon 1: shuffled across tickers within each session by a uniformly random permutation (the identity
  included), independently per session; exact when the contributions of one session are exchangeable
  across tickers, and per-session ICs of 1-session returns are serially uncorrelated under the null.
- horizon h > 1: the same uniformly random permutation of the tickers for every session of a block of
  `block_sessions(h)` = 10 (h - 1) consecutive sessions, independent between blocks. The targets of
  neighbouring sessions overlap by h-1 sessions and the contributions are persistent, so per-session ICs
  are serially correlated up to lag h-1; blocks keep that correlation except across their edges (a
  variance at most (h^2 - 1) / (3 h L) too small, 4% at h = 5) where independent per-session shuffles
  understate the variance of the mean IC. Every contribution stays at its own session: a contribution
  moved to another session (per-ticker circular shifts in time, the scheme before) meets targets that a
  later fit has seen or that its features reacted to, which moves the null with the data (conservative
  or anti-conservative for a contribution that reads past returns: tests/market/test_null_size.py).

p = (1 + #{null >= observed}) / (1 + draws). The forecasters are not refitted per draw (this keeps the
null affordable for Chronos-2); a contribution that is zero everywhere gives p = 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

MIN_DRAWS = 200
CHUNK_CELLS = 4_000_000  # (draw, session, ticker) cells of the null held at once


@dataclass(frozen=True)
class PermutationResult:
    """Observed mean per-session IC of the contribution, the null draws (their mean, 95% quantile, values) and the
    permutation p-value."""

    model: str
    reference: str
    observed: float
    null_mean: float
    null_q95: float
    p_value: float
    draws: int
    sessions: int
    values: list[float] = field(default_factory=list)  # the mean per-session IC of each permutation draw
    scheme: str = "permutation"  # "permutation" (within sessions) or "block_permutation" (within blocks, horizon > 1)

    def to_record(self) -> dict[str, object]:
        """JSON-ready record."""
        return asdict(self)


def uniform_permutations(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, n) uniformly random permutations of range(n), the identity included."""
    return np.argsort(rng.random((draws, n)), axis=1)


def block_sessions(horizon: int) -> int:
    """Sessions per block of the horizon-h null: 1 at h = 1, else 10 (h - 1)."""
    return max(1, 10 * (horizon - 1))


def block_permutations(present: np.ndarray, draws: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, sessions, tickers) source-ticker indices: one uniform permutation of the tickers per draw and block
    of `block` sessions, applied at each session to its present tickers by skipping absent ones along the
    permutation's cycles (the induced permutation of a uniform one is uniform); absent cells point to themselves."""
    n_sessions, n_tickers = present.shape
    blocks = np.arange(n_sessions) // block
    perms = uniform_permutations(n_tickers, draws * (blocks[-1] + 1), rng).reshape(draws, -1, n_tickers)[:, blocks]
    source = perms.copy()
    for _ in range(n_tickers):
        absent = present & ~np.take_along_axis(np.broadcast_to(present, source.shape), source, axis=2)
        if not absent.any():  # every present ticker has a present source
            break
        source = np.where(absent, np.take_along_axis(perms, source, axis=2), source)
    return np.where(present, source, np.arange(n_tickers))


def _centred(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Each row of `values` (S, N) minus its mean over the row's present cells; 0 at the absent ones."""
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(present, values, 0.0).sum(axis=1, keepdims=True) / present.sum(axis=1, keepdims=True)
    return np.where(present, values - means, 0.0)


def _shuffles(present: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, sessions, tickers) source-ticker indices: per session, in order, `uniform_permutations` of its
    present tickers; absent cells point to themselves."""
    sources = np.broadcast_to(np.arange(present.shape[1]), (draws, *present.shape)).copy()
    for s, cols in enumerate(present):
        own = np.flatnonzero(cols)
        sources[:, s, own] = own[uniform_permutations(own.size, draws, rng)]
    return sources


@dataclass(frozen=True)
class _Contribution:
    """One pair's (session, ticker) cells: the centred ranks of the contribution and of the returns (0 where
    absent), their correlation's denominator and the per-session IC of the sessions it is defined for (`kept`)."""

    present: np.ndarray
    ranks: np.ndarray
    ranks_y: np.ndarray
    denom: np.ndarray
    own: np.ndarray
    kept: np.ndarray


def _contribution(forecasts: pd.DataFrame, model: str, reference: str) -> _Contribution | None:
    """The (session, ticker) cells where `model`'s and `reference`'s forecasts and the return (the cell's first
    `actual`) are finite, in the sessions with >= 3 such cells: sessions (rows) and tickers (columns) with one,
    sorted; None when there is none."""
    session, sessions = pd.factorize(forecasts["session"], sort=True)
    ticker, tickers = pd.factorize(forecasts["ticker"], sort=True)
    cell, size = session * len(tickers) + ticker, len(sessions) * len(tickers)
    first = np.unique(cell, return_index=True)[1]
    actual = np.full(size, np.nan)
    actual[cell[first]] = forecasts["actual"].to_numpy(float)[first]
    means = forecasts["mean"].to_numpy(float)

    def cell_means(name: str) -> np.ndarray:  # a pivot table's mean of the cell's rows (NaN without one)
        rows = (forecasts["model"] == name).to_numpy(bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(cell[rows], means[rows], size) / np.bincount(cell[rows], minlength=size)

    delta = (cell_means(model) - cell_means(reference)).reshape(len(sessions), len(tickers))
    y = actual.reshape(delta.shape)
    present = np.isfinite(delta) & np.isfinite(y)
    present &= (present.sum(axis=1) >= 3)[:, None]
    if not present.any():
        return None
    rows, columns = present.any(axis=1), present.any(axis=0)
    present = present[rows][:, columns]
    delta, y = (np.where(present, v[rows][:, columns], np.nan) for v in (delta, y))
    ranks, ranks_y = (_centred(stats.rankdata(v, axis=1, nan_policy="omit"), present) for v in (delta, y))
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt((ranks**2).sum(axis=1) * (ranks_y**2).sum(axis=1))
        own = np.where(denom > 0, (ranks * ranks_y).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)
    kept = np.flatnonzero(np.isfinite(own))  # a session whose contribution is constant draws no permutation
    return _Contribution(present, ranks, ranks_y, denom, own, kept) if kept.size else None


def permutation_ic_test(
    forecasts: pd.DataFrame, model: str, reference: str, draws: int = 500, seed: int = 0, horizon: int = 1,
) -> PermutationResult:
    """Randomisation p-value of the mean per-session IC of `model`'s forecast minus `reference`'s (rows: session,
    ticker, model, mean, actual); `horizon` > 1 (overlapping targets) permutes blocks of sessions. The sessions
    are ranked, permuted and correlated together, in chunks of about CHUNK_CELLS (draw, session, ticker) cells."""
    return permutation_ic_tests(forecasts, [(model, reference)], draws, seed, horizon)[0]


def permutation_ic_tests(
    forecasts: pd.DataFrame, pairs: Sequence[tuple[str, str]], draws: int = 500, seed: int = 0, horizon: int = 1,
) -> list[PermutationResult]:
    """`permutation_ic_test` of each (model, reference) pair. Each test seeds its generator with `seed`, so pairs
    with the same cells draw the same permutations: those are drawn once and serve all of them."""
    scheme = "permutation" if horizon <= 1 else "block_permutation"
    cells = [_contribution(forecasts, model, reference) for model, reference in pairs]
    groups: dict[tuple[bytes, tuple[int, ...], bytes], dict[int, _Contribution]] = {}
    for k, cell in enumerate(cells):
        if cell is not None:
            groups.setdefault((cell.present.tobytes(), cell.present.shape, cell.kept.tobytes()), {})[k] = cell
    nulls: dict[int, np.ndarray] = {}
    for members in groups.values():
        nulls.update(zip(members, _null_means(list(members.values()), draws, seed, horizon), strict=True))
    results = []
    for k, ((model, reference), cell) in enumerate(zip(pairs, cells, strict=True)):
        if cell is None:
            results.append(PermutationResult(model, reference, float("nan"), float("nan"), float("nan"), 1.0, draws, 0,
                                             scheme=scheme))
            continue
        stat, null_means = float(np.mean(cell.own[cell.kept])), nulls[k]
        p_value = float((1 + np.sum(null_means >= stat - 1e-12)) / (1 + draws))
        results.append(PermutationResult(model, reference, stat, float(null_means.mean()),
                                         float(np.quantile(null_means, 0.95)), p_value, draws, cell.kept.size,
                                         [round(float(v), 6) for v in null_means], scheme))
    return results


def _null_means(cells: Sequence[_Contribution], draws: int, seed: int, horizon: int) -> list[np.ndarray]:
    """Each draw's mean per-session IC of the reassigned contribution, for contributions on the same cells (one set
    of permutations from a generator seeded with `seed`)."""
    rng = np.random.default_rng(seed)
    present, kept = cells[0].present, cells[0].kept
    sources = block_permutations(present, draws, block_sessions(horizon), rng) if horizon > 1 else None
    step = max(1, CHUNK_CELLS // (draws * present.shape[1]))
    null: list[list[np.ndarray]] = [[] for _ in cells]
    for start in range(0, kept.size, step):
        rows = kept[start : start + step]
        moved = sources[:, rows] if sources is not None else _shuffles(present[rows], draws, rng)
        flat = moved + (np.arange(rows.size) * present.shape[1])[:, None]  # index into the rows' flattened cells
        for cell, out in zip(cells, null, strict=True):
            # a permutation moves the ranks with the values: the ranks of the reassigned contribution, not ranked
            # again (nor centred again: a permutation keeps their mean and spread)
            out.append(np.einsum("dsi,si->ds", cell.ranks[rows].ravel()[flat], cell.ranks_y[rows]) / cell.denom[rows])
    return [np.nanmean(np.concatenate(out, axis=1), axis=1) for out in null]
