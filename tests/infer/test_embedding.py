"""The no-brain control's `emb_*` columns: the readout-weighted mean LM features, randomly projected (infer/embedding.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_predictor import BLOCKS, RATE, TEXTS, averaging_matrix, two_rate_models, write_package
from test_run import CountingPredictor
from tokenizers_offline import byte_level_bpe, save_tiny_llama

from neurofin.config import Settings, TimingSettings
from neurofin.errors import InputError
from neurofin.infer.embedding import embedding_names, projection
from neurofin.infer.predictor import Predictor, predictor_options
from neurofin.infer.readout import word_weights
from neurofin.infer.run import infer_file, run_key, wide_table
from neurofin.infer.text import comment_words
from neurofin.schema import ENSEMBLE

TIMING = TimingSettings()
REGIONS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", byte_level_bpe(bos="<s>"), 3)


@pytest.fixture(scope="module")
def tiny_predictor(tiny_dir, tmp_path_factory) -> Predictor:
    """Two subjects on the tiny Llama (feature width 2 blocks x 32), 8 embedding dimensions."""
    root = tmp_path_factory.mktemp("packages")
    packages = [write_package(root, s, tiny_dir, seed) for s, seed in (("UTS01", 1), ("UTS02", 2))]
    rng = np.random.default_rng(0)
    regions = {s: (averaging_matrix(rng, 30, 4), REGIONS) for s in ("UTS01", "UTS02")}
    return Predictor.from_packages(packages, region_matrices=regions, max_words=100, embedding_dims=8)


def test_projection_is_orthonormal_fixed_and_sized_as_asked():
    tall = projection(64, 8)
    assert tall.shape == (64, 8) and not tall.flags.writeable
    np.testing.assert_allclose(tall.T @ tall, np.eye(8), atol=1e-12)
    wide = projection(8, 20)  # more dimensions than features: orthonormal rows, still `dims` columns
    assert wide.shape == (8, 20)
    np.testing.assert_allclose(wide @ wide.T, np.eye(8), atol=1e-12)
    fresh = projection.__wrapped__(64, 8)  # recomputed, not the cached array
    np.testing.assert_array_equal(fresh, tall)
    # pinned: the matrix must never change between versions or machines (stored emb_ columns stay comparable)
    np.testing.assert_allclose(tall[:2, :3], [[0.0080223, 0.1848406, 0.0880873], [0.1209639, 0.0979, 0.1657606]],
                               atol=1e-6)
    assert not np.allclose(projection(65, 8)[:64], tall)  # one matrix per feature width
    assert embedding_names(3) == ["emb_000", "emb_001", "emb_002"]
    with pytest.raises(InputError, match="at least 1"):
        projection(0, 8)


def test_embedding_is_the_projected_readout_weighted_mean_of_lm_features(tiny_predictor):
    from neurofin.features.extract import extract_word_features
    from neurofin.features.model import load_language_model

    frame = tiny_predictor.predict_rois(TEXTS, ids=[f"c{i}" for i in range(len(TEXTS))])
    names = embedding_names(8)
    assert list(frame.columns[-12:]) == [*REGIONS, *names]
    assert frame.loc[frame["subject"] != ENSEMBLE, names].isna().all().all()  # ensemble rows only
    loaded = load_language_model(tiny_predictor.groups[0].settings)
    prefix = tiny_predictor.prefix
    for i, text in enumerate(TEXTS):
        words = comment_words(text, 100)
        row = frame[(frame["id"] == f"c{i}") & (frame["subject"] == ENSEMBLE)].iloc[0]
        if words.error is not None:
            assert row[names].isna().all() and row["error"] is not None  # error rows: NaN embedding
            continue
        features = extract_word_features(loaded, prefix + words.words, BLOCKS, 16, "strided", 8)[len(prefix):]
        features = features.reshape(len(words.words), -1).astype(np.float64)
        weights = word_weights(len(words.words), RATE, TIMING)
        expected = (weights @ features) / weights.sum() @ projection(features.shape[1], 8)
        np.testing.assert_allclose(row[names].to_numpy(float), expected, rtol=1e-4, atol=1e-5)


def test_same_text_same_embedding_whatever_the_batch(tiny_predictor):
    names = embedding_names(8)
    text = TEXTS[4]
    alone = tiny_predictor.predict_rois([text])
    batched = tiny_predictor.predict_rois([TEXTS[5], TEXTS[6], text, "a short one"])
    one = alone.loc[alone["subject"] == ENSEMBLE, names].to_numpy(float)[0]
    other = batched.loc[batched["subject"] == ENSEMBLE, names].to_numpy(float)[2]
    np.testing.assert_allclose(other, one, rtol=1e-5, atol=1e-6)
    assert np.isfinite(one).all() and np.abs(one).max() > 1e-3


def test_embedding_dims_zero_writes_no_columns_and_leaves_regions_alone(tiny_dir, tmp_path):
    package = write_package(tmp_path, "UTS01", tiny_dir, seed=4)
    regions = {"UTS01": (averaging_matrix(np.random.default_rng(6), 30, 4), REGIONS)}
    none = Predictor.from_packages([package], region_matrices=regions, embedding_dims=0).predict_rois(TEXTS[:2])
    some = Predictor.from_packages([package], region_matrices=regions, embedding_dims=3).predict_rois(TEXTS[:2])
    assert not [c for c in none.columns if c.startswith("emb_")]
    assert [c for c in some.columns if c.startswith("emb_")] == embedding_names(3)
    pd.testing.assert_frame_equal(none, some.drop(columns=embedding_names(3)))
    with pytest.raises(InputError, match="embedding_dims"):
        Predictor.from_packages([package], region_matrices=regions, embedding_dims=-1)


def test_first_pace_gives_the_embedding_when_speech_rates_differ(monkeypatch):
    """Packages at 1.9 and 3.1 words/s: the embedding weighs words by the first package's rate, exactly."""
    vocabulary, models, regions, tokens, texts = two_rate_models(monkeypatch)
    frame = Predictor.from_models(models, region_matrices=regions, embedding_dims=5).predict_rois(texts)
    got = frame.loc[frame["subject"] == ENSEMBLE, embedding_names(5)].to_numpy(float)
    for rate, close in ((1.9, True), (3.1, False)):
        weights = [word_weights(len(t), rate, TIMING) for t in tokens]
        expected = np.stack([w @ vocabulary[t].astype(np.float64) / w.sum() for w, t in zip(weights, tokens)])
        assert np.allclose(got, expected @ projection(12, 5), rtol=1e-12, atol=1e-12) == close


def test_predictor_options_carry_embedding_dims():
    settings = Settings.load(overrides={"infer.embedding_dims": 5})
    assert predictor_options(settings)["embedding_dims"] == 5
    assert predictor_options(Settings())["embedding_dims"] == 64


def test_changing_embedding_dims_never_resumes_from_stale_batches(tmp_path):
    texts = pd.DataFrame({"id": ["0", "1", "2"], "text": ["a", "bb", "ccc"]})
    assert run_key(texts, {}, 1, 0) != run_key(texts, {}, 1, 4)
    out = tmp_path / "rois.parquet"
    with pytest.raises(KeyboardInterrupt):
        infer_file(CountingPredictor(fail_on_call=3), texts, out, batch_size=1)  # two batches kept
    predictor = CountingPredictor(embedding_dims=4)
    result = infer_file(predictor, texts, out, batch_size=1)
    assert predictor.calls == 3
    assert [c for c in result.columns if c.startswith("emb_")] == embedding_names(4)
    assert result[embedding_names(4)].notna().all().all()


def test_wide_layout_has_the_embedding_once_per_text():
    long = pd.DataFrame({
        "id": ["a", "b", "a", "b"], "subject": ["S1", "S1", ENSEMBLE, ENSEMBLE], "n_words": 2, "truncated": False,
        "error": None, "r1": [1.0, 2.0, 1.5, 2.5], "emb_000": [np.nan, np.nan, 0.1, 0.2], "emb_001": [np.nan, np.nan, 0.3, 0.4],
    })
    wide = wide_table(long, [])
    assert wide.columns.tolist() == ["id", "n_words", "truncated", "error", "ensemble/r1", "S1/r1", "emb_000", "emb_001"]
    assert wide["emb_000"].tolist() == [0.1, 0.2] and wide["emb_001"].tolist() == [0.3, 0.4]
