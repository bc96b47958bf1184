"""Per-ROI test r of an encoding package and the project's success criteria, in one place.

`roi_scores` is the single function that turns a package's per-voxel test r into per-region numbers
(all voxels of the region, and those passing the package's validation-r rule); when `neurofin evaluate`
records per-ROI metrics in metrics.json (issue 11), this is the function to switch over to them.
Criteria (the project brief): whole-brain mean r > 0.10, language-cortex r > 0.20, NAcc r > 0.05, each
judged on the mean test r of ALL voxels of the region (no selection, so no selection effect at all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurofin.encoding.roi_scores import CRITERIA as ENCODING_CRITERIA

WHOLE_BRAIN = "whole_brain"


@dataclass(frozen=True)
class Criterion:
    """A success criterion: the region's mean test r must exceed `threshold`."""

    label: str
    region: str
    threshold: float


CRITERIA = tuple(  # the thresholds `neurofin evaluate` judges (neurofin.encoding.roi_scores), shown in the report
    Criterion(f"{name} > {threshold:.2f}", region or WHOLE_BRAIN, threshold) for name, region, threshold in ENCODING_CRITERIA
)


def roi_scores(
    test_r: np.ndarray, keep: np.ndarray, parcels: np.ndarray, rois, voxel_mni: np.ndarray
) -> pd.DataFrame:  # rois: neurofin.atlas.RoiSet
    """One row per region (whole brain first): voxel counts and mean test r of all / validation-selected voxels.

    `keep` is the package's voxel rule (validation r > threshold; neurofin.encoding.select_voxels).
    """
    from neurofin.atlas import roi_matrix

    r = np.asarray(test_r, dtype=np.float64)[None, :]
    every = roi_matrix(parcels, rois, None, voxel_mni)
    chosen = roi_matrix(parcels, rois, keep, voxel_mni)
    mean_all = np.where(every.empty, np.nan, every.average(r)[0])
    mean_kept = np.where(chosen.empty, np.nan, chosen.average(r)[0])
    frame = pd.DataFrame({
        "region": every.names, "n_voxels": every.n_voxels_per_region, "mean_r_all": mean_all,
        "n_selected": chosen.n_voxels_per_region, "mean_r_selected": mean_kept,
    })
    whole = pd.DataFrame([{
        "region": WHOLE_BRAIN, "n_voxels": r.shape[1], "mean_r_all": float(r.mean()),
        "n_selected": int(keep.sum()), "mean_r_selected": float(r[0, keep].mean()) if keep.any() else np.nan,
    }])
    return pd.concat([whole, frame], ignore_index=True)


def criteria_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Pass/fail of each criterion on the regions' all-voxel mean r ('no voxels' when a region is empty/absent)."""
    by_region = scores.set_index("region")
    rows = []
    for c in CRITERIA:
        value = by_region["mean_r_all"].get(c.region, np.nan)
        n = int(by_region["n_voxels"].get(c.region, 0))
        outcome = "no voxels" if n == 0 or not np.isfinite(value) else ("pass" if value > c.threshold else "fail")
        rows.append({"criterion": c.label, "region": c.region, "voxels": n, "mean r": value, "result": outcome})
    return pd.DataFrame(rows)
