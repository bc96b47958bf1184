"""Per-ROI evaluation and the project's success criteria, from per-voxel scores and a voxel -> ROI membership.

`roi_scores` is the one place per-ROI numbers are computed (evaluate and reports call it): per ROI of the ROI
file, its voxel count, mean test r over all its voxels and over those passing the package's validation-r rule
(the voxels its ROI feature averages), noise-ceiling summaries over the latter, and the encoding-quality gate
`validation_r_mean_response` (`region_mean_r`: how well the region's mean response over ALL its voxels is
predicted on the validation stories; no voxel selection, so a region without signal scores near 0 and fails
market.min_roi_validation_r). `roi_quality_table` hands the gate to the market (`neurofin infer` writes it). `success_criteria` turns
them into the brief's pass/fail table under ONE rule (SUCCESS_RULE): the mean per-voxel test r over ALL voxels
of the region, no selection. `neurofin evaluate` writes that table to metrics.json; the report and `reproduce`
read it from there and compute nothing of their own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neurofin.encoding.metrics import ceiling_summary, voxel_correlation
from neurofin.encoding.package import METRICS_FILE
from neurofin.encoding.selection import select_voxels
from neurofin.errors import AtlasError, InputError

if TYPE_CHECKING:
    import pandas as pd

# (criterion, ROI name or None for every voxel, threshold on mean test r): the brief's success criteria
CRITERIA = [("whole-brain mean r", None, 0.10), ("language-cortex r", "language", 0.20), ("NAcc r", "nacc", 0.05)]
STATISTIC = "mean per-voxel test r"
SUCCESS_RULE = (f"{STATISTIC} (Pearson r of prediction and held-out test-story response, the repeat mean when the "
                "story was repeated) over ALL voxels of the region, no validation selection; pass when > threshold")


@dataclass(frozen=True)
class VoxelRois:
    """Which ROI each response column (voxel) of one subject belongs to."""

    names: list[str]
    membership: np.ndarray  # (n_voxels, n_rois) bool


def region_mean_r(
    responses: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray], stories: Sequence[str], rois: VoxelRois,
) -> np.ndarray:
    """(n_rois,) Pearson r, over the rows of `stories` concatenated, of each ROI's mean response (all its voxels)
    with the mean of their predictions; NaN for an ROI without voxels."""
    counts = rois.membership.sum(axis=0)
    average = rois.membership / np.maximum(counts, 1)
    mean_resp = np.concatenate([np.asarray(responses[s], np.float64) @ average for s in stories])
    mean_pred = np.concatenate([np.asarray(predictions[s], np.float64) @ average for s in stories])
    return np.where(counts > 0, voxel_correlation(mean_resp, mean_pred), np.nan)


def roi_scores(
    test_r: np.ndarray, validation_r: np.ndarray, threshold: float, rois: VoxelRois,
    cc_max: Mapping[str, np.ndarray] | None = None, story_r: Mapping[str, np.ndarray] | None = None,
    mean_response_r: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Per ROI: n_voxels, n_selected (validation r > threshold), mean test r of all and of selected voxels, the gate
    `validation_r_mean_response` (`region_mean_r` on validation stories, when given), and per repeated test story
    the ceiling summaries (metrics.ceiling_summary) of its r against the repeat mean."""
    test_r = np.asarray(test_r, dtype=np.float64)
    if rois.membership.shape[0] != test_r.shape[0]:
        raise AtlasError(f"the ROI map has {rois.membership.shape[0]} voxels, the model {test_r.shape[0]}: wrong subject or atlas")
    selected = select_voxels(validation_r, threshold)
    out: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(rois.names):
        member = rois.membership[:, k]
        chosen = member & selected
        row: dict[str, Any] = {
            "n_voxels": int(member.sum()),
            "n_selected": int(chosen.sum()),
            "mean_test_r": float(test_r[member].mean()) if member.any() else None,
            "mean_test_r_selected": float(test_r[chosen].mean()) if chosen.any() else None,
        }
        if mean_response_r is not None:
            row["validation_r_mean_response"] = float(mean_response_r[k]) if member.any() else None
        for story, ceiling in (cc_max or {}).items():
            row[f"ceiling/{story}"] = ceiling_summary((story_r or {})[story], ceiling, chosen)
        out[name] = row
    return out


def roi_quality_table(packages: Sequence[str | Path]) -> pd.DataFrame:
    """Columns roi, subject, validation_r: the encoding-quality gate of each ROI per evaluated package (its metrics.json
    `validation_r_mean_response`), the table market.roi_quality_file reads."""
    import pandas as pd

    rows = []
    for package in packages:
        path = Path(package) / METRICS_FILE
        metrics = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        rois = metrics.get("rois") or {}
        if "unavailable" in rois or not all("validation_r_mean_response" in row for row in rois.values()) or not rois:
            raise InputError(f"{package} has no per-ROI encoding quality: run `neurofin evaluate {package}` with the "
                             "subject's atlas registered (`neurofin atlas register`)")
        rows += [{"roi": name, "subject": metrics["subject"],
                  "validation_r": np.nan if row["validation_r_mean_response"] is None else row["validation_r_mean_response"]}
                 for name, row in rois.items()]
    return pd.DataFrame(rows, columns=["roi", "subject", "validation_r"])


def success_criteria(
    n_voxels: int, test_mean_r: float, rois: Mapping[str, Mapping[str, Any]] | None, note: str | None = None,
) -> list[dict[str, Any]]:
    """The brief's criteria under SUCCESS_RULE as rows (criterion, roi, voxels, statistic, n_voxels, value,
    threshold, status pass | fail | not evaluated); `rois` are `roi_scores` rows (their mean_test_r: all voxels)."""
    rows = []
    for criterion, roi, threshold in CRITERIA:
        count, why = n_voxels, None
        if roi is None:
            value, voxels = test_mean_r, f"all {n_voxels} voxels (no selection)"
        elif rois is None or roi not in rois:
            value, count, voxels = None, 0, f"ROI {roi!r}"
            why = (note or "no ROI map") if rois is None else f"the ROI file has no ROI named {roi!r}"
        else:
            value, count = rois[roi]["mean_test_r"], rois[roi]["n_voxels"]
            voxels = f"all {count} voxels of ROI {roi!r} (no selection)"
            why = None if value is not None else f"no voxel of the subject lies in {roi!r}"
        status = "not evaluated" if value is None else ("pass" if value > threshold else "fail")
        rows.append({"criterion": criterion, "roi": roi or "all voxels", "voxels": voxels, "statistic": STATISTIC,
                     "n_voxels": count, "value": value, "threshold": threshold, "status": status,
                     **({"note": why} if why else {})})
    return rows


def format_tables(metrics: Mapping[str, Any]) -> str:
    """Plain text of an evaluation's metrics: the alpha-grid warning if any, per-ROI table, success criteria."""
    lines = []
    if (metrics.get("alpha_grid") or {}).get("warning"):
        lines.append("WARNING " + metrics["alpha_grid"]["warning"])
    rois = metrics.get("rois")
    if isinstance(rois, dict) and "unavailable" not in rois:
        lines.append(f"{'roi':<32}{'voxels':>8}{'selected':>9}{'r all':>8}{'r sel':>8}{'gate r':>8}"
                     "  (gate r: validation r of the ROI's mean response)")
        fmt = lambda v: f"{v:>8.3f}" if v is not None else f"{'-':>8}"  # noqa: E731
        for name, row in rois.items():
            lines.append(f"{name:<32}{row['n_voxels']:>8}{row['n_selected']:>9}{fmt(row['mean_test_r'])}"
                         f"{fmt(row['mean_test_r_selected'])}{fmt(row.get('validation_r_mean_response'))}")
    elif isinstance(rois, dict):
        lines.append(f"per-ROI scores unavailable: {rois['unavailable']}")
    lines.append(f"success criteria: {metrics.get('success_rule', SUCCESS_RULE)}")
    lines.append(f"{'criterion':<24}{'value':>8}{'>':>3}{'threshold':>10}  {'status':<14}voxels, statistic")
    for row in metrics.get("success_criteria", []):
        value = f"{row['value']:>8.3f}" if row["value"] is not None else f"{'-':>8}"
        lines.append(f"{row['criterion']:<24}{value}{'':>3}{row['threshold']:>10.2f}  {row['status']:<14}"
                     f"{row['voxels']}, {row['statistic']}" + (f" ({row['note']})" if "note" in row else ""))
    return "\n".join(lines)
