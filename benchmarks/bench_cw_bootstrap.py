"""CPU cost of the Clark-West fixed-regressor bootstrap (cw_bootstrap.py) in one linear-forecaster backtest.

One planted panel (`planted_panel`, `--tickers` tickers, `--sessions` sessions, 2 subjects, no signal); the
backtest (`run_backtest`, linear forecaster, market defaults otherwise: every target, horizons 1 and 5, 250
training sessions, 20 per fold) is run with market.cw_bootstrap off (the t p) and with `--draws` draws, alternating,
`--repeats` times each; CPU seconds (process time, all threads) and wall seconds, medians. Also the fallback means
of `ridge_means` for `--draws` + 1 target columns on the last fold's shape: one `_historical_means` per column (the
code before) against `column_means` (one cumulative sum).

Example: PYTHONPATH=src nice .venv/bin/python benchmarks/bench_cw_bootstrap.py --tickers 50 --sessions 750 \\
    --out benchmarks/results/cw_bootstrap_cost.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from neurofin.config import MarketSettings
from neurofin.io import write_json_atomic
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.forecast.batched_ridge import _historical_means, column_means
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import planted_panel


def _timed(job) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `job()`."""
    cpu, wall = time.process_time(), time.perf_counter()
    job()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=750)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    panel, prices = planted_panel(n_sessions=args.sessions, tickers=[f"T{i:03d}" for i in range(args.tickers)],
                                  n_subjects=2, seed=0)
    runs: dict[int, list[tuple[float, float]]] = {0: [], args.draws: []}
    for _ in range(args.repeats):
        for draws in runs:
            settings = MarketSettings(forecaster="linear", **({"cw_bootstrap_draws": draws} if draws else {"cw_bootstrap": False}))
            runs[draws].append(_timed(lambda s=settings: run_backtest(panel, prices, s, RidgeForecaster(s.ridge_alpha))))
    cpu = {draws: float(np.median([c for c, _ in r])) for draws, r in runs.items()}
    wall = {draws: float(np.median([w for _, w in r])) for draws, r in runs.items()}
    rng = np.random.default_rng(0)
    columns = rng.standard_normal((args.tickers, args.sessions, args.draws + 1))
    known_day = np.arange(args.sessions - 21, args.sessions - 1)
    before = _timed(lambda: np.stack([_historical_means(columns[..., k], known_day)[0]
                                      for k in range(columns.shape[-1])], axis=-1))[0]
    after = _timed(lambda: column_means(columns, known_day))[0]
    result = {
        "benchmark": "cw_bootstrap_cost", "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "tickers": args.tickers, "sessions": args.sessions, "draws": args.draws, "repeats": args.repeats,
        "cpu_s_without": cpu[0], "cpu_s_with": cpu[args.draws], "cpu_share_added": cpu[args.draws] / cpu[0] - 1,
        "wall_s_without": wall[0], "wall_s_with": wall[args.draws],
        "fallback_means_cpu_s_per_column_loop": before, "fallback_means_cpu_s_cumsum": after,
        "cpus": len(os.sched_getaffinity(0)), "machine": platform.processor() or platform.machine(),
    }
    print(result)
    if args.out:
        write_json_atomic(args.out, result)


if __name__ == "__main__":
    main()
