"""Exact linear shortcut from a text's word features to region activity over its response window.

The training path for a text (pseudotime.py) is linear after the LM: Lanczos (L) -> z-score with the
training statistics -> basis (B) -> FIR delays -> weights (W) -> region average (M) -> mean over the
response window. Folding every linear step gives, per delay d,

    roi = sum_d [ (A_d @ X - c_d * mean) / std ] @ B @ (W @ M)_d

with X the (n_words, n_features) word features, A_d = (1/|window|) * sum over window TRs t >= d of
L[t - d] (a word-weight vector), and c_d the fraction of window TRs whose delayed source row exists
(delayed rows before the start are zero-filled, i.e. sit at the training mean after z-scoring).
`RegionReadout` holds G_d = B @ (W @ M)_d / std and the offsets; nothing of voxel size is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurofin.config import TimingSettings
from neurofin.encoding.package import EncodingModel
from neurofin.infer.pseudotime import pseudo_tr_centres, pseudo_word_times, response_window
from neurofin.timing import lanczos_matrix


def window_weights(n_words: int, words_per_second: float, timing: TimingSettings) -> tuple[np.ndarray, np.ndarray]:
    """(A (n_delays, n_words), c (n_delays,)): per-delay word weights and coverage of the response window."""
    times = pseudo_word_times(n_words, words_per_second)
    centres = pseudo_tr_centres(n_words, words_per_second, timing)
    lanczos = lanczos_matrix(times, centres, timing.lanczos_window, timing.lanczos_cutoff_mult)
    window = np.flatnonzero(response_window(centres, times, timing))
    weights = np.zeros((len(timing.delays), n_words))
    coverage = np.zeros(len(timing.delays))
    for i, delay in enumerate(timing.delays):
        source = window - delay
        source = source[(source >= 0) & (source < len(centres))]
        weights[i] = lanczos[source].sum(axis=0) / len(window)
        coverage[i] = len(source) / len(window)
    return weights, coverage


@dataclass(frozen=True)
class RegionReadout:
    """One subject's folded map from per-delay window features to region activity."""

    subject: str
    gain: np.ndarray  # (n_delays, n_features_in, n_regions) float32
    offset: np.ndarray  # (n_delays, n_regions) float64
    empty: np.ndarray  # (n_regions,) bool: no selected voxel; predicted as NaN, never as 0

    @classmethod
    def from_model(cls, subject: str, model: EncodingModel, region_matrix: np.ndarray) -> RegionReadout:
        """Fold basis, collapsed weights and the training z-score statistics of `model`."""
        n_delays = len(model.delays)
        collapsed = model.collapse(region_matrix)  # (k * n_delays, n_regions), delay-major blocks
        per_delay = collapsed.reshape(n_delays, -1, collapsed.shape[1]).astype(np.float64)
        if model.basis is not None:
            per_delay = np.einsum("fk,dkr->dfr", model.basis.astype(np.float64), per_delay)
        gain = per_delay / model.feature_std.astype(np.float64)[None, :, None]
        offset = np.einsum("f,dfr->dr", model.feature_mean.astype(np.float64), gain)
        empty = np.asarray(~np.asarray(region_matrix != 0).any(axis=0))
        return cls(subject, gain.astype(np.float32), offset, empty)

    def apply(self, window_features: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """(n_texts, n_regions) from window features (n_texts, n_delays, n_features) and coverage (n_texts, n_delays)."""
        out = np.einsum("tdf,dfr->tr", window_features, self.gain, dtype=np.float64) - coverage @ self.offset
        out[:, self.empty] = np.nan
        return out
