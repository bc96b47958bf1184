"""Subject-independent, content-addressed cache of per-story word features.

One safetensors file per story, named by the sha256 of (model identity, blocks, context tokens, mode,
stride, transcript hash): tensors `values` (n_words, n_blocks, dim) float16 and `times` (n_words,) float64
word midpoints; header metadata `neurofin` holds a JSON record (words, story, model, settings) and
`neurofin_sha256` the SHA-256 of that record and both tensors' bytes, verified on every load: a damaged
file (or one without the checksum) is computed again and replaced. Files are written atomically, so an interrupted run keeps every finished story and resumes with the next one,
and a run whose stories are all cached loads no model and does no model work.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.config import FeatureSettings
from neurofin.data.layout import Dataset
from neurofin.data.transcript import Transcript
from neurofin.errors import DataError
from neurofin.features.extract import extract_word_features
from neurofin.features.model import LoadedModel, load_language_model, model_identity
from neurofin.io import atomic_path, content_hash
from neurofin.paths import user_cache_dir
from neurofin.progress import Progress, report

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
METADATA_KEY = "neurofin"
CHECKSUM_KEY = "neurofin_sha256"


@dataclass(frozen=True)
class WordFeatures:
    """A story's words, their times (interval midpoints, s) and LM features (n_words, n_blocks, dim) float16."""

    words: list[str]
    times: np.ndarray
    values: np.ndarray


def default_cache_dir() -> Path:
    """$NEUROFIN_CACHE/features, else $XDG_CACHE_HOME/neurofin/features, else ~/.cache/neurofin/features."""
    return user_cache_dir("features")


def transcript_hash(transcript: Transcript) -> str:
    """sha256 of a transcript's words and interval times."""
    record = {"words": transcript.words, "starts": np.asarray(transcript.starts, np.float64).tolist(),
              "stops": np.asarray(transcript.stops, np.float64).tolist()}
    return content_hash(record)


def feature_record(identity: str, settings: FeatureSettings, text_hash: str) -> dict[str, Any]:
    """Everything the features of one transcript depend on (the cache key is its hash)."""
    return {
        "format": CACHE_FORMAT,
        "model": identity,
        "blocks": list(settings.blocks),
        "context_tokens": settings.context_tokens,
        "mode": settings.mode,
        "stride": settings.stride if settings.mode == "strided" else None,
        "transcript": text_hash,
    }


def cache_path(cache_dir: Path, record: dict[str, Any]) -> Path:
    """The content-addressed file of one feature record."""
    return Path(cache_dir) / f"{content_hash(record)}.safetensors"


def save_word_features(path: Path, features: WordFeatures, metadata: dict[str, Any]) -> None:
    """Write one story's features atomically as safetensors with a JSON metadata record."""
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {"values": np.ascontiguousarray(features.values, dtype=np.float16),
               "times": np.ascontiguousarray(features.times, dtype=np.float64)}
    record = json.dumps({**metadata, "words": features.words}, ensure_ascii=False)
    header = {METADATA_KEY: record, CHECKSUM_KEY: _checksum(record, tensors["values"], tensors["times"])}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)


def load_word_features(path: Path) -> tuple[WordFeatures, dict[str, Any]]:
    """Read one cached story (features and its metadata record)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            header = fh.metadata() or {}
            text = header[METADATA_KEY]
            values, times = fh.get_tensor("values"), fh.get_tensor("times")
        record = json.loads(text)
    except (OSError, KeyError, TypeError, ValueError, SafetensorError) as exc:
        raise DataError(f"feature cache file {path} is unreadable ({exc}): delete it and rerun") from None
    if header.get(CHECKSUM_KEY) != _checksum(text, values, times):
        raise DataError(f"feature cache file {path} fails its checksum (damaged, or written without one): delete it and rerun")
    words = record.pop("words")
    return WordFeatures(words=words, times=times, values=values), record


def _checksum(record: str, values: np.ndarray, times: np.ndarray) -> str:
    """SHA-256 over a cache file's JSON record and tensor bytes (dtype and shape included)."""
    digest = hashlib.sha256(record.encode("utf-8"))
    for array in (values, times):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _cached(path: Path) -> WordFeatures | None:
    """The features in a cache file, or None when it is absent or damaged (then it is computed again)."""
    if not path.is_file():
        return None
    try:
        return load_word_features(path)[0]
    except DataError as exc:
        logger.warning("%s; computing it again", exc)
        return None


def transcript_features(
    transcripts: dict[str, Transcript],
    settings: FeatureSettings,
    cache_dir: Path | None = None,
    loaded: LoadedModel | None = None,
    progress: Progress | None = None,
) -> dict[str, WordFeatures]:
    """Features of named transcripts, from the cache or computed (model loaded lazily, once) and cached.

    The cache folder is `cache_dir`, else `settings.cache_dir`, else `default_cache_dir()`.
    """
    cache_dir = Path(cache_dir or settings.cache_dir or default_cache_dir())
    identity = loaded.identity if loaded is not None else model_identity(settings)
    if identity is None:  # a hub model not yet in the local cache: its revision is known once loaded
        loaded = load_language_model(settings)
        identity = loaded.identity
    paths = {story: cache_path(cache_dir, feature_record(identity, settings, transcript_hash(t))) for story, t in transcripts.items()}
    out: dict[str, WordFeatures] = {}
    for story, path in paths.items():
        if (found := _cached(path)) is not None:
            out[story] = found
    todo = [story for story in transcripts if story not in out]
    advance = report(progress).task(
        f"word features ({len(transcripts) - len(todo)} of {len(transcripts)} stories cached)",
        total=sum(len(transcripts[s]) for s in todo),
    )
    for story in todo:
        transcript, path = transcripts[story], paths[story]
        record = feature_record(identity, settings, transcript_hash(transcript))
        if loaded is None:
            loaded = load_language_model(settings)
        values = extract_word_features(
            loaded, transcript.words, settings.blocks, settings.context_tokens, settings.mode, settings.stride,
            settings.batch_size, advance,
        )
        features = WordFeatures(list(transcript.words), transcript.times, values.astype(np.float16))
        save_word_features(path, features, {**record, "story": story, "hidden_size": int(values.shape[-1])})
        out[story] = features
    return {story: out[story] for story in transcripts}


def story_features(
    dataset: Dataset,
    stories: list[str],
    settings: FeatureSettings,
    cache_dir: Path | None = None,
    loaded: LoadedModel | None = None,
    progress: Progress | None = None,
) -> dict[str, WordFeatures]:
    """Word features of ds003020 stories (TextGrid transcripts), cached and shared by every subject."""
    from neurofin.data.textgrid import read_textgrid

    transcripts = {story: read_textgrid(dataset.textgrid_path(story)) for story in stories}
    return transcript_features(transcripts, settings, cache_dir, loaded, progress)
