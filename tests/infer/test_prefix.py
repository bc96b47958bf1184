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


def test_neutral_stories_are_three_packaged_passages_the_first_being_neutral_story():
    from neurofin.infer.text import NEUTRAL_STORIES, context_passages

    passages = context_passages(NEUTRAL_STORIES)
    assert len(passages) == 3 and passages[0] == prefix_words(NEUTRAL_STORY)
    assert all(len(p) > 50 for p in passages) and len({tuple(p) for p in passages}) == 3
    assert context_passages("none") == [[]] and context_passages(["a b", "c"]) == [["a", "b"], ["c"]]


def test_several_prefixes_are_each_read_in_their_own_pass_and_the_features_averaged(monkeypatch):
    """One LM pass per prefix; the word features (so every value, the readout being linear) are their mean; the
    calibration fingerprint names the whole protocol."""
    from neurofin.config import FeatureSettings
    from neurofin.infer.predictor import FeatureGroup, Predictor

    seen = []

    def extract_many(loaded, word_lists, *args, context=(), **kwargs):
        seen.append(list(context))
        return [np.full((len(w), 1, 3), float(len(context)), np.float32) + np.arange(len(w))[:, None, None] for w in word_lists]

    monkeypatch.setattr("neurofin.features.extract.extract_many", extract_many)
    group = FeatureGroup(FeatureSettings(), readouts=[], loaded=object())
    predictor = Predictor([group], [], context_prefix=["one", "two words", "three more words"])
    feats = predictor._features(group, [["a", "b"]], [0], [None])
    assert seen == [["one"], ["two", "words"], ["three", "more", "words"]]
    np.testing.assert_allclose(feats[0][:, 0, 0], [2.0, 3.0])  # mean of 1, 2, 3 prefix words, plus the position
    single = Predictor([group], [], context_prefix="one")
    from neurofin.infer.calibration import fingerprint

    assert fingerprint("r", [], predictor.passages) != fingerprint("r", [], single.passages[0])


def test_parallel_stories_read_the_packaged_passages_side_by_side_in_one_pass(monkeypatch):
    """"parallel_stories": one extract_many call holding the 6 packaged passages (neutral_stories' 3 first, each of
    70-100 words); its calibrations are its own."""
    from neurofin.config import FeatureSettings
    from neurofin.infer.predictor import FeatureGroup, Predictor
    from neurofin.infer.text import NEUTRAL_STORIES, PARALLEL_STORIES, context_passages

    seen = []

    def extract_many(loaded, word_lists, *args, context=(), parallel_context=(), **kwargs):
        seen.append([list(context), *map(list, parallel_context)])
        return [np.zeros((len(w), 1, 3), np.float32) for w in word_lists]

    monkeypatch.setattr("neurofin.features.extract.extract_many", extract_many)
    group = FeatureGroup(FeatureSettings(), readouts=[], loaded=object())
    parallel = Predictor([group], [], context_prefix=PARALLEL_STORIES)
    parallel._features(group, [["a", "b"]], [0], [None])
    passages = context_passages(PARALLEL_STORIES)
    assert seen == [passages] and len(passages) == 6 and len({tuple(p) for p in passages}) == 6
    assert passages[:3] == context_passages(NEUTRAL_STORIES) and all(70 < len(p) < 100 for p in passages)
    from neurofin.infer.calibration import fingerprint

    averaged = Predictor([group], [], context_prefix=NEUTRAL_STORIES)
    assert fingerprint("r", [], parallel.passages, parallel.side_by_side) != fingerprint("r", [], averaged.passages)
    assert fingerprint("r", [], averaged.passages) == fingerprint("r", [], averaged.passages, averaged.side_by_side)
