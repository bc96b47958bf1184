"""Read texts to score from JSONL, Parquet or CSV files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from neurofin.errors import InputError

READERS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv"}


def read_texts(path: str | Path, text_column: str = "body", id_column: str = "id") -> pd.DataFrame:
    """A DataFrame with columns `id` and `text`; ids default to the row number when the file has none."""
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unsupported input type {path.suffix!r}; give a .jsonl, .parquet or .csv file")
    if not path.is_file():
        raise InputError(f"{path} not found: give the comments file written by `neurofin market ingest` or your own")
    try:
        if kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except ValueError as exc:
        raise InputError(f"{path} could not be read as {kind} ({exc}); check the file format") from None
    if text_column not in frame.columns:
        raise InputError(
            f"{path} has no column {text_column!r} (columns: {', '.join(map(str, frame.columns))}); give the text column's name (text_column)"
        )
    ids = frame[id_column].astype(str) if id_column in frame.columns else pd.Series(range(len(frame))).astype(str)
    return pd.DataFrame({"id": ids.to_numpy(), "text": frame[text_column].to_numpy()})
