"""Voxel selection before averaging into parcels/ROIs: keep voxels the model predicts on validation data.

The rule uses validation-story r only (stories held out from fitting, never the test story), so test
scores of ROI predictions are not inflated by selecting on them. The rule record goes into the model package.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurofin.errors import AtlasError

DEFAULT_THRESHOLD = 0.05


def select_voxels(validation_r: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Bool mask of voxels whose validation-story r exceeds `threshold` (NaN r is never selected)."""
    r = np.asarray(validation_r, dtype=np.float64)
    if r.ndim != 1:
        raise AtlasError(f"validation_r must be one r per voxel (1-D), got shape {r.shape}")
    if not -1.0 <= threshold < 1.0:
        raise AtlasError(f"voxel r threshold {threshold} must lie in [-1, 1)")
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(r, nan=-np.inf) > threshold


def selection_rule(validation_r: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """JSON-ready record of the voxel selection rule and its outcome, for the model package."""
    keep = select_voxels(validation_r, threshold)
    return {
        "rule": "validation_r > threshold",
        "score": "pearson r on validation stories (held out from fitting; never the test story)",
        "threshold": float(threshold),
        "n_voxels": int(keep.size),
        "n_selected": int(keep.sum()),
    }
