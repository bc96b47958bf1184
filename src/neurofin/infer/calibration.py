"""Comment-domain calibration: region values in units of the spread of comment-like text, free of text length.

With a real LM a text's raw value (readout.py) still moves with its length (the LM reads the first words of a
short context differently) and its zero point (the training mean word) is not where comment-like text lands.
So each subject's readout is calibrated on a reference corpus of comment-like texts scored through exactly the
inference path (same prefix, word form, LM and readout): held-out story text (validation and test stories, never
fitting stories) cut into chunks of 3-300 words at any word, the same chunks with their words shuffled, lists of
the stories' distinct words, chunks that start where a sentence starts (as comments do; the LM reads a sentence's
first words differently from words cut mid-sentence), plus any corpus the user adds. Per region it stores

    baseline(n) = location + sum_k coef_k * z(n)^k,   z(n) = (log(clip(n, 3, 300)) - log 30) / log 10,  k = 1..3

fitted by least squares on the corpus (location = the corpus mean: the length terms are centred on it), and
scale = the SD of the residuals of the corpus' story chunks (the text closest to comments; the shuffled chunks
and word lists shape the length terms, not the unit). The calibrated value of a text of n words is

    calibrated = (raw - baseline(n)) / scale

+1 means: one standard deviation of comment-like text above what a typical comment-like text of the same length
gets in that region, for that subject. Scales differ per subject and region, so values are comparable across
subjects of one region; across regions they are comparable only as "SDs of comment-like text" (different
regions' SDs mean different amounts of BOLD).

A calibration belongs to one readout and one context protocol: its `fingerprint` hashes the model's weights, the
region matrix (ROI file, voxel threshold), region names and prefix words (all passages', in order, when values are
averaged over several); a changed ROI file, voxel threshold or prefix needs a new calibration.
Stored in the package as calibration.json (manifest re-sealed) by `neurofin calibrate`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from neurofin.errors import InputError
from neurofin.infer.readout import RegionReadout

CALIBRATION_FILE = "calibration.json"
MIN_WORDS, MAX_WORDS = 3, 300  # the comment length range the reference corpus spans; lengths are clipped to it
DEGREE = 3  # polynomial degree of the length dependence in log length
DEFAULT_TEXTS = 240  # reference texts cut from held-out stories
PAUSE_S = 0.25  # a silence this long between two transcript words ends a sentence (speech pauses at sentence and
# clause breaks; the synthetic twin: 0.25-0.9 s between sentences, <= 0.12 s inside one)


class CalibrationError(InputError):
    """A package has no calibration for the readout and prefix in use."""


def length_basis(n_words: np.ndarray, degree: int = DEGREE) -> np.ndarray:
    """(n_texts, degree) powers of the standardised, clipped log length z(n)."""
    n = np.clip(np.asarray(n_words, dtype=np.float64), MIN_WORDS, MAX_WORDS)
    z = (np.log(n) - np.log(30.0)) / np.log(10.0)
    return np.stack([z**k for k in range(1, degree + 1)], axis=1)


def fingerprint(readout_identity: str, regions: Sequence[str], prefix: Sequence[str] | Sequence[Sequence[str]],
                side_by_side: bool = False) -> str:
    """SHA-256 of what a calibration is valid for: the readout (model weights, region matrix), region names, prefix
    words (or the list of averaged prefixes' words, or of the passages read side by side)."""
    bound = [readout_identity, list(regions), list(prefix), *(["side by side"] if side_by_side else [])]
    return hashlib.sha256(json.dumps(bound).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Calibration:
    """One subject's per-region location, log-length dependence and scale on comment-like reference text."""

    subject: str
    regions: list[str]
    fingerprint: str
    location: np.ndarray  # (n_regions,) mean raw value of the reference corpus
    length_coef: np.ndarray  # (degree, n_regions) coefficients of length_basis, centred on the corpus
    basis_mean: np.ndarray  # (degree,) corpus mean of length_basis (the centring)
    scale: np.ndarray  # (n_regions,) SD of the corpus residuals
    corpus: dict[str, Any]  # what the reference corpus was: sources, n_texts, length range
    nuisance: np.ndarray  # (n_features_in, k) orthonormal feature directions of the length trends, projected out

    @classmethod
    def fit(cls, subject: str, regions: Sequence[str], fingerprint_: str, raw: np.ndarray, n_words: np.ndarray,
            corpus: dict[str, Any], nuisance: np.ndarray | None = None, scale_on: np.ndarray | None = None,
            degree: int = DEGREE) -> Calibration:
        """Least-squares fit of raw (n_texts, n_regions) on the log-length basis; NaN regions stay NaN.

        `raw` are the values of the readout with the `nuisance` directions projected out (`readout`); the scale is
        the residual SD over the rows `scale_on` (boolean; default all)."""
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape[0] < 10 * (degree + 1):
            raise InputError(f"{raw.shape[0]} reference texts are too few to calibrate: give at least {10 * (degree + 1)}")
        basis = length_basis(n_words, degree)
        basis_mean = basis.mean(axis=0)
        design = np.hstack([np.ones((len(basis), 1)), basis - basis_mean])
        finite = np.isfinite(raw).all(axis=0)
        coef = np.full((degree + 1, raw.shape[1]), np.nan)
        coef[:, finite] = np.linalg.lstsq(design, raw[:, finite], rcond=None)[0]
        rows = np.ones(len(raw), dtype=bool) if scale_on is None else np.asarray(scale_on, dtype=bool)
        scale = np.sqrt(((raw - design @ np.nan_to_num(coef))[rows] ** 2).sum(axis=0) / max(rows.sum() - degree - 1, 1))
        scale[~finite] = np.nan
        nuisance = np.zeros((0, 0)) if nuisance is None else nuisance
        return cls(subject, list(regions), fingerprint_, coef[0], coef[1:], basis_mean, scale, corpus, nuisance)

    def readout(self, readout: RegionReadout) -> RegionReadout:
        """The readout with the nuisance feature directions projected out of its gain (the calibrated readout)."""
        if self.nuisance.size == 0:
            return readout
        return replace(readout, gain=readout.gain - self.nuisance @ (self.nuisance.T @ readout.gain))

    def baseline(self, n_words: np.ndarray) -> np.ndarray:
        """(n_texts, n_regions) the raw value a typical comment-like text of each length gets."""
        return self.location + (length_basis(n_words, len(self.length_coef)) - self.basis_mean) @ self.length_coef

    def apply(self, raw: np.ndarray, n_words: np.ndarray) -> np.ndarray:
        """(n_texts, n_regions) calibrated values: residual on the length baseline, in SDs of comment-like text."""
        return (raw - self.baseline(n_words)) / self.scale

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "regions": self.regions, "fingerprint": self.fingerprint,
                "location": self.location.tolist(), "length_coef": self.length_coef.tolist(),
                "basis_mean": self.basis_mean.tolist(), "scale": self.scale.tolist(), "corpus": self.corpus,
                "nuisance": np.asarray(self.nuisance, np.float32).tolist(),
                "units": "SD of comment-like reference text, after removing the log-length baseline"}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Calibration:
        def array(key: str) -> np.ndarray:
            return np.asarray(raw[key], dtype=np.float64)

        return cls(raw["subject"], list(raw["regions"]), raw["fingerprint"], array("location"), array("length_coef"),
                   array("basis_mean"), array("scale"), dict(raw["corpus"]), array("nuisance"))


def nuisance_directions(mean_features: np.ndarray, n_words: np.ndarray, groups: np.ndarray, degree: int = DEGREE) -> np.ndarray:
    """(n_features, k) orthonormal directions of the log-length trends of the mean word feature, one set per text group.

    Per group (e.g. story chunks, scrambled chunks) the texts' mean features are fitted on the length basis; the
    coefficient vectors span the feature directions along which text length moves the features."""
    directions = []
    for group in np.unique(groups):
        rows = groups == group
        basis = length_basis(n_words[rows], degree)
        design = np.hstack([np.ones((rows.sum(), 1)), basis - basis.mean(axis=0)])
        directions.append(np.linalg.lstsq(design, mean_features[rows], rcond=None)[0][1:])
    q, _ = np.linalg.qr(np.vstack(directions).T)
    return q


def fit_calibration(readout: RegionReadout, regions: Sequence[str], fingerprint_: str, sums: np.ndarray, coverage: np.ndarray,
                    n_words: np.ndarray, groups: np.ndarray | None, corpus: dict[str, Any], degree: int = DEGREE) -> Calibration:
    """A subject's calibration from the reference texts' readout-weighted feature sums (RegionReadout.weighted_sums).

    The scale is the residual SD of the story chunks (group 0, the text closest to comments) when there are any:
    the shuffled chunks and word lists set the length directions and baseline but not the unit."""
    groups = np.zeros(len(n_words), dtype=int) if groups is None else np.asarray(groups)
    nuisance = nuisance_directions(sums / coverage[:, None], n_words, groups, degree)
    projected = replace(readout, gain=readout.gain - nuisance @ (nuisance.T @ readout.gain))
    scale_on = groups == 0 if (groups == 0).sum() > 10 * (degree + 1) else None
    return Calibration.fit(readout.subject, regions, fingerprint_, projected.apply(sums, coverage), n_words, corpus,
                           nuisance, scale_on, degree)


def read_calibration(package: str | Path) -> Calibration | None:
    """The calibration stored in a package, or None."""
    path = Path(package) / CALIBRATION_FILE
    if not path.is_file():
        return None
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_calibration(package: str | Path, calibration: Calibration) -> None:
    """Store a calibration in a package and re-seal its manifest (the old manifest is verified first)."""
    from neurofin.encoding.package import verify_manifest, write_manifest
    from neurofin.io import write_json_atomic

    package = Path(package)
    tensors = verify_manifest(package)["tensors"]
    write_json_atomic(package / CALIBRATION_FILE, calibration.to_json())
    write_manifest(package, tensors)


Story = TypeVar("Story")  # a story's words, or its sentences' words


def _log_uniform_lengths(rng: np.random.Generator, n_texts: int) -> np.ndarray:
    """`n_texts` word counts drawn log-uniformly over MIN_WORDS..MAX_WORDS."""
    return np.exp(rng.uniform(np.log(MIN_WORDS), np.log(MAX_WORDS + 1), n_texts)).astype(int)


def _story_draws(stories: Sequence[Story], n_words: Callable[[Story], int], n_texts: int,
                 seed: int) -> Iterator[tuple[np.random.Generator, Story, int]]:
    """Per text: the generator, a story of at least MIN_WORDS words (`n_words`) drawn uniformly, and a log-uniform
    length over MIN_WORDS..MAX_WORDS (all lengths drawn first)."""
    usable = [s for s in stories if n_words(s) >= MIN_WORDS]
    if not usable:
        raise InputError("no held-out story with at least 3 words to calibrate on")
    rng = np.random.default_rng(seed)
    for length in _log_uniform_lengths(rng, n_texts):
        yield rng, usable[int(rng.integers(len(usable)))], int(length)


def story_chunks(stories: Sequence[Sequence[str]], n_texts: int = DEFAULT_TEXTS, seed: int = 0) -> list[str]:
    """`n_texts` texts cut from story word lists at log-uniform lengths over MIN_WORDS..MAX_WORDS, random offsets."""
    texts = []
    for rng, words, length in _story_draws(stories, len, n_texts, seed):
        length = min(length, len(words))
        start = int(rng.integers(len(words) - length + 1))
        texts.append(" ".join(words[start : start + length]))
    return texts


def held_out_story_sentences(dataset: Any, stories: Sequence[str]) -> list[list[list[str]]]:
    """Per story of a ds003020 dataset, its transcript words (infer word form) cut into sentences: a silence of at
    least PAUSE_S seconds between two words starts a new one (transcripts have no punctuation)."""
    from neurofin.data.textgrid import read_textgrid
    from neurofin.infer.text import comment_words

    out = []
    for story in stories:
        transcript = read_textgrid(dataset.textgrid_path(story))
        breaks = np.flatnonzero(transcript.starts[1:] - transcript.stops[:-1] >= PAUSE_S) + 1
        runs = np.split(np.array(transcript.words, dtype=object), breaks)
        out.append([w for w in (comment_words(" ".join(run), max_words=100_000).words for run in runs) if w])
    return out


def sentence_start_chunks(stories: Sequence[Sequence[Sequence[str]]], n_texts: int, seed: int = 0) -> list[str]:
    """`n_texts` texts of log-uniform lengths over MIN_WORDS..MAX_WORDS that start where a sentence starts (as a
    comment does) and run on over the next sentences; a story shorter than the length gives all its words from a start."""
    texts = []
    for rng, sentences, length in _story_draws(stories, lambda story: sum(map(len, story)), n_texts, seed):
        words = [w for sentence in sentences for w in sentence]
        starts = np.cumsum([0, *map(len, sentences[:-1])])
        fits = starts[starts + length <= len(words)]
        start = int(rng.choice(fits)) if len(fits) else 0
        texts.append(" ".join(words[start : start + length]))
    return texts


def word_lists(stories: Sequence[Sequence[str]], n_texts: int, seed: int = 0) -> list[str]:
    """`n_texts` lists of words drawn uniformly from the stories' distinct words (no story word frequencies, no
    syntax: list-like comments, e.g. tickers and keywords), at log-uniform lengths over MIN_WORDS..MAX_WORDS."""
    vocabulary = sorted({w for s in stories for w in s})
    rng = np.random.default_rng(seed)
    lengths = _log_uniform_lengths(rng, n_texts)
    return [" ".join(rng.choice(vocabulary, int(n))) for n in lengths]


def reference_texts(dataset: Any, records: Sequence[Any], n_texts: int = DEFAULT_TEXTS, seed: int = 0,
                    extra: Sequence[str] = ()) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """The reference corpus and its text kinds: chunks of the stories no package was fitted on (validation + test;
    kind 0, at any word), half as many of them with their words shuffled (kind 1), half as many lists of the
    stories' distinct words (kind 2: word lists), half as many chunks that start at a sentence start (kind 3), then
    the `extra` texts (kind 4)."""
    fitted = {s for r in records for s in r.split.train}
    held = sorted({s for r in records for s in (*r.split.validation, *r.split.test)} - fitted)
    sentences = held_out_story_sentences(dataset, held) if n_texts else []
    stories = [[w for sentence in story for w in sentence] for story in sentences]
    chunks = story_chunks(stories, n_texts, seed) if n_texts else []
    rng = np.random.default_rng(seed + 1)
    scrambled = [" ".join(rng.permutation(t.split())) for t in chunks[: len(chunks) // 2]]
    lists = word_lists(stories, len(chunks) // 2, seed + 2) if n_texts else []
    starts = sentence_start_chunks(sentences, len(chunks) // 2, seed + 3) if n_texts else []
    kinds = np.repeat([0, 1, 2, 3, 4], [len(chunks), len(scrambled), len(lists), len(starts), len(extra)])
    corpus = {"held_out_stories": held, "story_chunks": len(chunks), "scrambled_chunks": len(scrambled),
              "word_lists": len(lists), "sentence_start_chunks": len(starts), "user_texts": len(extra), "seed": seed,
              "lengths": [MIN_WORDS, MAX_WORDS]}
    return chunks + scrambled + lists + starts + list(extra), kinds, corpus
