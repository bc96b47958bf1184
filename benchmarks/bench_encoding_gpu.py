"""Encoding fit at UTS01 size: wall time, peak memory, and a model-based estimate of what fits in 24 GiB.

Problem (scale 1): 27,000 training TRs, 81,126 voxels, 8 blocks x 4,096 dims x 4 delays, plus held-out
validation stories (~8 x 335 TRs) and a 291-TR test story. Features are random with low-rank structure (a
latent of rank 512 spread over all 32,768 columns plus noise, like correlated LM features); responses carry
a planted linear signal of the delayed latent in 30% of the voxels plus unit noise, z-scored per story.
Everything runs through the package's own code: `neurofin.encoding.train.fit_stories` with the default
EncodingSettings (pre-delay PCA to 1,024 components keeping variances, per-story z-score and FIR delays,
per-voxel alphas by leave-stories-out CV scored by correlation, himalaya, solver `auto`), then
`EncodingModel.predict_story` and voxelwise r on the held-out stories. `--scale s` shrinks TRs, voxels,
dims per block, PCA components and the latent rank by s (blocks, delays, alpha grid and CV folds stay).

Memory: peak of the CUDA allocator (torch.cuda.max_memory_allocated) on --device cuda; on CPU the growth
of the process RSS sampled every 2 ms (a host-memory proxy, not a GPU figure). The 24 GiB figure is a
MODEL-BASED ESTIMATE: after the main run, the ridge stage is refitted on the first V_i voxels for each
--memory-fractions entry, peak_bytes(V) = a + b * V is fitted by least squares, and the largest voxel count
is floor((24 GiB - a) / b) at the run's training TRs, design width and memory knobs. Keep every V_i >=
--n-targets-batch so all runs share the same batch regime.

GPU run (pending: no GPU in the session that wrote this; writes benchmarks/results/encoding_gpu.json):
    .venv/bin/python benchmarks/bench_encoding_gpu.py --device cuda --n-targets-batch 8192 \
        --memory-fractions 0.125,0.25,0.5
CPU run (committed as benchmarks/results/encoding_cpu.json, 2 shared cores):
    .venv/bin/python benchmarks/bench_encoding_gpu.py --device cpu --scale 0.1 --memory-fractions 0.15,0.3,0.45
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurofin.config import Settings
from neurofin.encoding.design import pooled_feature_stats, stack_design, story_folds, zscore_responses
from neurofin.encoding.fit import fit_ridge
from neurofin.encoding.metrics import top_voxels, voxel_correlation
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.train import block_slices, fit_stories
from neurofin.io import write_json_atomic
from neurofin.timing import make_delayed

RESULTS = Path(__file__).resolve().parent / "results"
UTS01 = {"n_train_trs": 27_000, "n_voxels": 81_126, "n_blocks": 8, "dim": 4_096, "latent_rank": 512}
N_VALIDATION_STORIES, TEST_TRS, SIGNAL_FRACTION = 8, 291, 0.3
GIB = 1024**3


@dataclass
class Problem:
    """Per-story TR-level features and z-scored responses with a planted signal, split into train/validation/test."""

    rows: dict[str, np.ndarray]  # (n_trs, n_blocks * dim) float32
    resp: dict[str, np.ndarray]  # (n_trs, n_voxels) float32, z-scored within each story
    signal: dict[str, np.ndarray]  # held-out stories: the noise-free planted response
    train: list[str]
    validation: list[str]
    test: list[str]
    signal_voxels: np.ndarray  # (n_voxels,) bool


def story_lengths(total: int, rng: np.random.Generator) -> list[int]:
    """TR counts of ds003020-like stories (157-521 TRs) summing exactly to `total`."""
    lengths: list[int] = []
    while sum(lengths) < total:
        lengths.append(int(rng.integers(157, 522)))
    lengths[-1] -= sum(lengths) - total
    if lengths[-1] < 100 and len(lengths) > 1:
        tail = lengths.pop()
        lengths[-1] += tail
    return lengths


def make_problem(sizes: dict[str, int], delays: list[int], device: str, seed: int) -> Problem:
    """Low-rank random features and planted-signal responses, generated with torch on `device`."""
    import torch

    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    rank, n_features, n_voxels = sizes["latent_rank"], sizes["n_blocks"] * sizes["dim"], sizes["n_voxels"]
    spectrum = 1.0 / torch.sqrt(1.0 + torch.arange(rank, device=device) / 32.0)
    loading = torch.randn(rank, n_features, generator=gen, device=device) * spectrum[:, None]
    signal_voxels = rng.random(n_voxels) < SIGNAL_FRACTION
    gain = np.where(signal_voxels, rng.uniform(0.2, 1.0, n_voxels), 0.0) / np.sqrt(rank * len(delays))
    weights = torch.randn(rank * len(delays), n_voxels, generator=gen, device=device) * torch.as_tensor(
        gain, dtype=torch.float32, device=device)

    n_val_trs = int(round(sizes["n_train_trs"] * 335 * N_VALIDATION_STORIES / UTS01["n_train_trs"]))
    lengths = {"train": story_lengths(sizes["n_train_trs"], rng), "validation": story_lengths(max(n_val_trs, 150), rng),
               "test": [TEST_TRS]}
    problem = Problem({}, {}, {}, [], [], [], signal_voxels)
    for part, part_lengths in lengths.items():
        for i, n_trs in enumerate(part_lengths):
            story = f"{part}{i:03d}"
            latent = torch.randn(n_trs, rank, generator=gen, device=device)
            features = latent @ loading + 0.5 * torch.randn(n_trs, n_features, generator=gen, device=device)
            delayed = torch.as_tensor(make_delayed(latent.cpu().numpy(), delays), device=device)
            signal = delayed @ weights
            resp = signal + torch.randn(n_trs, n_voxels, generator=gen, device=device)
            problem.rows[story] = features.cpu().numpy()
            problem.resp[story] = zscore_responses(resp.cpu().numpy())
            if part != "train":
                problem.signal[story] = signal.cpu().numpy()
            getattr(problem, part).append(story)
    return problem


class PeakMemory:
    """Peak memory inside a `with` block: CUDA allocator peak on a GPU, sampled RSS growth on CPU."""

    def __init__(self, device: str) -> None:
        self.device, self.peak_bytes, self.reserved_bytes = device, 0, None
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak_bytes = max(self.peak_bytes, self._rss() - self._base)

    def __enter__(self) -> PeakMemory:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        else:
            self._base = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            self.peak_bytes = int(torch.cuda.max_memory_allocated())
            self.reserved_bytes = int(torch.cuda.max_memory_reserved())
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._rss() - self._base)


def memory_model(voxels: list[int], peaks: list[int], budget_bytes: int) -> dict:
    """Least-squares peak_bytes = a + b * voxels and the largest voxel count under `budget_bytes`."""
    slope, intercept = np.polyfit(np.asarray(voxels, dtype=np.float64), np.asarray(peaks, dtype=np.float64), 1)
    fitted = intercept + slope * np.asarray(voxels, dtype=np.float64)
    largest = int(np.floor((budget_bytes - intercept) / slope)) if slope > 0 else None
    return {"intercept_bytes": float(intercept), "bytes_per_voxel": float(slope),
            "max_abs_residual_gib": round(float(np.max(np.abs(fitted - np.asarray(peaks)))) / GIB, 4),
            "largest_voxels": largest}


def hardware(device: str) -> dict:
    """CPU model, core count, torch version and GPU (if used) of this run."""
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "device": device}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info |= {"gpu": props.name, "gpu_memory_gib": round(props.total_memory / GIB, 1)}
    return info


def main() -> None:
    """Generate the problem, fit it with the package's path, evaluate on held-out stories, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--scale", type=float, default=1.0, help="Fraction of the UTS01 size (TRs, voxels, dims).")
    parser.add_argument("--n-targets-batch", type=int, default=None, help="Voxels per batch during CV (memory).")
    parser.add_argument("--n-alphas-batch", type=int, default=None, help="Alphas per batch (memory).")
    parser.add_argument("--n-targets-batch-refit", type=int, default=None, help="Voxels per batch in the refit.")
    parser.add_argument("--memory-fractions", default="0.25,0.5,0.75",
                        help="Voxel fractions refitted for the memory model (empty: skip).")
    parser.add_argument("--budget-gib", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default results/encoding_<device>.json).")
    args = parser.parse_args()

    settings = Settings()
    enc = settings.encoding
    enc.backend = "torch_cuda" if args.device == "cuda" else "torch"
    enc.n_targets_batch, enc.n_alphas_batch = args.n_targets_batch, args.n_alphas_batch
    enc.n_targets_batch_refit = args.n_targets_batch_refit
    enc.pca_components = max(1, round(1024 * args.scale))
    sizes = {key: max(1, round(value * args.scale)) for key, value in UTS01.items() if key != "n_blocks"}
    sizes["n_blocks"] = UTS01["n_blocks"]
    delays = list(settings.timing.delays)

    start = time.perf_counter()
    problem = make_problem(sizes, delays, args.device, args.seed)
    t_generate = time.perf_counter() - start
    print(f"generated {len(problem.train)} training stories, {sizes} in {t_generate:.1f} s", flush=True)

    bands = block_slices(sizes["n_blocks"], sizes["dim"], enc.blocks_per_band)
    mean, std = pooled_feature_stats(problem.rows, problem.train)
    with PeakMemory(args.device) as fit_memory:
        start = time.perf_counter()
        fitted = fit_stories(problem.rows, problem.resp, problem.train, bands, settings, std)
        t_fit = time.perf_counter() - start
    print(f"fit {t_fit:.1f} s ({fitted.ridge.solver}, {fitted.ridge.backend}); phases {fitted.wall_s}", flush=True)

    start = time.perf_counter()
    model = EncodingModel(config={"timing": {"delays": delays}}, weights=fitted.ridge.primal_weights(),
                          feature_mean=mean, feature_std=std, basis=fitted.basis)
    preds = {s: model.predict_story(problem.rows[s]) for s in problem.validation + problem.test}
    val_r = voxel_correlation(np.concatenate([problem.resp[s] for s in problem.validation]),
                              np.concatenate([preds[s] for s in problem.validation]))
    test_r = voxel_correlation(np.concatenate([problem.resp[s] for s in problem.test]),
                               np.concatenate([preds[s] for s in problem.test]))
    top = top_voxels(val_r, enc.top_fraction)
    t_evaluate = time.perf_counter() - start
    oracle_r = voxel_correlation(np.concatenate([problem.resp[s] for s in problem.test]),
                                 np.concatenate([problem.signal[s] for s in problem.test]))
    good = problem.signal_voxels

    fractions = [float(f) for f in args.memory_fractions.split(",") if f.strip()]
    memory_runs = []
    if fractions:
        design, story_ids = stack_design(problem.rows, problem.train, delays, std, fitted.basis)
        cv = story_folds(story_ids, enc.cv_folds)
        resp_all = np.concatenate([problem.resp[s] for s in problem.train])
        for fraction in fractions:
            n_vox = max(1, round(fraction * sizes["n_voxels"]))
            subset = np.ascontiguousarray(resp_all[:, :n_vox])
            with PeakMemory(args.device) as run_memory:
                t0 = time.perf_counter()
                fit_ridge(design, subset, cv, enc)
                seconds = time.perf_counter() - t0
            memory_runs.append({"voxels": n_vox, "peak_gib": round(run_memory.peak_bytes / GIB, 4),
                                "peak_bytes": run_memory.peak_bytes, "ridge_s": round(seconds, 2)})
            print(f"memory run {n_vox} voxels: {run_memory.peak_bytes / GIB:.3f} GiB, {seconds:.1f} s", flush=True)
            del subset
        del design, resp_all

    n_rows = {"train": sum(problem.rows[s].shape[0] for s in problem.train),
              "validation": sum(problem.rows[s].shape[0] for s in problem.validation),
              "test": sum(problem.rows[s].shape[0] for s in problem.test)}
    measure = "torch.cuda.max_memory_allocated" if args.device == "cuda" else "process RSS growth sampled every 2 ms"
    result = {
        "benchmark": "encoding_gpu" if args.device == "cuda" else "encoding_cpu",
        "command": "benchmarks/bench_encoding_gpu.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None and k != "out"),
        "scale": args.scale,
        "problem": {**sizes, "n_delays": len(delays), "n_features_in": sizes["n_blocks"] * sizes["dim"],
                    "design_columns": int(model.weights.shape[0]), "n_train_stories": len(problem.train),
                    "n_validation_stories": len(problem.validation), "rows": n_rows,
                    "signal_voxels": int(good.sum()), "seed": args.seed},
        "settings": {"encoding": enc.model_dump(mode="json"), "delays": delays},
        "solver": fitted.ridge.solver,
        "backend": fitted.ridge.backend,
        "wall_s": {"generate_data (not part of the fit)": round(t_generate, 2), "fit": round(t_fit, 2),
                   **{f"fit.{phase}": round(s, 2) for phase, s in fitted.wall_s.items()},
                   "evaluate": round(t_evaluate, 2)},
        "peak_memory": {"measure": measure, "fit_gib": round(fit_memory.peak_bytes / GIB, 4),
                        "fit_bytes": fit_memory.peak_bytes,
                        "fit_reserved_gib": None if fit_memory.reserved_bytes is None
                        else round(fit_memory.reserved_bytes / GIB, 4)},
        "evaluation": {
            "test_mean_r": round(float(test_r.mean()), 4),
            "test_top5_r (top by validation r)": round(float(test_r[top].mean()), 4),
            "oracle_top5_r": round(float(oracle_r[top].mean()), 4),
            "test_mean_r_signal_voxels": round(float(test_r[good].mean()), 4),
            "oracle_mean_r_signal_voxels": round(float(oracle_r[good].mean()), 4),
            "test_mean_r_null_voxels": round(float(test_r[~good].mean()), 4),
            "top5_precision_signal": round(float(good[top].mean()), 4),
            "alpha_median_signal": float(np.median(fitted.ridge.alphas[good])),
            "alpha_median_null": float(np.median(fitted.ridge.alphas[~good])),
            "n_distinct_alphas": int(np.unique(fitted.ridge.alphas).size),
        },
        "hardware": hardware(args.device),
    }
    if memory_runs:
        model_fit = memory_model([r["voxels"] for r in memory_runs], [r["peak_bytes"] for r in memory_runs],
                                 int(args.budget_gib * GIB))
        predicted_main = model_fit["intercept_bytes"] + model_fit["bytes_per_voxel"] * sizes["n_voxels"]
        result["memory_model"] = {
            "kind": "MODEL-BASED ESTIMATE (extrapolated from the memory runs, not measured)",
            "measure": measure,
            "formula": "peak_bytes(V) = intercept_bytes + bytes_per_voxel * V, least squares over the memory runs; "
                       "largest_voxels = floor((budget - intercept_bytes) / bytes_per_voxel)",
            "applies_to": {"n_train_trs": n_rows["train"], "design_columns": int(model.weights.shape[0]),
                           "n_alphas": len(enc.alphas), "cv_folds": enc.cv_folds,
                           "n_targets_batch": enc.n_targets_batch, "n_alphas_batch": enc.n_alphas_batch,
                           "n_targets_batch_refit": enc.n_targets_batch_refit},
            "budget_gib": args.budget_gib,
            "runs": [{k: v for k, v in r.items() if k != "peak_bytes"} for r in memory_runs],
            **model_fit,
            "largest_voxels_vs_run_voxels": None if model_fit["largest_voxels"] is None
            else round(model_fit["largest_voxels"] / sizes["n_voxels"], 3),
            "check_at_run_voxels": {"voxels": sizes["n_voxels"], "predicted_gib": round(predicted_main / GIB, 4),
                                    "measured_fit_gib": round(fit_memory.peak_bytes / GIB, 4),
                                    "comparable": args.device == "cuda",
                                    "note": "on CPU the main-run figure also holds the PCA and design host memory"},
            "excludes": "CUDA context (~0.5 GiB) and allocator fragmentation (see fit_reserved_gib)",
        }
    if args.device == "cpu":
        result["gpu_status"] = "pending: run the --device cuda command in this script's docstring on a GPU"
    out = args.out or RESULTS / f"encoding_{args.device if args.device == 'cpu' else 'gpu'}.json"
    write_json_atomic(out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
