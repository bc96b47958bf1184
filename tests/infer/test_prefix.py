"""Context prefix: the LM reads it before the text, only the text's words are scored."""

from __future__ import annotations

import numpy as np

from neurofin.infer.text import NEUTRAL_STORY, prefix_words


def test_prefix_words():
    assert prefix_words(None) == [] and prefix_words("none") == [] and prefix_words("") == []
    assert prefix_words("The Thread: GME!") == ["the", "thread", "gme"]
    story = prefix_words(NEUTRAL_STORY)
    assert len(story) > 50 and story[:3] == ["so", "this", "happened"]


def test_prefix_is_read_but_not_scored(monkeypatch):
    from neurofin.infer.predictor import Predictor

    seen = []

    def extract_many(loaded, word_lists, *args, context=(), **kwargs):
        seen.append((list(context), word_lists))
        return [np.arange(len(w), dtype=np.float32)[:, None, None] * np.ones((1, 1, 3), np.float32) for w in word_lists]

    monkeypatch.setattr("neurofin.features.extract.extract_many", extract_many)
    monkeypatch.setattr("neurofin.features.model.load_language_model", lambda settings: object())
    from neurofin.config import FeatureSettings
    from neurofin.infer.predictor import FeatureGroup

    predictor = Predictor([FeatureGroup(FeatureSettings(), readouts=[], loaded=object())], [], context_prefix="the thread title")
    feats = predictor._features(predictor.groups[0], [["a", "b"]], [0], [None])
    assert seen == [(["the", "thread", "title"], [["a", "b"]])]  # the prefix is the context every text is read after
    np.testing.assert_array_equal(feats[0][:, 0, 0], [0, 1])  # only the text's own words come back
