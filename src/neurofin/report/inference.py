"""Inference section: each ROI's predicted activity over the scored corpus and its correlation with text length.

Input: the Parquet/CSV of `neurofin infer` (one row per (id, subject), n_words, one column per ROI). The
ensemble rows are used when present (else the first subject's). Length correlation: Pearson r of each ROI
with n_words over the valid rows, with scipy's Fisher-z 95% confidence interval; a readout free of length
effects gives intervals that cover 0 (issue 11 measured |r| up to 0.55 on the demo before its fix).
Word attributions come from an explanations file (neurofin.report.explanations), never from the language model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from neurofin.errors import InputError
from neurofin.report.explanations import explanations_html, read_explanations
from neurofin.report.figures import new_figure, to_png
from neurofin.report.html import Figure, Section, details, paragraph, table
from neurofin.report.inputs import read_table, require_numbers
from neurofin.schema import ENSEMBLE, region_columns
from neurofin.schema import ROI_KEY_COLUMNS as KEY_COLUMNS

CONFIDENCE = 0.95
NO_EXPLANATIONS = ("No word attributions: pass --explanations FILE, the explanations.parquet that `neurofin demo` "
                   "writes beside its scores, or one from `neurofin explain TEXT --packages ... --table FILE`.")


def preferred_subject(subjects: list[str]) -> str:
    """The rows a section shows: the ensemble when present, else the first subject."""
    return ENSEMBLE if ENSEMBLE in subjects else subjects[0]


def read_scores(path: Path) -> tuple[pd.DataFrame, str, list[str]]:
    """(valid rows of one subject, that subject, ROI columns) from an infer output file."""
    path = Path(path)
    hint = "not an output of `neurofin infer`: pass the --out file of `neurofin infer`"
    if not path.is_file():
        raise InputError(f"{path} does not exist: {hint}")
    frame = read_table(path, hint, required=["n_words"], keys=KEY_COLUMNS)
    rois = region_columns(frame.columns)
    require_numbers(frame, ["n_words", *rois], path, hint)
    subjects = frame["subject"].astype(str).unique().tolist()
    subject = preferred_subject(subjects)
    rows = frame[frame["subject"].astype(str) == subject]
    if "error" in rows.columns:
        rows = rows[rows["error"].isna()]
    return rows.reset_index(drop=True), subject, rois


def length_correlations(rows: pd.DataFrame, rois: list[str]) -> pd.DataFrame:
    """Per ROI: n, mean, sd, Pearson r with n_words and its 95% CI (NaN where undefined)."""
    records = []
    for roi in rois:
        ok = rows[[roi, "n_words"]].dropna()
        x, y = ok["n_words"].to_numpy(float), ok[roi].to_numpy(float)
        r = low = high = np.nan
        if len(ok) > 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            result = stats.pearsonr(x, y)
            r = float(result.statistic)
            interval = result.confidence_interval(CONFIDENCE)
            low, high = float(interval.low), float(interval.high)
        records.append({"roi": roi, "n": len(ok), "mean": float(np.mean(y)) if len(y) else np.nan,
                        "sd": float(np.std(y, ddof=1)) if len(y) > 1 else np.nan,
                        "r_n_words": r, "ci_low": low, "ci_high": high})
    return pd.DataFrame(records)


def distribution_figure(rows: pd.DataFrame, rois: list[str], subject: str) -> Figure:
    """Box plots of each ROI's predicted activity over the scored texts."""
    present = [r for r in rois if rows[r].notna().any()]
    figure = new_figure(8, 1.2 + 0.26 * max(len(present), 1), f"Predicted ROI activity over {len(rows)} texts ({subject})")
    axes = figure.subplots()
    axes.boxplot([rows[r].dropna().to_numpy() for r in present], orientation="horizontal", showfliers=False,
                 tick_labels=present)
    axes.tick_params(axis="y", labelsize=8)
    axes.invert_yaxis()
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlabel("predicted activity (model units; whiskers 1.5 IQR, outliers hidden)")
    return Figure(f"ROI distributions ({subject})", to_png(figure))


def length_figure(correlations: pd.DataFrame, subject: str) -> Figure:
    """Forest plot: each ROI's correlation with n_words and its 95% CI."""
    shown = correlations.dropna(subset=["r_n_words"])
    figure = new_figure(7.5, 1.2 + 0.26 * max(len(shown), 1), f"Correlation of each ROI with text length ({subject})")
    axes = figure.subplots()
    y = np.arange(len(shown))
    r = shown["r_n_words"].to_numpy()
    axes.errorbar(r, y, xerr=[r - shown["ci_low"].to_numpy(), shown["ci_high"].to_numpy() - r], fmt="o", capsize=3)
    axes.set_yticks(y, shown["roi"], fontsize=8)
    axes.invert_yaxis()
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlim(-1, 1)
    axes.set_xlabel("Pearson r with n_words (95% CI, Fisher z)")
    return Figure(f"ROI vs text length ({subject})", to_png(figure))


def attribution_parts(explanations: Path | None, scores: pd.DataFrame, scores_subject: str) -> list[str]:
    """The word-attribution subsection: shaded examples from the explanations file, or a note on how to make one.
    Each example's value is set beside the scores file's when both show the same subject."""
    if explanations is None:
        return [paragraph(NO_EXPLANATIONS, "note")]
    frame = read_explanations(explanations)
    subject = preferred_subject(frame["subject"].astype(str).unique().tolist())
    rules = "; ".join(dict.fromkeys(frame["chosen_by"].astype(str)))
    intro = (f"Exact per-word contributions ({Path(explanations).name}, subject '{subject}'): each word's background "
             f"is its contribution to the ROI named; a text's contributions sum to its ROI value. Examples chosen as: "
             f"{rules}.")
    same = scores if subject == scores_subject else None
    return ["<h3>Word attributions</h3>", paragraph(intro), explanations_html(frame, subject, same)]


def inference_section(path: Path, explanations: Path | None = None) -> Section:
    """The inference section of the report."""
    rows, subject, rois = read_scores(path)
    section = Section("inference", "ROI predictions for text")
    section.add(paragraph(f"{len(rows)} scored texts from {Path(path).name} (rows of subject '{subject}'); "
                          f"text length {rows['n_words'].min()}-{rows['n_words'].max()} words "
                          f"(median {rows['n_words'].median():g})."))
    empty = [r for r in rois if rows[r].isna().all()]
    if len(empty) < len(rois):
        section.add(distribution_figure(rows, rois, subject))
    if empty:
        section.add(paragraph(f"No values (the region keeps no voxel of any subject): {', '.join(empty)}.", "note"))
    correlations = length_correlations(rows, rois)
    if correlations["r_n_words"].notna().any():
        section.add(length_figure(correlations, subject))
        worst = correlations.loc[correlations["r_n_words"].abs().idxmax()]
        section.add(paragraph(
            f"Largest |r| with length: {worst['roi']} r = {worst['r_n_words']:.2f} "
            f"(95% CI {worst['ci_low']:.2f} to {worst['ci_high']:.2f}); a readout free of length effects gives ~0.",
            "note"))
    else:
        section.add(paragraph("Correlation with text length is undefined: every text has the same length "
                              "or an ROI is constant.", "note"))
    section.add(details("Per-ROI table", table(correlations)))
    section.add(*attribution_parts(explanations, rows, subject))
    return section
