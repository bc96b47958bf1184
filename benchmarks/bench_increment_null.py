"""How often does an ROI increment over a control "hold" when nothing is planted? (the increments' false-positive rate)

    PYTHONPATH=src .venv/bin/python benchmarks/bench_increment_null.py --panels 60 --out benchmarks/results/increment_null.json

Null panels of `planted_panel` (no signal; 4-dimensional text embedding, so all three controls run), the linear
forecaster, the raw 1-session target. Counts panels where the increment over each control holds and panels where
any holds (the familywise rate the Holm adjustment controls at 5%), with Clopper-Pearson 95% intervals.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from scipy import stats

from neurofin.config import MarketSettings
from neurofin.io import write_json_atomic
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.variants import CONTROLS
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import planted_panel

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")


def rate(count: int, n: int) -> dict:
    """Count, rate and its exact 95% interval."""
    ci = stats.binomtest(count, n).proportion_ci(0.95, method="exact")
    return {"holds": count, "rate": count / n, "ci95": [ci.low, ci.high]}


def main() -> None:
    """Run the null panels and write the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=60)
    parser.add_argument("--sessions", type=int, default=220)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = MarketSettings(train_sessions=120, step_sessions=25, isc_null_shifts=50, granger_max_lag=2,
                              quantile_levels=[0.1, 0.5, 0.9], null_draws=200, targets=["raw"], horizons=[1])
    held = {c: 0 for c in CONTROLS}
    any_held, start = 0, time.perf_counter()
    for k in range(args.panels):
        panel, prices = planted_panel(n_sessions=args.sessions, tickers=TICKERS, n_subjects=3, embedding_dims=4, seed=5000 + k)
        increments = run_backtest(panel, prices, settings.model_copy(update={"seed": k}), RidgeForecaster()).increments
        for control, holds in zip(increments["base"], increments["holds"], strict=True):
            held[control] += bool(holds)
        any_held += bool(increments["holds"].any())
        print(f"{k + 1}/{args.panels}: any increment held in {any_held}", file=sys.stderr, flush=True)
    record = {"benchmark": "increment_null", "command": " ".join(sys.argv), "panels": args.panels,
              "design": {"tickers": len(TICKERS), "sessions": args.sessions, **settings.model_dump(
                  mode="json", include={"train_sessions", "step_sessions", "null_draws", "targets", "horizons"})},
              "any_control": rate(any_held, args.panels), "per_control": {c: rate(n, args.panels) for c, n in held.items()},
              "seconds": round(time.perf_counter() - start, 1),
              "machine": {"cpus": os.cpu_count(), "machine": platform.machine()}}
    print(record)
    if args.out:
        write_json_atomic(args.out, record)


if __name__ == "__main__":
    main()
