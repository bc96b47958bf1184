"""Ray Data inference benchmark: comments/s with 1 vs 2 predictor actors, against the single-process path (issue 15).

Packages: one synthetic subject trained with the real SmolLM2-135M (blocks 20-21, built once under --workdir,
not timed). Timed in one run on the same comments (generated 40-word finance comments, as bench_infer.py):
`infer_file` in this process (torch on every core), then `neurofin.scale.infer.infer_ray` on a local Ray instance
with 1 and then 2 CPU actors (one torch thread each; actor start-up and model load included, reported apart as the
time to the first finished shard is not separable in Ray Data). Every Ray output is checked equal to the
single-process rows (to 1e-6) before its time is reported.

CPU: PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/bench_infer_ray.py --n-comments 256
GPU cluster (one actor per GPU): the same with --ray-address auto --actors N on a cluster whose packages are
Llama-3.1-8B (train them with `neurofin train`) and --packages/--data-root pointing at them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_infer import comments

from neurofin.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "infer_ray_cpu.json"


def build_packages(work: Path) -> dict:
    """A trained SmolLM2 package and its dataset (cached in `work`); returns Predictor.from_packages kwargs."""
    from neurofin.config import Settings
    from neurofin.data.synth import SynthSpec, make_synthetic_dataset
    from neurofin.encoding.train import cached_feature_source, train_subject
    from neurofin.features.smollm2 import smollm2_gguf

    models = work / "models"
    if not (models / "UTS01" / "manifest.json").is_file():
        dataset = make_synthetic_dataset(work / "synth", 1, 6, 300, 0, spec=SynthSpec(story_seconds=(40.0, 60.0)), overwrite=True)
        settings = Settings.load(overrides={
            "features.model": str(smollm2_gguf()), "features.blocks": "20-21", "features.context_tokens": 32,
            "features.stride": 512, "features.device": "cpu", "features.cache_dir": str(work / "cache"),
            "encoding.validation_stories": 2, "encoding.cv_folds": 3, "encoding.pca_components": 16,
        })
        train_subject(dataset, "UTS01", settings, models, cached_feature_source(dataset, settings))
    return {"packages": [str(models / "UTS01")], "data_root": str(work / "synth" / "ds003020"), "atlas_cache": str(work / "atlas")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-comments", type=int, default=256)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--shard-rows", type=int, default=64)
    parser.add_argument("--ray-address", default="local")
    parser.add_argument("--actors", default="1,2")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "neurofin-bench-infer-ray")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from neurofin.infer.predictor import Predictor
    from neurofin.infer.run import infer_file
    from neurofin.scale.cluster import connect
    from neurofin.scale.infer import infer_ray

    spec = build_packages(args.workdir)
    Predictor.from_packages(**spec)  # atlas registration into the cache, not timed
    work = Path(tempfile.mkdtemp())
    texts = pd.DataFrame({"id": [f"c{i}" for i in range(args.n_comments)], "body": comments(args.n_comments, args.words, 3)})
    texts.to_parquet(work / "comments.parquet")

    began = time.perf_counter()
    predictor = Predictor.from_packages(**spec)
    infer_file(predictor, texts.rename(columns={"body": "text"}), work / "single.parquet", args.batch_size)
    single_s = time.perf_counter() - began
    single = pd.read_parquet(work / "single.parquet").sort_values(["id", "subject"]).reset_index(drop=True)
    runs = {"single_process": {"seconds": round(single_s, 2), "comments_per_s": round(args.n_comments / single_s, 2),
                               "torch_threads": __import__("torch").get_num_threads()}}
    began = time.perf_counter()
    connect(args.ray_address, num_cpus=os.cpu_count() if args.ray_address == "local" else None)
    runs["ray_startup_s"] = round(time.perf_counter() - began, 2)
    for actors in map(int, args.actors.split(",")):
        out = work / f"ray_{actors}"
        began = time.perf_counter()
        shards = infer_ray(spec, work / "comments.parquet", out, args.ray_address, "body", args.batch_size,
                           args.shard_rows, actors=actors)
        seconds = time.perf_counter() - began
        rows = pd.concat([pd.read_parquet(p) for p in shards]).sort_values(["id", "subject"]).reset_index(drop=True)
        values = [c for c in single.columns if c not in ("id", "subject", "n_words", "truncated", "error")]
        if not (rows[["id", "subject"]].equals(single[["id", "subject"]])
                and np.allclose(rows[values].to_numpy(), single[values].to_numpy(), rtol=1e-6, atol=1e-6, equal_nan=True)):
            raise SystemExit(f"{actors} actors: output differs from the single-process rows")
        runs[f"ray_{actors}_actors"] = {"seconds": round(seconds, 2), "comments_per_s": round(args.n_comments / seconds, 2),
                                        "identical_to_single_process": True}
    one, two = runs.get("ray_1_actors"), runs.get("ray_2_actors")
    result = {
        "benchmark": "infer_ray",
        "model": "SmolLM2-135M GGUF, blocks 20-21, 1 subject, 22 ROIs",
        "n_comments": args.n_comments,
        "words_per_comment": args.words,
        "batch_size": args.batch_size,
        "runs": runs,
        "speedup_2_vs_1_actors": round(one["seconds"] / two["seconds"], 2) if one and two else None,
        "cores": os.cpu_count(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "note": "Ray times include actor start-up and the per-actor model load (each actor loads its own predictor)",
        "command": "benchmarks/bench_infer_ray.py " + " ".join(sys.argv[1:]),
    }
    write_json_atomic(args.out, result)
    for name, run in runs.items():
        print(name, run)
    print(f"speed-up 2 vs 1 actors: {result['speedup_2_vs_1_actors']} -> {args.out}")


if __name__ == "__main__":
    main()
