"""Does text length alone move ROI values? Texts of 3..160 words drawn from one word pool, through real packages.

Issue 11 measured, with the demo's SmolLM2 packages, that length alone explained R^2 = 0.12-0.69 of a region's
value across texts. This script repeats that measurement for any packages: per length, `--texts` texts of
words drawn at random (seeded) from benchmarks/data/story_passage.txt, so every length has the same kind of
words and only the length differs. Per subject x region: eta^2 (share of the variance across texts explained
by the length group; under no length effect its expectation is (k-1)/(N-1)) and corr(n_words, value).
Runs against any neurofin version (the one on PYTHONPATH), so before/after use the same texts:
    PYTHONPATH=src python benchmarks/length_confound.py DEMO_OUT --label after --context-prefix none
DEMO_OUT is a `neurofin demo --out` folder (models/, synth/, atlas-cache/). Results accumulate by label in
benchmarks/results/length_confound_smollm2.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from neurofin.io import write_json_atomic

HERE = Path(__file__).resolve().parent
LENGTHS = [3, 5, 8, 12, 20, 30, 45, 70, 100, 160]
META = {"id", "subject", "n_words", "truncated", "error"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_out", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--texts", type=int, default=12, help="texts per length")
    parser.add_argument("--context-prefix", default=None, help="none | neutral_story (omit for versions without the option)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "length_confound_smollm2.json")
    args = parser.parse_args()

    from neurofin.encoding.package import package_dirs
    from neurofin.infer import Predictor

    pool = (HERE / "data" / "story_passage.txt").read_text().split()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(pool, n)) for n in LENGTHS for _ in range(args.texts)]
    options = {"context_prefix": args.context_prefix} if args.context_prefix is not None else {}
    predictor = Predictor.from_packages(package_dirs(args.demo_out / "models"), data_root=args.demo_out / "synth",
                                        atlas_cache=args.demo_out / "atlas-cache", feature_overrides={"device": "cpu"}, **options)
    start = time.perf_counter()
    frame = predictor.predict_rois(texts)
    wall = time.perf_counter() - start
    regions = [c for c in frame.columns if c not in META]
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for subject, rows in frame.groupby("subject"):
        n = rows["n_words"].to_numpy(float)
        stats[str(subject)] = {}
        for region in regions:
            v = rows[region].to_numpy(float)
            if not np.isfinite(v).all() or v.std() == 0:
                continue
            group_means = {k: v[n == k].mean() for k in np.unique(n)}
            eta2 = float(sum((n == k).sum() * (m - v.mean()) ** 2 for k, m in group_means.items()) / ((v - v.mean()) ** 2).sum())
            stats[str(subject)][region] = {"eta2": round(eta2, 4), "corr": round(float(np.corrcoef(n, v)[0, 1]), 4)}
    eta = np.array([s["eta2"] for regions_ in stats.values() for s in regions_.values()])
    corr = np.array([abs(s["corr"]) for regions_ in stats.values() for s in regions_.values()])
    k, total = len(LENGTHS), len(texts)
    summary = {
        "lengths": LENGTHS, "texts_per_length": args.texts, "context_prefix": args.context_prefix,
        "eta2_min": round(float(eta.min()), 4), "eta2_median": round(float(np.median(eta)), 4), "eta2_max": round(float(eta.max()), 4),
        "eta2_null_expectation": round((k - 1) / (total - 1), 4),
        "abs_corr_median": round(float(np.median(corr)), 4), "abs_corr_max": round(float(corr.max()), 4),
        "n_subject_regions": int(eta.size), "predict_wall_s": round(wall, 1), "per_region": stats,
    }
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[args.label] = summary
    write_json_atomic(args.out, results)
    print(f"{args.label}: eta^2 (length) median {summary['eta2_median']:.3f}, range {summary['eta2_min']:.3f}-{summary['eta2_max']:.3f} "
          f"(null {summary['eta2_null_expectation']:.3f}); |corr(n_words, value)| median {summary['abs_corr_median']:.3f}, "
          f"max {summary['abs_corr_max']:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
