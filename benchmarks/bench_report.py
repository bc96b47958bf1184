"""`neurofin report` on the demo's outputs: wall time of a fresh process rendering the whole report, on 2 CPU cores.

Each run is a new Python process (imports included, as a user would run it) pinned to at most 2 cores with
sched_setaffinity; the registration is read from the demo's atlas cache (as the demo itself does). Target:
<= 30 s. Also recorded: each run's CPU time (user + system of the child), which other load on the machine
inflates far less than the wall time. Run `neurofin demo --out DEMO` first.

Example: .venv/bin/python benchmarks/bench_report.py --demo-out demo_out --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neurofin.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "report.json"
BUDGET_S = 30.0


def command(demo: Path, out: Path) -> list[str]:
    """The `neurofin report` call the demo makes, as a CLI invocation."""
    return [sys.executable, "-m", "neurofin.cli", "report", "--packages", str(demo / "models"),
            "--data-root", str(demo / "synth"), "--atlas-cache", str(demo / "atlas-cache"),
            "--rois", str(demo / "market" / "rois.parquet"), "--explanations", str(demo / "market" / "explanations.parquet"),
            "--backtest", str(demo / "market" / "backtest"),
            "--out", str(out)]


def children_cpu_s() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cores)  # inherited by the child processes
    times, cpu_times, html = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            out = Path(tmp) / f"report{k}.html"
            start, cpu_start = time.perf_counter(), children_cpu_s()
            subprocess.run(command(args.demo_out, out), check=True, capture_output=True)
            times.append(time.perf_counter() - start)
            cpu_times.append(children_cpu_s() - cpu_start)
            html = out.read_text(encoding="utf-8")
    result = {
        "what": "neurofin report on the demo's outputs (2 subjects x 800 voxels, 2,892 comments, 5 tickers), fresh process",
        "cores": len(cores), "cpu": platform.processor() or platform.machine(), "repeats": args.repeats,
        "seconds": [round(t, 2) for t in times], "median_s": round(statistics.median(times), 2),
        "cpu_seconds": [round(t, 2) for t in cpu_times], "load_avg_1m": round(os.getloadavg()[0], 1),
        "budget_s": BUDGET_S, "within_budget": statistics.median(times) <= BUDGET_S,
        "figures": len(re.findall(r"<img ", html)), "html_bytes": len(html.encode("utf-8")),
        "command": "python benchmarks/bench_report.py --demo-out DEMO --repeats 3",
    }
    write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
