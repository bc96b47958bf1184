"""Inter-subject correlation (ISC) filter across the subject encoding models.

For one ROI and one ticker, each subject model gives a daily series of predicted activity. Two
agreement statistics are computed (docs/REFERENCE.md section 7):
  - leave-one-out ISC: each subject's series vs the mean of the other subjects, averaged over subjects;
  - pairwise ISC: mean Pearson r over all subject pairs (typically 1.3-2.4x lower than leave-one-out).
THE THRESHOLDS REFER TO THE MEAN LEAVE-ONE-OUT ISC. ISC is an agreement measure between models that
read the same text, so their predictions share variance by construction: a time-shift null (every
subject's series but the first circularly shifted by an independent offset, keeping autocorrelation and
breaking the day-by-day alignment) rejects almost nothing. An ROI therefore passes only if its mean
leave-one-out ISC is above the null quantile AND above an absolute floor `min_loo` (market.isc_min_loo).
The encoding-quality gate (the ROI's validation r in the subject models) is applied in `selection`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

POOLED = "*pooled*"
ISC_BATCH = 64  # tickers per batch of `_ticker_statistics` (the FFT cross-covariances: batch x sessions x subjects^2)


def _zscore_time(series: np.ndarray) -> np.ndarray:
    """Z-score along the time axis (the last) of (..., n_subjects, n_sessions): contiguous reductions."""
    centred = series - series.mean(axis=-1, keepdims=True)
    scale = np.sqrt((centred * centred).mean(axis=-1, keepdims=True))
    return centred / np.where(scale > 0, scale, np.nan)


def _by_subject(resp: np.ndarray) -> np.ndarray:
    """(..., n_subjects, n_sessions) contiguous copy of resp (..., n_sessions, n_subjects)."""
    return np.ascontiguousarray(np.swapaxes(resp, -1, -2))


def loo_isc(resp: np.ndarray) -> np.ndarray:
    """Leave-one-out ISC per subject: r(subject, mean of the others); resp is (..., n_sessions, n_subjects)."""
    series = _by_subject(resp)
    others = (series.sum(axis=-2, keepdims=True) - series) / (series.shape[-2] - 1)
    return (_zscore_time(series) * _zscore_time(others)).mean(axis=-1)


def pairwise_isc(resp: np.ndarray) -> np.ndarray:
    """Mean Pearson r over all subject pairs; resp is (..., n_sessions, n_subjects)."""
    z = _zscore_time(_by_subject(resp))
    corr = np.einsum("...st,...ut->...su", z, z) / resp.shape[-2]
    upper = np.triu_indices(resp.shape[-1], k=1)
    return corr[..., upper[0], upper[1]].mean(axis=-1)


def circular_shifts(n_sessions: int, n_subjects: int, n_null: int, rng: np.random.Generator, min_shift: int) -> np.ndarray:
    """(n_null, n_subjects) circular offsets of the time-shift null: subject 1 unshifted, the others each by an
    independent offset in [min_shift, n_sessions - min_shift] (a draw's series u is resp[(t - offset_u) mod T, u])."""
    if n_sessions <= 2 * min_shift:
        raise ValueError(f"need more than {2 * min_shift} sessions for a circular-shift null, got {n_sessions}")
    shifts = rng.integers(min_shift, n_sessions - min_shift + 1, size=(n_null, n_subjects))
    shifts[:, 0] = 0
    return shifts


def null_loo_isc(resp: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(..., n_null) mean leave-one-out ISC of each shifted copy of resp (..., n_sessions, n_subjects), shifts
    (..., n_null, n_subjects) from `circular_shifts`, without building the copies: a shift keeps each series' mean
    and spread, so every covariance of a copy is a circular cross-covariance of the centred series at the difference
    of two offsets, and all of those come from one FFT (the cross-correlation theorem). Subjects with a constant
    series, or whose others sum to a constant, are left out of the mean as in `loo_isc` (NaN if none is left)."""
    n_sessions, n_subjects = resp.shape[-2:]
    centred = (resp - resp.mean(axis=-2, keepdims=True)).reshape(-1, n_sessions, n_subjects)
    spectrum = np.fft.rfft(centred, axis=1)
    # cross[b, k, u, v] = sum_t centred[b, t, u] * centred[b, (t + k) mod T, v]
    cross = np.fft.irfft(spectrum.conj()[..., :, None] * spectrum[..., None, :], n=n_sessions, axis=1)
    lags = (shifts[..., :, None] - shifts[..., None, :]).reshape(cross.shape[0], -1, n_subjects, n_subjects)
    subjects = np.arange(n_subjects)
    batch = np.arange(cross.shape[0])[:, None, None, None]
    # copy covariance of (u, v): cross[d_u - d_v, u, v]; (batch, n_null, n_subjects, n_subjects)
    cov = cross[batch, lags % n_sessions, subjects[:, None], subjects[None, :]]
    own = np.diagonal(cov, axis1=-2, axis2=-1)
    row, column = cov.sum(axis=-1), cov.sum(axis=-2)
    with_others = row - own  # cov(s, sum of the others)
    others_var = cov.sum(axis=(-2, -1))[..., None] - row - column + own  # var(sum of the others)
    variance = np.einsum("btu,btu->bu", centred, centred)[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = with_others / np.sqrt(variance * others_var)
    r[np.broadcast_to(variance == 0, r.shape) | (others_var <= 0)] = np.nan
    return np.nanmean(r, axis=-1).reshape(shifts.shape[:-1])


def _subject_matrices(rows: pd.DataFrame, rois: Sequence[str], subjects: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """roi -> ticker -> (n_sessions, n_subjects) predicted activity, sessions (sorted) with any gap dropped: one
    pivot of every ROI for every ticker, split by ticker (tickers without a complete session are left out)."""
    if rows.empty:
        return {roi: {} for roi in rois}
    wide = rows.pivot_table(index=["ticker", "session"], columns="subject", values=list(rois), aggfunc="mean")
    tickers, starts = np.unique(wide.index.get_level_values("ticker").to_numpy(), return_index=True)
    out: dict[str, dict[str, np.ndarray]] = {}
    for roi in rois:
        columns = [(roi, subject) for subject in subjects]
        values = wide.reindex(columns=pd.MultiIndex.from_tuples(columns)).to_numpy(float)
        complete = [block[~np.isnan(block).any(axis=1)] for block in np.split(values, starts[1:])]
        out[roi] = {str(ticker): block for ticker, block in zip(tickers, complete, strict=True) if block.shape[0]}
    return out


def _ticker_statistics(
    matrices: dict[str, np.ndarray], n_null: int, rng: np.random.Generator, min_shift: int, min_sessions: int,
) -> dict[str, tuple[float, float, np.ndarray]]:
    """ticker -> (mean leave-one-out ISC, pairwise ISC, null mean leave-one-out ISC (n_null,)) of one ROI, for the
    tickers with at least `min_sessions` sessions and 2 subjects (in `matrices`' order, the null offsets drawn in that
    order); tickers of equal shape computed together, in batches of at most ISC_BATCH."""
    eligible = {t: resp for t, resp in matrices.items() if resp.shape[0] >= min_sessions and resp.shape[1] >= 2}
    shifts = {t: circular_shifts(resp.shape[0], resp.shape[1], n_null, rng, min_shift) for t, resp in eligible.items()}
    by_shape: dict[tuple[int, ...], list[str]] = {}
    for ticker, resp in eligible.items():
        by_shape.setdefault(resp.shape, []).append(ticker)
    out: dict[str, tuple[float, float, np.ndarray]] = {}
    for same in by_shape.values():
        for start in range(0, len(same), ISC_BATCH):
            batch = same[start : start + ISC_BATCH]
            resp = np.stack([eligible[t] for t in batch])
            loo, pairwise = np.nanmean(loo_isc(resp), axis=-1), pairwise_isc(resp)
            null = null_loo_isc(resp, np.stack([shifts[t] for t in batch]))
            out.update({t: (float(loo[k]), float(pairwise[k]), null[k]) for k, t in enumerate(batch)})
    return {str(t): out[t] for t in eligible}


def isc_table(
    panel: pd.DataFrame,
    rois: Sequence[str],
    subjects: Sequence[str],
    scope: str = "pooled",
    n_null: int = 200,
    null_quantile: float = 0.95,
    min_shift: int = 5,
    min_sessions: int = 20,
    seed: int = 0,
    min_loo: float = 0.3,
) -> pd.DataFrame:
    """ISC of every ROI (pooled over tickers or per ticker) with its time-shift-null threshold and pass flag.

    Columns: roi, ticker (POOLED when scope="pooled"), loo_isc, pairwise_isc, loo_threshold (the
    `null_quantile` quantile of the null mean leave-one-out ISC), p_value (null exceedance), passed
    (above that quantile and at least `min_loo`).
    """
    if scope not in ("pooled", "ticker"):
        raise ValueError(f"ISC scope must be 'pooled' or 'ticker', got {scope!r}")
    rng = np.random.default_rng(seed)
    matrices = _subject_matrices(panel[panel["subject"].isin(list(subjects))], rois, subjects)
    records = []
    for roi in rois:
        per_ticker = _ticker_statistics(matrices[roi], n_null, rng, min_shift, max(min_sessions, 2 * min_shift + 1))
        groups = {POOLED: list(per_ticker)} if scope == "pooled" else {t: [t] for t in per_ticker}
        for label, tickers in groups.items():
            if not tickers:
                continue
            observed = float(np.mean([per_ticker[t][0] for t in tickers]))
            null_loo = np.mean([per_ticker[t][2] for t in tickers], axis=0)
            threshold = float(np.quantile(null_loo, null_quantile))
            records.append(
                {
                    "roi": roi,
                    "ticker": label,
                    "loo_isc": observed,
                    "pairwise_isc": float(np.mean([per_ticker[t][1] for t in tickers])),
                    "loo_threshold": threshold,
                    "p_value": float((1 + np.sum(null_loo >= observed)) / (1 + null_loo.size)),
                    "passed": bool(observed > threshold and observed >= min_loo),
                }
            )
    columns = ["roi", "ticker", "loo_isc", "pairwise_isc", "loo_threshold", "p_value", "passed"]
    return pd.DataFrame.from_records(records, columns=columns) if records else pd.DataFrame(columns=columns)
