"""CPU and wall time of `neurofin calibrate` (its default corpus) for two checkouts, on copies of one twin's packages.

    python benchmarks/bench_calibrate.py TWIN --before /path/to/old/checkout --after . --out benchmarks/results/calibrate_cost.json

TWIN is a folder made by benchmarks/calibration_twin.py (demo feature settings: SmolLM2-135M, blocks 20-23, as the demo's
own `calibrate` step). Both checkouts run at the same time (same load), each with its own `src` first on PYTHONPATH and
this interpreter, on its own copy of TWIN/models; CPU time is the child process' user + system time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start(checkout: Path, twin: Path, models: Path, log: Path) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve() / "src")}
    cmd = [sys.executable, "-m", "neurofin.cli", "calibrate", "--packages", str(models), "--data-root", str(twin / "synth"),
           "--atlas-cache", str(twin / "atlas-cache"), "--device", "cpu"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("twin", type=Path)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result: dict = {"benchmark": "neurofin calibrate cost (default corpus)", "command": " ".join(["benchmarks/bench_calibrate.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, checkout in (("before", args.before), ("after", args.after)):
            models = Path(tmp) / name
            shutil.copytree(args.twin / "models", models)
            runs[name] = (checkout, *start(checkout, args.twin, models, Path(tmp) / f"{name}.log"))
        for name, (checkout, proc, began) in runs.items():
            _, status, usage = os.wait4(proc.pid, 0)
            output = (Path(tmp) / f"{name}.log").read_text()
            result[name] = {"checkout": subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%h %s"],
                                                       capture_output=True, text=True).stdout.strip()[:80],
                            "rc": os.waitstatus_to_exitcode(status), "wall_s": round(time.perf_counter() - began, 1),
                            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                            "output": [line for line in output.splitlines() if "calibrated on" in line]}
    result["cpu_ratio_after_over_before"] = round(result["after"]["cpu_s"] / result["before"]["cpu_s"], 3)
    result["hardware"] = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1)}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
