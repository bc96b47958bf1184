"""Why the tests of bench_test_size reject less than 5%: the same null forecast tables, two diagnostics.

1. The randomisation test as the verdict runs it (the ROI contribution reassigned, the univariate forecast kept
   in the ranks) against the same test on the contribution alone (the reference set to 0: reassigning the
   contribution is then the same as reassigning the returns, an exact test): rejection rates at 5, 10, 20%.
2. Clark-West's t statistic: its mean and sd over the tables (0 and 1 for a test whose normal critical value is
   right), with the HAC standard error the product uses and with the plain i.i.d. one (which ignores the overlap
   of h-session targets at h > 1).

Example: PYTHONPATH=src .venv/bin/python benchmarks/bench_null_diagnostics.py --reps 600 --tickers 6 [--horizon 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.io import write_json_atomic
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.null import permutation_ic_test
from neurofin.market.evaluate.sizing import LEVEL, null_forecasts

RESULTS = Path(__file__).resolve().parent / "results" / "null_diagnostics.json"
LEVELS = (0.05, 0.1, 0.2)


def contribution_only(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with the univariate forecast 0 and the roi forecast its contribution (roi - univariate)."""
    wide = table.pivot_table(index=["session", "ticker"], columns="model", values="mean")
    contribution = (wide["roi"] - wide["univariate"]).rename("contribution").reset_index()
    out = table.merge(contribution, on=["session", "ticker"])
    return out.assign(mean=np.where(out["model"] == "roi", out["contribution"], 0.0)).drop(columns="contribution")


def clark_west_t(table: pd.DataFrame, horizon: int) -> tuple[float, float]:
    """Clark-West t with the product's HAR error (metrics.clark_west; Newey-West before issue 21 item 1) and with the i.i.d. error of the mean."""
    wide = table.pivot_table(index=["session", "ticker"], columns="model", values="mean").reset_index()
    wide = wide.merge(table[["session", "ticker", "actual"]].drop_duplicates(), on=["session", "ticker"])
    y, small, big = wide["actual"], wide["univariate"], wide["roi"]
    per_date = ((y - small) ** 2 - ((y - big) ** 2 - (small - big) ** 2)).groupby(wide["session"]).mean().to_numpy()
    return m.clark_west(wide, "roi", "univariate", horizon - 1).t_stat, float(per_date.mean() / per_date.std(ddof=1) * np.sqrt(per_date.size))


def main() -> None:
    """Run the diagnostics on one design and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=600)
    parser.add_argument("--tickers", type=int, default=6)
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first table (table r uses seed + r)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start = time.perf_counter()
    p_values, t_stats = np.zeros((args.reps, 2)), np.zeros((args.reps, 2))
    for rep in range(args.reps):
        seed = args.seed + rep
        table = null_forecasts(args.tickers, args.horizon, seed=seed)
        p_values[rep] = [permutation_ic_test(t, "roi", "univariate", args.draws, seed, horizon=args.horizon).p_value
                         for t in (table, contribution_only(table))]
        t_stats[rep] = clark_west_t(table, args.horizon)
    rates = {name: {str(level): float(np.mean(p < level)) for level in LEVELS}
             for name, p in zip(["reference_in_ranks", "contribution_only"], p_values.T, strict=True)}
    cw = {name: {"mean": float(np.mean(t)), "sd": float(np.std(t)), "rejects_at_5pct": float(np.mean(t > 1.6449))}
          for name, t in zip(["hac", "iid"], t_stats.T, strict=True)}
    write_json_atomic(args.out, {
        "benchmark": "null_diagnostics", "command": " ".join(sys.argv), "level": LEVEL, "horizon": args.horizon,
        "tickers": args.tickers, "reps": args.reps, "first_seed": args.seed, "draws": args.draws,
        "permutation_rejection_rates": rates, "clark_west_t": cw, "seconds": round(time.perf_counter() - start, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
    })
    print(rates, cw, file=sys.stderr)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
