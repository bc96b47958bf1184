"""Null forecast tables for measuring the size of the verdict's tests (benchmarks/bench_test_size.py, tests).

`null_design` draws what a walk-forward backtest reads when a persistent ROI is independent of returns: per
ticker an AR(1) ROI x (phi 0.9) and i.i.d. normal daily returns; the target of session t at horizon h is the sum
of the returns of sessions t .. t+h-1 (so targets of neighbouring sessions overlap by h-1 sessions). At each
forecast session t (origin t-1) the reference model (`univariate`) is each ticker's mean of the targets realised
by the origin, and the primary model (`roi`) adds b * (x[t-1] - the ticker's mean x), b the pooled OLS slope
fitted on the same realised rows, as a ridge on one ROI would (`recursive_forecasts`, for many target columns at
once). A share of ticker-sessions is missing. `null_rejections` applies the tests and the verdict's rule to such a
table; Clark-West also with the fixed-regressor bootstrap (`frb_clark_west`). `product_clark_west` runs the
backtest's own bootstrap (`cw_bootstrap`: a per-ticker ridge on the ROI) on such a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.cw_bootstrap import BootstrapTest, bootstrap_p, bootstrap_test, fold_terms, wild_weights
from neurofin.market.evaluate.null import permutation_ic_test
from neurofin.market.evaluate.verdict import decide
from neurofin.market.forecast.engine import GridCube, OriginRequest

LEVEL = 0.05


@dataclass(frozen=True)
class NullDesign:
    """ROI `x` and targets (sessions, tickers), which forecast cells are present, the horizon and the forecast sessions."""

    x: np.ndarray
    target: np.ndarray
    present: np.ndarray
    horizon: int
    test_sessions: int

    def table(self) -> pd.DataFrame:
        """Rows (session, ticker, model, mean, actual) of the models `univariate` and `roi` over the forecast sessions."""
        n_sessions, n_tickers = self.x.shape
        univariate, roi = (f[..., 0] for f in recursive_forecasts(self.x, self.target[..., None], self.horizon,
                                                                   self.test_sessions))
        forecast = np.arange(n_sessions - self.test_sessions, n_sessions)
        keep = self.present[forecast].ravel()
        sessions = pd.bdate_range("2020-01-01", periods=n_sessions)
        cells = pd.DataFrame({"session": np.repeat(sessions[forecast], n_tickers),
                              "ticker": np.tile([f"T{i:02d}" for i in range(n_tickers)], self.test_sessions),
                              "actual": self.target[forecast].ravel()})[keep]
        return pd.concat([cells.assign(model="univariate", mean=univariate.ravel()[keep]),
                          cells.assign(model="roi", mean=roi.ravel()[keep])], ignore_index=True)


def null_design(
    n_tickers: int, horizon: int = 1, n_sessions: int = 250, test_sessions: int = 120, phi: float = 0.9,
    missing_fraction: float = 0.03, seed: int = 0,
) -> NullDesign:
    """One null draw: ROI, targets and present cells (module docstring)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n_sessions, n_tickers))
    x[0] = rng.standard_normal(n_tickers)
    for t in range(1, n_sessions):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal(n_tickers)
    returns = rng.standard_normal((n_sessions + horizon - 1, n_tickers))
    target = np.lib.stride_tricks.sliding_window_view(returns, horizon, axis=0).sum(axis=-1)[:n_sessions]
    present = rng.random((n_sessions, n_tickers)) >= missing_fraction
    return NullDesign(x, target, present, horizon, test_sessions)


def null_forecasts(
    n_tickers: int, horizon: int = 1, n_sessions: int = 250, test_sessions: int = 120, phi: float = 0.9,
    missing_fraction: float = 0.03, seed: int = 0,
) -> pd.DataFrame:
    """Rows (session, ticker, model, mean, actual) of one null draw (`null_design(...).table()`)."""
    return null_design(n_tickers, horizon, n_sessions, test_sessions, phi, missing_fraction, seed).table()


def recursive_forecasts(x: np.ndarray, targets: np.ndarray, horizon: int, test_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    """The univariate and ROI forecasts (test_sessions, tickers, K) of K target columns `targets` (sessions, tickers, K).

    Forecast session t reads rows s = 1 .. t - h (target of session s, ROI of session s - 1): expanding-window
    sums (cumulative over s) give each ticker's means and the pooled slope for every session and column at once.
    """
    n_sessions = x.shape[0]
    lead, y = x[:-1, :, None], targets[1:]  # row s - 1: ROI of session s - 1, target of session s
    sums = [np.cumsum(v, axis=0) for v in (np.broadcast_to(lead, y.shape), y, lead * y, np.broadcast_to(lead**2, y.shape))]
    known = np.arange(n_sessions - test_sessions, n_sessions) - horizon  # rows 1 .. known
    count = known[:, None, None].astype(float)
    sx, sy, sxy, sxx = (s[known - 1] for s in sums)
    x_mean, y_mean = sx / count, sy / count
    slope = (sxy - count * x_mean * y_mean).sum(axis=1) / (sxx - count * x_mean**2).sum(axis=1)
    query = x[known + horizon - 1][..., None]  # the ROI of the origin, session t - 1
    return y_mean, y_mean + slope[:, None] * (query - x_mean)


def _clark_west_t(design: NullDesign, targets: np.ndarray) -> np.ndarray:
    """Clark-West HAR t (`metrics.clark_west`) of the ROI model against the univariate one for each target column."""
    univariate, roi = recursive_forecasts(design.x, targets, design.horizon, design.test_sessions)
    forecast = slice(design.x.shape[0] - design.test_sessions, None)
    present = design.present[forecast]
    adjusted = np.where(present[..., None], 2.0 * (targets[forecast] - univariate) * (roi - univariate), 0.0)
    per_session = adjusted.sum(axis=1)[present.any(axis=1)] / present.sum(axis=1)[present.any(axis=1), None]
    return m.ewc_t(per_session, m.ewc_dof(per_session.shape[0], design.horizon - 1))


def frb_clark_west(design: NullDesign, draws: int = 200, seed: int = 0) -> tuple[float, float]:
    """Clark-West t and its fixed-regressor bootstrap p-value (Clark and McCracken 2012, JBES).

    The regressors stay fixed; each draw's targets are the restricted model's full-sample fit (each ticker's mean
    target) plus the unrestricted model's full-sample residuals times a wild weight: one N(0, 1) per session shared
    by the tickers, summed over the h sessions a target spans and divided by sqrt(h) (an MA(h-1) weight, the
    overlap of h-session targets). Both models' recursive forecasts are rerun on every draw's targets and the
    statistic recomputed; p = (1 + #{t* >= t}) / (1 + draws): with 200 draws p < 0.05 holds for 10 of 201 ranks,
    an exact 5% under exchangeability (199 draws would give 9 of 200, 4.5%).
    """
    rows, lead = design.target[1:], design.x[:-1]  # every realised row of the sample
    y_mean, x_mean = rows.mean(axis=0), lead.mean(axis=0)
    slope = ((lead - x_mean) * (rows - y_mean)).sum() / ((lead - x_mean) ** 2).sum()
    residual = design.target - y_mean - slope * (np.vstack([lead[:1], lead]) - x_mean)  # row 0 is never read
    weight = wild_weights(design.x.shape[0], design.horizon, draws, seed)
    boot = y_mean[None, :, None] + residual[..., None] * weight[:, None, :]
    t = _clark_west_t(design, np.concatenate([design.target[..., None], boot], axis=-1))
    return float(t[0]), bootstrap_p(t)


def product_clark_west(design: NullDesign, draws: int = 200, seed: int = 0, alpha: float = 1.0) -> BootstrapTest:
    """The backtest's Clark-West bootstrap (`cw_bootstrap`) on one null table: a per-ticker ridge (`alpha`) on the
    ROI of the previous session against each ticker's historical mean, one fold forecasting the last test sessions;
    missing cells are NaN targets."""
    n_sessions, n_tickers = design.x.shape
    days = pd.bdate_range("2020-01-01", periods=n_sessions)
    target = np.where(design.present, design.target, np.nan)
    cube = GridCube(np.array([f"T{i:02d}" for i in range(n_tickers)], dtype=object), days, {"roi": 0, "target": 1},
                    np.ascontiguousarray(np.stack([design.x.T, target.T], axis=1)))
    requests = [OriginRequest(days[t - 1], days[t], "target", days[t - design.horizon])
                for t in range(n_sessions - design.test_sessions, n_sessions)]
    terms = fold_terms(cube, {t: (["roi"], []) for t in cube.tickers}, requests, alpha, draws, design.horizon, seed)
    test = bootstrap_test([terms], design.horizon - 1)
    if test is None:
        raise ValueError("no Clark-West term is defined on this table")
    return test


@dataclass(frozen=True)
class Rejections:
    """Which one-sided 5% tests reject on one table, the verdict (`verdict.decide` on the table's statistics), and
    the one-sided p-values of the permutation test and Clark-West (t(dof) and bootstrap; uniform under an exact null)."""

    permutation: bool
    clark_west: bool
    clark_west_frb: bool
    ic_hac: bool
    verdict: bool
    permutation_p: float
    clark_west_p: float
    clark_west_frb_p: float


def null_rejections(design: NullDesign, draws: int = 200, seed: int = 0, bootstrap: int = 200) -> Rejections:
    """The permutation test, Clark-West (t(dof) and fixed-regressor bootstrap) and IC-HAC at 5% one-sided, and the
    verdict the backtest would read from these statistics."""
    forecasts, horizon = design.table(), design.horizon
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    null = permutation_ic_test(forecasts, "roi", "univariate", draws, seed, horizon=horizon)
    cw = m.clark_west(wide, "roi", "univariate", horizon - 1)
    _, frb_p = frb_clark_west(design, bootstrap, seed)
    daily_ic = m.ic_by_date(forecasts[forecasts["model"] == "roi"]).to_numpy()
    ic = m.hac_mean_test(daily_ic, horizon - 1)
    row = pd.DataFrame({"model": ["roi"], "ic_mean": [float(np.nanmean(daily_ic))], "perm_p": [null.p_value],
                        "cw_t": [cw.t_stat], "cw_p": [cw.p_value]})
    return Rejections(bool(null.p_value < LEVEL), bool(cw.t_stat > 0 and cw.p_value < LEVEL), bool(frb_p < LEVEL),
                      bool(ic.t_stat > 0 and ic.p_value / 2 < LEVEL), decide(row, "roi", "raw").signal,
                      float(null.p_value), float(cw.p_value), frb_p)
