"""Null benchmark of the Granger filter: with no planted signal, how often does it select anything?

Each seed draws a synthetic panel (`neurofin.testing.planted_market.planted_panel`, no signal: every ROI is
unrelated to every return) and runs the filter of the chain on it: HC3-robust Granger tests of all
ROI x ticker pairs, lag chosen by BIC (or fixed), one Benjamini-Hochberg correction at level alpha.
Under this complete null every selection is false, so the false discovery rate equals the share of
runs with at least one selection; BH guarantees it is <= alpha for independent tests. Reported per
scenario (i.i.d. normal returns; GARCH(1,1) returns with volatility clustering): that share with a
Clopper-Pearson 95% interval and a one-sided binomial p-value against "share <= alpha", the per-test
selection rate, and the raw test's rejection rate at 0.05. With exact p-values BH under the complete
null has an FDR of exactly alpha, so the estimate scatters around alpha by binomial noise.

Example: .venv/bin/python benchmarks/bench_granger_null.py --seeds 1000
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
from neurofin.market.selection.gate import roi_columns, session_frame
from neurofin.market.selection.granger import granger_table
from neurofin.testing.planted_market import DEFAULT_ROIS, planted_panel

RESULTS = Path(__file__).resolve().parent / "results" / "granger_null.json"
TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")


def run_scenario(name: str, args: argparse.Namespace, garch: bool) -> dict[str, object]:
    """Granger filter on `args.seeds` null panels; counts of runs and tests with selections."""
    runs_with_selection, selected_tests, raw_rejections, n_tests = 0, 0, 0, 0
    start = time.perf_counter()
    for seed in range(args.seeds):
        panel, prices = planted_panel(n_sessions=args.sessions, tickers=TICKERS[: args.tickers], n_subjects=2,
                                      volatility_clustering=garch, seed=seed)
        rois = roi_columns(panel)
        frame = session_frame(panel, prices, rois)
        pairs = [(roi, ticker) for ticker in TICKERS[: args.tickers] for roi in rois]
        table = granger_table(frame, pairs, max_lag=args.max_lag, lag_criterion=args.lag_criterion, fdr_alpha=args.alpha)
        runs_with_selection += bool(table["selected"].any())
        selected_tests += int(table["selected"].sum())
        raw_rejections += int((table["p_value"] < 0.05).sum())
        n_tests += len(table)
    fdr = stats.binomtest(runs_with_selection, args.seeds).proportion_ci(0.95, method="exact")
    per_test = stats.binomtest(selected_tests, n_tests).proportion_ci(0.95, method="exact")
    return {
        "scenario": name, "seeds": args.seeds, "tests_per_seed": n_tests // args.seeds,
        "runs_with_selection": runs_with_selection,
        "false_selection_rate": runs_with_selection / args.seeds,
        "false_selection_rate_ci95": [fdr.low, fdr.high],
        "per_test_selection_rate": selected_tests / n_tests, "per_test_selection_rate_ci95": [per_test.low, per_test.high],
        "raw_rejection_rate_at_0.05": raw_rejections / n_tests,
        "at_or_below_fdr_level": runs_with_selection / args.seeds <= args.alpha,
        "p_value_above_fdr_level": stats.binomtest(runs_with_selection, args.seeds, args.alpha, alternative="greater").pvalue,
        "seconds": round(time.perf_counter() - start, 2),
    }


def main() -> None:
    """Parse arguments, run both scenarios, print a table and write the JSON."""
    defaults = MarketSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=defaults.train_sessions, help="sessions per panel (a training window)")
    parser.add_argument("--tickers", type=int, default=6, choices=range(1, len(TICKERS) + 1))
    parser.add_argument("--alpha", type=float, default=defaults.fdr_alpha)
    parser.add_argument("--max-lag", type=int, default=defaults.granger_max_lag)
    parser.add_argument("--lag-criterion", default=defaults.granger_lag_criterion, choices=["fixed", "aic", "bic"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rows = [run_scenario("iid_normal", args, garch=False), run_scenario("garch_1_1", args, garch=True)]
    print(f"Granger filter under the complete null: {args.seeds} seeds x {rows[0]['tests_per_seed']} tests, "
          f"BH-FDR alpha={args.alpha}, lag {args.lag_criterion} <= {args.max_lag}, {args.sessions} sessions")
    print(f"{'scenario':<12} {'runs with a selection (=FDR)':>28} {'95% CI':>15} {'p(>alpha)':>10} {'per-test':>9} "
          f"{'raw p<.05':>10}")
    for row in rows:
        low, high = row["false_selection_rate_ci95"]
        print(f"{row['scenario']:<12} {row['runs_with_selection']:>6}/{row['seeds']:<5} = {row['false_selection_rate']:.3f}"
              f"{'':>6} [{low:.3f}, {high:.3f}] {row['p_value_above_fdr_level']:>10.3f} "
              f"{row['per_test_selection_rate']:>9.4f} {row['raw_rejection_rate_at_0.05']:>10.3f}")
    record = {
        "benchmark": "granger_null", "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "alpha": args.alpha, "max_lag": args.max_lag, "lag_criterion": args.lag_criterion, "sessions": args.sessions,
        "tickers": args.tickers, "rois": len(DEFAULT_ROIS),
        "scenarios": rows,
        "hardware": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                     "python": platform.python_version()},
    }
    write_json_atomic(args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
