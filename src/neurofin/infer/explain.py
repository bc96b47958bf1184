"""Exact per-word contributions to each region value, as a table and as HTML with words shaded per region.

The readout is linear in the word features (readout.py), so word i's contribution to region r,
w_i * ((x_i - mu) / std) @ G_r, sums over the text's words exactly to the value `predict_rois` reports;
the ensemble's contributions are the mean over the subjects covering each region, so they sum to the
ensemble value. A positive contribution: this word moves the region above what the training mean word would.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from neurofin.schema import ENSEMBLE


def explain_html(frame: pd.DataFrame, regions: list[str], subject: str = ENSEMBLE) -> str:
    """An HTML snippet: one line per region with the text's words shaded by their contribution (red +, blue -)."""
    rows = frame[frame["subject"] == subject].sort_values("position")
    lines = ['<div class="neurofin-explain">']
    for region in regions:
        values = rows[region].to_numpy(float)
        scale = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
        spans = []
        for word, value in zip(rows["word"], values):
            alpha = 0.0 if not np.isfinite(value) or scale == 0 else abs(value) / scale
            colour = "220,50,47" if value > 0 else "38,139,210"
            spans.append(f'<span style="background: rgba({colour},{alpha:.2f})" title="{value:+.4g}">{html.escape(word)}</span>')
        total = np.nansum(values) if np.isfinite(values).any() else float("nan")
        lines.append(f'<p><b>{html.escape(region)}</b> ({total:+.4g}): {" ".join(spans)}</p>')
    lines.append("</div>")
    return "\n".join(lines)
