"""Size of the verdict's tests on null forecast tables, at horizons 1 and 5 with 3, 6 and 10 tickers.

Each rep draws a table of walk-forward forecasts (`neurofin.market.evaluate.sizing.null_design`: a
persistent AR(1) ROI, phi 0.9, independent of i.i.d. returns; 250 sessions, the last 120 forecast; the
primary model adds a fitted ROI slope to the univariate forecast) and applies the tests the verdict reports,
one-sided at 5%: the randomisation null of the ROI contribution (`null.py`: uniform within-session
permutations at h = 1, block permutations at h > 1), Clark-West with the product's HAR t and t(dof) critical
value and with the fixed-regressor bootstrap (`sizing.frb_clark_west`, 200 draws), IC-HAC (`metrics.py`: EWC
HAR t, t(dof)), and the verdict (`verdict.decide` on these statistics: the permutation test alone). For
comparison, the rule before (`previous_rule`): Clark-West and IC-HAC with Newey-West errors at h = 1 and
Hansen-Hodrick with h-1 lags at h > 1 (Bartlett with twice the lags when that variance is not positive), normal
critical values. Every rate comes with the binomial 95% acceptance band of a 5% test at that count
(scipy.stats.binom quantiles), and the permutation test's and Clark-West's rejection rates at 1, 5, 10 and 20%
(the whole p-value distribution: an exact test rejects at each level about that share; a conservative one less
at every level).

Example: PYTHONPATH=src .venv/bin/python benchmarks/bench_test_size.py --reps 300
More reps on some cells, seeds 1000.., another file:
  benchmarks/bench_test_size.py --reps 1000 --seed 1000 --cells 1:6,1:3,5:10 --out benchmarks/results/test_size_1000.json
  benchmarks/bench_test_size.py --reps 1000 --seed 1000 --cells 1:10,5:3,5:6 --out benchmarks/results/test_size_1000_rest.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from neurofin.io import write_json_atomic
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.sizing import LEVEL, frb_clark_west, null_design, null_rejections

RESULTS = Path(__file__).resolve().parent / "results" / "test_size.json"


def band(reps: int) -> list[float]:
    """The central 95% range of the rejection rate of an exact 5% test over `reps` independent tables."""
    low, high = stats.binom.ppf([0.025, 0.975], reps, LEVEL)
    return [float(low) / reps, float(high) / reps]


def _previous_t(series: np.ndarray, horizon: int) -> float:
    """The HAC t of mean(series) before the EWC rule: Newey-West (automatic lags) at h = 1; Hansen-Hodrick with
    max(automatic, h-1) lags at h > 1, Bartlett with twice the lags when that variance is not positive."""
    import statsmodels.api as sm

    values = series[np.isfinite(series)]
    lags = max(m.newey_west_lags(values.size), horizon - 1)
    kernels = [("uniform", lags), ("bartlett", 2 * lags)] if horizon > 1 else [("bartlett", lags)]
    t = float("nan")
    for kernel, k in kernels:
        with np.errstate(invalid="ignore"):
            t = float(sm.OLS(values, np.ones((values.size, 1))).fit(
                cov_type="HAC", cov_kwds={"maxlags": k, "use_correction": True, "kernel": kernel}).tvalues[0])
        if np.isfinite(t):
            break
    return t


def previous_rule(forecasts, horizon: int) -> tuple[bool, bool]:
    """Clark-West and IC-HAC one-sided 5% rejections with the rule before (`_previous_t`, normal critical value)."""
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(forecasts[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    y, small, big = wide["actual"], wide["univariate"], wide["roi"]
    per_date = ((y - small) ** 2 - ((y - big) ** 2 - (small - big) ** 2)).groupby(wide["session"]).mean().to_numpy()
    ic = m.ic_by_date(forecasts[forecasts["model"] == "roi"]).to_numpy()
    cw_t, ic_t = _previous_t(per_date, horizon), _previous_t(ic, horizon)
    return bool(cw_t > stats.norm.isf(LEVEL)), bool(ic_t > stats.norm.isf(LEVEL))


NAMES = ["permutation", "clark_west", "clark_west_frb", "ic_hac", "verdict", "clark_west_before", "ic_hac_before"]
P_VALUES = ["permutation", "clark_west", "clark_west_frb"]


def cell(horizon: int, tickers: int, reps: int, draws: int, first_seed: int = 0, bootstrap: int = 200) -> dict:
    """Rejection rates of every test over `reps` null tables of one design (seeds first_seed, first_seed + 1, ..)."""
    start = time.perf_counter()
    hits = np.zeros((reps, len(NAMES)), dtype=bool)
    p_values = np.zeros((reps, len(P_VALUES)))
    frb_seconds = 0.0
    for rep in range(reps):
        seed = first_seed + rep
        design = null_design(tickers, horizon, seed=seed)
        r = null_rejections(design, draws, seed, bootstrap)
        clock = time.perf_counter()
        frb_clark_west(design, bootstrap, seed)  # timed alone: the bootstrap's cost per table
        frb_seconds += time.perf_counter() - clock
        hits[rep] = [r.permutation, r.clark_west, r.clark_west_frb, r.ic_hac, r.verdict,
                     *previous_rule(design.table(), horizon)]
        p_values[rep] = [r.permutation_p, r.clark_west_p, r.clark_west_frb_p]
    rates = hits.mean(axis=0)
    lo, hi = band(reps)
    row = {"horizon": horizon, "tickers": tickers, "reps": reps, "band95": [lo, hi],
           **{name: float(rate) for name, rate in zip(NAMES, rates, strict=True)},
           **{f"{name}_in_band": bool(lo <= rate <= hi) for name, rate in zip(NAMES, rates, strict=True)},
           "rate_at_level": {name: {str(level): float(np.mean(p < level)) for level in (0.01, 0.05, 0.1, 0.2)}
                             for name, p in zip(P_VALUES, p_values.T, strict=True)},
           "mean_p": {name: float(p.mean()) for name, p in zip(P_VALUES, p_values.T, strict=True)},
           "first_seed": first_seed,
           "frb_seconds_per_table": round(frb_seconds / reps, 4),
           "seconds": round(time.perf_counter() - start, 1)}
    print(row, file=sys.stderr, flush=True)
    return row


def main() -> None:
    """Run every design and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--draws", type=int, default=200, help="randomisation draws per test")
    parser.add_argument("--bootstrap", type=int, default=200, help="fixed-regressor bootstrap draws of Clark-West")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first rep (rep r uses seed + r)")
    parser.add_argument("--cells", default="1:3,1:6,1:10,5:3,5:6,5:10", help="horizon:tickers pairs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cells = [(int(h), int(n)) for h, n in (pair.split(":") for pair in args.cells.split(","))]
    rows: list[dict] = []
    for h, n in cells:  # the JSON is rewritten after every cell (`complete` once all ran)
        rows.append(cell(h, n, args.reps, args.draws, args.seed, args.bootstrap))
        write_json_atomic(args.out, {
            "benchmark": "test_size", "command": " ".join(sys.argv), "level": LEVEL, "complete": len(rows) == len(cells),
            "design": {"sessions": 250, "test_sessions": 120, "roi_phi": 0.9, "missing_fraction": 0.03,
                       "draws": args.draws, "bootstrap": args.bootstrap,
                       "returns": "iid normal"},
            "rows": rows,
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
