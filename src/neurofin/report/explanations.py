"""Word attributions in the report: how examples are chosen, the explanations file read back (its format and
writer: neurofin.infer.explanations_file) and its HTML, each word's background shaded by its contribution to one ROI.

The file is a table (Parquet or CSV) with one row per (example, subject, word): `id`, `text`, `roi` (the ROI to
shade), `chosen_by` (the rule that picked the example, shown in the report), `subject`, `position`, `word` and
one column per region holding the word's contribution (`Predictor.explain`; the contributions of a text sum to
its region value). `neurofin demo` writes one beside its scores; `neurofin explain --table` writes one for a
text. The report reads the file: it never loads the language model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.infer.explain import TEMPLATE, shade, word_span
from neurofin.infer.explanations_file import EXAMPLE_COLUMNS, WORD_COLUMNS
from neurofin.report.html import paragraph
from neurofin.report.inputs import read_table, require_numbers

MAX_EXAMPLES = 12  # the report shows at most this many examples (the file may hold more)
LEGEND_STEPS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def choose_examples(scores: pd.DataFrame, roi: str, per_side: int = 2, source: str = "the scores") -> pd.DataFrame:
    """The `per_side` distinct texts with the highest and the lowest `roi` value (`scores`: id, text, roi columns),
    with the rule stated in `chosen_by`. Uses the scores only, so it runs before any language model is loaded."""
    if roi not in scores.columns:
        raise InputError(f"no ROI {roi!r} in {source}: choose one of its region columns")
    ranked = scores.dropna(subset=[roi]).drop_duplicates("text").sort_values(roi, ascending=False, kind="stable")
    if ranked.empty:
        raise InputError(f"{source} has no text with a {roi} value to explain")
    high = ranked.head(per_side).assign(chosen_by=f"highest {roi} in {source}")
    low = ranked.iloc[per_side:].tail(per_side).iloc[::-1].assign(chosen_by=f"lowest {roi} in {source}")
    return pd.concat([high, low], ignore_index=True)[["id", "text", "chosen_by"]].assign(roi=roi)


def read_explanations(path: Path) -> pd.DataFrame:
    """The explanations file, checked: the needed columns and a region column for every example's ROI."""
    path = Path(path)
    hint = "pass the explanations file of `neurofin demo` or `neurofin explain --table`"
    if not path.is_file():
        raise InputError(f"{path} does not exist: {hint}")
    frame = read_table(path, hint, required=(*EXAMPLE_COLUMNS, *WORD_COLUMNS), keys=("id", "roi", "chosen_by", "subject"))
    named = sorted(set(frame["roi"].astype(str)))
    absent = [roi for roi in named if roi not in frame.columns or roi in (*EXAMPLE_COLUMNS, *WORD_COLUMNS)]
    if absent:
        raise InputError(f"{path} names ROIs without a contribution column: {absent}")
    require_numbers(frame, ["position", *named], path, hint)
    return frame


def legend(roi: str, scale: float) -> str:
    """The colour scale: swatches from -scale to +scale, and what the shading means."""
    return TEMPLATE.legend(roi, [(f"{k * scale:+.2g}", shade(k * scale, scale)) for k in LEGEND_STEPS])


def example_html(rows: pd.DataFrame, roi: str, scale: float, score: float | None) -> str:
    """One example: its words shaded, its ROI value (= the sum of the contributions) and the rule that chose it."""
    first = rows.iloc[0]
    values = rows[roi].to_numpy(float)
    total = f"{np.sum(values):+.4g}" if np.isfinite(values).all() else "undefined"
    checked = f"; scores file {score:+.4g}" if score is not None and np.isfinite(score) else ""
    spans = [word_span(str(w), v, scale) for w, v in zip(rows["word"], values, strict=True)]
    return TEMPLATE.example(first["chosen_by"], first["id"], roi, total, len(rows), checked, spans)


def explanations_html(frame: pd.DataFrame, subject: str, scores: pd.DataFrame | None) -> str:
    """Every example (at most MAX_EXAMPLES) of `subject`, grouped by ROI, one colour scale per ROI.

    `scores` (id and region columns of the same subject), when given, adds each text's value from the scores file."""
    rows = frame[frame["subject"].astype(str) == subject]
    order = list(dict.fromkeys(rows["id"]))
    shown = rows[rows["id"].isin(order[:MAX_EXAMPLES])]
    lookup = scores.drop_duplicates("id").set_index("id") if scores is not None else None
    parts = []
    for roi, group in shown.groupby("roi", sort=False):
        values = group[str(roi)].to_numpy(float)
        scale = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
        parts.append(legend(str(roi), scale))
        for key, example in group.groupby("id", sort=False):
            score = lookup.at[key, roi] if lookup is not None and key in lookup.index and roi in lookup.columns else None
            parts.append(example_html(example.sort_values("position"), str(roi), scale, score))
    if len(order) > MAX_EXAMPLES:
        parts.append(paragraph(f"{len(order) - MAX_EXAMPLES} more examples in the file are not shown.", "note"))
    return "".join(parts)
