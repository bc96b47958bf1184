"""The panel's inputs, validated: the ROI-feature table `neurofin infer` writes and the tickers each comment names.

ROI input (neurofin.schema): id, subject (or "ensemble"), one float column per ROI, plus metadata columns (n_words,
truncated, error) that are not ROIs, plus optional `emb_*` columns (read from the ensemble rows only). Rows with a
non-null `error` carry NaN ROIs and are dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.market.comments.tickers import TickerUniverse, extract_tickers
from neurofin.market.forecast.controls import embedding_columns
from neurofin.schema import ENSEMBLE, LEX_PREFIX, ROI_KEY_COLUMNS, SD_SUFFIX, region_columns
from neurofin.schema import PANEL_COUNT_COLUMNS as COUNT_COLUMNS
from neurofin.schema import PANEL_KEY_COLUMNS as KEY_COLUMNS


def roi_error_rows(roi_df: pd.DataFrame) -> np.ndarray:
    """Boolean mask of ROI-table rows the inference stage marked failed (`error` not null; their ROIs are NaN)."""
    if "error" not in roi_df.columns:
        return np.zeros(len(roi_df), dtype=bool)
    return roi_df["error"].notna().to_numpy(dtype=bool)


def roi_columns_of(roi_df: pd.DataFrame) -> list[str]:
    """The ROI feature columns of an ROI-feature table (all but id, subject, inference metadata and `emb_*`), validated.

    An ROI that some subject's model does not cover (NaN in all of that subject's valid rows: no selected voxel
    in the region, e.g. the NAcc sphere in cortical-only data) is left out, so every ROI kept has every subject.
    """
    missing = set(ROI_KEY_COLUMNS) - set(roi_df.columns)
    if missing:
        raise InputError(f"ROI features lack column(s) {sorted(missing)}: expected id, subject, one column per ROI")
    rois = region_columns(roi_df.columns)
    if not rois:
        raise InputError("ROI features have no ROI columns: expected id, subject, then one float column per ROI")
    reserved = set(KEY_COLUMNS) | set(COUNT_COLUMNS)
    for roi in rois:
        if roi in reserved or roi.endswith(SD_SUFFIX) or roi.startswith(LEX_PREFIX):
            raise InputError(f"ROI column {roi!r} clashes with panel columns: rename it")
        if not pd.api.types.is_numeric_dtype(roi_df[roi]) or pd.api.types.is_bool_dtype(roi_df[roi]):
            raise InputError(f"ROI column {roi!r} is not numeric: ROI features must be floats")
    valid = roi_df.loc[~roi_error_rows(roi_df), [*ROI_KEY_COLUMNS, *rois]]
    rois = [roi for roi in rois if not _uncovered(valid, roi)]
    if not rois:
        raise InputError("every ROI column is empty (NaN): the models' voxels cover none of the ROIs; check the ROI file")
    if not np.isfinite(valid[rois].to_numpy(dtype=np.float64)).all():
        raise InputError("ROI features contain NaN/inf in rows without an error: recompute them or drop those comments")
    return rois


def comment_embeddings(roi_df: pd.DataFrame) -> pd.DataFrame:
    """id and `emb_*` of the valid ensemble rows of an ROI-feature table (no columns but id when it has no `emb_*`), validated."""
    columns = embedding_columns(roi_df)
    ensemble = (roi_df["subject"] == ENSEMBLE).to_numpy(dtype=bool)
    rows = roi_df.loc[~roi_error_rows(roi_df) & ensemble, ["id", *columns]].astype({"id": str})
    if not columns:
        return rows
    for column in columns:
        if not pd.api.types.is_numeric_dtype(roi_df[column]) or pd.api.types.is_bool_dtype(roi_df[column]):
            raise InputError(f"embedding column {column!r} is not numeric: emb_ columns must be floats")
    if len(roi_df) and not ensemble.any():
        raise InputError(f"the ROI features have emb_ columns but no {ENSEMBLE!r} rows, which carry them: "
                         "pass the long table `neurofin infer` writes")
    if not np.isfinite(rows[columns].to_numpy(dtype=np.float64)).all():
        raise InputError(f"emb_ columns contain NaN/inf in {ENSEMBLE} rows without an error: recompute them or drop those comments")
    return rows


def _uncovered(valid: pd.DataFrame, roi: str) -> bool:
    """True when whole subjects lack `roi`; NaN in only some of a subject's rows is an error."""
    nan = valid[roi].isna()
    if not nan.any():
        return False
    per_subject = nan.groupby(valid["subject"]).agg(["any", "all"])
    if (per_subject["any"] & ~per_subject["all"]).any():
        raise InputError(f"ROI column {roi!r} is NaN in some rows without an error: recompute them or drop those comments")
    return True


def comment_mentions(comments: pd.DataFrame, universe: TickerUniverse) -> pd.DataFrame:
    """(id, ticker) rows: every ticker each comment mentions (renames resolved on the comment's UTC day)."""
    days = pd.to_datetime(comments["created_utc"].to_numpy(dtype=np.int64), unit="s").date
    rows = [(cid, t) for cid, body, day in zip(comments["id"], comments["body"], days, strict=True)
            for t in extract_tickers(body, universe, day)]
    return pd.DataFrame(rows, columns=["id", "ticker"], dtype=str)
