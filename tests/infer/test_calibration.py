"""Comment-domain calibration (infer/calibration.py): fit, storage in the package, and use by the Predictor.

Fast tests with the planted dataset and its stand-in LM (planted.py); the real-LM measurements (length, prefix,
subjects) are the slow tests of test_calibration_smollm2.py.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planted import REGIONS, fake_language_model, make_planted, text_of

from neurofin.encoding.package import EncodingModel, verify_manifest
from neurofin.infer.calibration import Calibration, read_calibration, story_chunks, write_calibration
from neurofin.infer.predictor import Predictor, UncalibratedWarning
from neurofin.schema import ENSEMBLE


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return make_planted(tmp_path_factory.mktemp("planted") / "ds003020")


def test_fit_recovers_a_planted_log_length_curve_location_and_scale():
    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(3), np.log(300), 400)).astype(int)
    curve = np.stack([0.5 * np.log(n), -0.2 * np.log(n) ** 2], axis=1)  # any smooth curve in log length
    noise = rng.standard_normal((400, 2)) * [2.0, 0.1]
    raw = [1.0, -3.0] + curve + noise
    calibration = Calibration.fit("S", ["a", "b"], "fp", raw, n, {})
    calibrated = calibration.apply(raw, n)
    np.testing.assert_allclose(calibration.scale, [2.0, 0.1], rtol=0.1)
    np.testing.assert_allclose(calibrated.mean(axis=0), 0.0, atol=1e-9)
    for j in range(2):  # the length curve is gone: calibrated values are the noise in units of its SD
        assert np.corrcoef(np.log(n), calibrated[:, j])[0, 1] ** 2 < 0.01
        assert np.corrcoef(calibrated[:, j], noise[:, j])[0, 1] > 0.99
    again = Calibration.from_json(calibration.to_json())
    np.testing.assert_allclose(again.apply(raw, n), calibrated)


def test_story_chunks_span_3_to_300_words_log_uniformly():
    story = [f"w{i}" for i in range(1000)]
    lengths = np.array([len(t.split()) for t in story_chunks([story], 400, seed=1)])
    assert lengths.min() == 3 and lengths.max() >= 250 and lengths.max() <= 300
    assert 0.2 < np.mean(lengths <= 30) < 0.8  # log-uniform: half the texts below ~30 words


def calibrated_predictor(planted, monkeypatch, prefix: str = "none") -> tuple[Predictor, list[str]]:
    fake_language_model(monkeypatch, planted.vocabulary)
    predictor = Predictor.from_models([planted.model], region_matrices=planted.regions(), max_words=300, context_prefix=prefix)
    rng = np.random.default_rng(3)
    reference = [text_of(rng.choice(planted.held_out, int(n))) for n in np.exp(rng.uniform(np.log(3), np.log(300), 120))]
    predictor.calibrate(reference, corpus={"source": "planted held-out words"})
    return predictor, reference


def test_calibrated_values_are_residuals_on_the_length_baseline_in_reference_sds(planted, monkeypatch):
    predictor, reference = calibrated_predictor(planted, monkeypatch)
    calibration = predictor.calibrations["UTS01"]
    frame = predictor.predict_rois(reference)
    ours = frame[frame["subject"] == "UTS01"]
    values = ours[REGIONS].to_numpy(float)
    readout = predictor.groups[0].readouts[0]
    feats = [planted.vocabulary[[int(w[1:]) for w in t.split()]][:, None, :] for t in reference]  # the stand-in LM
    sums, coverage = readout.weighted_sums(feats)
    q = calibration.nuisance  # length directions of the mean word feature, projected out of the readout
    assert q.shape[1] >= 1 and np.allclose(q.T @ q, np.eye(q.shape[1]))
    raw = readout.apply(sums, coverage)
    projected = raw - (sums @ q) @ (q.T @ readout.gain)
    n = ours["n_words"].to_numpy()
    np.testing.assert_allclose(values, (projected - calibration.baseline(n)) / calibration.scale)
    raw_frame = predictor.predict_rois(reference, units="raw")
    np.testing.assert_allclose(raw_frame[raw_frame["subject"] == "UTS01"][REGIONS].to_numpy(float), raw)
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-9)  # on the reference corpus: mean 0 ...
    np.testing.assert_allclose(values.std(axis=0, ddof=4), 1.0, rtol=1e-6)  # ... and SD 1
    np.testing.assert_allclose(frame[frame["subject"] == ENSEMBLE][REGIONS].to_numpy(float), values)  # mean of one subject


def test_calibrated_explain_sums_to_the_calibrated_value(planted, monkeypatch):
    predictor, _ = calibrated_predictor(planted, monkeypatch)
    text = text_of(planted.held_out[:23])
    value = predictor.predict_rois([text])
    contributions = predictor.explain(text)
    for subject in ("UTS01", ENSEMBLE):
        np.testing.assert_allclose(contributions[contributions["subject"] == subject][REGIONS].sum().to_numpy(float),
                                   value[value["subject"] == subject][REGIONS].to_numpy(float)[0], rtol=1e-9, atol=1e-12)


def test_calibration_is_stored_in_the_package_and_bound_to_readout_and_prefix(planted, monkeypatch, tmp_path):
    predictor, reference = calibrated_predictor(planted, monkeypatch)
    package = planted.model.save(tmp_path / "UTS01")
    write_calibration(package, predictor.calibrations["UTS01"])
    assert "calibration.json" in verify_manifest(package)["files"]  # sealed: a changed file is caught on load
    EncodingModel.load(package)
    assert read_calibration(package).fingerprint == predictor.calibrations["UTS01"].fingerprint
    loaded = Predictor.from_packages([package], region_matrices=planted.regions(), max_words=300, context_prefix="none")
    assert loaded.uncalibrated() == []
    np.testing.assert_allclose(loaded.predict_rois(reference[:5])[REGIONS].to_numpy(float),  # weights saved as float32
                               predictor.predict_rois(reference[:5])[REGIONS].to_numpy(float), rtol=1e-3, atol=1e-6)
    other_prefix = Predictor.from_packages([package], region_matrices=planted.regions(), max_words=300, context_prefix="a title")
    assert other_prefix.uncalibrated() == ["UTS01"]  # fitted for another prefix: not used
    with pytest.warns(UncalibratedWarning, match="neurofin calibrate"):
        values = other_prefix.predict_rois(reference[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = other_prefix.predict_rois(reference[:5], units="raw")
    np.testing.assert_allclose(values[REGIONS].to_numpy(float), raw[REGIONS].to_numpy(float))


def test_the_unit_is_the_spread_of_story_chunks_not_of_shuffled_text_or_word_lists():
    """Shuffled chunks and word lists shape the length terms; the scale is the story chunks' residual SD, so a
    wider-spread kind of reference text does not shrink every value (on main all kinds set the scale)."""
    from neurofin.config import TimingSettings
    from neurofin.infer.calibration import fit_calibration
    from neurofin.infer.readout import RegionReadout

    rng = np.random.default_rng(5)
    n_features, n_texts = 12, 300
    readout = RegionReadout("S", rng.standard_normal((n_features, 2)), np.zeros(2), np.zeros(2, bool), 2.5, TimingSettings())
    groups = np.repeat([0, 1, 2], n_texts // 3)
    n_words = np.exp(rng.uniform(np.log(3), np.log(300), n_texts)).astype(int)
    spread = np.where(groups == 0, 1.0, 6.0)[:, None]  # shuffled text and word lists vary six times more
    sums = rng.standard_normal((n_texts, n_features)) * spread
    calibration = fit_calibration(readout, ["a", "b"], "fp", sums, np.ones(n_texts), n_words, groups, {})
    values = calibration.apply(calibration.readout(readout).apply(sums, np.ones(n_texts)), n_words)
    chunks = values[groups == 0]
    np.testing.assert_allclose(np.sqrt((chunks**2).sum(axis=0) / (len(chunks) - 4)), 1.0, rtol=1e-9)
    assert (values[groups > 0].std(axis=0) > 3).all()


def test_reference_corpus_holds_story_chunks_shuffled_chunks_and_word_lists_of_held_out_stories(monkeypatch):
    """Kind 2 (new): lists of the held-out stories' distinct words, drawn uniformly (not at story frequencies)."""
    from types import SimpleNamespace

    from neurofin.infer import calibration

    rng = np.random.default_rng(0)
    zipf = {"val": [f"v{min(int(k), 60)}" for k in rng.zipf(1.5, 3000)], "test": [f"t{i % 40}" for i in range(2000)],
            "fit": ["fitted"] * 3000}
    monkeypatch.setattr(calibration, "held_out_story_sentences", lambda dataset, stories: [[zipf[s]] for s in stories])
    record = SimpleNamespace(split=SimpleNamespace(train=["fit"], validation=["val"], test=["test"]))
    texts, kinds, corpus = calibration.reference_texts(None, [record], 200, extra=["my own text"])
    assert list(np.bincount(kinds)) == [200, 100, 100, 100, 1] and texts[-1] == "my own text"
    assert corpus["word_lists"] == 100 and corpus["held_out_stories"] == ["test", "val"]
    lists = [t.split() for t, k in zip(texts, kinds) if k == 2]
    assert min(map(len, lists)) >= 3 and max(map(len, lists)) <= 300
    drawn = np.array([w for words in lists for w in words])
    distinct = set(zipf["val"]) | set(zipf["test"])
    assert set(drawn) <= distinct  # never a fitted story's word
    shares = np.array([np.mean(drawn == w) for w in distinct])
    assert shares.max() < 2.0 / len(distinct)  # uniform over distinct words: "v1" is ~40% of the story, not of the lists


def test_sentence_start_chunks_start_where_a_sentence_starts_and_run_on():
    """Kind 3 (new): comments start at a sentence start (with the real LM, sentences' median R^2 of log length
    0.019 -> 0.012 in UTS02 with these chunks in the corpus: benchmarks/length_confound.py, docs/infer.md)."""
    from neurofin.infer.calibration import sentence_start_chunks

    rng = np.random.default_rng(0)
    stories = [[[f"s{k}w{i}" for i in range(int(rng.integers(4, 15)))] for k in range(60)] for _ in range(3)]
    texts = sentence_start_chunks(stories, 300, seed=1)
    lengths = np.array([len(t.split()) for t in texts])
    assert all(t.split()[0].endswith("w0") for t in texts)
    assert lengths.min() == 3 and lengths.max() >= 250 and 0.2 < np.mean(lengths <= 30) < 0.8
    assert sum(len({w.split("w")[0] for w in t.split()}) > 1 for t in texts) > 200  # they run over sentence ends


def test_held_out_sentences_are_cut_at_the_pauses_between_sentences(tmp_path):
    """The synthetic twin pauses 0.25-0.9 s between sentences and <= 0.12 s inside one: cut at PAUSE_S, its
    transcript gives back every word in order, in runs of sentence length, each starting after such a pause."""
    from types import SimpleNamespace

    from neurofin.data.synth import SynthSpec, build_vocabulary, generate_story, write_textgrid
    from neurofin.data.textgrid import read_textgrid
    from neurofin.infer.calibration import PAUSE_S, held_out_story_sentences
    from neurofin.infer.text import comment_words

    spec = SynthSpec()
    write_textgrid(tmp_path / "story.TextGrid", generate_story("story", 0, 0, build_vocabulary(0, spec.semantic_dim), spec))
    dataset = SimpleNamespace(textgrid_path=lambda story: tmp_path / f"{story}.TextGrid")
    sentences = held_out_story_sentences(dataset, ["story"])[0]
    transcript = read_textgrid(tmp_path / "story.TextGrid")
    assert [w for s in sentences for w in s] == comment_words(" ".join(transcript.words), 100_000).words
    firsts = np.cumsum([len(s) for s in sentences])[:-1]
    gaps = transcript.starts[1:] - transcript.stops[:-1]
    assert (gaps[firsts - 1] >= PAUSE_S).all() and np.sum(gaps >= PAUSE_S) == len(sentences) - 1
    assert len(sentences) > 10 and 4 < np.median([len(s) for s in sentences]) < 30
