"""Readout cost alone (no LM): texts -> words -> folded readout for 8 subjects -> frame, before/after issue 11.

The LM is replaced by precomputed random features of the production SmolLM2 shape (8 blocks x 576), so the
time is the readout's and the frame's. Runs against either neurofin version on PYTHONPATH (the readout's
constructor is detected), so the same command measures both:
    PYTHONPATH=src python benchmarks/bench_readout.py --label after
Results accumulate by label in benchmarks/results/readout_cpu.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from neurofin.config import FeatureSettings, TimingSettings
from neurofin.infer import predictor as predictor_module
from neurofin.infer.readout import RegionReadout
from neurofin.io import write_json_atomic

HERE = Path(__file__).resolve().parent


def build(n_subjects: int, n_features: int, n_rois: int, rng: np.random.Generator):
    """A Predictor of random readouts, in whichever constructor form this neurofin version has."""
    timing = TimingSettings()
    fields = {f.name for f in dataclasses.fields(RegionReadout)}
    rates = rng.uniform(2.0, 3.0, n_subjects)
    if "words_per_second" in fields:  # after: (n_features, n_rois) gain, each subject its own rate
        readouts = [RegionReadout(f"S{i}", rng.standard_normal((n_features, n_rois)), rng.standard_normal(n_rois),
                                  np.zeros(n_rois, bool), float(rates[i]), timing) for i in range(n_subjects)]
        group = predictor_module.FeatureGroup(FeatureSettings(), readouts, loaded=object())
        return predictor_module.Predictor([group], [f"r{i}" for i in range(n_rois)], context_prefix="none")
    n_delays = len(timing.delays)  # before: per-delay gains, one rate per group
    readouts = [RegionReadout(f"S{i}", rng.standard_normal((n_delays, n_features, n_rois)).astype(np.float32),
                              rng.standard_normal((n_delays, n_rois)), np.zeros(n_rois, bool)) for i in range(n_subjects)]
    group = predictor_module.FeatureGroup(FeatureSettings(), timing, 2.5, readouts, loaded=object())
    return predictor_module.Predictor([group], [f"r{i}" for i in range(n_rois)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", required=True)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "readout_cpu.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_features = 8 * 576
    predictor = build(8, n_features, 22, rng)
    features = [rng.standard_normal((args.words, 8, 576)).astype(np.float32) for _ in range(args.texts)]
    predictor._features = lambda group, word_lists, rows, errors: features[: len(word_lists)]
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 999, args.words)) + f" t{k}" for k in range(args.texts)]
    texts = [t.rsplit(" ", 1)[0] + f" x{k}" for k, t in enumerate(texts)]  # distinct texts of exactly `words` words
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        predictor.predict_rois(texts)
        times.append(time.perf_counter() - start)
    result = {"texts": args.texts, "words": args.words, "subjects": 8, "features": n_features, "rois": 22,
              "median_s": round(float(np.median(times)), 4), "ms_per_text": round(1e3 * float(np.median(times)) / args.texts, 3),
              "repeats": args.repeats}
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[args.label] = result
    write_json_atomic(args.out, results)
    print(f"{args.label}: {result['ms_per_text']} ms per text (readout + frame, 8 subjects, {args.words} words) -> {args.out}")


if __name__ == "__main__":
    main()
