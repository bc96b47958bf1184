"""How often does a forecast with no information get a portfolio Sharpe CI that claims a profit?

    python benchmarks/bench_portfolio_null.py --panels 200 --out benchmarks/results/portfolio_null.json

Each null panel: 20 tickers x 500 sessions of GARCH(1,1)-like returns with a common market factor, forecasts
independent of them (AR(1) per ticker, so the book has realistic turnover persistence), the default settings
(quintiles, 1000 bootstrap draws). Before costs the gross Sharpe is 0 and its 95% CI should exclude 0 in about
5% of panels (calibration); at the default 10 bps the null loses money, and a CI above 0 (a claimed profit)
should be rarer than 2.5%. Rates come with Clopper-Pearson 95% intervals. A planted panel (forecast =
0.1 x return + noise) is run too, for the power at the same size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from neurofin.config import MarketSettings
from neurofin.market.evaluate.portfolio import portfolio_tables

N_TICKERS, N_SESSIONS = 20, 500


def returns_panel(rng: np.random.Generator) -> np.ndarray:
    """Sessions x tickers log returns: a market factor plus GARCH(1,1) idiosyncratic noise."""
    market = 0.008 * rng.standard_normal(N_SESSIONS)
    variance = np.full(N_TICKERS, 1e-4)
    shock = np.zeros(N_TICKERS)
    out = np.empty((N_SESSIONS, N_TICKERS))
    for t in range(N_SESSIONS):
        variance = 1e-6 + 0.08 * shock**2 + 0.9 * variance
        shock = np.sqrt(variance) * rng.standard_normal(N_TICKERS)
        out[t] = market[t] + shock
    return out


def forecast_rows(returns: np.ndarray, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """Forecast rows: strength x the session's return plus persistent noise."""
    noise = np.zeros_like(returns)
    for t in range(1, N_SESSIONS):
        noise[t] = 0.8 * noise[t - 1] + 0.6 * 0.01 * rng.standard_normal(N_TICKERS)
    forecast = strength * returns + noise
    sessions = pd.bdate_range("2020-01-02", periods=N_SESSIONS)
    return pd.DataFrame({"model": "m", "target": "raw", "horizon": 1,
                         "session": np.repeat(sessions, N_TICKERS),
                         "ticker": np.tile([f"T{i:02d}" for i in range(N_TICKERS)], N_SESSIONS),
                         "mean": forecast.ravel(), "actual": returns.ravel(), "realized": returns.ravel()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = MarketSettings()
    began = time.perf_counter()
    outcomes: dict[str, list[tuple[bool, bool, float]]] = {"null": [], "planted": []}
    for seed in range(args.panels):
        rng = np.random.default_rng(seed)
        returns = returns_panel(rng)
        for name, strength in (("null", 0.0), ("planted", 0.1)):
            sweep = portfolio_tables(forecast_rows(returns, strength, rng), settings.model_copy(
                update={"seed": seed}))["cost_sweep"].set_index("cost_bps")
            gross, net = sweep.loc[0.0], sweep.loc[settings.cost_bps]
            outcomes[name].append((bool(gross["sharpe_low"] > 0 or gross["sharpe_high"] < 0),
                                   bool(net["sharpe_low"] > 0), float(net["sharpe"])))
    record = {"command": f"python benchmarks/bench_portfolio_null.py --panels {args.panels}",
              "panels": args.panels, "tickers": N_TICKERS, "sessions": N_SESSIONS,
              "quantiles": settings.portfolio_quantiles, "cost_bps": settings.cost_bps,
              "bootstrap_draws": settings.bootstrap_draws, "seconds": round(time.perf_counter() - began, 1)}
    for name, rows in outcomes.items():
        record[name] = {"median_net_sharpe": float(np.median([r[2] for r in rows]))}
        for index, label in ((0, "gross_ci_excludes_zero"), (1, "net_ci_above_zero")):
            hits = int(sum(r[index] for r in rows))
            low, high = proportion_confint(hits, args.panels, alpha=0.05, method="beta")
            record[name][label] = {"count": hits, "rate": hits / args.panels, "rate_ci95": [low, high]}
    print(json.dumps(record, indent=2))
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
