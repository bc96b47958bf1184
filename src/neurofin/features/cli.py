"""CLI commands of the features stage: `neurofin features extract`."""

from __future__ import annotations

from pathlib import Path

import typer

from neurofin.cli_common import CONFIG_HELP, DATA_ROOT_HELP

app = typer.Typer(no_args_is_help=True)


@app.callback()
def features() -> None:
    """LLM word features: hidden states of chosen transformer blocks at every word, in a shared cache.

    Example: neurofin features extract --data-root data/ds003020 --stories wheretheressmoke
    """


@app.command("extract")
def extract(
    data_root: Path = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
    stories: str = typer.Option(None, "--stories", help="Comma-separated stories (default: every TextGrid)."),
    config: Path = typer.Option(None, "--config", help=CONFIG_HELP),
    model: str = typer.Option(None, "--model", help="Hugging Face id, local model folder, or .gguf file."),
    revision: str = typer.Option(None, "--revision", help="Hub revision (branch, tag or commit)."),
    gguf_file: str = typer.Option(None, "--gguf-file", help="GGUF file name inside --model (folder or hub id)."),
    blocks: str = typer.Option(None, "--blocks", help="Transformer blocks, e.g. 24-31 or 0,4,8."),
    context_tokens: int = typer.Option(None, "--context-tokens", help="Tokens of context every word sees (at least)."),
    mode: str = typer.Option(None, "--mode", help="strided (fast, default) | exact (one window per word)."),
    stride: int = typer.Option(None, "--stride", help="strided mode: positions kept per window."),
    batch_size: int = typer.Option(None, "--batch-size", help="Full-length windows per forward pass."),
    device: str = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:1 | mps."),
    dtype: str = typer.Option(None, "--dtype", help="auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float16 | float32."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 weights via bitsandbytes (CUDA only)."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Feature cache folder (default ~/.cache/neurofin/features)."),
    ray_address: str = typer.Option(None, "--ray-address", help="Stories as Ray tasks, one per GPU: local | auto | ADDRESS (shared cache)."),
) -> None:
    """Compute every story's word features into the subject-independent cache (resumes; cached stories are skipped).

    Example: neurofin features extract --data-root data/ds003020 --model meta-llama/Llama-3.1-8B --blocks 24-31 --context-tokens 512
    """
    from neurofin.cli_common import open_dataset
    from neurofin.config import Settings
    from neurofin.errors import DataError
    from neurofin.features.cache import default_cache_dir, story_features
    from neurofin.io import guard_output, require_writable
    from neurofin.progress import cli_progress

    overrides = {
        "features.model": model, "features.revision": revision, "features.gguf_file": gguf_file,
        "features.blocks": blocks, "features.context_tokens": context_tokens, "features.mode": mode,
        "features.stride": stride, "features.batch_size": batch_size, "features.device": device,
        "features.dtype": dtype, "features.load_in_4bit": load_in_4bit or None,
        "features.cache_dir": str(cache_dir) if cache_dir else None,
    }
    all_settings = Settings.load(config, overrides)
    settings = all_settings.features
    target = guard_output(settings.cache_dir or default_cache_dir(), "folder", [data_root, config, model], "--cache-dir")
    require_writable(target, "--cache-dir")  # before loading a model
    dataset = open_dataset(data_root, all_settings)
    if stories:
        chosen = [s.strip() for s in stories.split(",") if s.strip()]
    else:
        chosen = sorted(p.stem for p in dataset.textgrid_dir.glob("*.TextGrid"))
    if not chosen:
        raise DataError(f"no TextGrids under {dataset.textgrid_dir}: download them with `neurofin data download`")
    missing = [s for s in chosen if not dataset.textgrid_path(s).is_file()]
    if missing:
        raise DataError(f"no TextGrid for stories {missing[:5]} under {dataset.textgrid_dir}: check --stories")
    if ray_address:
        from neurofin.scale.tasks import extract_features

        n_words = extract_features(dataset, chosen, settings, ray_address)
        typer.echo(f"{len(chosen)} stories, {n_words} words (Ray) -> {target}")
        return
    before = set(target.glob("*.safetensors"))
    with cli_progress() as progress:
        features = story_features(dataset, chosen, settings, target, progress=progress)
    computed = len(set(target.glob("*.safetensors")) - before)
    n_words = sum(len(f.words) for f in features.values())
    typer.echo(f"{len(features)} stories, {n_words} words ({computed} computed, {len(features) - computed} cached) -> {target}")


def register(root: typer.Typer) -> None:
    """Attach the `features` group to the root app."""
    root.add_typer(app, name="features")
