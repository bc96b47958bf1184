"""Per-ROI report of how much of each region a subject's data holds: voxel count and MNI-volume coverage.

Coverage of an ROI = share of its 2 mm MNI atlas-grid voxels that land inside a mask voxel of the subject.
ds003020's masks are cortical (pycortex `thick`: voxels within 8 mm of the cortical surface). A subcortical ROI
such as the NAcc sphere is flagged whatever its numbers: on S1 the thick mask still reaches ~70% of the NAcc
spheres (~50 voxels, 3-8 mm from the cortical surface), so "cortical only" does not mean zero voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurofin.atlas.regions import roi_membership
from neurofin.atlas.rois import RoiSet
from neurofin.atlas.schaefer import Atlas
from neurofin.atlas.subject import FILL_MM, SubjectAtlas

EMPTY_COVERAGE = 0.05  # below this an ROI is reported as (nearly) outside the data
CORTICAL_SHARE = 0.5  # an ROI with less of its MNI volume on the cortical atlas ribbon is called subcortical
SUBCORTICAL_NOTE = (
    "subcortical: ds003020 is cortical only (mask_thick = voxels within 8 mm of the cortical surface); "
    "voxels here lie in that mask's outer band and sample the region only in part"
)


@dataclass(frozen=True)
class RoiCoverage:
    """How much of one ROI a subject's data covers."""

    name: str
    n_parcels: int  # atlas parcels in the ROI (0 for a sphere)
    n_voxels: int  # the subject's voxels assigned to the ROI
    mni_voxels: int  # the ROI's voxels on the 2 mm MNI atlas grid
    coverage: float  # share of those MNI voxels that land in a mask voxel
    note: str  # "" or why the ROI is (nearly) empty / not cortical


def roi_coverage(maps: SubjectAtlas, rois: RoiSet, atlas: Atlas, fill_mm: float = FILL_MM) -> list[RoiCoverage]:
    """Per ROI: subject voxel count and the share of its MNI volume inside the subject's cortical mask."""
    membership = roi_membership(maps.parcels(atlas, fill_mm), rois, maps.voxel_mni)
    rows = []
    for k, roi in enumerate(rois.rois):
        in_roi = roi.mni_mask(atlas)
        mni_voxels = int(in_roi.sum())
        coverage = float((maps.mni_column[in_roi] >= 0).mean()) if mni_voxels else 0.0
        notes = []
        if coverage < EMPTY_COVERAGE or not membership[:, k].any():
            notes.append("~empty: (nearly) outside the subject's mask")
        if mni_voxels and np.mean(atlas.volume[in_roi] > 0) < CORTICAL_SHARE:
            notes.append(SUBCORTICAL_NOTE)
        rows.append(
            RoiCoverage(roi.name, len(roi.parcel_ids), int(membership[:, k].sum()), mni_voxels, coverage, "; ".join(notes))
        )
    return rows


def coverage_summary(maps: SubjectAtlas, atlas: Atlas, fill_mm: float = FILL_MM) -> dict[str, float]:
    """Share of the subject's mask voxels with a parcel: exactly on the atlas ribbon, and within `fill_mm`."""
    return {
        "n_voxels": maps.n_voxels,
        "on_ribbon": float(np.mean(maps.parcels(atlas, 0.0) > 0)),
        "with_parcel": float(np.mean(maps.parcels(atlas, fill_mm) > 0)),
        "fill_mm": fill_mm,
    }
