"""A story's word-level transcript: labels with start and stop times in seconds from sound onset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Transcript:
    """Words of one story (already filtered of non-speech labels) and their intervals."""

    words: list[str]
    starts: np.ndarray
    stops: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.words) == len(self.starts) == len(self.stops)):
            raise ValueError("words, starts and stops must have the same length")

    def __len__(self) -> int:
        return len(self.words)

    @property
    def times(self) -> np.ndarray:
        """Word times used for alignment: the midpoint of each interval (reference convention)."""
        return (np.asarray(self.starts, dtype=np.float64) + np.asarray(self.stops, dtype=np.float64)) / 2.0
