"""Two `infer` and two `features extract` processes at once on shared outputs give what one run alone gives.

Real processes of the real CLI, a tiny random Llama, the synthetic dataset: the pair of `features extract`
shares one feature cache folder; the pair of `infer` shares the --out file, its parts folder and one atlas
registration cache (both register the subject at the same time). Every output is compared with a single run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "features"))

from tokenizers_offline import byte_level_bpe, save_tiny_llama

from neurofin.config import Settings
from neurofin.data.synth import make_synthetic_dataset
from neurofin.encoding.train import cached_feature_source, train_subject
from neurofin.features.cache import load_word_features

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def _neurofin(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "neurofin.cli", "-q", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _all_succeed(*procs: subprocess.Popen) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err + out


def _cache_contents(folder: Path) -> dict[str, tuple]:
    contents = {}
    for path in sorted(folder.glob("*.safetensors")):
        features, record = load_word_features(path)  # verifies each file's checksum
        contents[path.name] = (features.words, features.times.tobytes(), features.values.tobytes(), json.dumps(record))
    assert not list(folder.glob(".*.tmp")), "a temporary file was left behind"
    return contents


@pytest.mark.slow
def test_two_infer_and_two_features_extract_processes_at_once(tmp_path):
    dataset = make_synthetic_dataset(tmp_path / "synth", n_subjects=1, n_stories=5, n_voxels=300, seed=2)
    tiny = save_tiny_llama(tmp_path / "llama", byte_level_bpe(bos="<s>"), 3)
    feature_flags = ["--data-root", str(dataset.root), "--model", str(tiny), "--blocks", "1-2", "--context-tokens", "32",
                     "--stride", "32", "--device", "cpu"]

    _all_succeed(_neurofin("features", "extract", *feature_flags, "--cache-dir", str(tmp_path / "cache-single")))
    shared = tmp_path / "cache-shared"
    _all_succeed(*[_neurofin("features", "extract", *feature_flags, "--cache-dir", str(shared)) for _ in range(2)])
    single = _cache_contents(tmp_path / "cache-single")
    assert len(single) == len(list((dataset.root / "derivative" / "TextGrids").glob("*.TextGrid")))
    assert _cache_contents(shared) == single

    settings = Settings.load(overrides={
        "features.model": str(tiny), "features.blocks": "1-2", "features.context_tokens": 32, "features.stride": 32,
        "features.device": "cpu", "features.cache_dir": str(tmp_path / "cache-single"), "encoding.validation_stories": 2,
        "encoding.cv_folds": 2, "encoding.pca_components": 8,
    })
    package = train_subject(dataset, "UTS01", settings, tmp_path / "models", cached_feature_source(dataset, settings))
    comments = tmp_path / "comments.jsonl"
    words = ["buy", "the", "dip", "hold", "sell", "calls", "puts", "moon", "rocket", "bag"]
    rows = [{"id": f"c{i}", "body": " ".join(words[(i * 3) % 10 :] + words[: i % 7])} for i in range(40)]
    comments.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")

    def infer(out: Path, atlas: Path) -> subprocess.Popen:
        return _neurofin("infer", "--packages", str(package.parent), "--input", str(comments), "--out", str(out),
                         "--data-root", str(dataset.root), "--atlas-cache", str(atlas), "--batch-size", "4",
                         "--units", "raw")  # uncalibrated package: this test is about concurrency, not calibration

    _all_succeed(infer(tmp_path / "single.parquet", tmp_path / "atlas-single"))
    out = tmp_path / "shared.parquet"
    _all_succeed(infer(out, tmp_path / "atlas-shared"), infer(out, tmp_path / "atlas-shared"))
    expected = pd.read_parquet(tmp_path / "single.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)
    assert len(expected) == 2 * len(rows) and np.isfinite(expected.select_dtypes("number").to_numpy()).any()
    assert not out.with_name(out.name + ".parts").exists()
    maps = sorted(p.name for p in (tmp_path / "atlas-shared").iterdir())
    assert maps == sorted(p.name for p in (tmp_path / "atlas-single").iterdir())  # one file, no leftovers
    for name in maps:  # the registration file both processes wrote is whole (ANTs itself is not bit-reproducible)
        with np.load(tmp_path / "atlas-shared" / name) as a, np.load(tmp_path / "atlas-single" / name) as b:
            assert {k: a[k].shape for k in a.files} == {k: b[k].shape for k in b.files}
