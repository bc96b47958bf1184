"""Feature normalisation: per-story z-score (the old training convention) vs centre per story + the package's
pooled std (the one convention training, evaluation and inference now share, neurofin.timing.centre_scale).

On the demo's synthetic twin (2 subjects x 10 stories x 800 voxels, seed 0, SmolLM2-135M blocks 20-23, the
demo's encoding settings) both conventions are fitted through `neurofin.encoding.train.fit_stories` and scored
on the held-out test story against its repeat mean. The old convention is reproduced exactly by rescaling each
story's rows so that `centre_scale` with the pooled std gives its own z-score. Also records how far each
story's own std departs from the pooled std (the mismatch inference saw under the old convention).
    PYTHONPATH=src python benchmarks/zscore_convention.py [--out /tmp/zscore_twin]
Writes benchmarks/results/zscore_convention.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neurofin.data.synth import make_synthetic_dataset
from neurofin.demo import demo_settings
from neurofin.encoding.design import downsampled_stories, pooled_feature_stats, split_stories
from neurofin.encoding.metrics import top_voxels, voxel_correlation
from neurofin.encoding.responses import read_story_responses, read_test_target
from neurofin.encoding.train import block_slices, cached_feature_source, feature_shape, fit_stories
from neurofin.io import write_json_atomic
from neurofin.timing import centre_scale, make_delayed

RESULT = Path(__file__).resolve().parent / "results" / "zscore_convention.json"


def own_zscore_rows(rows: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Rows whose centre_scale(., std) equals their own per-story z-score (the old convention)."""
    own = rows.std(axis=0)
    return rows.mean(axis=0) + (rows - rows.mean(axis=0)) * std / np.where(own > 0, own, 1.0)


def predict(rows: np.ndarray, std: np.ndarray, basis: np.ndarray | None, weights: np.ndarray, delays: list[int]) -> np.ndarray:
    """A story's predicted responses under the shared convention (as EncodingModel.predict_story)."""
    scaled = centre_scale(rows, std).astype(np.float32)
    return make_delayed(scaled if basis is None else scaled @ basis, delays) @ weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/zscore_twin"))
    args = parser.parse_args()
    dataset = make_synthetic_dataset(args.out / "synth", 2, 10, 800, 0, overwrite=True)
    settings = demo_settings(args.out, dataset.root)
    enc, timing = settings.encoding, settings.timing
    features = cached_feature_source(dataset, settings)
    record: dict = {"dataset": "demo twin: 2 subjects x 10 stories x 800 voxels, seed 0", "features": "SmolLM2-135M blocks 20-23",
                    "subjects": {}}
    for subject in dataset.subjects():
        split = split_stories(dataset.stories(subject), settings.data.test_stories, enc.validation_stories, enc.seed,
                              settings.data.held_out_stories)
        stories = split.train + split.validation + split.test
        words = features(stories)
        rows = downsampled_stories(words, dataset.respdict, stories, timing)
        _, std = pooled_feature_stats(rows, split.train)
        resp = read_story_responses(dataset, subject, split.train + split.validation)
        target = {s: read_test_target(dataset, subject, s)[0] for s in split.test}
        bands = block_slices(*feature_shape(words), enc.blocks_per_band)
        ratio = np.array([rows[s].std(axis=0) / std for s in stories])
        out = {"story_std_over_pooled_std": {"min": float(ratio.min()), "max": float(ratio.max()),
                                             "median_abs_log": float(np.median(np.abs(np.log(ratio))))}}
        for name, used in (("per_story_zscore", {s: own_zscore_rows(rows[s], std) for s in stories}), ("pooled_std", rows)):
            start = time.perf_counter()
            fitted = fit_stories(used, resp, split.train, bands, settings, std)
            weights = fitted.ridge.primal_weights()
            preds = {s: predict(used[s], std, fitted.basis, weights, timing.delays) for s in split.validation + split.test}
            val_r = voxel_correlation(np.concatenate([resp[s] for s in split.validation]),
                                      np.concatenate([preds[s] for s in split.validation]))
            test_r = voxel_correlation(np.concatenate([target[s] for s in split.test]),
                                       np.concatenate([preds[s] for s in split.test]))
            top = top_voxels(val_r, enc.top_fraction)
            out[name] = {"test_mean_r": float(test_r.mean()), "test_top_mean_r": float(test_r[top].mean()),
                         "validation_mean_r": float(val_r.mean()), "fit_s": round(time.perf_counter() - start, 1)}
        record["subjects"][subject] = out
        print(subject, out, flush=True)
    write_json_atomic(RESULT, record)
    print(f"-> {RESULT}")


if __name__ == "__main__":
    main()
