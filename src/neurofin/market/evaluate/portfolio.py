"""Long/short portfolio evaluation of one target's forecasts (docs/backtest.md "Portfolio").

Each session, per model: rank the tickers forecast for that session; hold +1/k in the top k and -1/k in
the bottom k, k = floor(n / quantiles) (a session with k < 1, or whose forecasts do not rank the tickers,
is flat). A long and a short leg of one unit each: the book is dollar neutral, so an equal-weight market move
cancels. Session P&L is the simple return sum(w * (exp(r) - 1)) of the target's tradable log return r
(`realized`: close-to-close, or open-to-close for an intraday target); a held ticker without a return that
session (no price) earns 0, since which tickers will be priced is not known when the book is formed. Turnover is sum |w_t - w_{t-1}|
(entries and exits of both legs; an intraday book opens and closes every session: 2 sum |w_t|), and the net
return is gross - cost_bps / 1e4 * turnover. Weights at t come from forecasts made at origin t-1 before its
close, where the book is filled (the origin's own return is masked: targets.known_through), so P&L uses only
information the trader had.

Sharpe = mean / sd of the daily net return x sqrt(252); its 95% CI is a studentised (bootstrap-t) stationary
bootstrap (arch, mean block length: Politis-White `optimal_block_length` rounded up, at least 1; each resample's
Sharpe standardised by its own delta-method Newey-West standard error) whose resampled sessions are shared by every cost in the
sweep. A percentile interval excluded 0 too often on short zero-mean GARCH series
(benchmarks/bench_sharpe_ci.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from arch.bootstrap import StationaryBootstrap, optimal_block_length

from neurofin.config import MarketSettings
from neurofin.market.evaluate import metrics as m

SESSIONS_PER_YEAR = 252
CI_LEVEL = 0.95
MIN_BLOCK_SESSIONS = 20  # shorter series are resampled session by session


def book_weights(rows: pd.DataFrame, quantiles: int) -> pd.Series:
    """Per row (session, ticker, mean): +1/k in its session's top k, -1/k in the bottom k, else 0. A session
    whose forecasts do not rank its tickers (fewer than `quantiles`, or equal forecasts) holds nothing."""
    by_session = rows.groupby("session", sort=False)["mean"]
    n = by_session.transform("size").to_numpy()
    k = n // quantiles
    # a ticker is in the top k only if at most k tickers forecast as much: tied forecasts at a cut stay out
    long = (by_session.rank(method="min").to_numpy() >= n - k + 1) & (k >= 1)
    short = (by_session.rank(method="max").to_numpy() <= k) & (k >= 1)
    sides = pd.DataFrame({"session": rows["session"].to_numpy(), "long": long, "short": short})
    counts = sides.groupby("session", sort=False)[["long", "short"]].transform("sum")
    trades = (counts["long"] > 0) & (counts["short"] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = np.where(long, 1 / counts["long"], 0.0) - np.where(short, 1 / counts["short"], 0.0)
    return pd.Series(np.where(trades, weights, 0.0), index=rows.index)


def model_book(rows: pd.DataFrame, sessions: pd.DatetimeIndex, quantiles: int, intraday: bool) -> pd.DataFrame:
    """Per session of `sessions`: gross return, turnover and gross exposure of one model's book (flat where it has no rows)."""
    priced = rows[np.isfinite(rows["mean"])]  # the book is formed before the session: its returns cannot choose it
    priced = priced.assign(weight=book_weights(priced, quantiles), simple=np.expm1(priced["realized"]).fillna(0.0))
    matrix = priced.pivot_table(index="session", columns="ticker", values="weight", aggfunc="sum")
    matrix = matrix.reindex(sessions).fillna(0.0)
    gross = (priced["weight"] * priced["simple"]).groupby(priced["session"]).sum().reindex(sessions, fill_value=0.0)
    if intraday:
        turnover = 2 * matrix.abs().sum(axis=1)
    else:
        turnover = matrix.diff().fillna(matrix).abs().sum(axis=1)
    return pd.DataFrame({"gross": gross.to_numpy(), "turnover": turnover.to_numpy(),
                         "exposure": matrix.abs().sum(axis=1).to_numpy()}, index=sessions)


def mean_block_length(series: np.ndarray) -> int:
    """Politis-White mean block length for a stationary bootstrap, rounded up; 1 for short or flat series."""
    if series.size < MIN_BLOCK_SESSIONS or series.std() == 0:
        return 1
    return max(1, int(np.ceil(optimal_block_length(series)["stationary"].iloc[0])))


@dataclass(frozen=True)
class Resampler:
    """Stationary-bootstrap session indices (draws x sessions), shared by every series of one book."""

    indices: np.ndarray

    @classmethod
    def for_series(cls, series: np.ndarray, draws: int, seed: int) -> Resampler:
        bootstrap = StationaryBootstrap(mean_block_length(series), np.arange(series.size),
                                        seed=np.random.default_rng(seed))
        return cls(np.stack([data[0][0] for data in bootstrap.bootstrap(draws)]))

    def sharpe_interval(self, returns: np.ndarray) -> tuple[float, float]:
        """Studentised (bootstrap-t) 95% CI of the annualised Sharpe ratio: quantiles of the resampled pivots
        (SR* - SR) / se(SR*), se from `sharpe_with_se`, the same bandwidth for the sample and every resample."""
        if returns.size < 3 or returns.std() == 0:
            return np.nan, np.nan
        lags = m.newey_west_lags(returns.size)
        estimate, scale = (float(v[0]) for v in sharpe_with_se(returns[None, :], lags))
        resampled, resampled_se = sharpe_with_se(returns[self.indices], lags)
        with np.errstate(invalid="ignore", divide="ignore"):
            pivots = (resampled - estimate) / resampled_se
        pivots = pivots[np.isfinite(pivots)]
        if pivots.size == 0 or not np.isfinite(scale):
            return np.nan, np.nan
        tail = (1 - CI_LEVEL) / 2 * 100
        high, low = np.percentile(pivots, [100 - tail, tail])
        annual = np.sqrt(SESSIONS_PER_YEAR)
        return float((estimate - high * scale) * annual), float((estimate - low * scale) * annual)


def sharpe_with_se(rows: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the per-session Sharpe ratio SR = mean / sd and its delta-method standard error, the Newey-West
    (Bartlett, `lags`) long-run variance of the influence function z - SR (z^2 - 1) / 2, z = (r - mean) / sd,
    over n (NaN for a flat row). Robust to fat tails, volatility clustering and serial correlation."""
    n = rows.shape[1]
    mean, sd = rows.mean(axis=1, keepdims=True), rows.std(axis=1, ddof=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mean / sd
        z = (rows - mean) / sd
    influence = z - ratio / 2 * (z**2 - 1)
    centred = influence - influence.mean(axis=1, keepdims=True)
    variance = (centred**2).sum(axis=1) / n
    for lag in range(1, lags + 1):
        variance += 2 * (1 - lag / (lags + 1)) * (centred[:, lag:] * centred[:, :-lag]).sum(axis=1) / n
    return ratio[:, 0], np.sqrt(np.maximum(variance, 0) / n)


def sharpe(returns: np.ndarray) -> float:
    """Annualised Sharpe ratio of daily returns (NaN for a flat book)."""
    sd = returns.std(ddof=1) if returns.size > 1 else 0.0
    return float(returns.mean() / sd * np.sqrt(SESSIONS_PER_YEAR)) if sd > 0 else np.nan


def max_drawdown(returns: np.ndarray) -> float:
    """Largest fall of the compounded wealth curve from its running peak, as a fraction of the peak."""
    wealth = np.cumprod(1 + np.r_[0.0, returns])
    return float(np.max(1 - wealth / np.maximum.accumulate(wealth)))


def cost_row(book: pd.DataFrame, cost_bps: float, resampler: Resampler) -> dict[str, float]:
    """Sharpe, its CI and the annual net return of a book at one cost."""
    net = (book["gross"] - cost_bps / 1e4 * book["turnover"]).to_numpy()
    low, high = resampler.sharpe_interval(net)
    return {"cost_bps": cost_bps, "sharpe": sharpe(net), "sharpe_low": low, "sharpe_high": high,
            "ann_return_net": float(net.mean() * SESSIONS_PER_YEAR)}


def ticker_ic(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (model, ticker): time-series Spearman correlation of forecast and target over its sessions, and their count."""
    finite = np.isfinite(rows["mean"].to_numpy(float)) & np.isfinite(rows["actual"].to_numpy(float))
    counts = rows[finite].groupby(["model", "ticker"]).size()
    parts = []
    for model, group in rows.groupby("model", sort=True):
        ic = m.ic_by_date(group, by="ticker")
        parts.append(pd.DataFrame({"model": model, "ticker": ic.index, "ic": ic.to_numpy(),
                                   "n": [int(counts.get((model, t), 0)) for t in ic.index]}))
    return pd.concat(parts, ignore_index=True)[["model", "ticker", "ic", "n"]]


def portfolio_tables(rows: pd.DataFrame, settings: MarketSettings) -> dict[str, pd.DataFrame]:
    """One directional 1-session target's forecast rows (model, session, ticker, mean, actual, realized) ->
    portfolio_metrics (per model), portfolio_daily (per model and session), cost_sweep and ticker_ic."""
    intraday = bool(rows["target"].eq("open_to_close").any()) if "target" in rows.columns else False
    sessions = pd.DatetimeIndex(sorted(pd.to_datetime(rows["session"]).unique()))
    rows = rows.assign(session=pd.to_datetime(rows["session"]))
    costs = sorted({*settings.cost_sweep_bps, settings.cost_bps})
    metrics: list[dict] = []
    daily: list[pd.DataFrame] = []
    sweep: list[dict] = []
    for number, (model, model_rows) in enumerate(rows.groupby("model", sort=False)):
        book = model_book(model_rows, sessions, settings.portfolio_quantiles, intraday)
        net = book["gross"] - settings.cost_bps / 1e4 * book["turnover"]
        resampler = Resampler.for_series(net.to_numpy(), settings.bootstrap_draws, settings.seed + number)
        at_cost = cost_row(book, settings.cost_bps, resampler)
        metrics.append({"model": model, "sharpe": at_cost["sharpe"], "sharpe_low": at_cost["sharpe_low"],
                        "sharpe_high": at_cost["sharpe_high"],
                        "ann_return_gross": float(book["gross"].mean() * SESSIONS_PER_YEAR),
                        "ann_return_net": at_cost["ann_return_net"], "turnover": float(book["turnover"].mean()),
                        "max_drawdown": max_drawdown(net.to_numpy()),
                        "active_sessions": int((book["exposure"] > 0).sum()), "n_sessions": len(book)})
        daily.append(book.assign(net=net, cum_net=np.cumprod(1 + net.to_numpy()) - 1, model=model)
                     .rename_axis("session").reset_index())
        sweep.extend({"model": model, **cost_row(book, cost, resampler)} for cost in costs)
    return {"portfolio_metrics": pd.DataFrame(metrics),
            "portfolio_daily": pd.concat(daily, ignore_index=True)[
                ["session", "model", "gross", "net", "turnover", "cum_net"]],
            "cost_sweep": pd.DataFrame(sweep)[["model", "cost_bps", "sharpe", "sharpe_low", "sharpe_high",
                                               "ann_return_net"]],
            "ticker_ic": ticker_ic(rows)}
