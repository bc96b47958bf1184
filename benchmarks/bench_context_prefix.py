"""Context for short texts (issue 11, item 4): how close is a word's feature in a short comment to its in-story feature?

A story passage (benchmarks/data/story_passage.txt, written for this benchmark) is read whole, as training
stories are: each word's in-story feature. Windows of it are then read as comments (each its own context),
with no prefix, with the packaged neutral story passage (infer.context_prefix = "neutral_story") and with a
one-line frame. Reported: mean cosine between a word's comment feature and its in-story feature, for the first
word, words 2-5 and words 6+, per comment length; also a word's cosine to the training-like mean word.
Whether calibrated values survive swapping one neutral prefix for another (sign flips, rank agreement; issue 20,
item 3) is measured by benchmarks/length_confound.py ("prefix" in length_confound_smollm2.json).
SmolLM2-135M (the demo's model and settings: blocks 20-23, context 256, strided 256), CPU:
    PYTHONPATH=src .venv/bin/python benchmarks/bench_context_prefix.py
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from neurofin.config import FeatureSettings
from neurofin.features.extract import extract_many
from neurofin.infer.text import NEUTRAL_STORY, comment_words, prefix_words
from neurofin.io import write_json_atomic

HERE = Path(__file__).resolve().parent
PREFIXES = {"none": "none", "neutral_story": NEUTRAL_STORY, "frame": "here is a comment someone wrote"}


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of (n, d) arrays."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="8,20")
    parser.add_argument("--windows", type=int, default=24, help="comments per length, starting at evenly spaced words")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "context_prefix_smollm2.json")
    args = parser.parse_args()

    from neurofin.demo import DEMO_OVERRIDES, demo_model_path
    from neurofin.features.model import load_language_model

    settings = FeatureSettings(model=str(demo_model_path()), blocks=DEMO_OVERRIDES["features.blocks"],
                               context_tokens=DEMO_OVERRIDES["features.context_tokens"],
                               stride=DEMO_OVERRIDES["features.stride"], device="cpu")
    loaded = load_language_model(settings)
    s = settings

    def features(word_lists: list[list[str]]) -> list[np.ndarray]:
        out = extract_many(loaded, word_lists, s.blocks, s.context_tokens, s.mode, s.stride, 8)
        return [f.reshape(f.shape[0], -1).astype(np.float64) for f in out]

    story = comment_words((HERE / "data" / "story_passage.txt").read_text(), max_words=10_000).words
    in_story = features([story])[0]
    story_mean = in_story[20:].mean(axis=0)
    result: dict = {"benchmark": "context_prefix", "model": "SmolLM2-135M (GGUF), blocks 20-23, context 256, strided 256",
                    "story_words": len(story), "windows_per_length": args.windows, "by_length": {}}
    start_time = time.perf_counter()
    for length in [int(x) for x in args.lengths.split(",")]:
        starts = np.linspace(60, len(story) - length, args.windows).astype(int)  # >= 60 words of story context
        rows = {}
        for name, prefix in PREFIXES.items():
            head = prefix_words(prefix)
            comment = features([head + story[a : a + length] for a in starts])
            cos = np.stack([cosine(c[len(head):], in_story[a : a + length]) for c, a in zip(comment, starts)])
            to_mean = np.stack([cosine(c[len(head):] - story_mean, in_story[a : a + length] - story_mean)
                                for c, a in zip(comment, starts)])
            rows[name] = {
                "prefix_words": len(head),
                "cosine_first_word": round(float(cos[:, 0].mean()), 4),
                "cosine_words_2_5": round(float(cos[:, 1:5].mean()), 4),
                "cosine_words_6_plus": round(float(cos[:, 5:].mean()), 4) if length > 5 else None,
                "cosine_all": round(float(cos.mean()), 4),
                "cosine_all_centred": round(float(to_mean.mean()), 4),
            }
        result["by_length"][str(length)] = rows
    result["wall_s"] = round(time.perf_counter() - start_time, 1)
    result["hardware"] = {"machine": platform.machine(), "python": platform.python_version()}
    result["command"] = "benchmarks/bench_context_prefix.py --lengths " + args.lengths + f" --windows {args.windows}"
    write_json_atomic(args.out, result)
    for length, rows in result["by_length"].items():
        for name, row in rows.items():
            print(f"{length:>3} words, prefix {name:<14} first {row['cosine_first_word']:.3f}  2-5 {row['cosine_words_2_5']:.3f}  "
                  f"6+ {row['cosine_words_6_plus']}  all {row['cosine_all']:.3f}  centred {row['cosine_all_centred']:.3f}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
