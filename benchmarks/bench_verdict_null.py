"""Verdict-level null benchmark: with no signal anywhere, how often does the backtest say "signal"?

Each panel is a synthetic market (`neurofin.testing.planted_market.planted_panel`) with NO planted signal:
ROI features, sentiment features and returns are independent (returns i.i.d. normal, or GARCH(1,1)
with volatility clustering). The whole backtest runs on it (walk-forward ISC + Granger selection,
forecasts of every model, permutation null, Clark-West, verdict), with the linear (ridge)
forecaster, and on a smaller set with a tiny randomly initialised Chronos-2 built offline (as in
tests/market/test_forecast.py; a random network, so this checks the decision rule with a neural
forecaster's forecasts, not the pretrained model's skill). Any "signal" verdict is false; reported per
scenario: the false-signal rate with a Clopper-Pearson 95% interval and a one-sided binomial p-value
against "rate <= 5%", and the p-value distributions of the two tests the verdict combines.

Example (one process): PYTHONPATH=src .venv/bin/python benchmarks/bench_verdict_null.py --iid 250 --garch 250 --chronos 50
Scenarios can run as separate processes (--out a.json, b.json, ...) and be pooled afterwards with
`--combine a.json b.json ... --out results/verdict_null.json` (how the committed JSON was made; see its "command").
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from neurofin.config import MarketSettings
from neurofin.io import write_json_atomic
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.forecast.models import ChronosForecaster, RidgeForecaster
from neurofin.testing.chronos import save_random_chronos2
from neurofin.testing.planted_market import planted_panel

RESULTS = Path(__file__).resolve().parent / "results" / "verdict_null.json"
TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
LEVEL = 0.05


def run_scenario(name: str, panels: int, args: argparse.Namespace, garch: bool, forecaster, seed0: int,
                 checkpoint=None) -> dict:
    """Backtest `panels` null panels; count "signal" verdicts and keep the two p-values of each.

    `checkpoint(row)` is called with the summary of the panels done so far after each panel."""
    settings = MarketSettings(train_sessions=args.train, step_sessions=args.step, isc_null_shifts=50,
                              granger_max_lag=2, quantile_levels=[0.1, 0.5, 0.9], null_draws=args.draws,
                              targets=["raw"], horizons=[1])  # the verdict's target; the others never decide it
    signals, perm_p, cw_p = 0, [], []
    start = time.perf_counter()
    for k in range(panels):
        panel, prices = planted_panel(n_sessions=args.sessions, tickers=TICKERS[: args.tickers], n_subjects=3,
                                      volatility_clustering=garch, seed=seed0 + k)
        result = run_backtest(panel, prices, settings.model_copy(update={"seed": seed0 + k}), forecaster)
        signals += result.verdict.claim == "signal"
        row = result.metrics.set_index("model").loc[settings.primary_model]
        perm_p.append(float(row["perm_p"]))
        cw_p.append(float(row["cw_p"]))
        print(f"{name} {k + 1}/{panels}: signals so far {signals}", file=sys.stderr, flush=True)
        if checkpoint is not None:
            checkpoint(summary(name, k + 1, panels, signals, perm_p, cw_p, start))
    return summary(name, panels, panels, signals, perm_p, cw_p, start)


def summary(name: str, done: int, planned: int, signals: int, perm_p: list, cw_p: list, start: float) -> dict:
    """Scenario record after `done` of `planned` panels."""
    panels = done
    ci = stats.binomtest(signals, panels).proportion_ci(0.95, method="exact")
    perm, cw = np.asarray(perm_p), np.asarray(cw_p)
    return {
        "scenario": name, "panels": panels, "planned_panels": planned, "complete": done == planned,
        "signal_verdicts": signals, "false_signal_rate": signals / panels,
        "false_signal_rate_ci95": [ci.low, ci.high], "ci_upper_at_or_below_5pct": ci.high <= LEVEL,
        "p_value_rate_above_5pct": stats.binomtest(signals, panels, LEVEL, alternative="greater").pvalue,
        "permutation_p_below_0.05": float(np.mean(perm < LEVEL)),
        "clark_west_p_below_0.05": float(np.nanmean(cw < LEVEL)),
        "clark_west_p_nan": int(np.isnan(cw).sum()),
        "seconds": round(time.perf_counter() - start, 1),
    }


def pooled(rows: list[dict]) -> dict | None:
    """False-signal rate over all linear-forecaster panels, with its Clopper-Pearson 95% interval."""
    linear = [r for r in rows if r["scenario"].startswith("linear")]
    total, n = sum(r["signal_verdicts"] for r in linear), sum(r["panels"] for r in linear)
    if not n:
        return None
    ci = stats.binomtest(total, n).proportion_ci(0.95, method="exact")
    return {"panels": n, "complete": all(r["complete"] for r in linear), "signal_verdicts": total, "false_signal_rate": total / n,
            "false_signal_rate_ci95": [ci.low, ci.high], "ci_upper_at_or_below_5pct": ci.high <= LEVEL}


def combine(paths: list[Path], out: Path) -> None:
    """Pool the scenario rows of several result files (each keeps its own design and command)."""
    import json

    parts = [json.loads(p.read_text()) for p in paths]
    rows = [dict(row, design=part["design"], command=part["command"]) for part in parts for row in part["scenarios"]]
    write_json_atomic(out, {"benchmark": "verdict_null", "command": " ".join(sys.argv), "linear_pooled": pooled(rows),
                            "complete": all(r["complete"] for r in rows), "scenarios": rows, "machine": parts[0]["machine"]})
    print(json.dumps(pooled(rows)))


def main() -> None:
    """Parse arguments, run the scenarios (or pool earlier runs), print them and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iid", type=int, default=250, help="linear-forecaster panels with i.i.d. returns")
    parser.add_argument("--garch", type=int, default=250, help="linear-forecaster panels with GARCH(1,1) returns")
    parser.add_argument("--chronos", type=int, default=50, help="tiny Chronos-2 panels (half i.i.d., half GARCH)")
    parser.add_argument("--sessions", type=int, default=260)
    parser.add_argument("--train", type=int, default=140)
    parser.add_argument("--step", type=int, default=30)
    parser.add_argument("--tickers", type=int, default=6, choices=range(3, len(TICKERS) + 1))
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed-offset", type=int, default=0, help="added to every panel seed (extra batches)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--combine", type=Path, nargs="+", help="pool these result files instead of running")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine, args.out)
        return

    rows: list[dict] = []

    def checkpoint(partial: dict) -> None:  # results so far survive an interrupted run (marked complete: false)
        write_json_atomic(args.out, make_record(args, [*rows, partial]))

    ridge = RidgeForecaster(name="linear")
    if args.iid:
        rows.append(run_scenario("linear_iid", args.iid, args, False, ridge, args.seed_offset, checkpoint))
    if args.garch:
        rows.append(run_scenario("linear_garch", args.garch, args, True, ridge, 100_000 + args.seed_offset, checkpoint))
    if args.chronos:
        with tempfile.TemporaryDirectory() as tmp:
            chronos = ChronosForecaster(save_random_chronos2(Path(tmp) / "tiny-chronos2"), device="cpu")
            half = args.chronos // 2
            rows.append(run_scenario("chronos_tiny_iid", half, args, False, chronos, 200_000 + args.seed_offset, checkpoint))
            rows.append(run_scenario("chronos_tiny_garch", args.chronos - half, args, True, chronos, 300_000 + args.seed_offset,
                                     checkpoint))
    record = make_record(args, rows)
    for row in rows:
        print(f"{row['scenario']:>20}: {row['signal_verdicts']}/{row['panels']} false signals, rate "
              f"{row['false_signal_rate']:.3f} (95% CI {row['false_signal_rate_ci95'][0]:.3f}-"
              f"{row['false_signal_rate_ci95'][1]:.3f}), {row['seconds']} s")
    write_json_atomic(args.out, record)
    print(f"wrote {args.out}")


def make_record(args: argparse.Namespace, rows: list[dict]) -> dict:
    """The JSON record of one run."""
    return {
        "benchmark": "verdict_null", "command": " ".join(sys.argv),
        "design": {"sessions": args.sessions, "train_sessions": args.train, "step_sessions": args.step,
                   "tickers": args.tickers, "null_draws": args.draws, "level": LEVEL, "seed_offset": args.seed_offset},
        "linear_pooled": pooled(rows), "complete": all(r["complete"] for r in rows),
        "scenarios": rows,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }


if __name__ == "__main__":
    main()
