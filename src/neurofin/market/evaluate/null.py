"""Permutation null for the primary model's information coefficient (IC).

Statistic: the mean over sessions of the cross-sectional Spearman IC of the primary model's forecasts.
Null: the primary model's covariate contribution (its forecast minus the reference model's, i.e. what
the ROI features add) is shuffled across tickers within each session, with a derangement, so that no
draw ever gives a ticker its own same-day contribution, while the reference forecast, the returns and
the dispersion of the contributions on that day are kept. Every draw uses fresh derangements of every
session. p = (1 + #{null >= observed}) / (1 + draws). The forecasters are not refitted per draw (this
keeps the null affordable for Chronos-2); a contribution that is zero everywhere gives p = 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

MIN_DRAWS = 200


@dataclass(frozen=True)
class PermutationResult:
    """Observed mean per-session IC, the null draws (their mean, 95% quantile, values) and the permutation p-value."""

    model: str
    reference: str
    observed: float
    null_mean: float
    null_q95: float
    p_value: float
    draws: int
    sessions: int
    values: list[float] = field(default_factory=list)  # the mean per-session IC of each permutation draw

    def to_record(self) -> dict[str, object]:
        """JSON-ready record."""
        return asdict(self)


def derangements(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, n) uniformly random permutations of range(n) without fixed points (n >= 2), by rejection."""
    if n < 2:
        raise ValueError("a derangement needs at least two items")
    out = np.empty((draws, n), dtype=np.int64)
    todo = np.arange(draws)
    while todo.size:
        perms = np.argsort(rng.random((todo.size, n)), axis=1)
        ok = ~(perms == np.arange(n)).any(axis=1)
        out[todo[ok]] = perms[ok]
        todo = todo[~ok]
    return out


def _row_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row of x (k, n) with y (n,); NaN for a constant row."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    denom = np.sqrt((xc**2).sum(axis=1) * (yc @ yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc @ yc) / np.where(denom > 0, denom, 1.0), np.nan)


def permutation_ic_test(
    forecasts: pd.DataFrame, model: str, reference: str, draws: int = 500, seed: int = 0
) -> PermutationResult:
    """Permutation p-value of `model`'s mean per-session IC (rows: session, ticker, model, mean, actual)."""
    rng = np.random.default_rng(seed)
    wide = forecasts[forecasts["model"].isin([model, reference])].pivot_table(
        index=["session", "ticker"], columns="model", values="mean")
    actual = forecasts.drop_duplicates(["session", "ticker"]).set_index(["session", "ticker"])["actual"]
    wide = wide.join(actual).dropna()
    observed, null = [], []
    for _, day in wide.groupby(level="session", sort=True):
        if len(day) < 3:
            continue
        base, delta = day[reference].to_numpy(float), (day[model] - day[reference]).to_numpy(float)
        y = stats.rankdata(day["actual"].to_numpy(float))
        own = _row_corr(stats.rankdata(base + delta)[None, :], y)[0]
        if not np.isfinite(own):
            continue
        shuffled = base[None, :] + delta[derangements(len(day), draws, rng)]
        observed.append(own)
        null.append(_row_corr(stats.rankdata(shuffled, axis=1), y))
    if not observed:
        return PermutationResult(model, reference, float("nan"), float("nan"), float("nan"), 1.0, draws, 0)
    stat = float(np.mean(observed))
    null_means = np.nanmean(np.vstack(null), axis=0)
    p_value = float((1 + np.sum(null_means >= stat - 1e-12)) / (1 + draws))
    return PermutationResult(model, reference, stat, float(null_means.mean()), float(np.quantile(null_means, 0.95)),
                             p_value, draws, len(observed), [round(float(v), 6) for v in null_means])
