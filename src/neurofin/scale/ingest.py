"""Ingest many monthly dumps concurrently: one worker (process or Ray task) per dump, then one merge.

Each dump is ingested on its own into a part file with the sequential ingester's filters; the merge reads the
parts in the order the dumps were given and drops ids already kept from an earlier dump, so the output table
and the counts are exactly those of `ingest_dumps(dumps, out)` run sequentially.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from neurofin.errors import InputError
from neurofin.io import atomic_path
from neurofin.market.comments.dedupe import SeenIds, id_keys
from neurofin.market.comments.filters import IngestReport
from neurofin.market.comments.ingest import PARQUET_OPTIONS, comment_schema, ingest_dumps
from neurofin.scale.cluster import run_tasks


def _ingest_one(dump: str, part: str, options: dict[str, Any]) -> IngestReport:
    return ingest_dumps([dump], part, **options)


def merge_parts(parts: list[Path], reports: list[IngestReport], out: Path, extra_columns: Iterable[str] = ()) -> IngestReport:
    """Concatenate part tables in order, dropping ids kept by an earlier part; the summed report."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    total = IngestReport()
    for report in reports:
        for f in fields(IngestReport):
            value = getattr(report, f.name)
            setattr(total, f.name, getattr(total, f.name) + value)
    seen = SeenIds()
    schema = comment_schema(tuple(extra_columns))
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches():
                keys = id_keys(batch.column("id").to_pylist())
                mask = seen.keep_new(keys)
                total.duplicate += int(mask.size - mask.sum())
                total.kept -= int(mask.size - mask.sum())
                if mask.any():
                    writer.write_table(pa.Table.from_batches([batch]).filter(pa.array(mask)))
        if total.kept == 0:
            writer.write_table(schema.empty_table())
    return total


def ingest_parallel(
    dumps: Iterable[str | Path],
    out: str | Path,
    workers: int | None = None,
    ray_address: str | None = None,
    **options: Any,
) -> IngestReport:
    """`ingest_dumps(dumps, out, **options)` with the dumps read concurrently (local processes, or Ray tasks).

    With a Ray cluster of several nodes, dumps and `out` must be on storage every node sees.
    """
    given = [Path(p) for p in dumps]
    paths = [p.resolve() for p in given]  # workers may run elsewhere: absolute paths
    if not paths:
        raise InputError("no dump files given: pass one or more RC_*.zst / .jsonl / .csv paths")
    out = Path(out)
    began = time.perf_counter()
    staging = out.with_name(out.name + ".parts")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        parts = [staging / f"part-{i:05d}.parquet" for i in range(len(paths))]
        options.pop("progress", None)  # workers report nothing; the merge is quick
        calls = [(str(d), str(p), options) for d, p in zip(paths, parts)]
        reports = run_tasks(_ingest_one, calls, ray_address, workers)
        total = merge_parts(parts, reports, out, options.get("extra_columns", ()))
        as_given = {str(p): str(g) for p, g in zip(paths, given)}
        total.files = [str(g) for g in given]
        total.truncated_files = [as_given[f] for f in total.truncated_files]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    total.seconds = time.perf_counter() - began
    return total
