"""Ingestion: stream Reddit comment dumps into a filtered, deduplicated Parquet table (the writing side).

Reading and decoding the dumps is `dumps`, the keep/drop rules `filters`, the id index `dedupe`; this module
owns the output table: kept comments are buffered `chunk_rows` at a time and written as Parquet row groups into a
temporary file that is renamed onto the output only when every input has been read.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.errors import InputError, TruncatedFileError
from neurofin.io import atomic_path
from neurofin.market.comments.dedupe import SeenIds, id_keys
from neurofin.market.comments.dumps import check_dump, open_batches
from neurofin.market.comments.filters import (
    DEFAULT_ALLOWED_AUTHORS,
    DEFAULT_BOT_AUTHORS,
    Fields,
    IngestReport,
    RecordLayout,
    RowFilter,
    utc_bounds,
)
from neurofin.progress import Progress
from neurofin.progress import report as report_progress
from neurofin.unicode import repair

COMMENT_COLUMNS: tuple[str, ...] = (
    "id", "author", "created_utc", "subreddit", "body", "link_id", "parent_id", "score", "retrieved_on",
    "retrieval_lag_s",
)  # fmt: skip
DEFAULT_CHUNK_ROWS = 10_000  # comments buffered per row group (up to one batch more); memory grows with it, not the dump
# Dictionary-encode only the columns with few distinct values: trying it on texts and ids slows the write. Snappy,
# not zstd: the write costs ~40% less CPU for files ~1.4x larger (benchmarks/results/ingest_stages.json).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "snappy", "use_dictionary": ["subreddit", "author"]}


def comment_schema(extra: tuple[str, ...] = ()) -> Any:
    """The Arrow schema of the ingested comments table (plus `extra` pass-through columns, as strings)."""
    import pyarrow as pa

    integers = {"created_utc", "score", "retrieved_on", "retrieval_lag_s"}
    columns = [(name, pa.int64() if name in integers else pa.string()) for name in COMMENT_COLUMNS]
    return pa.schema(columns + [(name, pa.string()) for name in extra])


def batch_table(columns: list[Any], schema: Any) -> tuple[Any, int]:
    """(a batch's kept columns (lists, or int64 arrays) as an Arrow table, rows whose lone surrogates were replaced
    by U+FFFD on the way). Converted batch by batch, while the values are still in the CPU cache."""
    import pyarrow as pa

    def table() -> Any:
        return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)

    try:
        return table(), 0
    except UnicodeEncodeError:  # half an emoji somewhere: repair only now, so clean batches cost nothing
        changed: set[int] = set()
        for values in columns:
            if isinstance(values, list):  # the int64 arrays hold no text
                for index, value in enumerate(values):
                    values[index], hit = repair(value)
                    if hit:
                        changed.add(index)
        return table(), len(changed)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the row loop allocates millions of acyclic tuples and strings (freed by
    reference counting) whose collection passes cost ~15% of the time (benchmarks/bench_ingest.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest_dumps(
    dumps: Iterable[str | Path],
    out: str | Path,
    subreddits: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    bot_authors: Iterable[str] = DEFAULT_BOT_AUTHORS,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress | None = None,
    allow_authors: Iterable[str] = DEFAULT_ALLOWED_AUTHORS,
    keep_edited: bool = False,
    id_column: str = "id",
    text_column: str = "body",
    time_column: str = "created_utc",
    extra_columns: Iterable[str] = (),
    keep_deleted: bool = False,
) -> IngestReport:
    """Stream Reddit dumps into a Parquet table of kept comments (UTC date range inclusive); return counts.

    Dropped and counted: malformed records, timestamps outside 2005..2100 (milliseconds are converted),
    other subreddits (only when a record has a subreddit field), out of range, deleted, edited (the text
    may postdate created_utc; `keep_edited` keeps them), bots (explicit list plus the name rule, minus the
    allow-list), empty, duplicates. `keep_deleted` keeps deleted/removed comments (their body is the dump's
    mark, e.g. "[removed]"; counted as `kept_deleted`): deletion happens after the comment was read, so dropping
    them selects on the future (docs/backtest.md). `retrieval_lag_s` = retrieved_on - created_utc when the dump
    has it. Lone surrogates (half an emoji) in any kept field become U+FFFD; `repaired_text` counts those rows.
    `extra_columns` are passed through as string columns (missing fields are null).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [Path(p) for p in dumps]
    if not paths:
        raise InputError("no dump files given: pass one or more RC_*.zst / .jsonl / .csv paths")
    for path in paths:
        check_dump(path)
    wanted = {s.strip().lower().removeprefix("r/") for s in subreddits or () if s.strip()}
    lo, hi = utc_bounds(start, end)
    extra = tuple(name for name in dict.fromkeys(extra_columns) if name not in COMMENT_COLUMNS)
    layout = RecordLayout(Fields(id_column, text_column, time_column), extra)
    report = IngestReport(files=[str(p) for p in paths])
    keep = RowFilter(report, layout, wanted or None, lo, hi, frozenset(a.lower() for a in bot_authors),
                     frozenset(a.lower() for a in allow_authors), keep_edited, keep_deleted)
    seen = SeenIds()
    schema = comment_schema(extra)
    began = time.perf_counter()
    tasks = report_progress(progress)

    with _gc_paused(), atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:

        def flush(tables: list[Any], ids: list[np.ndarray]) -> None:
            """Drop the ids seen before (or twice) from the buffered batches; write the rest as one row group."""
            if not tables:
                return
            mask = seen.keep_new(np.concatenate(ids))
            kept = int(mask.sum())
            report.duplicate += int(mask.size - kept)
            report.kept += kept
            if kept:  # one chunk per column: filtering, and writing, a table of many small chunks costs more
                table = pa.concat_tables(tables).combine_chunks()
                writer.write_table(table if kept == mask.size else table.filter(pa.array(mask)))

        for path in paths:
            advance = tasks.task(f"ingesting {path.name} (bytes)", total=path.stat().st_size)
            raw, batches = open_batches(path, layout)
            done = 0
            lines_before, malformed_before = report.lines, report.malformed
            tables: list[Any] = []
            ids: list[np.ndarray] = []
            rows = 0
            try:
                for batch in batches:
                    report.lines += len(batch)
                    columns = keep.columns(batch)
                    table, repaired = batch_table(columns, schema)
                    report.repaired_text += repaired
                    tables.append(table)
                    ids.append(id_keys(columns[0]))
                    rows += table.num_rows
                    if rows >= chunk_rows:
                        flush(tables, ids)
                        tables, ids, rows = [], [], 0
                        advance(raw.tell() - done)
                        done = raw.tell()
            except TruncatedFileError:
                report.truncated_files.append(str(path))  # keep what was decoded before the damage
            finally:
                batches.close()
                report.bytes_read += raw.tell()
                raw.close()
            n_lines = report.lines - lines_before
            if n_lines and report.malformed - malformed_before == n_lines:
                raise InputError(
                    f"{path}: all {n_lines} lines are malformed (not Reddit comments with an id and a created_utc): "
                    "is it the right file? Nothing was written"
                )
            flush(tables, ids)
            advance(path.stat().st_size - done)
        if report.kept == 0:
            writer.write_table(schema.empty_table())
    report.seconds = time.perf_counter() - began
    return report
