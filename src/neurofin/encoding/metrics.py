"""Voxelwise scores (docs/REFERENCE.md section 4): Pearson r, top voxels by validation r, noise ceiling, r*|r|."""

from __future__ import annotations

import numpy as np


def voxel_correlation(resp: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Pearson r per voxel between (n_trs, n_voxels) responses and predictions (0 where either is constant)."""
    resp = np.asarray(resp, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    rc = resp - resp.mean(axis=0)
    pc = pred - pred.mean(axis=0)
    denom = np.sqrt((rc**2).sum(axis=0) * (pc**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rc * pc).sum(axis=0) / denom
    return np.where(denom > 0, r, 0.0)


def top_voxels(selection_r: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the best `fraction` of voxels ranked by `selection_r` (use VALIDATION r, never test r)."""
    n_top = max(1, int(round(fraction * selection_r.shape[0])))
    return np.argsort(-selection_r, kind="stable")[:n_top]


def signal_power(repeats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(SP, TP) per voxel from (N, n_trs, n_voxels) repeats: SP = (N*Var(mean) - TP)/(N - 1), TP = mean Var(repeat)."""
    repeats = np.asarray(repeats, dtype=np.float64)
    n_rep = repeats.shape[0]
    total_power = repeats.var(axis=1).mean(axis=0)
    return (n_rep * repeats.mean(axis=0).var(axis=0) - total_power) / (n_rep - 1), total_power


def noise_ceiling(repeats: np.ndarray) -> np.ndarray:
    """Per-voxel cc_max = 1/sqrt(1 + (1/N)(TP/SP - 1)) from (N, n_trs, n_voxels) repeats (Schoppe et al. 2016).

    Voxels with SP <= 0 have no measurable signal: SP is clipped at 0, so their ceiling is 0 (never NaN, so no
    voxel is dropped by a property of the test data).
    """
    power, total = signal_power(repeats)
    n_rep = np.asarray(repeats).shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        cc_max = 1.0 / np.sqrt(1.0 + (total / power - 1.0) / n_rep)
    return np.where(power > 0, cc_max, 0.0)


def ceiling_summary(r: np.ndarray, cc_max: np.ndarray, selected: np.ndarray) -> dict[str, float | int | None]:
    """Noise-ceiling summaries over voxels `selected` on validation data (never on the test story).

    median_cc_norm: median of the finite r / cc_max (a voxel without measurable signal, cc_max = 0, has no
    ratio: n_ratio_not_finite counts them, n_ratio_finite the ratios the median is over); ratio_of_means:
    mean(r) / mean(cc_max), stable where per-voxel ratios are heavy-tailed; n_with_signal: selected voxels
    whose test repeats show signal power > 0.
    """
    r, cc_max = np.asarray(r, dtype=np.float64)[selected], np.asarray(cc_max, dtype=np.float64)[selected]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = r / cc_max
    finite = ratio[np.isfinite(ratio)]
    mean_ceiling = float(cc_max.mean()) if r.size else 0.0
    return {
        "n_voxels": int(r.size),
        "n_with_signal": int((cc_max > 0).sum()),
        "mean_r": float(r.mean()) if r.size else None,
        "mean_cc_max": mean_ceiling if r.size else None,
        "median_cc_norm": float(np.median(finite)) if finite.size else None,
        "n_ratio_finite": int(finite.size),
        "n_ratio_not_finite": int(r.size - finite.size),
        "ratio_of_means": float(r.mean() / mean_ceiling) if mean_ceiling > 0 else None,
    }


def signed_r2(r: np.ndarray) -> float:
    """Paper-style "Avg r^2": mean of r*|r| over voxels."""
    return float(np.mean(r * np.abs(r)))
