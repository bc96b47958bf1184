"""Forecast-evaluation metrics for one-session-ahead log-return forecasts.

IC is the Spearman rank correlation between forecasts and realised returns, per date across tickers
and pooled over all (date, ticker) pairs. Significance of a time series of per-date numbers (per-date
IC, per-date Clark-West adjusted loss differentials; the selection gate's IC) has one convention,
`hac_mean_test`: a heteroskedasticity- and autocorrelation-robust (HAR) t with fixed-b inference, the
equal-weighted cosine (EWC) long-run variance of Lazarus, Lewis, Stock and Watson (2018, "HAR inference:
recommendations for practice", JBES): the mean of the squares of the first nu cosine projections of the
series, nu = floor(0.4 n^(2/3)) (9 at n = 120, 15 at 250), at most n / (2h) with h-session targets (the
series is MA(h-1) under the null: the projections' bandwidth n / nu covers the overlap twice), and
Student-t(nu) critical values, which are exact for a Gaussian series with that variance. Newey-West with
normal critical values (and Hansen-Hodrick for overlapping targets) rejected up to 7.3% at a nominal
one-sided 5% on null tables (benchmarks/bench_test_size.py, docs/backtest.md "Size of the tests").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class MeanTest:
    """Mean of a time series with its HAR t statistic (EWC, `dof` cosine projections) and two-sided t(dof) p-value."""

    mean: float
    t_stat: float
    p_value: float
    n: int
    dof: int


def newey_west_lags(n: int) -> int:
    """Newey-West (1994) automatic bandwidth floor(4 (n/100)^(2/9))."""
    return int(np.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def ewc_dof(n: int, overlap: int = 0) -> int:
    """Cosine projections of the EWC variance: floor(0.4 n^(2/3)), at most n / (2 (overlap + 1)), at least 1."""
    return max(1, min(int(0.4 * n ** (2.0 / 3.0)), n // (2 * (overlap + 1))))


def ewc_t(values: np.ndarray, dof: int) -> np.ndarray:
    """HAR t statistics of the column means of `values` (n,) or (n, K): sqrt(n) mean / sqrt(mean_j L_j^2), with
    L_j = sqrt(2/n) sum_t cos(pi j (t + 1/2) / n) x_t (j = 1..dof; orthogonal to the mean, so no centring)."""
    n = values.shape[0]
    cosines = np.sqrt(2.0 / n) * np.cos(np.pi * np.arange(1, dof + 1)[:, None] * (np.arange(n) + 0.5) / n)
    variance = np.mean((cosines @ values) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(n) * values.mean(axis=0) / np.sqrt(variance)


def hac_mean_test(series: Sequence[float] | np.ndarray, overlap: int = 0) -> MeanTest:
    """Test mean(series) = 0 with the EWC HAR t and t(dof) critical values (module docstring); NaNs are dropped.

    `overlap`: sessions shared by neighbouring observations (h - 1 for h-session targets), which caps `dof`.
    """
    values = np.asarray(series, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    if n < 3 or np.allclose(values, values[0]):
        mean = float(values.mean()) if n else float("nan")
        return MeanTest(mean, float("nan"), float("nan"), n, 0)
    dof = ewc_dof(n, overlap)
    t_stat = float(ewc_t(values, dof))
    return MeanTest(float(values.mean()), t_stat, float(2.0 * stats.t.sf(abs(t_stat), dof)), n, dof)


def spearman(pred: np.ndarray, actual: np.ndarray) -> float:
    """Spearman rank correlation over the pairs where both values are finite (NaN if < 3 pairs)."""
    ok = np.isfinite(pred) & np.isfinite(actual)
    if ok.sum() < 3 or np.ptp(pred[ok]) == 0 or np.ptp(actual[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(pred[ok], actual[ok]).statistic)


def wide_means(forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per (session, ticker) of the forecast rows (model, session, ticker, mean, actual): each model's mean
    forecast (a column per model) and the realised `actual`."""
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    return wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])


def ic_by_date(forecasts: pd.DataFrame, pred_col: str = "mean", by: str = "session") -> pd.Series:
    """Cross-sectional Spearman IC per session (index: session), from rows (session, ticker, pred, actual);
    `by="ticker"` gives each ticker's time-series IC instead.

    Vectorised: Pearson r of within-group average ranks over the rows where both values are finite
    (NaN with fewer than 3 such rows or a constant side), equal to `spearman` per group (`ic_by_date_columns`).
    """
    return ic_by_date_columns(forecasts[by], forecasts[pred_col].to_numpy(float),
                              forecasts["actual"].to_numpy(float)[:, None]).iloc[:, 0].rename(None)


def ic_by_date_columns(keys: pd.Series, pred: np.ndarray, actuals: np.ndarray) -> pd.DataFrame:
    """`ic_by_date` of `pred` with each column of `actuals` (rows, K), grouped by `keys` (index: the sorted keys,
    one column per actual). The predictions' ranks are computed once for the columns finite on the same rows (a
    power grid's planted returns)."""
    groups = pd.Index(sorted(keys.unique()), name=keys.name)
    codes_all = groups.get_indexer(keys.to_numpy())
    out = np.full((len(groups), actuals.shape[1]), np.nan)
    ranked: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in range(actuals.shape[1]):
        ok = np.isfinite(pred) & np.isfinite(actuals[:, k])
        if ok.tobytes() not in ranked:
            codes = codes_all[ok]
            count = np.bincount(codes, minlength=len(groups))
            with np.errstate(invalid="ignore", divide="ignore"):
                ranks = _group_ranks(codes, pred[ok])
                ranked[ok.tobytes()] = codes, count, ranks - (np.bincount(codes, ranks, len(groups)) / count)[codes]
        codes, count, x = ranked[ok.tobytes()]
        with np.errstate(invalid="ignore", divide="ignore"):
            ranks = _group_ranks(codes, actuals[ok, k])
            y = ranks - (np.bincount(codes, ranks, len(groups)) / count)[codes]
            xy, xx, yy = (np.bincount(codes, w, len(groups)) for w in (x * y, x * x, y * y))
            denom = np.sqrt(xx * yy)
            valid = (count >= 3) & (denom > 1e-12)
            out[:, k] = np.where(valid, xy / np.where(valid, denom, 1.0), np.nan)
    return pd.DataFrame(out, index=groups)


def _group_ranks(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) of finite `values` within each group `codes`: the groups
    as the rows of a matrix padded with +inf (at most groups x the largest group: the session x ticker grid for
    `ic_by_date`), ranked row by row."""
    count = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    column = np.empty(codes.size, dtype=np.intp)
    column[order] = np.arange(codes.size) - np.repeat(np.cumsum(count) - count, count)
    padded = np.full((count.size, int(count.max(initial=0))), np.inf)
    padded[codes, column] = values
    return stats.rankdata(padded, axis=1, method="average")[codes, column]


def hit_rate(pred: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Share of non-zero forecasts whose sign matches the return, and the base rate max(P(up), P(down))."""
    ok = np.isfinite(pred) & np.isfinite(actual) & (actual != 0)
    signed = ok & (pred != 0)
    hits = float(np.mean(np.sign(pred[signed]) == np.sign(actual[signed]))) if signed.any() else float("nan")
    up = float(np.mean(actual[ok] > 0)) if ok.any() else float("nan")
    return hits, max(up, 1.0 - up)


def oos_r2(pred: np.ndarray, actual: np.ndarray, benchmark: np.ndarray) -> float:
    """Out-of-sample R^2 = 1 - SSE(forecast) / SSE(benchmark) (Campbell-Thompson); > 0 beats the benchmark."""
    ok = np.isfinite(pred) & np.isfinite(actual) & np.isfinite(benchmark)
    denom = float(np.sum((actual[ok] - benchmark[ok]) ** 2))
    return 1.0 - float(np.sum((actual[ok] - pred[ok]) ** 2)) / denom if denom > 0 else float("nan")


def pinball_loss(quantile_preds: np.ndarray, actual: np.ndarray, levels: Sequence[float]) -> float:
    """Mean quantile (pinball) loss over rows and levels; quantile_preds is (n_rows, n_levels)."""
    q = np.asarray(levels, dtype=float)[None, :]
    ok = np.isfinite(actual) & np.all(np.isfinite(quantile_preds), axis=1)
    diff = actual[ok, None] - quantile_preds[ok]
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff))) if ok.any() else float("nan")


def clark_west(forecasts: pd.DataFrame, big_col: str, small_col: str, overlap: int = 0) -> MeanTest:
    """Clark-West (2007) test that the larger, nesting model `big_col` forecasts better than `small_col`.

    Per row f = (y - small)^2 - [(y - big)^2 - (small - big)^2] (the MSPE difference adjusted for the
    noise of estimating parameters that are zero under the null); f is averaged across tickers per
    session and its mean tested with the HAR t (`hac_mean_test`). One-sided p-value (big better: t > 0).
    Diebold-Mariano is not valid for nested models (its statistic is not normal under the null). With recursively
    re-estimated models the t is shifted left under the null (McCracken 2007) and this p-value is conservative at
    h = 1 (docs/backtest.md "Size of the tests"); the sized fixed-regressor bootstrap of the statistic replaces it
    for the primary model with the linear forecaster (cw_bootstrap.py; `sizing.frb_clark_west` on null tables).
    """
    y, small, big = forecasts["actual"], forecasts[small_col], forecasts[big_col]
    adjusted = (y - small) ** 2 - ((y - big) ** 2 - (small - big) ** 2)
    per_date = adjusted.groupby(forecasts["session"]).mean().sort_index()
    test = hac_mean_test(per_date.to_numpy(), overlap)
    return replace(test, p_value=float(stats.t.sf(test.t_stat, test.dof)) if np.isfinite(test.t_stat) else float("nan"))


def band_coverage(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray) -> float:
    """Share of finite rows whose realised value lies inside [lower, upper]."""
    ok = np.isfinite(lower) & np.isfinite(upper) & np.isfinite(actual)
    return float(np.mean((actual[ok] >= lower[ok]) & (actual[ok] <= upper[ok]))) if ok.any() else float("nan")
