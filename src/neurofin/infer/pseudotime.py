"""Pseudo-time for texts that were never spoken: synthetic word onsets, a TR grid and a response window.

A text's words are spoken at the training stories' median speech rate starting at t = 0 (sound onset);
word i's time (the interval midpoint, as in training) is (i + 0.5) / rate. The TR grid has centres
tr*k + tr/2, the same phase as the reference training grid (centres tr*k - 10 + tr/2 from sound onset),
and runs until the last word plus the longest FIR delay. Features follow the training path exactly:
Lanczos onto the grid -> z-score with the TRAINING statistics -> (basis) -> FIR delays.
The per-ROI summary is the mean predicted activity over the response window: the TRs whose centre lies
between the first word and the last word plus the longest delay (the TRs whose prediction the text drives).
"""

from __future__ import annotations

import numpy as np

from neurofin.config import TimingSettings
from neurofin.timing import lanczos_interp, make_delayed, zscore


def pseudo_word_times(n_words: int, words_per_second: float) -> np.ndarray:
    """Synthetic word midpoints (s) of a text spoken at a constant rate from t = 0."""
    return (np.arange(n_words, dtype=np.float64) + 0.5) / words_per_second


def pseudo_tr_centres(n_words: int, words_per_second: float, timing: TimingSettings) -> np.ndarray:
    """TR centres from the first TR after onset to the last word plus the longest delay."""
    end = n_words / words_per_second + max(timing.delays) * timing.tr_s
    n_trs = int(np.ceil(end / timing.tr_s)) + 1
    return timing.tr_s * np.arange(n_trs) + timing.tr_s / 2.0


def response_window(centres: np.ndarray, word_times: np.ndarray, timing: TimingSettings) -> np.ndarray:
    """Boolean mask of the TRs driven by the text (first word .. last word + longest delay)."""
    lo = word_times[0]
    hi = word_times[-1] + max(timing.delays) * timing.tr_s
    return (centres >= lo - timing.tr_s / 2.0) & (centres <= hi + timing.tr_s / 2.0)


def text_rows(
    word_features: np.ndarray, words_per_second: float, timing: TimingSettings, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(z-scored TR rows (n_trs, n_features), response-window mask) for one text's word features."""
    times = pseudo_word_times(word_features.shape[0], words_per_second)
    centres = pseudo_tr_centres(word_features.shape[0], words_per_second, timing)
    rows = lanczos_interp(
        word_features.reshape(word_features.shape[0], -1).astype(np.float32), times, centres,
        timing.lanczos_window, timing.lanczos_cutoff_mult,
    )
    return zscore(rows, mean, std), response_window(centres, times, timing)


def window_mean_delayed(rows: np.ndarray, window: np.ndarray, delays: list[int]) -> np.ndarray:
    """Mean over the response window of the FIR-delayed rows: the vector that multiplies the weights."""
    return make_delayed(rows, delays)[window].mean(axis=0)
