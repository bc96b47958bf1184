"""Cost of the verdict's power grid (`neurofin market power`, `verdict_power`) against one backtest (issue 22).

On one synthetic panel of `bench_power.py`'s design (GARCH returns, no signal, 3 subjects, linear forecaster,
primary target at horizon 1): CPU seconds (process time) of one backtest on the user's prices, then of the
power grid of `--ics` x `--reps` planted panels, in a child process per checkout; the grid's cost is reported in
backtests. The folds' ISC screens (`fold_screens`, run once per backtest and once per grid) are timed apart:
`per_panel_cpu_s` is the grid's CPU less its screens per planted panel (the user's data preparation, once per
grid, included), also as a share of a backtest and of a backtest less its screens. With `--compare OLD_SRC` the
same measurements run with OLD_SRC's `src` first, then with this checkout's:

    python benchmarks/bench_power_cost.py --compare OLD_CHECKOUT/src --out benchmarks/results/power_grid_shared.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys, time
from neurofin.config import MarketSettings
from neurofin.market.evaluate import power, walk_forward
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import DEFAULT_ROIS, planted_panel
tickers, sessions, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ics = [float(v) for v in sys.argv[4].split(",")]
screening = [0.0]
def timed(screens):
    def run(*args, **kwargs):
        began = time.process_time()
        try:
            return screens(*args, **kwargs)
        finally:
            screening[0] += time.process_time() - began
    return run
walk_forward.fold_screens, power.fold_screens = timed(walk_forward.fold_screens), timed(power.fold_screens)
settings = MarketSettings(train_sessions=250, step_sessions=125, targets=["raw"], horizons=[1], null_draws=200,
                          quantile_levels=[0.1, 0.5, 0.9])
panel, prices = planted_panel(n_sessions=sessions, tickers=[f"T{k:03d}" for k in range(tickers)], n_subjects=3,
                              volatility_clustering=True, seed=0)
began = time.process_time()
one = run_backtest(panel, prices, settings, RidgeForecaster(name="linear"))
backtest, backtest_screens = time.process_time() - began, screening[0]
screening[0] = 0.0
began, wall = time.process_time(), time.perf_counter()
result = power.verdict_power(panel, prices, settings, RidgeForecaster(name="linear"), ics=ics, reps=reps,
                             roi=DEFAULT_ROIS[0])
grid, grid_wall = time.process_time() - began, time.perf_counter() - wall
print(json.dumps({"backtest_cpu_s": round(backtest, 2), "backtest_screens_cpu_s": round(backtest_screens, 2),
                  "grid_cpu_s": round(grid, 2), "grid_screens_cpu_s": round(screening[0], 2),
                  "grid_wall_s": round(grid_wall, 1), "detections": result.detections,
                  "backtest_verdict": one.verdict.claim}))
"""


def measure(src: Path, args: argparse.Namespace) -> dict[str, float]:
    """One child process with `src` first on PYTHONPATH: one backtest, then the power grid."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(args.tickers), str(args.sessions), str(args.reps), args.ics],
                          env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    cells = len(args.ics.split(",")) * args.reps
    panel = (out["grid_cpu_s"] - out["grid_screens_cpu_s"]) / cells  # the screens run once per grid
    return {**out, "grid_in_backtests": round(out["grid_cpu_s"] / out["backtest_cpu_s"], 2),
            "per_planted_panel_in_backtests": round(out["grid_cpu_s"] / cells / out["backtest_cpu_s"], 3),
            "per_panel_cpu_s": round(panel, 2), "per_panel_in_backtests": round(panel / out["backtest_cpu_s"], 3),
            "per_panel_in_unscreened_backtests": round(
                panel / (out["backtest_cpu_s"] - out["backtest_screens_cpu_s"]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=750)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--ics", default="0,0.05,0.1,0.2")
    parser.add_argument("--compare", type=Path, default=None, help="OLD_SRC: its power grid against this checkout's")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--sources", default=None, help="JSON object describing the checkouts compared (old, new)")
    args = parser.parse_args()
    sources = {"new": Path(__file__).resolve().parents[1] / "src"}
    if args.compare:
        sources = {"old": args.compare.resolve(), **sources}
    runs = {name: measure(src, args) for name, src in sources.items()}
    result: dict[str, object] = {
        "benchmark": "power_grid_cost", "command": " ".join(sys.argv),
        "design": {"tickers": args.tickers, "sessions": args.sessions, "ics": args.ics, "reps": args.reps,
                   "train": 250, "step": 125, "subjects": 3, "forecaster": "linear"}, **runs,
    }
    if args.compare:
        result["grid_cpu_ratio_old_over_new"] = round(runs["old"]["grid_cpu_s"] / runs["new"]["grid_cpu_s"], 2)
    if args.sources:
        result["sources"] = json.loads(args.sources)
    result["hardware"] = {"cpus": os.cpu_count(), "machine": platform.machine(), "load_avg_1m": os.getloadavg()[0]}
    line = json.dumps(result)
    print(line)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
