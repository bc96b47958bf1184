"""Size of the backtest's own Clark-West bootstrap p (`market.evaluate.cw_bootstrap`) on null tables.

bench_test_size.py measures the tests on null tables whose primary model is a pooled OLS slope (`sizing.py`). The
backtest's reported Clark-West p with the linear forecaster is the fixed-regressor bootstrap of a per-ticker ridge
(`cw_bootstrap.fold_terms`); this script runs exactly that code on the same null designs
(`sizing.product_clark_west`: 250 sessions, the last 120 forecast, persistent AR(1) ROI independent of i.i.d.
returns) at h = 1 and h = 5 with 3, 6 and 10 tickers, and reports its one-sided 5% rejection rate, the t(dof) p's
rate on the same tables, the mean p, and the binomial 95% band of an exact 5% test at that count.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_cw_bootstrap_size.py --reps 300
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy import stats

from neurofin.io import write_json_atomic
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.sizing import LEVEL, null_design, product_clark_west

RESULTS = Path(__file__).resolve().parent / "results" / "cw_bootstrap_size.json"


def cell(horizon: int, tickers: int, reps: int, draws: int) -> dict:
    """Rejection rates of the bootstrap and t(dof) p over `reps` null tables (seeds 0..reps-1)."""
    p = np.empty((reps, 2))
    for seed in range(reps):
        design = null_design(tickers, horizon, seed=seed)
        test = product_clark_west(design, draws, seed)
        p[seed] = test.p_value, stats.t.sf(test.t_stat, m.ewc_dof(design.test_sessions, horizon - 1))
    return {"horizon": horizon, "tickers": tickers, "tables": reps,
            "bootstrap_rejects": float(np.mean(p[:, 0] < LEVEL)), "t_dof_rejects": float(np.mean(p[:, 1] < LEVEL)),
            "bootstrap_mean_p": float(p[:, 0].mean()), "t_dof_mean_p": float(p[:, 1].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    cells = [cell(h, n, args.reps, args.draws) for h in (1, 5) for n in (3, 6, 10)]
    low, high = stats.binom.ppf([0.025, 0.975], args.reps, LEVEL) / args.reps
    record = {"benchmark": "cw_bootstrap_size", "command": f"benchmarks/bench_cw_bootstrap_size.py --reps {args.reps} "
              f"--draws {args.draws}" + ("" if args.out == RESULTS else f" --out {args.out}"), "draws": args.draws, "band95": [float(low), float(high)], "cells": cells,
              "in_band": all(low <= c["bootstrap_rejects"] <= high for c in cells),
              "seconds": round(time.perf_counter() - start, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    write_json_atomic(args.out, record)
    for c in cells:
        print(f"h={c['horizon']} tickers={c['tickers']}: bootstrap {c['bootstrap_rejects']:.3f}, "
              f"t(dof) {c['t_dof_rejects']:.3f} (band {low:.3f}-{high:.3f})")


if __name__ == "__main__":
    main()
