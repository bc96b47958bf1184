"""Peak memory and CPU of the Clark-West bootstrap on one fold at scale (cw_bootstrap.fold_terms), two checkouts.

One fold of the last test sessions (`--origins`) of a synthetic cube of `--tickers` tickers x `--days` days (a
target with 3% missing cells, 8 covariates, 1-3 per ticker as the ROI model reads), `--draws` draws, horizon 1.
Each checkout's `src` runs in its own child process (the peak RSS is per process): CPU s (process time), peak
RSS and the terms, compared bit for bit.

    python benchmarks/bench_cw_bootstrap_memory.py --tickers 500 --days 1250 --compare OLD_CHECKOUT/src \\
        --out benchmarks/results/cw_bootstrap_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def one_fold(n_tickers: int, n_days: int, n_origins: int, draws: int, terms_file: str) -> dict[str, float]:
    """CPU s and peak RSS of `fold_terms` on the synthetic fold; its terms saved to `terms_file`."""
    from neurofin.market.evaluate.cw_bootstrap import fold_terms
    from neurofin.market.forecast.engine import GridCube, OriginRequest

    rng = np.random.default_rng(0)
    days = pd.bdate_range("2019-01-02", periods=n_days)
    columns = ["target"] + [f"x{k}" for k in range(8)]
    values = rng.standard_normal((n_tickers, len(columns), n_days))
    values[:, 0] *= 0.01
    values[rng.random(values.shape) < 0.03] = np.nan
    cube = GridCube(np.array([f"T{k:04d}" for k in range(n_tickers)], dtype=object), days,
                    {c: k for k, c in enumerate(columns)}, values)
    covariates = {t: ([f"x{k}" for k in sorted(rng.choice(8, rng.integers(1, 4), replace=False))], [])
                  for t in cube.tickers}
    requests = [OriginRequest(days[d - 1], days[d], "target", days[d - 2]) for d in range(n_days - n_origins, n_days)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    cpu = time.process_time()
    terms = fold_terms(cube, covariates, requests, 1.0, draws, 1, 0).terms
    cpu = time.process_time() - cpu
    np.save(terms_file, terms)
    return {"cpu_s": round(cpu, 2), "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
            "rss_gb_before_call": round(before, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=1250)
    parser.add_argument("--origins", type=int, default=20)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--compare", type=Path, required=True, help="OLD_SRC: its bootstrap against this checkout's")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_fold(args.tickers, args.days, args.origins, args.draws, args.child)))
        return
    sources = {"old": args.compare.resolve(), "new": Path(__file__).resolve().parents[1] / "src"}
    runs, terms = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in sources.items():
            terms_file = str(Path(tmp) / f"{name}.npy")
            done = subprocess.run([sys.executable, __file__, "--tickers", str(args.tickers), "--days", str(args.days),
                                   "--origins", str(args.origins), "--draws", str(args.draws), "--compare",
                                   str(args.compare), "--child", terms_file],
                                  env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True, check=True)
            runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
            terms[name] = np.load(terms_file)
    result = {"benchmark": "cw_bootstrap_memory", "command": " ".join(["benchmarks/bench_cw_bootstrap_memory.py", *sys.argv[1:]]),
              "tickers": args.tickers, "days": args.days, "origins": args.origins, "draws": args.draws,
              "old_src": str(args.compare), **runs,
              "terms_identical": bool(np.array_equal(terms["old"], terms["new"], equal_nan=True)),
              "cpus": len(os.sched_getaffinity(0)), "machine": platform.machine(), "load_avg": os.getloadavg()}
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
