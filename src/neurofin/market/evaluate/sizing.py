"""Null forecast tables for measuring the size of the verdict's tests (benchmarks/bench_test_size.py, tests).

`null_forecasts` builds the rows a walk-forward backtest would produce when a persistent ROI is
independent of returns: per ticker an AR(1) ROI x (phi 0.9) and i.i.d. normal daily returns; the target
of session t at horizon h is the sum of the returns of sessions t .. t+h-1 (so targets of neighbouring
sessions overlap by h-1 sessions). At each forecast session t (origin t-1) the reference model
(`univariate`) is each ticker's mean of the targets realised by the origin, and the primary model (`roi`)
adds b * (x[t-1] - the ticker's mean x), b the pooled OLS slope fitted on the same realised rows, as a
ridge on one ROI would. A share of ticker-sessions is missing. `null_rejections` applies the tests and the
verdict's rule to such a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.null import permutation_ic_test
from neurofin.market.evaluate.verdict import decide

LEVEL = 0.05


def null_forecasts(
    n_tickers: int, horizon: int = 1, n_sessions: int = 250, test_sessions: int = 120, phi: float = 0.9,
    missing_fraction: float = 0.03, seed: int = 0,
) -> pd.DataFrame:
    """Rows (session, ticker, model, mean, actual) of the models `univariate` and `roi` over the last `test_sessions`."""
    rng = np.random.default_rng(seed)
    x = np.empty((n_sessions, n_tickers))
    x[0] = rng.standard_normal(n_tickers)
    for t in range(1, n_sessions):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal(n_tickers)
    returns = rng.standard_normal((n_sessions + horizon - 1, n_tickers))
    target = np.lib.stride_tricks.sliding_window_view(returns, horizon, axis=0).sum(axis=-1)[:n_sessions]
    present = rng.random((n_sessions, n_tickers)) >= missing_fraction
    sessions = pd.bdate_range("2020-01-01", periods=n_sessions)
    tickers = [f"T{i:02d}" for i in range(n_tickers)]
    forecast = np.arange(n_sessions - test_sessions, n_sessions)
    univariate, roi = np.empty((test_sessions, n_tickers)), np.empty((test_sessions, n_tickers))
    for row, session in enumerate(forecast):
        known = int(session) - horizon  # the last session whose h-session target is realised at origin t-1
        y, lead = target[1 : known + 1], x[:known]  # row s: target of session s, ROI of session s-1
        y_mean, x_mean = y.mean(axis=0), lead.mean(axis=0)
        slope = float(((lead - x_mean) * (y - y_mean)).sum() / ((lead - x_mean) ** 2).sum())
        univariate[row], roi[row] = y_mean, y_mean + slope * (x[session - 1] - x_mean)
    keep = present[forecast].ravel()
    cells = pd.DataFrame({"session": np.repeat(sessions[forecast], n_tickers), "ticker": np.tile(tickers, test_sessions),
                          "actual": target[forecast].ravel()})[keep]
    return pd.concat([cells.assign(model="univariate", mean=univariate.ravel()[keep]),
                      cells.assign(model="roi", mean=roi.ravel()[keep])], ignore_index=True)


@dataclass(frozen=True)
class Rejections:
    """Which one-sided 5% tests reject on one table, the verdict (`verdict.decide` on the table's statistics), and
    the one-sided p-values of the permutation test and Clark-West (uniform under an exact null)."""

    permutation: bool
    clark_west: bool
    ic_hac: bool
    verdict: bool
    permutation_p: float
    clark_west_p: float


def null_rejections(forecasts: pd.DataFrame, horizon: int, draws: int = 200, seed: int = 0) -> Rejections:
    """The permutation test, Clark-West and IC-HAC (both with at least h-1 lags) at 5% one-sided, and the verdict
    the backtest would read from these statistics."""
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    null = permutation_ic_test(forecasts, "roi", "univariate", draws, seed, horizon=horizon)
    cw = m.clark_west(wide, "roi", "univariate", min_lags=horizon - 1)
    daily_ic = m.ic_by_date(forecasts[forecasts["model"] == "roi"]).to_numpy()
    ic = m.hac_mean_test(daily_ic, min_lags=horizon - 1)
    permutation = null.p_value < LEVEL
    clark_west = bool(cw.t_stat > 0 and cw.p_value < LEVEL)
    row = pd.DataFrame({"model": ["roi"], "ic_mean": [float(np.nanmean(daily_ic))], "perm_p": [null.p_value], "cw_t": [cw.t_stat],
                        "cw_p": [cw.p_value]})
    return Rejections(bool(permutation), clark_west, bool(ic.t_stat > 0 and ic.p_value / 2 < LEVEL),
                      decide(row, "roi", "raw").signal, float(null.p_value), float(cw.p_value))
