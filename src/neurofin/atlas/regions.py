"""Voxel -> region averaging matrices: region activity = voxel activity @ M (exact for any linear model).

M has shape (n_voxels, n_regions); column r holds 1/n_r on the n_r kept voxels of region r, so its
entries sum to 1, and is all zero (and flagged in `empty`) when the region keeps no voxel.
For an encoding model, `stim @ (W @ M)` equals `(stim @ W) @ M`: collapse the weights once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from neurofin.atlas.rois import RoiSet, within_spheres
from neurofin.errors import AtlasError


@dataclass(frozen=True)
class RegionMatrix:
    """A sparse (n_voxels, n_regions) averaging matrix with region names and emptiness flags."""

    matrix: sp.csc_array
    names: list[str]
    n_voxels_per_region: np.ndarray  # kept voxels per region
    empty: np.ndarray  # bool per region: no kept voxel, column is all zero

    def average(self, voxel_data: np.ndarray) -> np.ndarray:
        """(n_trs, n_regions) region means of (n_trs, n_voxels) data."""
        return np.asarray(self.matrix.T @ np.asarray(voxel_data).T).T


def roi_membership(parcels: np.ndarray, rois: RoiSet, voxel_mni: np.ndarray | None = None) -> np.ndarray:
    """(n_voxels, n_rois) bool: parcel ROIs by parcel id; sphere ROIs by voxel MNI position (none without it)."""
    out = np.zeros((len(parcels), len(rois)), dtype=bool)
    for k, roi in enumerate(rois.rois):
        if roi.sphere_centers_mni is not None:
            if voxel_mni is not None:
                out[:, k] = within_spheres(np.asarray(voxel_mni, np.float64), roi.sphere_centers_mni, roi.sphere_radius_mm)
        else:
            out[:, k] = np.isin(parcels, roi.parcel_ids)
    return out


def _checked_keep(keep_voxels: np.ndarray | None, n_voxels: int) -> np.ndarray:
    if keep_voxels is None:
        return np.ones(n_voxels, dtype=bool)
    keep_voxels = np.asarray(keep_voxels)
    if keep_voxels.dtype != bool or keep_voxels.shape != (n_voxels,):
        raise AtlasError(
            f"keep_voxels must be a bool mask of {n_voxels} voxels, got {keep_voxels.dtype} {keep_voxels.shape}: "
            "build it with neurofin.encoding.select_voxels"
        )
    return keep_voxels


def _from_pairs(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], names: list[str]) -> RegionMatrix:
    counts = np.bincount(cols, minlength=shape[1])
    weights = 1.0 / counts[cols] if len(cols) else np.zeros(0)
    matrix = sp.csc_array((weights.astype(np.float64), (rows, cols)), shape=shape)
    return RegionMatrix(matrix, names, counts.astype(np.int64), counts == 0)


def averaging_matrix(membership: np.ndarray, names: list[str], keep_voxels: np.ndarray | None = None) -> RegionMatrix:
    """Averaging matrix from a (n_voxels, n_regions) bool membership, restricted to kept voxels."""
    membership = np.asarray(membership, dtype=bool) & _checked_keep(keep_voxels, len(membership))[:, None]
    rows, cols = np.nonzero(membership)
    return _from_pairs(rows, cols, membership.shape, list(names))


def roi_matrix(
    parcels: np.ndarray, rois: RoiSet, keep_voxels: np.ndarray | None = None, voxel_mni: np.ndarray | None = None
) -> RegionMatrix:
    """(n_voxels, n_rois) ROI averaging matrix over kept voxels (sphere ROIs need `voxel_mni`)."""
    return averaging_matrix(roi_membership(parcels, rois, voxel_mni), rois.names, keep_voxels)


def parcel_matrix(parcels: np.ndarray, n_parcels: int = 1000, keep_voxels: np.ndarray | None = None) -> RegionMatrix:
    """(n_voxels, n_parcels) parcel averaging matrix over kept voxels; column p-1 is parcel p."""
    parcels = np.asarray(parcels)
    if parcels.min(initial=0) < 0 or parcels.max(initial=0) > n_parcels:
        raise AtlasError(f"parcel ids must lie in 0..{n_parcels}; got {parcels.min()}..{parcels.max()}")
    rows = np.flatnonzero((parcels > 0) & _checked_keep(keep_voxels, len(parcels)))
    names = [f"parcel_{p}" for p in range(1, n_parcels + 1)]
    return _from_pairs(rows, parcels[rows].astype(np.int64) - 1, (len(parcels), n_parcels), names)
