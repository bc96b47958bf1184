"""The explanations file: one row per (example, subject, word) with each region's contribution of the word.

Columns: `id`, `text`, `roi` (the ROI to shade), `chosen_by` (the rule that picked the example), `subject`,
`position`, `word` and one column per region (`Predictor.explain`; the contributions of a text sum to its region
value). `neurofin explain --table` and `neurofin demo` write it; the report reads it (neurofin.report.explanations).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from neurofin.io import write_table_atomic

EXAMPLE_COLUMNS = ("id", "text", "roi", "chosen_by")
WORD_COLUMNS = ("subject", "position", "word")


def explanation_table(examples: pd.DataFrame, explain: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    """The explanations file's rows: each example (id, text, roi, chosen_by) with `explain(text)`'s word rows."""
    frames = [explain(row.text).assign(**{c: getattr(row, c) for c in EXAMPLE_COLUMNS})
              for row in examples.itertuples(index=False)]
    table = pd.concat(frames, ignore_index=True)
    regions = [c for c in table.columns if c not in (*EXAMPLE_COLUMNS, *WORD_COLUMNS)]
    return table[[*EXAMPLE_COLUMNS, *WORD_COLUMNS, *regions]]


def write_explanations(path: str | Path, examples: pd.DataFrame, explain: Callable[[str], pd.DataFrame]) -> Path:
    """Explain every example and write the explanations file (Parquet or CSV by suffix, atomically)."""
    path = Path(path)
    write_table_atomic(path, explanation_table(examples, explain))
    return path
