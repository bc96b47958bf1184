"""TR grids, Lanczos downsampling, trims, per-story z-scoring and FIR delays (docs/REFERENCE.md section 2).

Reference convention (HuthLab deep-fMRI-dataset / encoding-model-scaling-laws):
a story with `n_raw` TRs in respdict gets a simulated grid of n_raw - 5 TRs, TR = 2.0 s, sound starting
10 s after the first TR; TR k's centre relative to sound onset is tr*k - 10 + tr/2. Word features are
Lanczos-downsampled onto these centres, rows [10:-5] are kept (n_raw - 20 rows = hf5 rows), each story
is z-scored on its own, and FIR delays are applied within the story (no bleed across stories).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from neurofin.errors import RowCountError

if TYPE_CHECKING:  # settings (pydantic) stay optional: a model package loads with numpy + safetensors alone
    from neurofin.config import TimingSettings


def _settings(timing: TimingSettings | None) -> TimingSettings:
    """The given timing settings, or the defaults."""
    if timing is not None:
        return timing
    from neurofin.config import TimingSettings

    return TimingSettings()


def lanczos_kernel(t: np.ndarray, cutoff: float, window: int = 3) -> np.ndarray:
    """Unnormalised Lanczos kernel at time offsets `t` for a cutoff frequency in Hz."""
    x = np.asarray(t, dtype=np.float64) * cutoff
    with np.errstate(divide="ignore", invalid="ignore"):
        val = window * np.sin(np.pi * x) * np.sin(np.pi * x / window) / (np.pi**2 * x**2)
    val[x == 0] = 1.0
    val[np.abs(x) > window] = 0.0
    return val


def lanczos_matrix(old_times: np.ndarray, new_times: np.ndarray, window: int = 3, cutoff_mult: float = 1.0) -> np.ndarray:
    """The (n_new, n_old) Lanczos interpolation matrix of the reference `lanczosinterp2D`."""
    old_times = np.asarray(old_times, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    cutoff = float(cutoff_mult / np.mean(np.diff(new_times)))
    return lanczos_kernel(new_times[:, None] - old_times[None, :], cutoff, window)


def lanczos_interp(
    data: np.ndarray, old_times: np.ndarray, new_times: np.ndarray, window: int = 3, cutoff_mult: float = 1.0
) -> np.ndarray:
    """Resample time-first `data` (n_old, ...) from `old_times` onto `new_times` (reference formula, vectorised)."""
    data = np.asarray(data)
    if data.shape[0] != len(old_times):
        raise ValueError(f"data has {data.shape[0]} rows but {len(old_times)} old_times")
    sinc = lanczos_matrix(old_times, new_times, window, cutoff_mult)
    out_dtype = np.result_type(data.dtype, np.float32)
    flat = data.reshape(data.shape[0], -1)
    return (sinc.astype(out_dtype, copy=False) @ flat.astype(out_dtype, copy=False)).reshape(
        (len(new_times),) + data.shape[1:]
    )


def tr_centres(n_raw_trs: int, timing: TimingSettings | None = None) -> np.ndarray:
    """Centres of the simulated TR grid, in seconds from sound onset, for a story with `n_raw_trs` in respdict."""
    t = _settings(timing)
    n_grid = n_raw_trs - t.pad_trs
    if n_grid <= t.trim_start + t.trim_end:
        raise RowCountError(
            f"a story with {n_raw_trs} TRs leaves no rows after trimming {t.trim_start}+{t.trim_end}: check respdict.json"
        )
    return t.tr_s * np.arange(n_grid) - t.sound_start_s + t.tr_s / 2.0


def expected_rows(n_raw_trs: int, timing: TimingSettings | None = None) -> int:
    """Rows of the response file for a story with `n_raw_trs` in respdict (reference: n_raw - 20)."""
    t = _settings(timing)
    return n_raw_trs - t.pad_trs - t.trim_start - t.trim_end


def trim(rows: np.ndarray, timing: TimingSettings | None = None) -> np.ndarray:
    """Keep rows [trim_start : -trim_end] of a grid-aligned array."""
    t = _settings(timing)
    return rows[t.trim_start : rows.shape[0] - t.trim_end]


def zscore_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (ddof=0; constant columns get std 1 so they map to 0)."""
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return mean, std


def zscore(rows: np.ndarray, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> np.ndarray:
    """Z-score columns with the given statistics, or the array's own when none are given."""
    if mean is None or std is None:
        mean, std = zscore_stats(rows)
    return (rows - mean) / std


def centre_scale(rows: np.ndarray, std: np.ndarray) -> np.ndarray:
    """One story's feature rows centred on their own mean and divided by the package's training std (feature_std).

    The one normalisation of encoding features: training designs, `EncodingModel.predict_story` and the
    inference readout (which folds 1/std into its gain) all divide by the same stored std.
    """
    return (rows - rows.mean(axis=0)) / std


def make_delayed(rows: np.ndarray, delays: Sequence[int]) -> np.ndarray:
    """FIR delays within one story: column blocks [x(t-d) for d in delays], zero-filled, no wrap-around."""
    n, dim = rows.shape
    out = np.zeros((n, dim * len(delays)), dtype=rows.dtype)
    for i, d in enumerate(delays):
        block = out[:, i * dim : (i + 1) * dim]
        if d > 0:
            block[d:] = rows[: n - d] if d < n else 0
        elif d < 0:
            block[: n + d] = rows[-d:] if -d < n else 0
        else:
            block[:] = rows
    return out


def downsample_story(
    word_times: np.ndarray, word_vectors: np.ndarray, n_raw_trs: int, timing: TimingSettings | None = None
) -> np.ndarray:
    """Word vectors -> Lanczos onto the story's TR grid -> trimmed rows (n_raw - 20, ...), not z-scored."""
    t = _settings(timing)
    centres = tr_centres(n_raw_trs, t)
    on_grid = lanczos_interp(word_vectors, word_times, centres, t.lanczos_window, t.lanczos_cutoff_mult)
    return trim(on_grid, t)


def median_speech_rate(word_times_per_story: list[np.ndarray]) -> float:
    """Median over stories of words per second (word count / span of word times)."""
    rates = [
        (len(t) - 1) / (t[-1] - t[0]) for t in (np.asarray(x, dtype=np.float64) for x in word_times_per_story) if len(t) > 1 and t[-1] > t[0]
    ]
    if not rates:
        raise ValueError("need at least one story with two or more timed words")
    return float(np.median(rates))
