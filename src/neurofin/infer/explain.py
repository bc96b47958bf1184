"""Exact per-word contributions to each region value, as a table and as HTML with words shaded per region.

The readout is linear in the word features (readout.py), so word i's contribution to region r,
w_i * ((x_i - mu) / std) @ G_r, sums over the text's words exactly to the value `predict_rois` reports;
the ensemble's contributions are the mean over the subjects covering each region, so they sum to the
ensemble value. A positive contribution: this word moves the region above what the training mean word would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from markupsafe import Markup

from neurofin.schema import ENSEMBLE
from neurofin.templates import macros

TEMPLATE = macros("explain.html.j2")

POSITIVE, NEGATIVE = "202,0,32", "5,113,176"  # RdBu ends: red raises the region, blue lowers it
MAX_ALPHA = 0.85  # full shading stays readable under black text


def shade(value: float, scale: float) -> str:
    """CSS background of a contribution: red for positive, blue for negative, opacity |value| / scale."""
    if not np.isfinite(value) or scale <= 0:
        return "transparent"
    alpha = MAX_ALPHA * min(abs(value) / scale, 1.0)
    return f"rgba({POSITIVE if value > 0 else NEGATIVE},{alpha:.2f})"


def word_span(word: str, value: float, scale: float) -> Markup:
    """One word, escaped, shaded by its contribution (shown on hover and kept in data-c)."""
    label = f"{value:+.3g}" if np.isfinite(value) else "undefined"
    return TEMPLATE.word_span(word, label, shade(value, scale))


def explain_html(frame: pd.DataFrame, regions: list[str], subject: str = ENSEMBLE) -> str:
    """An HTML snippet: one line per region with the text's words shaded by their contribution (red +, blue -)."""
    rows = frame[frame["subject"] == subject].sort_values("position")
    lines = []
    for region in regions:
        values = rows[region].to_numpy(float)
        scale = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
        spans = [word_span(str(word), value, scale) for word, value in zip(rows["word"], values)]
        total = np.nansum(values) if np.isfinite(values).any() else float("nan")
        lines.append({"region": region, "total": f"{total:+.4g}", "spans": spans})
    return str(TEMPLATE.regions(lines))
