"""Read texts to score from JSONL, JSON, Parquet or CSV files, keeping every usable row.

A JSONL line that is not a JSON object is skipped and reported with its line number (the rest is kept);
cells that are not text (numbers, lists, objects, null) stay as they are and become error rows when scored;
a missing or null id becomes `row-<n>` (n = the row's 1-based line or position); repeated ids get a
`#2`, `#3`, ... suffix. Every such repair is logged as a warning (logger `neurofin.infer.inputs`).
`keep_columns` (e.g. timestamp, ticker) pass through to the output unchanged, except that a column holding
values of several types (numbers and strings, lists) becomes text so that every batch writes the same Parquet
type. Lone surrogates (half an emoji) in texts, ids and kept columns become U+FFFD (rows counted and named);
a UTF-8 byte-order mark at the start of a file is ignored.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.unicode import BOM_ENCODING, repair

READERS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
SHOWN = 5  # problems named in one message
_ABSENT = object()
logger = logging.getLogger(__name__)
RESERVED = ("id", "text", "subject", "n_words", "truncated", "error")  # output columns a kept column may not shadow


def read_texts(
    path: str | Path, text_column: str = "body", id_column: str | None = None, keep_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Columns `id` (unique strings), `text`, then `keep_columns` as they are.

    `id_column` names the id (it must exist when given); by default `id` if present, else the row number.
    """
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unsupported input type {path.suffix!r}; give a .jsonl, .json, .parquet or .csv file")
    if not path.is_file():
        raise InputError(f"{path} not found: give the comments file written by `neurofin market ingest` or your own")
    if kind == "jsonl":
        records, columns, numbers = _jsonl_records(path)
    else:
        frame = _read_frame(path, kind)
        columns = [str(c) for c in frame.columns]
        records = frame.to_dict("records")
        numbers = list(range(1, len(records) + 1))
    if text_column not in columns:
        raise InputError(
            f"{path} has no column {text_column!r} (columns: {', '.join(columns)}); give the text column's name (text_column)"
        )
    for column, option in [(id_column, "id_column")] + [(c, "keep_columns") for c in keep_columns]:
        if column is not None and column not in columns:
            raise InputError(f"{path} has no column {column!r} (columns: {', '.join(columns)}); fix {option}")
    clash = [c for c in keep_columns if c in RESERVED]
    if clash:
        raise InputError(f"kept columns {clash} would collide with output columns {list(RESERVED)}; rename them first")
    id_column = id_column or ("id" if "id" in columns else None)
    _repair_records(records, numbers, [text_column, *([id_column] if id_column else []), *keep_columns], path)
    texts = [_text_cell(r.get(text_column)) for r in records]
    if id_column is not None:
        ids = _ids([r.get(id_column, _ABSENT) for r in records], numbers, path)
    else:
        ids = [str(i) for i in range(len(records))]
    out = pd.DataFrame({"id": pd.Series(_unique(ids, path), dtype=object), "text": pd.Series(texts, dtype=object)})
    for column in keep_columns:
        out[column] = _one_type([r.get(column) for r in records], column, path)
    return out


def _repair_records(
    records: list[dict[str, Any]], numbers: list[int], columns: list[str], path: Path
) -> None:
    """Repair lone surrogates in the used `columns` of every record in place; name the rows changed."""
    changed = []
    for record, number in zip(records, numbers):
        hit = False
        for column in columns:
            if column in record:
                record[column], fixed = repair(record[column])
                hit |= fixed
        if hit:
            changed.append(str(number))
    if changed:
        logger.warning(f"{path}: {len(changed)} row{'s' if len(changed) > 1 else ''} held lone surrogates (half an emoji), "
             f"replaced by U+FFFD (rows {_listing(changed)})")


def _one_type(values: list[Any], column: str, path: Path) -> pd.Series:
    """A kept column as given when its present values share one type (ints and floats count as numbers), else
    as text (lists and objects as JSON), so every batch of the output has the same column type."""
    kinds = {_kind(v) for v in values if not _missing(v)}
    if len(kinds) <= 1:
        return pd.Series(values, dtype=object)
    logger.warning(f"{path}: kept column {column!r} holds {' and '.join(sorted(kinds))} values: passed through as text")
    return pd.Series([None if _missing(v) else v if isinstance(v, str) else _as_text(v) for v in values], dtype=object)


def _kind(value: Any) -> str:
    """The Parquet-relevant type of a cell: bool, number (ints and floats), list, object, else its type's name."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "list"
    return "object" if isinstance(value, dict) else type(value).__name__


def _as_text(value: Any) -> str:
    """A cell as text: lists, arrays and objects as JSON, anything else as str()."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else str(value)


def _jsonl_records(path: Path) -> tuple[list[dict[str, Any]], list[str], list[int]]:
    """The JSON objects of a JSONL file, their columns and line numbers; other lines are reported and skipped."""
    records, numbers, bad = [], [], []
    columns: dict[str, None] = {}
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode(BOM_ENCODING))
            except (UnicodeDecodeError, ValueError) as exc:
                bad.append(f"line {number} ({type(exc).__name__})")
                continue
            if not isinstance(record, dict):
                bad.append(f"line {number} (a JSON {type(record).__name__}, not an object)")
                continue
            records.append(record)
            numbers.append(number)
            columns.update(dict.fromkeys(map(str, record)))
    if bad and not records:
        raise InputError(f"{path}: no line is a JSON object ({_listing(bad)}); give one JSON object per line")
    if bad:
        logger.warning(f"{path}: skipped {len(bad)} malformed line{'s' if len(bad) > 1 else ''}: {_listing(bad)}")
    return records, list(columns), numbers


def _read_frame(path: Path, kind: str) -> pd.DataFrame:
    """A whole .json (records or columns), Parquet or CSV file as a DataFrame; unreadable files are InputErrors."""
    try:
        if kind == "json":
            data = json.loads(path.read_text(encoding=BOM_ENCODING))
            if isinstance(data, list) and not all(isinstance(item, dict) for item in data):
                raise ValueError("a JSON list must hold one object per text")
            frame = pd.DataFrame(data) if isinstance(data, (list, dict)) else None
            if frame is None:
                raise ValueError(f"a JSON {type(data).__name__} is neither a list of objects nor an object of columns")
            return frame
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=BOM_ENCODING)
    except (ValueError, TypeError, OSError, UnicodeDecodeError) as exc:
        detail = "JSON: a list of objects or an object of columns" if kind == "json" else kind
        raise InputError(f"{path} could not be read as {detail} ({exc}); check the file format") from None


def _text_cell(value: Any) -> Any:
    """Text cells pass unchanged; missing values become None (an error row when scored)."""
    return None if _missing(value) else value


def _ids(values: list[Any], numbers: list[int], path: Path) -> list[str]:
    """String ids; a missing, null or empty id becomes row-<n>."""
    ids, filled = [], []
    for value, number in zip(values, numbers):
        if value is _ABSENT or _missing(value) or (isinstance(value, str) and value == ""):
            ids.append(f"row-{number}")
            filled.append(str(number))
        elif isinstance(value, str):
            ids.append(value)
        elif isinstance(value, float) and value.is_integer():
            ids.append(str(int(value)))
        else:
            ids.append(_as_text(value))
    if filled:
        logger.warning(f"{path}: {len(filled)} row{'s' if len(filled) > 1 else ''} with no id got row-<n> ids (rows {_listing(filled)})")
    return ids


def _unique(ids: list[str], path: Path) -> list[str]:
    """Repeated ids get a #2, #3, ... suffix (never clashing with an id already present)."""
    taken = set(ids)
    seen: set[str] = set()
    out, renamed = [], []
    for value in ids:
        if value in seen:
            n = 2
            while f"{value}#{n}" in taken:
                n += 1
            renamed.append(f"{value} -> {value}#{n}")
            value = f"{value}#{n}"
            taken.add(value)
        seen.add(value)
        out.append(value)
    if renamed:
        logger.warning(f"{path}: {len(renamed)} duplicate id{'s' if len(renamed) > 1 else ''} made unique ({_listing(renamed)})")
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _listing(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f", ... ({len(items) - SHOWN} more)" if len(items) > SHOWN else "")
