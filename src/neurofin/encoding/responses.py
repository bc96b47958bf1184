"""Voxel responses for the encoding stage: per-story z-scored training rows and repeat-mean test targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neurofin.data.check import hf5_nonfinite
from neurofin.data.layout import Dataset, open_hf5
from neurofin.encoding.design import zscore_responses
from neurofin.errors import DataError


def require_finite_responses(dataset: Dataset, subject: str, stories: Sequence[str]) -> None:
    """Raise DataError naming the file and the counts when a story's responses or repeats hold NaN/inf."""
    for story in stories:
        path = dataset.response_path(subject, story)
        with open_hf5(path, dataset.root) as fh:
            nonfinite = hf5_nonfinite(fh)
        if nonfinite:
            raise DataError(f"{subject}/{story}: {path} holds {nonfinite}; a model cannot be fitted or scored on it: "
                            f"fetch the file again (`neurofin data check {dataset.root}` lists every such file)")


def read_story_responses(dataset: Dataset, subject: str, stories: Sequence[str]) -> dict[str, np.ndarray]:
    """(n_trs, n_voxels) float32 responses per story, z-scored within the story."""
    return {story: zscore_responses(dataset.read_responses(subject, story)) for story in stories}


def read_test_target(dataset: Dataset, subject: str, story: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A held-out story's scoring target: the repeat mean when individual repeats exist, else the response itself.

    Returns (target (n_trs, n_voxels), repeats (n_repeats, n_trs, n_voxels) or None).
    """
    repeats = dataset.read_repeats(subject, story)
    if repeats is None:
        return dataset.read_responses(subject, story), None
    return repeats.mean(axis=0), repeats
