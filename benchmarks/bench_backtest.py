"""Backtest cost: the demo's market backtest for two checkouts, or the forecasting stage at scale (issue 22).

Demo wall time (`run_chain` with the demo's settings), two checkouts one after the other:

    python benchmarks/bench_backtest.py --before OLD_CHECKOUT --before-panel OLD_DEMO/market/panel.duckdb \\
        --after . --after-panel demo_out/market/panel.duckdb --out benchmarks/results/backtest_time.json

Scale (`--tickers`): CPU ms per forecast row of today's per-origin path (`forecast_view` per model x origin x
target, timed on a few origins) and of the batched engine (`forecast_models`, every fold, linear model, control
and target of the walk-forward backtest) on a synthetic grid; then a power grid of planted targets through
`ridge_means`. See `scale` below; Chronos-2 is not timed here.

    python benchmarks/bench_backtest.py --tickers 50,100,500 --sessions 1250 --out benchmarks/results/backtest_scale.json

Engine against engine (`--compare OLD_SRC`): the engine stage alone on `--folds` evenly spaced folds, in child
processes alternating OLD_SRC's and this checkout's `src` (CPU ms per forecast row, median of `--repeats`):

    python benchmarks/bench_backtest.py --tickers 50 --folds 4 --compare OLD_CHECKOUT/src --out benchmarks/results/backtest_engine_vs_main.json

The whole product backtest (`--whole`): `run_chain` (what `neurofin market backtest` calls: `run_backtest`, then
its tables and summary.json) with the linear forecaster and the market defaults (Clark-West bootstrap on) on a
planted panel of `--tickers` tickers x `--sessions` sessions (8 ROIs, 2 subjects, 8 embedding dimensions, no
signal): CPU s (process time, all threads), wall s, load average, peak RSS and the CPU / wall split per stage:

    python benchmarks/bench_backtest.py --whole --tickers 500 --sessions 1250 --out benchmarks/results/backtest_whole_500.json

With `--folds K` only the selection (`select_per_fold`, every target kind) of K evenly spaced folds is timed, and
projected to all folds. With `--compare OLD_SRC` the whole backtest of OLD_SRC and of this checkout run alternating in child processes.

Each checkout runs in its own process with its `src` first on PYTHONPATH, on the panel its own demo wrote
(the panel format may differ between checkouts), with the demo's market settings
(`neurofin.market.demo.DEMO_MARKET_SETTINGS` of the after checkout: the linear forecaster). Runs alternate (before, after, before, after, ...); the median of `--repeats` is kept.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

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


def demo(args: argparse.Namespace) -> dict[str, object]:
    """Median wall time of the demo backtest, before and after, runs alternating."""
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
    result: dict[str, object] = {"benchmark": "demo_backtest_wall_time", "settings": DEMO_MARKET_SETTINGS}
    result |= {name: {"wall_s": values, "median_s": statistics.median(values), "forecast_rows": rows[name],
                      "ms_per_forecast_row": round(1e3 * statistics.median(values) / rows[name], 3)}
               for name, values in times.items()}
    result["ratio_after_over_before"] = round(statistics.median(times["after"]) / statistics.median(times["before"]), 2)
    return result


SPECS = [("raw", 1), ("raw", 5), ("market_adjusted", 1), ("market_adjusted", 5), ("absolute", 1), ("absolute", 5)]
N_ROIS, N_SENTIMENT, N_EMBEDDING = 8, 4, 8


def synthetic_grid(n_tickers: int, n_sessions: int, seed: int = 0):
    """A business-day grid like `prepare_data`'s (6 targets, 8 ROIs and their lags, 4 sentiment, 4 attention and
    8 embedding-component columns, a holiday every 50 business days, 3% missing cells) and its sessions."""
    from neurofin.market.forecast.controls import ATTENTION, EMBEDDING_PC
    from neurofin.market.forecast.models import business_day_frame
    from neurofin.market.panel.targets import TargetSpec

    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2019-01-02", periods=n_sessions + n_sessions // 49 + 1)
    sessions = days[np.arange(days.size) % 50 != 49][:n_sessions]
    rois = [f"roi_{k}" for k in range(N_ROIS)]
    features = {"roi": rois, "sentiment": [f"lex_{k}" for k in range(N_SENTIMENT)], "attention": list(ATTENTION),
                "embedding": [f"{EMBEDDING_PC}{k + 1}" for k in range(N_EMBEDDING)]}
    names = [c for group in features.values() for c in group]
    targets = [TargetSpec(kind, h).column for kind, h in SPECS]
    shape = (n_tickers * n_sessions,)
    columns = {c: rng.standard_normal(shape) for c in names} | {c: 0.01 * rng.standard_normal(shape) for c in targets}
    for c in [*rois, *targets]:
        columns[c][rng.random(shape) < 0.03] = np.nan
    frame = pd.DataFrame({"ticker": np.repeat([f"T{k:04d}" for k in range(n_tickers)], n_sessions),
                          "session": np.tile(sessions, n_tickers), **columns})
    grid = business_day_frame(frame, names, targets=targets, lagged=rois)
    return grid, list(sessions), features


def selections(tickers: list[str], rois: list[str], rng: np.random.Generator) -> dict[str, list[str]]:
    """0 to 3 selected ROIs per ticker, as a Granger gate might keep."""
    return {t: sorted(rng.choice(rois, size=rng.integers(0, 4), replace=False).tolist()) for t in tickers}


def per_origin(models, grid, request, selected, controls, settings) -> int:
    """Today's path for one origin: one `forecast_view` per model (ridge, zero baseline); rows forecast."""
    from neurofin.market.evaluate.forecast_loop import model_covariates
    from neurofin.market.forecast.models import RidgeForecaster, ZeroForecaster, forecast_view, origin_view

    view = origin_view(grid, request.origin, request.session, request.column, request.known_through)
    return sum(len(forecast_view(ZeroForecaster() if model == "zero" else RidgeForecaster(settings.ridge_alpha), view,
                                 model_covariates(model, selected, controls), settings.quantile_levels))
               for model in models)


def scale_one(n_tickers: int, n_sessions: int, before_origins: int, strengths: int, n_folds: int = 0,
              engine_only: bool = False) -> dict[str, object]:
    """Per-origin path on a few origins vs the engine on the whole walk-forward backtest (or `n_folds` evenly
    spaced folds); then a power grid. `engine_only`: the engine alone."""
    from neurofin.config import MarketSettings
    from neurofin.market.evaluate.forecast_loop import forecast_models
    from neurofin.market.evaluate.variants import MODELS
    from neurofin.market.evaluate.walk_forward import walk_forward_folds
    from neurofin.market.forecast.batched_ridge import ridge_means
    from neurofin.market.forecast.engine import GridCube, OriginRequest, build_design
    from neurofin.market.forecast.models import RidgeForecaster
    from neurofin.market.panel.targets import TargetSpec, known_through

    settings = MarketSettings(forecaster="linear")
    grid, sessions, features = synthetic_grid(n_tickers, n_sessions)
    tickers = sorted(grid["ticker"].unique())
    controls = {name: features[name] for name in ("sentiment", "attention", "embedding")}
    forecaster = RidgeForecaster(settings.ridge_alpha, name="linear")
    models = [m for m in MODELS if m not in forecaster.identical]
    folds = walk_forward_folds(sessions, settings.train_sessions, settings.step_sessions, settings.embargo_sessions)
    total_folds = len(folds)
    if n_folds:
        folds = [folds[int(k)] for k in np.linspace(0, len(folds) - 1, n_folds)]
    position = {s: i for i, s in enumerate(sessions)}
    rng = np.random.default_rng(1)

    def requests(fold, spec: TargetSpec) -> list[OriginRequest]:
        return [OriginRequest(sessions[position[s] - 1], s, spec.column,
                              known_through(sessions, position[s] - 1, spec.horizon)) for s in fold.test_sessions]

    tests = [s for f in folds for s in f.test_sessions]
    sample = [tests[int(k)] for k in np.linspace(0, len(tests) - 1, before_origins + 2)[1:-1]]
    raw = TargetSpec("raw", 1)
    began = time.process_time()
    before_rows = 1 if engine_only else sum(per_origin(models, grid, OriginRequest(sessions[position[s] - 1], s, raw.column,
                                                             known_through(sessions, position[s] - 1, 1)),
                                 selections(tickers, features["roi"], rng), controls, settings) for s in sample)
    before_cpu = time.process_time() - began

    began, wall, rows, table_bytes = time.process_time(), time.perf_counter(), 0, 0
    shares_cube = "cube" in inspect.signature(forecast_models).parameters  # False on checkouts before it (--compare)
    for fold in folds:
        # once per fold, as forecast_folds does (its grid changes with the fold)
        shared = {"cube": GridCube.from_grid(grid)} if shares_cube else {}
        for kind, horizon in SPECS:
            spec = TargetSpec(kind, horizon)
            out = forecast_models(models, forecaster, grid, requests(fold, spec),
                                  selections(tickers, features["roi"], rng), controls, settings, **shared)
            rows, table_bytes = rows + len(out), table_bytes + int(out.memory_usage(deep=True).sum())
    after_cpu, after_wall = time.process_time() - began, time.perf_counter() - wall

    power = {}
    for count in () if engine_only else (1, strengths):
        began, wall = time.process_time(), time.perf_counter()
        planted_rows = 0
        for fold in folds:
            chosen = requests(fold, raw)
            cube = GridCube.from_grid(grid, [raw.column, *features["roi"]])
            design = build_design(cube, [(features["roi"][:2], [])] * len(tickers))
            lead = np.nan_to_num(np.roll(cube.values[..., 1], 1, axis=1))
            targets = np.stack([cube.values[..., 0] + 0.01 * k * lead for k in range(count)], axis=-1)
            days = [cube.day([getattr(r, a) for r in chosen]) for a in ("origin", "session", "known_through")]
            planted_rows += ridge_means(design, targets, *days, alpha=settings.ridge_alpha).size
        power[f"strengths_{count}"] = {"cpu_s": round(time.process_time() - began, 2),
                                       "wall_s": round(time.perf_counter() - wall, 2), "forecasts": planted_rows}
    before_ms, after_ms = 1e3 * before_cpu / before_rows, 1e3 * after_cpu / rows
    return {
        "tickers": n_tickers, "sessions": n_sessions, "folds": total_folds, "folds_timed": len(folds), "targets": len(SPECS),
        "models_computed": models,
        "before": {"origins_timed": len(sample), "target": raw.column, "rows": before_rows,
                   "cpu_s": round(before_cpu, 2), "cpu_ms_per_row": round(before_ms, 4)},
        "after": {"rows": rows, "cpu_s": round(after_cpu, 2), "wall_s": round(after_wall, 2),
                  "cpu_ms_per_row": round(after_ms, 5), "forecast_table_gb": round(table_bytes / 1e9, 2)},
        "speedup_cpu_per_row": round(before_ms / after_ms, 1),
        "power_grid_roi_means": power,
        "peak_rss_gb_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }


def scale(args: argparse.Namespace) -> dict[str, object]:
    """`scale_one` per ticker count (ascending, in this process: the peak RSS is cumulative)."""
    from neurofin.market.forecast import batched_ridge

    sizes = [scale_one(int(n), args.sessions, args.before_origins, args.strengths, args.folds, args.engine_only)
             for n in args.tickers.split(",")]
    return {"benchmark": "backtest_scale", "threads": os.environ.get("OMP_NUM_THREADS", "default"),
            "engine_workers": getattr(batched_ridge, "WORKERS", 1), "sizes": sizes}


def compare(args: argparse.Namespace) -> dict[str, object]:
    """The engine alone (or the whole backtest, `--whole`), `args.compare`'s src and this checkout's alternating in
    child processes."""
    sources = {"old": args.compare.resolve(), "new": Path(__file__).resolve().parents[1] / "src"}
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    mode = ["--whole", "--folds", str(args.folds)] if args.whole else ["--folds", str(args.folds), "--engine-only"]
    for _ in range(args.repeats):
        for name, src in sources.items():
            done = subprocess.run([sys.executable, __file__, "--tickers", args.tickers, "--sessions", str(args.sessions),
                                   *mode], env={**os.environ, "PYTHONPATH": str(src)},
                                  capture_output=True, text=True, check=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.whole and args.folds:
        return {"benchmark": "backtest_selection_sample_vs_old", "old_src": str(args.compare), "runs": runs,
                "speedup_cpu": round(statistics.median(r["selection_cpu_s"] for r in runs["old"])
                                     / statistics.median(r["selection_cpu_s"] for r in runs["new"]), 2)}
    if args.whole:
        return {"benchmark": "backtest_whole_vs_old", "old_src": str(args.compare), "runs": runs,
                "cpu_s": {name: statistics.median(r["cpu_s"] for r in rs) for name, rs in runs.items()},
                "speedup_cpu": round(statistics.median(r["cpu_s"] for r in runs["old"])
                                     / statistics.median(r["cpu_s"] for r in runs["new"]), 2)}
    out: dict[str, object] = {"benchmark": "backtest_engine_vs_engine", "old_src": str(args.compare), "sizes": []}
    for k, n in enumerate(args.tickers.split(",")):
        per_row = {name: statistics.median(r["sizes"][k]["after"]["cpu_ms_per_row"] for r in rs) for name, rs in runs.items()}
        walls = {name: statistics.median(r["sizes"][k]["after"]["wall_s"] for r in rs) for name, rs in runs.items()}
        out["sizes"].append({"tickers": int(n), "sessions": args.sessions, "folds_timed": args.folds,
                             "rows": runs["new"][0]["sizes"][k]["after"]["rows"], "cpu_ms_per_row": per_row, "wall_s": walls,
                             "speedup_cpu_per_row": round(per_row["old"] / per_row["new"], 2),
                             "speedup_wall": round(walls["old"] / walls["new"], 2)})
    return out


WHOLE_STAGES = {  # module -> functions timed as stages of the whole backtest (nested ones are inside forecast_folds)
    "neurofin.market.chain": ["load_inputs", "run_backtest", "write_selections", "write_table_atomic", "backtest_summary"],
    "neurofin.market.evaluate.backtest": ["prepare_data", "make_folds", "select_per_fold", "forecast_folds",
                                          "with_actuals", "projection_rank", "evaluate_targets", "decide"],
    "neurofin.market.evaluate.forecast_loop": ["fold_grid", "fold_universe", "forecast_models", "fold_terms"],
    "neurofin.market.forecast.engine": ["GridCube.from_grid"],
}


def whole(args: argparse.Namespace) -> dict[str, object]:
    """`run_chain` on a planted panel with every stage of `WHOLE_STAGES` timed (CPU and wall seconds, summed)."""
    import importlib

    from neurofin.config import MarketSettings
    from neurofin.market.chain import run_chain
    from neurofin.testing.planted_market import DEFAULT_ROIS, planted_panel

    spent: dict[str, list[float]] = {}

    def timed(name: str, function):
        def wrapper(*a, **k):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                total = spent.setdefault(name, [0.0, 0.0, 0])
                total[0] += time.process_time() - cpu
                total[1] += time.perf_counter() - wall
                total[2] += 1
        return wrapper

    for module_name, names in WHOLE_STAGES.items():
        module = importlib.import_module(module_name)
        for name in names:
            if "." in name:  # a classmethod
                owner, attribute = getattr(module, name.split(".")[0]), name.split(".")[1]
                setattr(owner, attribute, classmethod(timed(name, owner.__dict__[attribute].__func__)))
            else:
                setattr(module, name, timed(name, getattr(module, name)))
    n_tickers = int(args.tickers)
    rois = [*DEFAULT_ROIS, "Vis_1", "SomMot_2", "DorsAttn_3", "Default_PFC"]
    began = time.perf_counter()
    panel, prices = planted_panel(n_sessions=args.sessions, tickers=[f"T{i:04d}" for i in range(n_tickers)], rois=rois,
                                  n_subjects=2, embedding_dims=8, seed=0)
    generated_s = time.perf_counter() - began
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    settings = MarketSettings(forecaster="linear")
    load_start = os.getloadavg()
    if args.folds:
        return selection_sample(panel, prices, settings, args.folds) | {"tickers": n_tickers, "sessions": args.sessions,
                                                                        "load_avg_start": load_start}
    with tempfile.TemporaryDirectory() as tmp:
        cpu, wall = time.process_time(), time.perf_counter()
        result = run_chain(panel, prices, settings, tmp)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "benchmark": "backtest_whole", "tickers": n_tickers, "sessions": args.sessions, "rois": len(rois),
        "settings": settings.model_dump(mode="json"), "folds": len(result.backtest.folds),
        "forecast_rows": len(result.backtest.forecasts), "panel_rows": len(panel), "panel_generated_wall_s": round(generated_s, 1),
        "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "cpu_s_per_core_of_2": round(cpu / 2, 1),
        "load_avg_start": load_start, "load_avg_end": os.getloadavg(),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "peak_rss_gb_after_panel": round(rss_before, 2),
        "stages": {name: {"cpu_s": round(c, 1), "wall_s": round(w, 1), "calls": n} for name, (c, w, n) in spent.items()},
        "verdict": result.verdict,
    }


def selection_sample(panel: pd.DataFrame, prices: pd.DataFrame, settings, n_folds: int) -> dict[str, object]:
    """`select_per_fold` (every target kind) on `n_folds` evenly spaced folds: CPU s per fold, and the whole
    backtest's selection projected from them (the folds' mean times their number)."""
    from neurofin.market.evaluate.walk_forward import make_folds, prepare_data, select_per_fold

    data = prepare_data(panel, prices, settings)
    folds = make_folds(data, settings)
    sample = [folds[int(k)] for k in np.linspace(0, len(folds) - 1, n_folds)]
    cpu, wall = time.process_time(), time.perf_counter()
    select_per_fold(data, sample, settings, [s.kind for s in data.specs])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"benchmark": "backtest_selection_sample", "folds": len(folds), "folds_timed": n_folds,
            "selection_cpu_s": round(cpu, 1), "selection_wall_s": round(wall, 1),
            "selection_cpu_s_projected_all_folds": round(cpu / n_folds * len(folds), 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path)
    parser.add_argument("--before-panel", type=Path)
    parser.add_argument("--after", type=Path)
    parser.add_argument("--after-panel", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tickers", default=None, help="comma-separated ticker counts: run the scale benchmark")
    parser.add_argument("--sessions", type=int, default=1250)
    parser.add_argument("--before-origins", type=int, default=2, help="origins timed on today's per-origin path")
    parser.add_argument("--strengths", type=int, default=10, help="planted strengths of the power grid")
    parser.add_argument("--folds", type=int, default=0, help="time this many evenly spaced folds (0: all)")
    parser.add_argument("--engine-only", action="store_true", help="skip the per-origin path and the power grid")
    parser.add_argument("--compare", type=Path, default=None, help="OLD_SRC: its engine against this checkout's")
    parser.add_argument("--whole", action="store_true", help="the whole product backtest (run_chain) at --tickers")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.tickers is None and None in (args.before, args.before_panel, args.after, args.after_panel):
        parser.error("give --before, --before-panel, --after and --after-panel, or --tickers")
    if args.whole and not args.compare:
        result = whole(args)
    else:
        result = (compare(args) if args.compare else scale(args)) if args.tickers else demo(args)
    result["command"] = " ".join(["benchmarks/bench_backtest.py", *sys.argv[1:]])
    result["hardware"] = {"cpus": os.cpu_count(), "machine": platform.machine(), "load_avg_1m": os.getloadavg()[0]}
    line = json.dumps(result)
    print(line)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
