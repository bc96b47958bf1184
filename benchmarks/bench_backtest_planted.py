"""Wall time of run_backtest on one planted panel with an LM embedding, for two checkouts, alternating.

    python benchmarks/bench_backtest_planted.py --before OLD_SRC_DIR --after src --repeats 3 \\
        --out benchmarks/results/backtest_planted_time.json

OLD_SRC_DIR: a `src` folder of the old commit (e.g. `git archive 37988fc src | tar -x -C /tmp/old`). The
panel (6 tickers x 220 sessions, 8 embedding dimensions, a planted ROI lead) and the settings (linear
forecaster, every default target and horizon, 200 permutation draws) are the same for both; each run is a
fresh process. Reports the median seconds of each and their ratio (after / before).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import time
from neurofin.config import MarketSettings
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import planted_panel
panel, prices = planted_panel(n_sessions=220, tickers=("AAA", "BBB", "CCC", "DDD", "EEE", "FFF"),
                              signal={"AAA": "Limbic_OFC", "BBB": "Limbic_OFC"}, strength=0.5, n_subjects=3,
                              embedding_dims=8, seed=0)
settings = MarketSettings(train_sessions=120, step_sessions=25, isc_null_shifts=50, granger_max_lag=2,
                          forecaster="linear", quantile_levels=[0.1, 0.5, 0.9], null_draws=200)
began = time.perf_counter()
result = run_backtest(panel, prices, settings, RidgeForecaster(name="linear"))
print(time.perf_counter() - began)
"""


def run_once(src: Path) -> float:
    """Seconds one backtest took in a fresh process with `src` first on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.repeats):
        times["before"].append(run_once(args.before))
        times["after"].append(run_once(args.after))
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    record = {"seconds": times, "median_before": before, "median_after": after, "ratio": after / before,
              "load_average": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(record, indent=2))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
