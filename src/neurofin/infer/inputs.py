"""Read texts to score from JSONL, Parquet or CSV files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from neurofin.errors import InputError

READERS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv"}


RESERVED = ("id", "text", "subject", "n_words", "truncated", "error")


def read_texts(
    path: str | Path, text_column: str = "body", id_column: str | None = None, keep_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Columns `id`, `text`, then `keep_columns` as they are (passed through to the output, e.g. timestamp, ticker).

    `id_column` names the id (required to exist when given); by default `id` if present, else the row number.
    """
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
    for column, option in [(id_column, "id_column")] + [(c, "keep_columns") for c in keep_columns]:
        if column is not None and column not in frame.columns:
            raise InputError(f"{path} has no column {column!r} (columns: {', '.join(map(str, frame.columns))}); fix {option}")
    clash = [c for c in keep_columns if c in RESERVED]
    if clash:
        raise InputError(f"kept columns {clash} would collide with output columns {list(RESERVED)}; rename them first")
    id_column = id_column or ("id" if "id" in frame.columns else None)
    ids = frame[id_column].astype(str) if id_column else pd.Series(range(len(frame))).astype(str)
    out = pd.DataFrame({"id": ids.to_numpy(), "text": frame[text_column].to_numpy()})
    for column in keep_columns:
        out[column] = frame[column].to_numpy()
    return out
