"""Lanczos downsampling: `neurofin.timing.lanczos_interp` against a direct loop over the reference formula, and its speed.

1. Accuracy: a double loop over TRs and words evaluating the reference `lanczosinterp2D` kernel with
   `math.sin` (L(t) = w sin(pi t c) sin(pi t c / w) / (pi t c)^2, 1 at t = 0, 0 beyond |t c| > w,
   c = cutoff_mult / mean(diff(new_times))) and accumulating word vectors; max abs difference must be <= 1e-10.
2. Speed: median wall time of lanczos_interp on 300 TRs x 1,000 words x 4,096 dims (float32 and float64).

Example: .venv/bin/python benchmarks/bench_lanczos.py --repeats 7
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from neurofin.io import write_json_atomic
from neurofin.timing import lanczos_interp, tr_centres

RESULTS = Path(__file__).resolve().parent / "results" / "lanczos.json"
TOLERANCE = 1e-10


def loop_reference(data: np.ndarray, old_times: np.ndarray, new_times: np.ndarray, window: int = 3,
                   cutoff_mult: float = 1.0) -> np.ndarray:
    """Direct loop over every (TR, word) pair of the reference formula, accumulating weighted word vectors."""
    cutoff = cutoff_mult / float(np.mean(np.diff(new_times)))
    out = np.zeros((len(new_times), data.shape[1]))
    for i, t_new in enumerate(new_times):
        for j, t_old in enumerate(old_times):
            x = (float(t_new) - float(t_old)) * cutoff
            if x == 0:
                weight = 1.0
            elif abs(x) > window:
                continue
            else:
                weight = window * math.sin(math.pi * x) * math.sin(math.pi * x / window) / (math.pi**2 * x**2)
            out[i] += weight * data[j]
    return out


def story_like(rng: np.random.Generator, n_trs: int, n_words: int, dim: int, dtype) -> tuple:
    """Word vectors, word times spread over the story (with duplicates and words on TR centres) and TR centres."""
    centres = tr_centres(n_trs + 5)  # respdict count n gives n - 5 grid TRs
    times = np.sort(rng.uniform(0.0, centres[-1] - 10.0, n_words))
    times[1] = times[0]  # transcripts repeat times
    times[2] = centres[20]  # a word exactly on a TR centre (kernel value 1)
    times.sort()
    return rng.standard_normal((n_words, dim)).astype(dtype), times, centres


def accuracy(rng: np.random.Generator, n_trs: int, n_words: int, dim: int) -> dict:
    """Max abs difference to the loop for the default and a non-default window/cutoff."""
    data, times, centres = story_like(rng, n_trs, n_words, dim, np.float64)
    cases = {}
    for window, cutoff_mult in ((3, 1.0), (5, 0.8)):
        ours = lanczos_interp(data, times, centres, window, cutoff_mult)
        ref = loop_reference(data, times, centres, window, cutoff_mult)
        cases[f"window={window},cutoff_mult={cutoff_mult}"] = float(np.max(np.abs(ours - ref)))
    return {"n_trs": len(centres), "n_words": n_words, "dim": dim, "max_abs_diff": cases,
            "tolerance": TOLERANCE, "passed": all(v <= TOLERANCE for v in cases.values())}


def speed(rng: np.random.Generator, n_trs: int, n_words: int, dim: int, repeats: int, dtype) -> dict:
    """Median and min wall seconds of lanczos_interp (after one warm-up call)."""
    data, times, centres = story_like(rng, n_trs, n_words, dim, dtype)
    lanczos_interp(data, times, centres)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        lanczos_interp(data, times, centres)
        seconds.append(time.perf_counter() - start)
    return {"dtype": np.dtype(dtype).name, "n_trs": len(centres), "n_words": n_words, "dim": dim, "repeats": repeats,
            "median_s": float(np.median(seconds)), "min_s": float(np.min(seconds))}


def hardware() -> dict:
    """CPU model, core count, numpy version and its BLAS threads setting."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "numpy": np.__version__, "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


def main() -> None:
    """Run both parts, print a table and the JSON line, write benchmarks/results/lanczos.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per dtype (median reported)")
    parser.add_argument("--trs", type=int, default=300)
    parser.add_argument("--words", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    acc = accuracy(rng, n_trs=120, n_words=400, dim=32)
    timings = [speed(rng, args.trs, args.words, args.dims, args.repeats, dtype) for dtype in (np.float32, np.float64)]
    result = {"benchmark": "lanczos", "accuracy": acc, "speed": timings, "hardware": hardware()}

    print(f"accuracy vs loop ({acc['n_trs']} TRs x {acc['n_words']} words x {acc['dim']} dims):")
    for case, diff in acc["max_abs_diff"].items():
        print(f"  {case:<28} max |diff| = {diff:.2e}  (<= {TOLERANCE:g}: {diff <= TOLERANCE})")
    print(f"speed ({args.trs} TRs x {args.words:,d} words x {args.dims:,d} dims, median of {args.repeats}):")
    for row in timings:
        print(f"  {row['dtype']:<8} median {row['median_s'] * 1e3:8.1f} ms   min {row['min_s'] * 1e3:8.1f} ms")
    write_json_atomic(args.out, result)
    print(json.dumps(result))
    if not acc["passed"]:
        raise SystemExit(f"lanczos_interp differs from the reference loop by more than {TOLERANCE}")


if __name__ == "__main__":
    main()
