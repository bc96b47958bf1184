"""Wall time of the demo's market backtest (`run_chain` with the demo's settings) for two checkouts, one after the other.

    python benchmarks/bench_backtest.py --before OLD_CHECKOUT --before-panel OLD_DEMO/market/panel.duckdb \\
        --after . --after-panel demo_out/market/panel.duckdb --out benchmarks/results/backtest_time.json

Each checkout runs in its own process with its `src` first on PYTHONPATH, on the panel its own demo wrote
(the panel format may differ between checkouts), with the demo's market settings
(`neurofin.market.demo.DEMO_MARKET_SETTINGS` of the after checkout: the linear forecaster). Runs alternate (before, after, before, after, ...); the median of `--repeats` is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from neurofin.config import MarketSettings
from neurofin.market.chain import run_chain
from neurofin.market.panel.store import PanelStore
settings = MarketSettings(**json.loads(sys.argv[3]))
began = time.perf_counter()
result = run_chain(PanelStore(sys.argv[1]), None, settings, sys.argv[2])
print(time.perf_counter() - began, len(result.backtest.forecasts))
print(result.verdict, file=sys.stderr)
"""


def run_once(checkout: Path, panel: Path, out: Path, settings: str) -> tuple[float, int]:
    """Seconds the backtest took in a fresh process of `checkout`, and its number of forecast rows."""
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve() / "src")}
    done = subprocess.run([sys.executable, "-c", CHILD, str(panel), str(out), settings], cwd=checkout, env=env,
                          capture_output=True, text=True, check=True)
    seconds, rows = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--before-panel", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--after-panel", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(args.after.resolve() / "src"))
    from neurofin.market.demo import DEMO_MARKET_SETTINGS

    settings = json.dumps(DEMO_MARKET_SETTINGS)
    times: dict[str, list[float]] = {"before": [], "after": []}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for name in ("before", "after"):
                checkout, panel = getattr(args, name), getattr(args, f"{name}_panel")
                seconds, rows[name] = run_once(checkout, panel, Path(tmp) / f"{name}{k}", settings)
                times[name].append(round(seconds, 2))
    result = {"settings": DEMO_MARKET_SETTINGS}
    result |= {name: {"wall_s": values, "median_s": statistics.median(values), "forecast_rows": rows[name],
                      "ms_per_forecast_row": round(1e3 * statistics.median(values) / rows[name], 3)}
               for name, values in times.items()}
    result["ratio_after_over_before"] = round(result["after"]["median_s"] / result["before"]["median_s"], 2)
    result["hardware"] = {"cpus": os.cpu_count(), "machine": platform.machine(), "load_avg_1m": os.getloadavg()[0]}
    line = json.dumps({"benchmark": "demo_backtest_wall_time", **result})
    print(line)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
