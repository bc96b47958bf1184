"""Ray paths on a local 2-CPU Ray cluster: inference (Ray Data, 2 actors), features, training, ingest.

Each must give what the single-process path gives: same rows and values (inference to 1e-6), byte-identical
feature cache files, equal package weights, equal ingest tables.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray")

from neurofin.encoding.package import EncodingModel
from neurofin.infer.predictor import Predictor
from neurofin.infer.run import infer_file
from neurofin.scale.infer import infer_ray
from neurofin.schema import ROI_KEY_COLUMNS as KEY_COLUMNS

WORDS = ["the", "stock", "market", "calls", "puts", "shares", "earnings", "moon", "crash", "dip", "rally", "options", "hedge", "retail", "bullish", "bearish"]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from neurofin.scale.cluster import connect

    connect("local", num_cpus=2)
    yield "local"
    ray.shutdown()


def comments(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = [{"id": f"c{seed}-{i}", "body": " ".join(rng.choice(WORDS, rng.integers(3, 25)))} for i in range(n)]
    rows[3]["body"] = ""  # no words: an error row in both paths
    rows[5]["body"] = rows[4]["body"]  # a repeated text
    return rows


@pytest.mark.slow
def test_ray_inference_equals_single_process_and_resumes_per_shard(tmp_path, smollm2_models, local_ray):
    shards = tmp_path / "comments"
    shards.mkdir()
    pd.DataFrame(comments(30, 1)).to_parquet(shards / "RC_2021-01.parquet")
    (shards / "RC_2021-02.jsonl").write_text("\n".join(json.dumps(r) for r in comments(14, 2)))
    spec = {"packages": [str(p) for p in smollm2_models.packages], "data_root": str(smollm2_models.dataset.root),
            "atlas_cache": str(smollm2_models.atlas_cache)}
    out = tmp_path / "rois"
    paths = infer_ray(spec, shards, out, local_ray, batch_size=8, shard_rows=16, actors=2)
    assert [p.name for p in paths] == ["RC_2021-01-00000.parquet", "RC_2021-01-00001.parquet", "RC_2021-02-00000.parquet"]
    ray_rows = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)

    from neurofin.infer.inputs import read_texts

    texts = pd.concat([read_texts(shards / "RC_2021-01.parquet"), read_texts(shards / "RC_2021-02.jsonl")], ignore_index=True)
    infer_file(Predictor.from_packages(**spec), texts, tmp_path / "single.parquet", batch_size=8)
    single = pd.read_parquet(tmp_path / "single.parquet")
    assert list(ray_rows.columns) == list(single.columns)
    a = ray_rows.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)
    b = single.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)
    meta = ["error", *regions(b)]
    pd.testing.assert_frame_equal(a.drop(columns=meta), b.drop(columns=meta))
    errors = lambda f: [None if pd.isna(e) else e for e in f["error"]]  # noqa: E731 - all-null shards read back as object
    assert errors(a) == errors(b)
    # float32 round-off differs with the thread count (actors run one torch thread each): 1e-6 relative + absolute
    np.testing.assert_allclose(a[regions(b)].to_numpy(), b[regions(b)].to_numpy(), rtol=1e-6, atol=1e-6)
    assert a["error"].notna().sum() == 2 * (len(smollm2_models.packages) + 1)  # an empty text per file, per subject + ensemble

    # resume: a lost shard is recomputed, finished ones are kept untouched
    kept = paths[0].stat().st_mtime_ns
    paths[2].unlink()
    again = infer_ray(spec, shards, out, local_ray, batch_size=8, shard_rows=16, actors=2)
    assert again == paths and paths[0].stat().st_mtime_ns == kept
    # the recomputed shard ran on other actors: the same float32 round-off allowance (emb_ values pass near 0)
    pd.testing.assert_frame_equal(pd.concat([pd.read_parquet(p) for p in again], ignore_index=True), ray_rows, atol=1e-6)


def regions(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("id", "subject", "n_words", "truncated", "error")]


@pytest.mark.slow
def test_ray_feature_extraction_writes_the_sequential_cache(tmp_path, smollm2_models, local_ray):
    from neurofin.features.cache import load_word_features, story_features
    from neurofin.scale.tasks import extract_features

    dataset, features = smollm2_models.dataset, smollm2_models.settings.features
    stories = dataset.stories("UTS01")[:3]
    story_features(dataset, stories, features, tmp_path / "sequential")
    extract_features(dataset, stories, features.model_copy(update={"cache_dir": tmp_path / "ray"}), local_ray)
    names = sorted(p.name for p in (tmp_path / "sequential").glob("*.safetensors"))
    assert len(names) == 3 and names == sorted(p.name for p in (tmp_path / "ray").glob("*.safetensors"))
    for name in names:
        (seq, seq_meta), (par, par_meta) = (load_word_features(tmp_path / d / name) for d in ("sequential", "ray"))
        assert seq_meta == par_meta and seq.words == par.words
        np.testing.assert_array_equal(seq.times, par.times)
        # float16 cache; workers run torch with one thread: allow one float16 step of round-off
        np.testing.assert_allclose(par.values.astype(np.float32), seq.values.astype(np.float32), rtol=2e-3, atol=2e-3)


@pytest.mark.slow
def test_ray_training_equals_sequential_packages(tmp_path, smollm2_models, local_ray):
    from neurofin.scale.tasks import train_subjects

    packages = train_subjects(smollm2_models.dataset, ["UTS01", "UTS02"], smollm2_models.settings, tmp_path / "models", local_ray)
    assert [p.name for p in packages] == ["UTS01", "UTS02"]
    for ours, reference in zip(packages, smollm2_models.packages):
        a, b = EncodingModel.load(ours), EncodingModel.load(reference)
        assert a.record.split == b.record.split and a.record.settings == b.record.settings
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-5, atol=1e-7)
        for name in ("alphas", "cv_r", "validation_r"):
            np.testing.assert_allclose(a.arrays[name], b.arrays[name], rtol=1e-5, atol=1e-7)


def test_ingest_as_ray_tasks_equals_sequential(tmp_path, local_ray):
    import zstandard

    from neurofin.market.comments.ingest import ingest_dumps
    from neurofin.scale.ingest import ingest_parallel

    dumps = []
    for month in (1, 2, 3):
        lines = [json.dumps({"id": f"m{month}x{i % 40}" if i % 7 else "shared", "body": f"GME {i}",
                             "created_utc": 1_609_459_200 + 86_400 * 31 * (month - 1) + i, "subreddit": "wallstreetbets",
                             "author": "AutoModerator" if i % 11 == 0 else f"u{i}"}) for i in range(120)]
        path = tmp_path / f"RC_2021-0{month}.zst"
        path.write_bytes(zstandard.ZstdCompressor().compress("\n".join(lines).encode()))
        dumps.append(path)
    sequential = ingest_dumps(dumps, tmp_path / "seq.parquet")
    on_ray = ingest_parallel(dumps, tmp_path / "ray.parquet", ray_address=local_ray)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ray.parquet"), pd.read_parquet(tmp_path / "seq.parquet"))
    assert on_ray.duplicate == sequential.duplicate > 0 and on_ray.kept == sequential.kept and on_ray.bot == sequential.bot
