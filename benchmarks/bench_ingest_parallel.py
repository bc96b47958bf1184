"""Parallel ingest benchmark: N generated monthly dumps, sequential vs concurrent workers (issue 15).

The dumps come from bench_ingest.generate_dump (one seed per month; not timed). Timed in one run: the
sequential `ingest_dumps` over all dumps, then `neurofin.scale.ingest.ingest_parallel` with local worker
processes and, with --ray, as Ray tasks on a local Ray instance (its start-up timed apart). The run fails
unless every parallel output table and count equals the sequential one. Reports seconds, comments/s and the
speed-up ratio over sequential.

Example: PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/bench_ingest_parallel.py --dumps 4 --lines 250000 --workers 2 --ray
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd
from bench_ingest import KEEP_SUBREDDITS, generate_dump, hardware

from neurofin.io import write_json_atomic
from neurofin.market.comments.ingest import ingest_dumps
from neurofin.scale.ingest import ingest_parallel

RESULTS = Path(__file__).resolve().parent / "results" / "ingest_parallel.json"
OPTIONS = {"subreddits": KEEP_SUBREDDITS, "start": date(2021, 1, 1), "end": date(2021, 1, 31)}


def counts(report) -> dict:
    return {k: v for k, v in report.to_record().items() if k not in ("seconds", "files")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dumps", type=int, default=4)
    parser.add_argument("--lines", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray", action="store_true", help="also time Ray tasks on a local Ray instance")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dumps = [work / f"RC_2021-{i:02d}.zst" for i in range(1, args.dumps + 1)]
        for seed, dump in enumerate(dumps):
            generate_dump(dump, args.lines, seed=seed)
        total = args.dumps * args.lines

        began = time.perf_counter()
        seq = ingest_dumps(dumps, work / "seq.parquet", **OPTIONS)
        seq_s = time.perf_counter() - began
        reference = pd.read_parquet(work / "seq.parquet")
        runs = {"sequential": {"seconds": round(seq_s, 2), "comments_per_s": round(total / seq_s)}}

        def timed(name: str, **kwargs) -> None:
            began = time.perf_counter()
            report = ingest_parallel(dumps, work / f"{name}.parquet", **OPTIONS, **kwargs)
            seconds = time.perf_counter() - began
            if counts(report) != counts(seq) or not pd.read_parquet(work / f"{name}.parquet").equals(reference):
                raise SystemExit(f"{name}: output or counts differ from the sequential ingest")
            runs[name] = {"seconds": round(seconds, 2), "comments_per_s": round(total / seconds),
                          "speedup_vs_sequential": round(seq_s / seconds, 2), "identical_to_sequential": True}

        timed(f"processes_{args.workers}", workers=args.workers)
        if args.ray:
            from neurofin.scale.cluster import connect

            began = time.perf_counter()
            connect("local", num_cpus=args.workers)
            runs["ray_startup_s"] = round(time.perf_counter() - began, 2)
            timed(f"ray_tasks_{args.workers}cpu", ray_address="local")

    result = {
        "benchmark": "ingest_parallel",
        "dumps": args.dumps,
        "comments_per_dump": args.lines,
        "kept": seq.kept,
        "duplicates_across_and_within_dumps": seq.duplicate,
        "runs": runs,
        "hardware": hardware(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),  # other jobs sharing the cores
        "command": "benchmarks/bench_ingest_parallel.py " + " ".join(sys.argv[1:]),
    }
    write_json_atomic(args.out, result)
    for name, run in runs.items():
        print(name, run)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
