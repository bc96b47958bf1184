"""Voxel selection: keep the voxels a model predicts on validation data (for region averages and top-voxel scores).

The rule uses validation-story r only (stories held out from fitting, never the test story), so test
scores of region predictions are not inflated by selecting on them. Each package records its rule
(record.VoxelSelection).
"""

from __future__ import annotations

import numpy as np

from neurofin.errors import InputError


def select_voxels(validation_r: np.ndarray, threshold: float) -> np.ndarray:
    """Bool mask of voxels whose validation-story r exceeds `threshold` (NaN r is never selected)."""
    r = np.asarray(validation_r, dtype=np.float64)
    if r.ndim != 1:
        raise InputError(f"validation_r must be one r per voxel (1-D), got shape {r.shape}")
    if not -1.0 <= threshold < 1.0:
        raise InputError(f"voxel r threshold {threshold} must lie in [-1, 1)")
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(r, nan=-np.inf) > threshold
