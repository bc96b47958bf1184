"""Exact folded readout from a text's word features to region values: the mean per-word effect.

Definition. A text's value for region r is the model's predicted response of r to the text, summed over
every TR the text drives, minus the same for n copies of the training mean word spoken at the same times,
divided by the number of words n. The training path is linear after the LM (Lanczos L -> z-score with the
training statistics -> basis B -> FIR delays -> weights W -> region average M), so with the TR grid
covering each word's whole Lanczos support and every delay this folds exactly to

    value = (1/n) * sum_i s_i * ((x_i - mu) / std) @ G,      G = sum_d B @ (W @ M)_d

with x_i word i's features, mu the training mean word (mean over every word of the training stories,
stored in the package as `word_mean`), std the training TR-row standard deviations and s_i = sum_t L[t, i]
word i's total Lanczos weight (0.994-1.0, by its phase on the TR grid). Hence:
  * words equal to the training mean word give exactly 0, at any length;
  * the value is a (weighted) mean of per-word effects, so 5 and 500 words of the same kind give the
    same value: nothing depends on how much of a response window the words fill (with a real LM the words'
    features themselves still change with the text's length and context: calibration.py takes that off);
  * per-word contributions s_i * ((x_i - mu) / std) @ G / n sum exactly to the value (`contributions`).
Units: z-scored BOLD of the region's voxels, summed over TRs, per word (relative to the training mean word).
Speech rate enters only through the words' phases on the TR grid; each readout uses its own package's rate.
`RegionReadout` keeps G (n_features_in, n_regions) and mu @ G / std; nothing of voxel size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from neurofin.config import TimingSettings
from neurofin.encoding.package import EncodingModel
from neurofin.errors import InputError
from neurofin.infer.pseudotime import pseudo_word_times
from neurofin.timing import lanczos_matrix


def word_weights(n_words: int, words_per_second: float, timing: TimingSettings) -> np.ndarray:
    """(n_words,) each word's total Lanczos weight s_i over a TR grid that covers its whole kernel support."""
    return _word_weights(n_words, words_per_second, timing.tr_s, timing.lanczos_window, timing.lanczos_cutoff_mult)


@lru_cache(maxsize=4096)  # texts repeat lengths; the weights depend only on these numbers
def _word_weights(n_words: int, words_per_second: float, tr_s: float, window: int, cutoff_mult: float) -> np.ndarray:
    times = pseudo_word_times(n_words, words_per_second)
    reach = window / cutoff_mult + 1  # kernel support in TRs, plus one
    first = int(np.floor(times[0] / tr_s - reach))
    last = int(np.ceil(times[-1] / tr_s + reach))
    centres = tr_s * np.arange(first, last + 1) + tr_s / 2.0  # the training grid's phase
    weights = lanczos_matrix(times, centres, window, cutoff_mult).sum(axis=0)
    weights.flags.writeable = False
    return weights


@dataclass(frozen=True)
class RegionReadout:
    """One subject's folded map from word features to region values (module docstring), with its own speech rate."""

    subject: str
    gain: np.ndarray  # (n_features_in, n_regions) float64: G / std
    offset: np.ndarray  # (n_regions,) float64: mu @ G / std
    empty: np.ndarray  # (n_regions,) bool: no selected voxel; predicted as NaN, never as 0
    words_per_second: float
    timing: TimingSettings
    identity: str = ""  # SHA-256 of the model's weights and the region matrix (float32): what a calibration is fitted for

    @classmethod
    def from_model(cls, subject: str, model: EncodingModel, region_matrix: np.ndarray) -> RegionReadout:
        """Fold basis, collapsed weights (summed over delays), training std and training mean word of `model`."""
        if model.word_mean is None:
            raise InputError(f"the model of {subject} has no training mean word: re-train it with this neurofin version")
        n_delays = len(model.delays)
        collapsed = model.collapse(region_matrix)  # (k * n_delays, n_regions), delay-major blocks
        summed = collapsed.reshape(n_delays, -1, collapsed.shape[1]).astype(np.float64).sum(axis=0)
        if model.basis is not None:
            summed = model.basis.astype(np.float64) @ summed
        gain = summed / model.feature_std.astype(np.float64)[:, None]
        offset = model.word_mean.astype(np.float64) @ gain
        empty = np.asarray(~np.asarray(region_matrix != 0).any(axis=0))
        identity = hashlib.sha256()
        for array in (model.weights, model.feature_std, region_matrix):
            identity.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        return cls(subject, gain, offset, empty, model.record.speech_rate_wps, model.record.timing, identity.hexdigest())

    @property
    def pace(self) -> tuple[float, str]:
        """What the word weights depend on: readouts with equal paces share `weighted_sums`."""
        return (self.words_per_second, self.timing.model_dump_json())

    def weights(self, n_words: int) -> np.ndarray:
        """(n_words,) s_i / n: the weight of each word in this readout's mean."""
        return word_weights(n_words, self.words_per_second, self.timing) / n_words

    def weighted_sums(self, features: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(sum_i w_i x_i (n_texts, n_features), sum_i w_i (n_texts,)) for per-text word features (n_words, ...)."""
        sums, coverage = [], []
        for feats in features:
            w = self.weights(feats.shape[0])
            sums.append(w @ np.asarray(feats.reshape(feats.shape[0], -1), dtype=np.float64))
            coverage.append(w.sum())
        return np.stack(sums), np.asarray(coverage)

    def apply(self, weighted_sums: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """(n_texts, n_regions) region values from `weighted_sums` of a readout with the same pace."""
        out = weighted_sums @ self.gain - np.outer(coverage, self.offset)
        out[:, self.empty] = np.nan
        return out

    def values(self, features: list[np.ndarray]) -> np.ndarray:
        """(n_texts, n_regions) region values for per-text word features (n_words, ...)."""
        return self.apply(*self.weighted_sums(features))

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(n_words, n_regions) exact per-word contributions for one text; they sum to its value."""
        w = self.weights(features.shape[0])
        flat = features.reshape(features.shape[0], -1).astype(np.float64)
        out = w[:, None] * (flat @ self.gain - self.offset[None, :])
        out[:, self.empty] = np.nan
        return out
