"""CLI start-up benchmark: wall time of `neurofin --help` and `neurofin --version`, this tree against a baseline commit.

The baseline's src/ is exported with `git archive` into a temporary folder; both run in the same session under the
same Python, so the comparison holds on a busy machine (absolute times do not: note the load average).

    python benchmarks/bench_cli_startup.py [--baseline 37988fc] [--runs 5]

Writes benchmarks/results/cli_startup.json (median and all runs, wall and CPU seconds) and prints a table.
CPU time (user + system) moves less than wall time when other processes share the cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "cli_startup.json"
ENTRY = "from neurofin.cli import main; main()"  # what the `neurofin` console script runs


def time_runs(src: Path, flag: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of `runs` fresh `neurofin FLAG` processes importing neurofin from `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", ENTRY, flag], env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def export_src(commit: str, into: Path) -> Path:
    """The baseline commit's src/ folder, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="37988fc", help="commit to compare with (default: main before issue 23)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from neurofin.io import write_json_atomic

    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": export_src(args.baseline, Path(tmp)), "this tree": REPO / "src"}
        results = {}
        for label, src in trees.items():
            for flag in ("--help", "--version"):
                walls, cpus = time_runs(src, flag, args.runs)
                results[f"{label} {flag}"] = {
                    "median_wall_s": round(statistics.median(walls), 3), "median_cpu_s": round(statistics.median(cpus), 3),
                    "wall_s": [round(t, 3) for t in walls], "cpu_s": [round(t, 3) for t in cpus],
                }
                print(f"{label:10s} neurofin {flag:9s} median wall {statistics.median(walls):.3f} s, cpu {statistics.median(cpus):.3f} s")
    write_json_atomic(RESULT, {
        "baseline": args.baseline, "runs": args.runs, "results": results,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    })
    print(f"-> {RESULT}")


if __name__ == "__main__":
    main()
