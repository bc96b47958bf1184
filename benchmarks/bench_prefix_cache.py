"""Prefix KV cache (issue 22, item 4): product inference time vs the bare LM on the text alone, in one run.

Comments of 10-40 words are read after the packaged neutral story prefix (79 words) by the product
(`Predictor.predict_rois`, 8 subjects' readouts of production shape, raw units) in two ways: with the
prefix's keys/values cached once per model (features/context.py, the product path) and reading prefix + text
whole (the path before the cache, the prefix re-read for every text). The bare LM is the base model's
forward alone over the same texts' tokens, right-padded, batched to the same token budget as the extractor:
on the text alone, and on prefix + text. Issue 20's averaging protocol (context_prefix = neutral_stories: one
cached-prefix pass per packaged passage, features averaged) is timed too (--out prefix_average_cpu.json), and
parallel_stories (the 6 packaged passages side by side in one cached pass; its first 3 alone; the 6 cut to their
first --passage-words words, --out prefix_parallel6_cpu.json). Every arm also runs as ARM@sdpa: under transformers' own "sdpa" attention instead of the
product's CPU attention (features/attention.py), the code before it.
Rounds are interleaved; reported per arm: the median and the fastest
round (least slowed by other load on a shared machine), the process CPU seconds (the honest figure on a shared
machine; --threads 1), and the ratio of the product's time to the bare LM's time on the text alone (issue 22's
target: <= 1.15), against the bare LM under the product's attention and under "sdpa".
SmolLM2-135M (GGUF, the demo's blocks 20-23, context 256, stride 256), CPU:
    PYTHONPATH=src .venv/bin/python benchmarks/bench_prefix_cache.py --n-comments 120 --rounds 3 --threads 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neurofin.io import write_json_atomic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_infer import comments, random_readouts  # noqa: E402  (benchmarks/ is not a package)


def bare_lm(loaded, token_lists: list[list[int]], max_tokens: int) -> Callable[[], None]:
    """The base model's forward alone over the token lists, longest first, rows x width within max_tokens."""
    import torch

    ordered = sorted(token_lists, key=len, reverse=True)
    batches: list[list[list[int]]] = []
    for ids in ordered:
        if batches and (len(batches[-1]) + 1) * len(batches[-1][0]) <= max_tokens:
            batches[-1].append(ids)
        else:
            batches.append([ids])
    tensors = []
    for batch in batches:
        width = len(batch[0])
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        tensors.append((ids, None if bool(mask.all()) else mask))

    def run() -> None:
        with torch.inference_mode():
            for ids, mask in tensors:
                loaded.model(input_ids=ids, attention_mask=mask, use_cache=False)

    return run


def assert_no_error(frame) -> None:
    assert frame["error"].isna().all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-comments", type=int, default=120)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadiest on a shared machine)")
    parser.add_argument("--arms", help="comma-separated arms to time (default all; the bare LM on the text alone always)")
    parser.add_argument("--passage-words", type=int, default=35, help="product_parallel_6_short_passages: words kept per passage")
    parser.add_argument("--more-passages", default="", help="product_parallel_6_short_passages: labels (C..K) of "
                        "benchmarks/data/story_passage.txt paragraphs read after the 6 packaged ones, cut alike")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "prefix_cache_cpu.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import neurofin.features.extract as extract
    from neurofin.atlas import load_rois
    from neurofin.config import FeatureSettings
    from neurofin.demo import DEMO_OVERRIDES, demo_model_path
    from neurofin.features.align import align_words
    from neurofin.features.model import load_language_model
    from neurofin.infer.predictor import FeatureGroup, Predictor
    from neurofin.infer.text import (
        NEUTRAL_STORIES,
        NEUTRAL_STORY,
        PARALLEL_STORIES,
        comment_words,
        context_passages,
        prefix_words,
    )

    settings = FeatureSettings(model=str(demo_model_path()), blocks=DEMO_OVERRIDES["features.blocks"],
                               context_tokens=DEMO_OVERRIDES["features.context_tokens"],
                               stride=DEMO_OVERRIDES["features.stride"], device="cpu")
    loaded = load_language_model(settings)
    n_rois = len(load_rois())
    readouts = random_readouts(args.subjects, len(settings.blocks) * loaded.hidden_size, n_rois, 0)
    predictor = Predictor([FeatureGroup(settings, readouts, loaded=loaded)], [f"roi_{i}" for i in range(n_rois)],
                          context_prefix=NEUTRAL_STORY)
    rng = np.random.default_rng(3)
    texts = [c for n in rng.integers(10, 41, args.n_comments) for c in comments(1, int(n), int(rng.integers(1 << 30)))]
    words = [comment_words(t).words for t in texts]
    prefix = predictor.prefix
    alone = [align_words(loaded.tokenizer, w).ids.tolist() for w in words]
    whole = [align_words(loaded.tokenizer, prefix + w).ids.tolist() for w in words]
    budget = settings.batch_size * (settings.context_tokens + settings.stride)  # the extractor's tokens per batch
    cached_extract = extract.extract_many

    def whole_extract(loaded_, word_lists, *a, context=(), **k):  # before the cache: prefix + text read whole
        return [f[len(context) :] for f in cached_extract(loaded_, [[*context, *w] for w in word_lists], *a, **k)]

    def product(extractor: Callable[..., list[np.ndarray]]) -> Callable[[], None]:
        def run() -> None:
            extract.extract_many = extractor  # type: ignore[assignment]
            try:
                frame = predictor.predict_rois(texts, units="raw")
            finally:
                extract.extract_many = cached_extract  # type: ignore[assignment]
            assert_no_error(frame)

        return run

    averaging = Predictor(predictor.groups, predictor.region_names, context_prefix=NEUTRAL_STORIES)

    def averaged() -> None:  # issue 20's averaging protocol: one cached-prefix pass per packaged passage
        assert_no_error(averaging.predict_rois(texts, units="raw"))

    side_by_side = Predictor(predictor.groups, predictor.region_names, context_prefix=PARALLEL_STORIES)
    three = Predictor(predictor.groups, predictor.region_names, context_prefix=[" ".join(p) for p in context_passages(PARALLEL_STORIES)[:3]])
    three.side_by_side = True  # the first 3 packaged passages side by side (parallel_stories before it read 6)
    paragraphs = (HERE / "data" / "story_passage.txt").read_text().splitlines()  # passages B..K
    more = [prefix_words(paragraphs[ord(label) - ord("B")]) for label in args.more_passages.split(",") if label]
    short = Predictor(predictor.groups, predictor.region_names,
                      context_prefix=[" ".join(p[: args.passage_words]) for p in [*context_passages(PARALLEL_STORIES), *more]])
    short.side_by_side = True  # the 6 packaged passages (and --more-passages), each cut to its first --passage-words words

    def parallel(reader: Predictor) -> Callable[[], None]:  # the packaged passages side by side: one cached pass
        return lambda: assert_no_error(reader.predict_rois(texts, units="raw"))

    arms = {"product_cached_prefix": product(cached_extract), "product_whole_prefix": product(whole_extract),
            "bare_lm_text_alone": bare_lm(loaded, alone, budget), "bare_lm_prefix_and_text": bare_lm(loaded, whole, budget),
            "product_neutral_stories_averaged": averaged, "product_parallel_stories": parallel(side_by_side),
            "product_parallel_3_passages": parallel(three), "product_parallel_6_short_passages": parallel(short)}
    arms |= {f"{name}@sdpa": run for name, run in arms.items()}  # the same under transformers' own "sdpa" attention
    if args.arms:
        arms = {name: run for name, run in arms.items() if name in args.arms.split(",") or name == "bare_lm_text_alone"}
    for reader in (predictor, averaging, side_by_side, three, short):
        reader.predict_rois(texts[:8], units="raw")  # warm-up; computes the prefix caches once
    attention = loaded.model.config._attn_implementation  # the product's (features/attention.py)
    times: dict[str, list[float]] = {name: [] for name in arms}
    cpu: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.rounds):
        for name, run in arms.items():
            loaded.model.set_attn_implementation("sdpa" if name.endswith("@sdpa") else attention)
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    loaded.model.set_attn_implementation(attention)
    median = {name: statistics.median(t) for name, t in times.items()}
    fastest = {name: min(t) for name, t in times.items()}  # the round least slowed by other load on a shared machine
    median_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    bare = median["bare_lm_text_alone"]
    result = {
        "benchmark": "prefix_cache",
        "model": f"SmolLM2-135M (GGUF), blocks {DEMO_OVERRIDES['features.blocks']}, context 256, stride 256",
        "subjects": args.subjects, "rois": n_rois, "n_comments": len(texts), "words_per_comment": "10-40",
        "prefix_words": len(prefix), "prefix_tokens": len(align_words(loaded.tokenizer, prefix).ids),
        "mean_text_tokens": round(float(np.mean([len(a) for a in alone])), 1), "rounds": args.rounds,
        "attention": attention,
        "seconds": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
        "cpu_seconds": {name: [round(t, 3) for t in ts] for name, ts in cpu.items()},
        "cpu_ratio_to_bare_lm_text_alone": {name: round(s / median_cpu["bare_lm_text_alone"], 3) for name, s in median_cpu.items()},
        "cpu_ratio_to_bare_lm_text_alone_sdpa": ({name: round(s / median_cpu["bare_lm_text_alone@sdpa"], 3) for name, s in median_cpu.items()}
                                                 if "bare_lm_text_alone@sdpa" in median_cpu else None),
        "texts_per_s": {name: round(len(texts) / s, 2) for name, s in median.items()},
        "ratio_to_bare_lm_text_alone": {name: round(s / bare, 3) for name, s in median.items()},
        "ratio_to_bare_lm_text_alone_fastest_rounds": {name: round(s / fastest["bare_lm_text_alone"], 3) for name, s in fastest.items()},
        "speedup_cached_over_whole": (round(median["product_whole_prefix"] / median["product_cached_prefix"], 3)
                                      if {"product_whole_prefix", "product_cached_prefix"} <= set(median) else None),
        "hardware": {"machine": platform.machine(), "python": platform.python_version(), "torch": torch.__version__,
                     "threads": torch.get_num_threads()},
        "command": f"benchmarks/bench_prefix_cache.py --n-comments {args.n_comments} --subjects {args.subjects} --rounds {args.rounds} "
                   f"--threads {args.threads} --passage-words {args.passage_words}" + (f" --arms {args.arms}" if args.arms else "")
                   + (f" --more-passages {args.more_passages}" if args.more_passages else ""),
    }
    write_json_atomic(args.out, result)
    for name in arms:
        print(f"{name:<38} {result['texts_per_s'][name]:>8} texts/s  {result['ratio_to_bare_lm_text_alone'][name]:.3f}x "
              f"(CPU {result['cpu_ratio_to_bare_lm_text_alone'][name]:.3f}x) bare LM on the text alone")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
