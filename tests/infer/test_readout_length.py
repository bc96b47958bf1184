"""The ROI readout carries no length effect: words at the training mean give 0, and the value is a mean per-word effect.

Planted dataset (planted.py): word features with a large common mean, like LM hidden states; the fitted
model is read through the public Predictor with a stand-in LM that returns each token's planted features.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from planted import REGIONS, fake_language_model, make_planted, text_of

from neurofin.infer.predictor import Predictor

LENGTHS = [1, 2, 3, 5, 8, 13, 20, 40, 80, 160, 300]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return make_planted(tmp_path_factory.mktemp("planted") / "ds003020")


def subject_values(predictor: Predictor, texts: list[str]) -> np.ndarray:
    frame = predictor.predict_rois(texts, units="raw")  # the readout itself (calibration: test_calibration.py)
    return frame[frame["subject"] == "UTS01"][REGIONS].to_numpy(float)


def test_value_does_not_depend_on_length_for_held_out_words(planted, monkeypatch):
    """Texts of 1..300 held-out story words: |corr(n_words, value)| <= 0.1 per ROI, mean within 0.05 SD of 0 at each length."""
    fake_language_model(monkeypatch, planted.vocabulary)
    predictor = Predictor.from_models([planted.model], region_matrices=planted.regions(), max_words=300)
    rng = np.random.default_rng(1)
    pool = rng.permutation(planted.held_out)
    texts, lengths = [], []
    for n in LENGTHS:  # every length uses the same words, cut into texts of n words
        chunks = [pool[i : i + n] for i in range(0, len(pool) - n + 1, n)]
        texts += [text_of(c) for c in chunks]
        lengths += [n] * len(chunks)
    values = subject_values(predictor, texts)
    lengths = np.asarray(lengths)
    assert np.isfinite(values).all()
    sd = values.std(axis=0)
    for j, region in enumerate(REGIONS):
        corr = np.corrcoef(lengths, values[:, j])[0, 1]
        assert abs(corr) <= 0.1, f"{region}: corr(n_words, value) = {corr:.3f}"
        for n in LENGTHS:
            mean = values[lengths == n, j].mean()
            assert abs(mean) <= 0.05 * sd[j], f"{region}, {n} words: mean {mean:.4f}, SD over texts {sd[j]:.4f}"


def test_words_at_the_training_mean_give_exactly_zero(planted, monkeypatch):
    mean_word = planted.model.word_mean
    vocabulary = np.vstack([planted.vocabulary, mean_word[None]])
    fake_language_model(monkeypatch, vocabulary)
    predictor = Predictor.from_models([planted.model], region_matrices=planted.regions(), max_words=300)
    token = len(vocabulary) - 1
    values = subject_values(predictor, [text_of(np.full(n, token)) for n in (1, 4, 37, 300)])
    np.testing.assert_allclose(values, 0.0, atol=1e-5)


def test_planted_region_rises_with_word_class_share_not_with_length(planted, monkeypatch):
    fake_language_model(monkeypatch, planted.vocabulary)
    predictor = Predictor.from_models([planted.model], region_matrices=planted.regions(), max_words=300)
    rng = np.random.default_rng(2)
    held = planted.held_out
    class_words, other_words = held[planted.is_class[held]], held[~planted.is_class[held]]
    shares, lengths = [0.0, 0.25, 0.5, 0.75, 1.0], [4, 8, 40, 100, 300]
    texts, keys = [], []
    for share in shares:
        for n in lengths:
            for _ in range(10):
                k = int(round(share * n))
                tokens = np.concatenate([rng.choice(class_words, k), rng.choice(other_words, n - k)])
                texts.append(text_of(rng.permutation(tokens)))
                keys.append((share, n))
    values = subject_values(predictor, texts)[:, REGIONS.index("class_region")]
    means = {key: values[[k == key for k in keys]].mean() for key in set(keys)}
    table = np.array([[means[(s, n)] for n in lengths] for s in shares])  # (share, length)
    effect = table[-1].mean() - table[0].mean()
    assert effect > 0
    assert (np.diff(table, axis=0) > 0).all(), f"class region must rise with the class share at every length:\n{table}"
    spread = table.max(axis=1) - table.min(axis=1)  # across lengths at a fixed share
    assert (spread < 0.15 * effect).all(), f"length moves the class region ({spread} vs share effect {effect:.3f})"
