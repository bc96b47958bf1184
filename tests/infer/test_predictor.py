"""Predictor: folded region readout == voxel prediction then averaging; end to end through a tiny LM."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import make_record
from tokenizers_offline import byte_level_bpe, save_tiny_llama

from neurofin.atlas import load_atlas, load_rois, roi_matrix
from neurofin.config import Settings, TimingSettings
from neurofin.encoding.package import EncodingModel
from neurofin.infer.predictor import Predictor
from neurofin.infer.pseudotime import pseudo_word_times
from neurofin.infer.readout import RegionReadout
from neurofin.infer.text import comment_words
from neurofin.schema import ENSEMBLE
from neurofin.timing import lanczos_interp, tr_centres, zscore

TIMING = TimingSettings()
RATE = 2.4  # words per second


def random_model(rng: np.random.Generator, n_in: int, n_voxels: int, k: int | None, record=None) -> EncodingModel:
    n_delays = len(TIMING.delays)
    width = k if k is not None else n_in
    return EncodingModel(
        record=record or make_record(dim=n_in, speech_rate_wps=RATE),
        weights=rng.standard_normal((width * n_delays, n_voxels)).astype(np.float32),
        feature_mean=rng.standard_normal(n_in).astype(np.float32),
        feature_std=rng.uniform(0.5, 2.0, n_in).astype(np.float32),
        basis=None if k is None else rng.standard_normal((n_in, k)).astype(np.float32) / np.sqrt(n_in),
        word_mean=(3 + rng.standard_normal(n_in)).astype(np.float32),
        arrays={"validation_r": rng.uniform(-0.1, 0.4, n_voxels).astype(np.float32)},
    )


def averaging_matrix(rng: np.random.Generator, n_voxels: int, n_regions: int) -> np.ndarray:
    member = rng.random((n_voxels, n_regions)) < 0.3
    return member / np.maximum(member.sum(axis=0), 1)


def voxel_path(model: EncodingModel, features: np.ndarray, region_matrix: np.ndarray, rate: float = RATE) -> np.ndarray:
    """The definition, unfolded on a training-story TR grid: (response to the text - response to as many
    training-mean words at the same times), summed over all TRs, per word, averaged over each region's voxels."""
    n = features.shape[0]
    times = pseudo_word_times(n, rate)
    centres = tr_centres(int(np.ceil((times[-1] + 40) / TIMING.tr_s)) + 5, TIMING)  # from -9 s to well past the last delay

    def summed_response(words: np.ndarray) -> np.ndarray:
        rows = lanczos_interp(words.astype(np.float64), times, centres)
        rows = zscore(rows, model.feature_mean.astype(np.float64), model.feature_std.astype(np.float64))
        return model.predict(model.delayed_design(rows)).astype(np.float64).sum(axis=0)

    reference = np.tile(model.word_mean, (n, 1))
    return (summed_response(features) - summed_response(reference)) / n @ region_matrix


@pytest.mark.parametrize("k", [None, 5])
@pytest.mark.parametrize("n_words", [1, 7, 60])
def test_folded_readout_equals_voxel_prediction_then_averaging(k, n_words):
    rng = np.random.default_rng(n_words)
    model = random_model(rng, n_in=12, n_voxels=40, k=k)
    region_matrix = averaging_matrix(rng, 40, 6)
    features = 3 + rng.standard_normal((n_words, 12))
    readout = RegionReadout.from_model("S", model, region_matrix)
    folded = readout.values([features])[0]
    np.testing.assert_allclose(folded, voxel_path(model, features, region_matrix), rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(readout.contributions(features).sum(axis=0), folded, rtol=1e-9, atol=1e-9)


# ---- end to end through a tiny random Llama -----------------------------------------------------------

BLOCKS = [0, 2]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", byte_level_bpe(bos="<s>"), 3)


def write_package(root: Path, subject: str, tiny_dir: Path, seed: int, n_voxels: int = 30) -> Path:
    settings = Settings.load(overrides={"features.model": str(tiny_dir), "features.blocks": BLOCKS,
                                        "features.context_tokens": 16, "features.stride": 8, "features.device": "cpu"})
    from transformers import AutoConfig

    hidden = AutoConfig.from_pretrained(tiny_dir).hidden_size
    record = make_record(subject, settings, n_blocks=len(BLOCKS), dim=hidden, speech_rate_wps=RATE)
    model = random_model(np.random.default_rng(seed), len(BLOCKS) * hidden, n_voxels, k=6, record=record)
    return model.save(root / subject)


TEXTS = [
    "$GME to the moon, apes hold!!",  # repeated: predicted once, reported for both ids
    "$GME to the moon, apes hold!!",
    "",
    "🚀🚀🚀",
    "Die Aktie fällt, aber ich kaufe nach.",
    "I sold everything at the open and I regret nothing " * 40,
    "[DD](https://example.com) on TSLA: margins are compressing",
]


def test_predictor_matches_reference_path_per_subject_and_ensemble(tiny_dir, tmp_path):
    from neurofin.features.extract import extract_word_features
    from neurofin.features.model import load_language_model

    packages = [write_package(tmp_path, s, tiny_dir, seed) for s, seed in (("UTS01", 1), ("UTS02", 2))]
    rng = np.random.default_rng(0)
    regions = {s: (averaging_matrix(rng, 30, 4), ["a", "b", "c", "d"]) for s in ("UTS01", "UTS02")}
    predictor = Predictor.from_packages(packages, region_matrices=regions, max_words=100)
    frame = predictor.predict_rois(TEXTS, ids=[f"c{i}" for i in range(len(TEXTS))])

    assert set(frame["subject"]) == {"UTS01", "UTS02", ENSEMBLE}
    assert len(frame) == 3 * len(TEXTS)
    loaded = load_language_model(predictor.groups[0].settings)
    for i, text in enumerate(TEXTS):
        words = comment_words(text, 100)
        rows = frame[frame["id"] == f"c{i}"].set_index("subject")
        if words.error is not None:
            assert rows["error"].notna().all() and rows[["a", "b", "c", "d"]].isna().all().all()
            continue
        assert rows["error"].isna().all() and (rows["n_words"] == len(words.words)).all()
        assert rows["truncated"].all() == words.truncated
        prefix = predictor.prefix  # the default context prefix: read first, not scored
        assert len(prefix) > 50
        features = extract_word_features(loaded, prefix + words.words, BLOCKS, 16, "strided", 8)[len(prefix):]
        features = features.reshape(len(words.words), -1)
        expected = {}
        for package in packages:
            model = EncodingModel.load(package)
            subject = model.subject
            expected[subject] = voxel_path(model, features, regions[subject][0])
            np.testing.assert_allclose(rows.loc[subject, ["a", "b", "c", "d"]].to_numpy(float), expected[subject], rtol=1e-3, atol=1e-4)
        ensemble = (expected["UTS01"] + expected["UTS02"]) / 2
        np.testing.assert_allclose(rows.loc[ENSEMBLE, ["a", "b", "c", "d"]].to_numpy(float), ensemble, rtol=1e-3, atol=1e-4)
    assert frame.loc[frame["id"] == "c5", "truncated"].all()  # the 400-word text
    pd.testing.assert_frame_equal(*(frame[frame["id"] == c].drop(columns="id").reset_index(drop=True) for c in ("c0", "c1")))


def test_roi_file_edits_change_outputs_as_expected(tiny_dir, tmp_path):
    atlas = load_atlas()
    package = write_package(tmp_path, "UTS01", tiny_dir, seed=3, n_voxels=300)
    rng = np.random.default_rng(5)
    parcels = rng.integers(1, atlas.n_parcels + 1, 300)
    default = load_rois(None, atlas)
    edited_file = tmp_path / "rois.toml"
    edited_file.write_text(
        '[[roi]]\nname = "default_mode"\ndescription = "Default, left hemisphere only"\n'
        'match = [{ network = "Default", hemisphere = "LH" }]\n\n'
        '[[roi]]\nname = "limbic"\ndescription = "unchanged"\nmatch = [{ network = "Limbic" }]\n\n'
        '[[roi]]\nname = "visual_rh"\ndescription = "new: right visual"\nmatch = [{ network = "Vis", hemisphere = "RH" }]\n',
        encoding="utf-8",
    )
    edited = load_rois(edited_file, atlas)

    def predict(rois):
        regions = roi_matrix(parcels, rois)
        predictor = Predictor.from_packages([package], region_matrices={"UTS01": (regions.matrix.toarray(), regions.names)})
        out = predictor.predict_rois(TEXTS[:1] + TEXTS[3:4])
        return out[out["subject"] == "UTS01"].reset_index(drop=True), regions

    before, _ = predict(default)
    after, after_regions = predict(edited)
    assert list(after.columns[5:8]) == ["default_mode", "limbic", "visual_rh"]
    assert all(c.startswith("emb_") for c in after.columns[8:])  # then the ensemble's embedding (NaN in these rows)
    np.testing.assert_allclose(after["limbic"], before["limbic"], rtol=1e-6)
    assert not np.allclose(after["default_mode"], before["default_mode"])
    # the edited ROI is exactly the mean of the voxel predictions over its (left-hemisphere) voxels
    lh_default = np.isin(parcels, [p.parcel_id for p in atlas.labels if p.network == "Default" and p.hemisphere == "LH"])
    assert after_regions.n_voxels_per_region[0] == lh_default.sum()


def test_two_packages_for_one_subject_are_refused(tiny_dir, tmp_path):
    """Issue 16.3: two packages of one subject overwrote each other and the ensemble counted a subject twice."""
    from neurofin.errors import InputError

    first = write_package(tmp_path / "run1", "UTS01", tiny_dir, seed=1)
    second = write_package(tmp_path / "run2", "UTS01", tiny_dir, seed=2)
    other = write_package(tmp_path / "run2", "UTS02", tiny_dir, seed=3)
    regions = {s: (np.eye(30)[:, :4], ["a", "b", "c", "d"]) for s in ("UTS01", "UTS02")}
    with pytest.raises(InputError, match="UTS01") as info:
        Predictor.from_packages([first, other, second], region_matrices=regions)
    assert str(first) in str(info.value) and str(second) in str(info.value)
    with pytest.raises(InputError, match="one model per subject"):
        Predictor.from_models([EncodingModel.load(first), EncodingModel.load(second)], region_matrices=regions)


def two_rate_models(monkeypatch):
    """Two packages with the same 12-dim features (stand-in LM) at 1.9 and 3.1 words/s, three regions each, and
    texts of 1, 3 and 17 words: (vocabulary, models, regions, tokens, texts)."""
    from planted import fake_language_model

    rng = np.random.default_rng(11)
    vocabulary = (3 + rng.standard_normal((50, 12))).astype(np.float32)
    fake_language_model(monkeypatch, vocabulary)
    models = [random_model(rng, 12, 20, k=None, record=make_record(s, dim=12, speech_rate_wps=rate))
              for s, rate in (("UTS01", 1.9), ("UTS02", 3.1))]
    regions = {m.subject: (averaging_matrix(rng, 20, 3), ["a", "b", "c"]) for m in models}
    tokens = [rng.integers(0, 50, n) for n in (1, 3, 17)]
    return vocabulary, models, regions, tokens, [" ".join(f"w{i}" for i in t) for t in tokens]


def test_each_subject_uses_its_own_speech_rate(monkeypatch):
    """Two packages with the same features but different speech rates, in one predictor: each keeps its own rate."""
    vocabulary, models, regions, tokens, texts = two_rate_models(monkeypatch)
    together = Predictor.from_models(models, region_matrices=regions).predict_rois(texts)
    for model in models:
        alone = Predictor.from_models([model], region_matrices=regions).predict_rois(texts)
        got = together[together["subject"] == model.subject][["a", "b", "c"]].to_numpy(float)
        np.testing.assert_allclose(got, alone[alone["subject"] == model.subject][["a", "b", "c"]].to_numpy(float), rtol=1e-12)
        expected = [voxel_path(model, vocabulary[t].astype(np.float64), regions[model.subject][0], model.record.speech_rate_wps)
                    for t in tokens]
        np.testing.assert_allclose(got, np.array(expected), rtol=2e-4, atol=2e-4)


def test_comment_words_take_the_transcript_form(tiny_dir, tmp_path):
    """'moon!!' and 'moon' (and case) give the same word feature: the LM sees the training word form."""
    package = write_package(tmp_path, "UTS01", tiny_dir, seed=4)
    regions = {"UTS01": (averaging_matrix(np.random.default_rng(6), 30, 4), ["a", "b", "c", "d"])}
    predictor = Predictor.from_packages([package], region_matrices=regions)
    frame = predictor.predict_rois(["To the MOON!!", "to the moon", "to the moon,"])
    values = frame[frame["subject"] == "UTS01"][["a", "b", "c", "d"]].to_numpy(float)
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)  # equal up to the batch's float summation order
    np.testing.assert_allclose(values[2], values[1], rtol=1e-6)
    assert EncodingModel.load(package).record.word_form == "transcript-v1"
