"""Pseudo-time for texts that were never spoken: synthetic word onsets at a package's speech rate.

A text's words are spoken at the training stories' median speech rate starting at t = 0 (sound onset);
word i's time (the interval midpoint, as in training) is (i + 0.5) / rate. The readout (readout.py) lays
them on a TR grid with the reference training grid's phase (centres tr*k + tr/2 from sound onset).
"""

from __future__ import annotations

import numpy as np


def pseudo_word_times(n_words: int, words_per_second: float) -> np.ndarray:
    """Synthetic word midpoints (s) of a text spoken at a constant rate from t = 0."""
    return (np.arange(n_words, dtype=np.float64) + 0.5) / words_per_second
