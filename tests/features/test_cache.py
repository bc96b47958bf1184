"""(d) The feature cache: round trip, content-addressed keys, no model work on a second run, resume after interruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurofin.config import FeatureSettings
from neurofin.data.layout import Dataset
from neurofin.data.synth import SynthSpec, build_vocabulary, generate_story, write_textgrid
from neurofin.data.textgrid import read_textgrid
from neurofin.data.transcript import Transcript
from neurofin.errors import DataError
from neurofin.features import cache
from neurofin.features.cache import cache_path, feature_record, story_features, transcript_hash
from neurofin.features.extract import extract_word_features

STORIES = ["alpha", "bravo", "charlie"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Three short synthetic stories (real TextGrid files with silences and non-speech labels)."""
    root = Dataset(tmp_path_factory.mktemp("data") / "ds003020")
    vocab = build_vocabulary(0, 8)
    for i, name in enumerate(STORIES):
        write_textgrid(root.textgrid_path(name), generate_story(name, 0, i, vocab, SynthSpec(story_seconds=(6.0, 9.0))))
    return root


@pytest.fixture()
def settings(tiny_llama_dir: Path, tmp_path: Path) -> FeatureSettings:
    return FeatureSettings(model=str(tiny_llama_dir), blocks=[0, 2], context_tokens=8, stride=4, device="cpu",
                           cache_dir=tmp_path / "cache")


class CountingModelWork:
    """Wraps the cache module's loader and extractor; counts calls and can interrupt after `stop_after` stories."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_after: int | None = None) -> None:
        self.loads, self.extracted, self.stop_after = 0, 0, stop_after
        real_load, real_extract = cache.load_language_model, cache.extract_word_features

        def load(settings):
            self.loads += 1
            return real_load(settings)

        def extract(*args, **kwargs):
            if self.stop_after is not None and self.extracted == self.stop_after:
                raise KeyboardInterrupt  # the user pressed Ctrl-C during this story
            self.extracted += 1
            return real_extract(*args, **kwargs)

        monkeypatch.setattr(cache, "load_language_model", load)
        monkeypatch.setattr(cache, "extract_word_features", extract)


def test_round_trip_matches_direct_extraction(dataset: Dataset, settings: FeatureSettings, tiny_loaded) -> None:
    got = story_features(dataset, STORIES, settings)
    for story in STORIES:
        transcript = read_textgrid(dataset.textgrid_path(story))
        want = extract_word_features(tiny_loaded, transcript.words, [0, 2], 8, "strided", 4)
        feats = got[story]
        assert feats.values.dtype == np.float16 and feats.values.shape == (len(transcript), 2, tiny_loaded.hidden_size)
        np.testing.assert_allclose(feats.values, want.astype(np.float16), rtol=1e-3, atol=1e-3)
        assert feats.words == transcript.words
        np.testing.assert_array_equal(feats.times, transcript.times)
        reread, record = cache.load_word_features(cache_path(settings.cache_dir, feature_record(
            tiny_loaded.identity, settings, transcript_hash(transcript))))
        np.testing.assert_array_equal(reread.values, feats.values)
        assert record["story"] == story and record["blocks"] == [0, 2] and record["hidden_size"] == tiny_loaded.hidden_size


def test_second_run_does_no_model_work(dataset: Dataset, settings: FeatureSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    first = story_features(dataset, STORIES, settings)
    counter = CountingModelWork(monkeypatch)
    forwards = []
    monkeypatch.setattr("torch.nn.Module.__call__", lambda *a, **k: forwards.append(a) or pytest.fail("model ran"))
    second = story_features(dataset, STORIES, settings)
    assert counter.loads == 0 and counter.extracted == 0 and forwards == []
    for story in STORIES:
        np.testing.assert_array_equal(second[story].values, first[story].values)


def test_interrupted_run_resumes_with_the_next_story(dataset: Dataset, settings: FeatureSettings, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    interrupted = CountingModelWork(monkeypatch, stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        story_features(dataset, STORIES, settings)
    files = sorted(settings.cache_dir.iterdir())
    assert interrupted.loads == 1 and interrupted.extracted == 1
    assert len(files) == 1 and files[0].suffix == ".safetensors"  # the finished story only, no temporary file

    monkeypatch.undo()
    resumed = CountingModelWork(monkeypatch)
    got = story_features(dataset, STORIES, settings)
    assert resumed.extracted == len(STORIES) - 1  # only the stories not yet cached
    monkeypatch.undo()
    fresh = story_features(dataset, STORIES, settings.model_copy(update={"cache_dir": tmp_path / "fresh"}))
    for story in STORIES:
        np.testing.assert_array_equal(got[story].values, fresh[story].values)


def test_key_covers_everything_the_features_depend_on(dataset: Dataset, settings: FeatureSettings) -> None:
    transcript = read_textgrid(dataset.textgrid_path(STORIES[0]))
    text = transcript_hash(transcript)
    key = cache_path(Path("c"), feature_record("m", settings, text))
    changed = [
        feature_record("other-model", settings, text),
        feature_record("m", settings.model_copy(update={"blocks": [0, 1]}), text),
        feature_record("m", settings.model_copy(update={"context_tokens": 9}), text),
        feature_record("m", settings.model_copy(update={"stride": 5}), text),
        feature_record("m", settings.model_copy(update={"mode": "exact"}), text),
        feature_record("m", settings, transcript_hash(read_textgrid(dataset.textgrid_path(STORIES[1])))),
    ]
    assert len({key, *(cache_path(Path("c"), r) for r in changed)}) == len(changed) + 1
    exact = settings.model_copy(update={"mode": "exact"})  # stride plays no part in exact mode
    assert feature_record("m", exact, text) == feature_record("m", exact.model_copy(update={"stride": 99}), text)


def test_transcript_hash_sees_words_and_times(dataset: Dataset) -> None:
    transcript = read_textgrid(dataset.textgrid_path(STORIES[0]))
    moved = type(transcript)(transcript.words, transcript.starts + 0.01, transcript.stops + 0.01)
    renamed = type(transcript)(["X", *transcript.words[1:]], transcript.starts, transcript.stops)
    assert len({transcript_hash(transcript), transcript_hash(moved), transcript_hash(renamed)}) == 3


def test_local_model_identity_follows_file_contents(tiny_llama_dir: Path, tmp_path: Path) -> None:
    import shutil

    from neurofin.features.model import model_identity

    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama_dir, copy)
    same = model_identity(FeatureSettings(model=str(copy)))
    assert same == model_identity(FeatureSettings(model=str(tiny_llama_dir))) and same.startswith("dir:sha256:")
    (copy / "config.json").write_text((copy / "config.json").read_text().replace('"rms_norm_eps"', '"rms_norm_eps" '))
    assert model_identity(FeatureSettings(model=str(copy))) != same


def test_unreadable_cache_file_says_delete_it(tmp_path: Path) -> None:
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not safetensors")
    with pytest.raises(DataError, match="delete it"):
        cache.load_word_features(bad)


def test_default_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEUROFIN_CACHE", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path / "features"
    monkeypatch.delenv("NEUROFIN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir() == tmp_path / "xdg" / "neurofin" / "features"


def test_smollm2_gguf_cache_is_found_again_without_loading_the_model(smollm2_gguf: Path, smollm2_loaded, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The real GGUF: features computed with the loaded model are found by a later run from the file hash alone."""
    settings = FeatureSettings(model=str(smollm2_gguf), blocks=[3, 29], context_tokens=6, stride=4, device="cpu")
    words = ["Don't", "worry,", "it's", "only", "3.14", "miles", "to", "the", "café."]
    transcripts = {"s": Transcript(words, np.arange(len(words), dtype=float), np.arange(len(words)) + 0.5)}
    first = cache.transcript_features(transcripts, settings, tmp_path, loaded=smollm2_loaded)
    want = extract_word_features(smollm2_loaded, words, [3, 29], 6, "strided", 4)
    np.testing.assert_allclose(first["s"].values, want.astype(np.float16), rtol=1e-3, atol=1e-3)
    counter = CountingModelWork(monkeypatch)
    again = cache.transcript_features(transcripts, settings, tmp_path)
    assert counter.loads == 0 and counter.extracted == 0
    np.testing.assert_array_equal(again["s"].values, first["s"].values)
    np.testing.assert_array_equal(again["s"].times, (np.arange(len(words)) * 2 + 0.5) / 2)


def _flip(path: Path, where: str) -> None:
    """Flip one byte of a safetensors file: in its tensor data or inside a word of its JSON header."""
    import struct

    data = bytearray(path.read_bytes())
    header_len = struct.unpack("<Q", data[:8])[0]
    if where == "tensor":
        data[8 + header_len + (len(data) - 8 - header_len) // 3] ^= 0x01
    else:
        header = data[8 : 8 + header_len].decode()
        at = 8 + header.index('\\"words\\": [\\"') + len('\\"words\\": [\\"')  # first letter of the first word
        data[at] = ord("Q") if data[at] != ord("Q") else ord("R")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["tensor", "word"])
def test_byte_flipped_cache_file_is_detected_and_recomputed(dataset: Dataset, settings: FeatureSettings,
                                                            monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Issue 16.10: a flipped byte in a cache file was used silently."""
    first = story_features(dataset, STORIES, settings)
    victim = sorted(settings.cache_dir.glob("*.safetensors"))[0]
    before = victim.read_bytes()
    _flip(victim, where)
    assert victim.read_bytes() != before
    with pytest.raises(DataError, match="checksum"):
        cache.load_word_features(victim)
    counter = CountingModelWork(monkeypatch)
    second = story_features(dataset, STORIES, settings)
    assert counter.extracted == 1  # the damaged story only
    for story in STORIES:
        np.testing.assert_array_equal(second[story].values, first[story].values)
        assert second[story].words == first[story].words
    cache.load_word_features(victim)  # replaced by a good file
