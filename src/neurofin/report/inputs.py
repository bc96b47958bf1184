"""Readers of the report's input files: a damaged file, a file of another kind or one with text where numbers belong
is one InputError naming the file and what to pass instead, never a traceback from pandas, pyarrow or json."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from neurofin.errors import InputError

Record = TypeVar("Record", bound=BaseModel)


def read_table(path: Path, hint: str, required: Iterable[str] = (), numeric: Iterable[str] = (), keys: Iterable[str] = (),
               index: bool = False, label: str | None = None) -> pd.DataFrame:
    """A Parquet or CSV table (by its suffix) with the `required` columns, numbers in its `numeric` ones (those
    present) and a value in every cell of its `keys` (read as text); `index`: the first column is the index.
    `hint` says what to pass instead, e.g. "pass the --out file of `neurofin infer`"; `label` names the file in
    messages (default: its path)."""
    import pyarrow

    path = Path(path)
    name = label or str(path)
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, TypeError, OSError, pyarrow.ArrowException) as exc:  # pandas' parser errors are ValueErrors
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name} is not a readable {kind} table ({reason}): {hint}") from None
    if not frame.columns.is_unique:
        raise InputError(f"{name} repeats column names: {hint}")
    frame.columns = frame.columns.astype(str)
    if index:
        if frame.columns.empty:
            raise InputError(f"{name} has no columns: {hint}")
        frame = frame.set_index(frame.columns[0])
    missing = [c for c in dict.fromkeys([*required, *keys]) if c not in frame.columns]
    if missing:
        raise InputError(f"{name} lacks columns {missing}: {hint}")
    empty = [c for c in keys if frame[c].isna().any()]
    if empty:
        raise InputError(f"{name}: columns {empty} have empty cells: {hint}")
    frame = frame.astype({c: str for c in keys})
    require_numbers(frame, [c for c in numeric if c in frame.columns], name, hint)
    return frame


def require_numbers(frame: pd.DataFrame, columns: Iterable[str], path: Path | str, hint: str) -> None:
    """Refuse a table whose `columns` hold text or infinite values where numbers (or missing values) belong."""
    bad = [c for c in columns if not is_finite_numbers(frame[c])]
    if bad:
        raise InputError(f"{path}: columns {bad} hold text or infinite values where numbers belong: {hint}")


def is_finite_numbers(column: pd.Series) -> bool:
    """True when every value is a number (not a bool) or missing, and none is infinite."""
    if column.isna().all():
        return True
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.to_numpy(dtype=float, na_value=np.nan)
    return not np.isinf(values).any()


def read_record(path: Path, schema: type[Record], hint: str) -> Record:
    """A JSON file validated as a `schema` record (one InputError naming the file when it is damaged)."""
    path = Path(path)
    try:
        return schema.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "json_invalid":
            raise InputError(f"{path} is not valid JSON ({exc.errors()[0]['msg']}): {hint}") from None
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg']}" for e in exc.errors()[:3])
        raise InputError(f"{path} is damaged ({where}): {hint}") from None
