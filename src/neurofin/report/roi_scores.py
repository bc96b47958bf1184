"""Per-ROI test r and the success criteria of an encoding package, read from its metrics.json.

`neurofin evaluate` computes both once (neurofin.encoding.roi_scores: per ROI the mean test r of all its voxels
and of those passing the package's validation-r rule; the criteria under its one named rule, SUCCESS_RULE);
the report only shows them, so it can never judge by another rule than metrics.json and the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

WHOLE_BRAIN = "whole_brain"


def region_table(metrics: Mapping[str, Any]) -> pd.DataFrame | None:
    """One row per region (whole brain first): voxel counts and mean test r of all / validation-selected voxels
    (None when the evaluation has no per-ROI scores: no registered atlas at evaluation time)."""
    rois = metrics.get("rois")
    if not isinstance(rois, dict) or "unavailable" in rois:
        return None
    whole = {"region": WHOLE_BRAIN, "n_voxels": metrics["n_voxels"], "mean_r_all": metrics["test_mean_r"],
             "n_selected": None, "mean_r_selected": None}
    rows = [whole] + [{"region": name, "n_voxels": row["n_voxels"], "mean_r_all": row["mean_test_r"],
                       "n_selected": row["n_selected"], "mean_r_selected": row["mean_test_r_selected"]}
                      for name, row in rois.items()]
    return pd.DataFrame(rows).astype({"mean_r_all": float, "mean_r_selected": float})


def criteria_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The success criteria exactly as metrics.json records them (one row each, with the voxels and statistic)."""
    rows = [{"criterion": f"{row['criterion']} > {row['threshold']:.2f}", "region": WHOLE_BRAIN if row["roi"] == "all voxels" else row["roi"],
             "voxels": row["voxels"], "statistic": row["statistic"],
             "value": np.nan if row["value"] is None else row["value"], "threshold": row["threshold"],
             "result": row["status"]} for row in metrics["success_criteria"]]
    return pd.DataFrame(rows)
