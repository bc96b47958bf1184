"""`neurofin features extract`: fills the cache for a dataset's stories, then finds them all cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from neurofin.config import FeatureSettings
from neurofin.data.layout import Dataset
from neurofin.data.synth import SynthSpec, build_vocabulary, generate_story, write_textgrid
from neurofin.features.cache import story_features
from neurofin.features.cli import app


def test_extract_fills_the_cache_that_training_reads(tiny_llama_dir: Path, tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds003020")
    vocab = build_vocabulary(1, 8)
    for i, name in enumerate(["one", "two"]):
        write_textgrid(dataset.textgrid_path(name), generate_story(name, 1, i, vocab, SynthSpec(story_seconds=(5.0, 7.0))))
    cache_dir = tmp_path / "cache"
    args = ["extract", "--data-root", str(tmp_path), "--model", str(tiny_llama_dir), "--blocks", "1-2",
            "--context-tokens", "6", "--stride", "3", "--device", "cpu", "--cache-dir", str(cache_dir)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2 stories" in first.output and "(2 computed, 0 cached)" in first.output
    assert len(list(cache_dir.glob("*.safetensors"))) == 2

    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and "(0 computed, 2 cached)" in second.output

    settings = FeatureSettings(model=str(tiny_llama_dir), blocks="1-2", context_tokens=6, stride=3, device="cpu")
    cached = story_features(dataset, ["one", "two"], settings, cache_dir)
    assert all(f.values.shape[1:] == (2, 32) and np.isfinite(f.values).all() for f in cached.values())
    assert len(list(cache_dir.glob("*.safetensors"))) == 2  # the same keys: nothing new was written


def test_extract_names_missing_stories(tiny_llama_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "ds003020" / "derivative" / "TextGrids").mkdir(parents=True)
    result = CliRunner().invoke(app, ["extract", "--data-root", str(tmp_path), "--model", str(tiny_llama_dir),
                                      "--stories", "nope"])
    assert result.exit_code != 0 and "no TextGrid for stories ['nope']" in str(result.exception)
