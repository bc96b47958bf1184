"""Wall time of `neurofin demo` for two checkouts run at the same time on this machine (same load for both).

    python benchmarks/bench_demo.py --before /path/to/old/checkout --after . --out benchmarks/results/demo_time.json

Each checkout runs with its own `src` first on PYTHONPATH and this interpreter; prints and writes a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start(checkout: Path, out: Path) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve() / "src")}
    cmd = [sys.executable, "-m", "neurofin.cli", "demo", "--out", str(out)]
    return subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: start(path, Path(tmp) / name) for name, path in (("before", args.before), ("after", args.after))}
        result = {}
        for name, (proc, began) in runs.items():
            rc = proc.wait()
            result[name] = {"rc": rc, "wall_s": round(time.perf_counter() - began, 1)}
    result["ratio_after_over_before"] = round(result["after"]["wall_s"] / result["before"]["wall_s"], 3)
    result["hardware"] = {"cpus": os.cpu_count(), "machine": platform.machine(), "load_avg_1m": os.getloadavg()[0]}
    line = json.dumps({"benchmark": "demo_wall_time", **result})
    print(line)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
