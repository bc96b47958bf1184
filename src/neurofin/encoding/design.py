"""Design matrices and story-level splits (docs/REFERENCE.md section 2).

Per story: word features -> Lanczos onto the TR grid -> trims -> centred within the story and divided by the
training std pooled over stories (timing.centre_scale with the package's feature_std, the same division inference
uses) -> (optional reduced basis) -> FIR delays inside the story (no bleed across story boundaries); stories are
then stacked time-first.
The basis is applied BEFORE the delays, so a package stores a (n_features_in, k) basis rather than one
per delay; both maps are linear and act on different axes, so the order does not change the design.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from neurofin.config import TimingSettings
from neurofin.data.check import describe_nonfinite, nonfinite_counts
from neurofin.errors import DataError, RowCountError
from neurofin.timing import centre_scale, downsample_story, expected_rows, make_delayed, zscore


class WordFeatureLike(Protocol):
    """What the design needs from a story's word features (neurofin.features.cache.WordFeatures)."""

    @property
    def times(self) -> np.ndarray:
        """(n_words,) word midpoints in seconds from sound onset."""

    @property
    def values(self) -> np.ndarray:
        """(n_words, n_blocks, dim) or (n_words, n_features)."""


FeatureSource = Callable[[Sequence[str]], Mapping[str, WordFeatureLike]]  # story names -> their word features


@dataclass(frozen=True)
class StorySplit:
    """Stories used to fit (train), to select voxels (validation) and to report (test)."""

    train: list[str]
    validation: list[str]
    test: list[str]

    def to_record(self) -> dict[str, list[str]]:
        """JSON-ready record of the split."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


def split_stories(
    stories: Sequence[str], test_stories: Sequence[str], n_validation: int, seed: int, held_out: Sequence[str] = ()
) -> StorySplit:
    """Split whole stories: named test stories, `n_validation` seeded-random others for voxel selection, rest train.

    `held_out` stories (data.held_out_stories: every subject's test stories) are neither fitted nor validated on.
    """
    available = sorted(set(stories))
    missing = [s for s in test_stories if s not in available]
    if missing:
        raise DataError(f"test stories {missing} have no response file; pick from {available[:5]}... in data.test_stories")
    pool = [s for s in available if s not in set(test_stories) | set(held_out)]
    if len(pool) < n_validation + 2:
        raise DataError(
            f"{len(pool)} non-test stories cannot give {n_validation} validation stories and >= 2 training stories: "
            "lower encoding.validation_stories"
        )
    order = np.random.default_rng(seed).permutation(len(pool))
    validation = sorted(pool[i] for i in order[:n_validation])
    train = sorted(pool[i] for i in order[n_validation:])
    return StorySplit(train=train, validation=validation, test=list(test_stories))


def story_folds(story_ids: np.ndarray, n_folds: int):
    """Leave-stories-out CV splitter: each story's rows go to exactly one fold (folds balanced by row count)."""
    from sklearn.model_selection import PredefinedSplit

    ids, counts = np.unique(story_ids, return_counts=True)
    if len(ids) < n_folds:
        raise DataError(f"{len(ids)} training stories cannot fill {n_folds} CV folds: lower encoding.cv_folds")
    fold_of_story: dict[int, int] = {}
    fold_rows = np.zeros(n_folds, dtype=np.int64)
    for idx in np.argsort(-counts, kind="stable"):
        fold = int(np.argmin(fold_rows))
        fold_of_story[int(ids[idx])] = fold
        fold_rows[fold] += counts[idx]
    return PredefinedSplit(np.array([fold_of_story[int(s)] for s in story_ids]))


def downsampled_stories(
    features: Mapping[str, WordFeatureLike], respdict: Mapping[str, int], stories: Sequence[str], timing: TimingSettings
) -> dict[str, np.ndarray]:
    """Per story, flattened word features Lanczos-downsampled and trimmed: (respdict - 20, n_features_in) float32.

    Word features holding NaN/inf are a DataError naming the story (nothing is fitted or scored on them)."""
    out: dict[str, np.ndarray] = {}
    for story in stories:
        if story not in features:
            raise DataError(f"no word features for story {story}: run `neurofin features extract` for it")
        if story not in respdict:
            raise DataError(f"story {story} is not in respdict.json: the dataset metadata is incomplete")
        feats = features[story]
        values = np.asarray(feats.values, dtype=np.float32).reshape(len(feats.times), -1)
        nonfinite = describe_nonfinite(nonfinite_counts(values))
        if nonfinite:
            raise DataError(f"{story}: its word features hold {nonfinite}: delete the story's feature cache files "
                            "(`neurofin data check --feature-cache DIR` names them) and rerun `neurofin features extract`")
        out[story] = downsample_story(np.asarray(feats.times, dtype=np.float64), values, respdict[story], timing)
    return out


def check_row_counts(rows: Mapping[str, np.ndarray], resp_rows: Mapping[str, int], respdict: Mapping[str, int]) -> None:
    """Fail loudly when a story's feature rows and response rows disagree (reference: respdict - 20)."""
    for story, block in rows.items():
        if block.shape[0] != resp_rows[story]:
            raise RowCountError(
                f"{story}: features give {block.shape[0]} TRs (respdict {respdict[story]} -> "
                f"{expected_rows(respdict[story])} expected) but the response file has {resp_rows[story]} rows; "
                "respdict.json and the hf5 file belong to different versions of the story"
            )


def pooled_feature_stats(rows: Mapping[str, np.ndarray], stories: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the downsampled rows pooled over `stories`, and the std of the story-centred rows pooled over them
    (constant columns get 1): the package's feature_mean / feature_std, the scale of every design (centre_scale)."""
    total, squares, count = 0.0, 0.0, 0
    for story in stories:  # one story in float64 at a time
        block = rows[story].astype(np.float64)
        total, count = total + block.sum(axis=0), count + block.shape[0]
        squares = squares + ((block - block.mean(axis=0)) ** 2).sum(axis=0)
    std = np.sqrt(np.asarray(squares) / count)
    return np.asarray(total) / count, np.where(std > 0, std, 1.0)


def mean_word(features: Mapping[str, WordFeatureLike], stories: Sequence[str]) -> np.ndarray:
    """(n_features_in,) mean flattened word feature over every word of `stories` (the readout's reference word)."""
    total: np.ndarray | None = None
    count = 0
    for story in stories:
        values = np.asarray(features[story].values)
        values = values.reshape(values.shape[0], -1)
        story_sum = values.sum(axis=0, dtype=np.float64)
        total = story_sum if total is None else total + story_sum
        count += values.shape[0]
    if total is None or not count:
        raise DataError(f"no words in the training stories {list(stories)}: check the feature cache")
    return total / count


def stack_design(
    rows: Mapping[str, np.ndarray], stories: Sequence[str], delays: Sequence[int], std: np.ndarray,
    basis: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stacked delayed design (n_trs, k * n_delays) float32 of rows scaled by `std`, and each row's story index."""
    blocks, ids = [], []
    for i, story in enumerate(stories):
        reduced = centre_scale(rows[story], std).astype(np.float32)
        if basis is not None:
            reduced = reduced @ basis
        blocks.append(make_delayed(reduced, delays))
        ids.append(np.full(reduced.shape[0], i, dtype=np.int32))
    return np.concatenate(blocks, axis=0), np.concatenate(ids)


def stack_scaled(rows: Mapping[str, np.ndarray], stories: Sequence[str], std: np.ndarray) -> np.ndarray:
    """Pre-delay rows of `stories` scaled by `std` (centre_scale), stacked (what a reduced basis is fitted on)."""
    return np.concatenate([centre_scale(rows[s], std).astype(np.float32) for s in stories], axis=0)


def zscore_responses(resp: np.ndarray) -> np.ndarray:
    """Z-score one story's responses per voxel (the dataset convention; a no-op on already z-scored data)."""
    return zscore(resp.astype(np.float32)).astype(np.float32)
