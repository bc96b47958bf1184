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


def noise_ceiling(repeats: np.ndarray) -> np.ndarray:
    """Per-voxel cc_max = 1/sqrt(1 + (1/N)(TP/SP - 1)) from (N, n_trs, n_voxels) repeats (Schoppe et al. 2016).

    Signal power SP = (N*Var(mean) - TP)/(N - 1), total power TP = mean over repeats of Var(repeat);
    voxels with SP <= 0 have no measurable signal and get NaN.
    """
    repeats = np.asarray(repeats, dtype=np.float64)
    n_rep = repeats.shape[0]
    total_power = repeats.var(axis=1).mean(axis=0)
    signal_power = (n_rep * repeats.mean(axis=0).var(axis=0) - total_power) / (n_rep - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cc_max = 1.0 / np.sqrt(1.0 + (total_power / signal_power - 1.0) / n_rep)
    return np.where(signal_power > 0, cc_max, np.nan)


def signed_r2(r: np.ndarray) -> float:
    """Paper-style "Avg r^2": mean of r*|r| over voxels."""
    return float(np.mean(r * np.abs(r)))
