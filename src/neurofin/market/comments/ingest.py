"""Stream Reddit comment dumps (Pushshift / Arctic Shift) into a filtered, deduplicated Parquet table.

Inputs are read line by line, never whole: `RC_*.zst` (zstd NDJSON, window up to 2 GiB), `.jsonl` /
`.ndjson` / `.json` (NDJSON) and `.csv` with the dump's field names as header. Kept comments are
buffered `chunk_rows` at a time and written as Parquet row groups into a temporary file that is
renamed onto the output only when every input has been read.

Deduplication by id keeps a compact index of every kept id: Reddit ids are base-36 integers, stored
as int64 in sorted numpy runs (8 bytes per kept comment, e.g. 80 MB for 10 million kept comments,
merged like a log-structured tree so lookups stay logarithmic). Non-base-36 ids are hashed to 64 bits.
For runs beyond ~1e8 kept comments, ingest month by month (Reddit ids never repeat across months).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from neurofin.errors import InputError, TruncatedFileError
from neurofin.io import atomic_path
from neurofin.progress import Progress
from neurofin.progress import report as report_progress
from neurofin.unicode import BOM_ENCODING, repair

DEFAULT_BOT_AUTHORS: frozenset[str] = frozenset(
    {"automoderator", "visualmod", "wsbvotebot", "remindmebot", "sneakpeekbot", "tickerbot"}
)
# Rule for bots not on the list: a "bot" suffix after a separator or a CamelCase hump ("ticker_bot",
# "SomeTickerBot"); a lower-case ending ("Talbot", "Abbot") is a human name. The allow-list wins over both.
BOT_CAMEL = re.compile(r"(?<=[a-z0-9])Bot$")
DEFAULT_ALLOWED_AUTHORS: frozenset[str] = frozenset({"talbot", "abbot", "cabot", "hubot", "ribot"})
EDIT_MARK = re.compile(r"\bedit(?:ed)?\s*\d*\s*:", re.IGNORECASE)  # "EDIT:", "Edit 2:" in the text
MS_THRESHOLD = 100_000_000_000  # created_utc above this (year 5138 in seconds) is in milliseconds
EPOCH_RANGE = (1_117_584_000, 4_102_444_800)  # 2005-06-01 (Reddit's launch) .. 2100-01-01, in seconds
DELETED_BODIES: frozenset[str] = frozenset({"[deleted]", "[removed]", "[ removed by reddit ]", "[unavailable]"})
COMMENT_COLUMNS: tuple[str, ...] = (
    "id", "author", "created_utc", "subreddit", "body", "link_id", "parent_id", "score", "retrieved_on",
    "retrieval_lag_s",
)  # fmt: skip
DROP_REASONS: tuple[str, ...] = (
    "malformed", "bad_timestamp", "wrong_subreddit", "out_of_range", "deleted", "edited", "bot", "empty", "duplicate",
)  # fmt: skip
DUMP_SUFFIXES = {".zst", ".jsonl", ".ndjson", ".json", ".csv"}
DEFAULT_CHUNK_ROWS = 10_000  # comments buffered per row group; peak memory grows with it, not with the dump size
_MALFORMED = object()  # sentinel: a line that is not a JSON object / CSV row
_INT64 = 2**63 - 1  # created_utc and score must fit the int64 Parquet columns
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def comment_schema(extra: tuple[str, ...] = ()) -> Any:
    """The Arrow schema of the ingested comments table (plus `extra` pass-through columns, as strings)."""
    import pyarrow as pa

    integers = {"created_utc", "score", "retrieved_on", "retrieval_lag_s"}
    columns = [(name, pa.int64() if name in integers else pa.string()) for name in COMMENT_COLUMNS]
    return pa.schema(columns + [(name, pa.string()) for name in extra])


@dataclass
class IngestReport:
    """What an ingestion run read, kept and dropped (and why)."""

    files: list[str] = field(default_factory=list)
    bytes_read: int = 0
    lines: int = 0
    kept: int = 0
    malformed: int = 0
    wrong_subreddit: int = 0
    out_of_range: int = 0
    deleted: int = 0
    edited: int = 0
    bot: int = 0
    millisecond_timestamps: int = 0
    bad_timestamp: int = 0
    empty: int = 0
    duplicate: int = 0
    repaired_text: int = 0  # rows whose fields held lone surrogates (half an emoji), replaced by U+FFFD
    truncated_files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record of this report."""
        return asdict(self)


def parse_created_utc(value: Any) -> int | None:
    """Cast a dump's created_utc (int, float, numeric string or ISO-8601 string) to int UTC seconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return _epoch(int(text))
    except ValueError:
        pass
    try:
        return _epoch(float(text))
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp())


def _epoch(number: float) -> int | None:
    """Whole seconds (or milliseconds, converted later), or None for NaN, infinities and values no int64 holds
    with room to spare (|n| >= 2**62); the plausibility of the time itself is judged afterwards (2005..2100)."""
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return int(number) if -(2**62) < number < 2**62 else None


def id_key(comment_id: str) -> int:
    """A 64-bit integer key of a Reddit id: its base-36 value, or a 64-bit hash for other strings."""
    bare = comment_id.removeprefix("t1_")
    if 0 < len(bare) <= 12 and bare.isascii() and bare.isalnum():
        return int(bare, 36)
    digest = hashlib.blake2b(comment_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class SeenIds:
    """Set of already-kept id keys as sorted int64 runs (8 bytes per id), merged when runs grow similar."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(run.size for run in self._runs)

    def nbytes(self) -> int:
        """Memory held by the index."""
        return sum(run.nbytes for run in self._runs)

    def keep_new(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask of first occurrences not seen before; records the kept keys."""
        keep = np.zeros(keys.size, dtype=bool)
        if keys.size == 0:
            return keep
        _, first = np.unique(keys, return_index=True)
        keep[first] = True
        for run in self._runs:
            pos = np.minimum(np.searchsorted(run, keys), run.size - 1)
            keep &= run[pos] != keys
        if keep.any():
            self._runs.append(np.sort(keys[keep]))
        while len(self._runs) >= 2 and self._runs[-2].size <= 2 * self._runs[-1].size:
            newer = self._runs.pop()
            self._runs[-1] = np.union1d(self._runs[-1], newer)
        return keep


def _zst_lines(raw: BinaryIO, path: Path, read_bytes: int = 1 << 18) -> Iterator[bytes]:
    """Decompressed lines of a zstd NDJSON dump (one or more frames), holding one block at a time.

    A corrupt frame, or a last frame cut short, raises TruncatedFileError after the complete lines.
    """
    import zstandard

    dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
    frame, in_frame, pending = dctx.decompressobj(), False, b""
    try:
        while block := raw.read(read_bytes):
            while block:
                in_frame = True
                lines = (pending + frame.decompress(block)).split(b"\n")
                pending = lines.pop()
                yield from lines
                block = b""
                if frame.eof:  # next frame (if any) starts in the unused tail
                    block, frame, in_frame = frame.unused_data, dctx.decompressobj(), False
    except zstandard.ZstdError as exc:
        yield pending
        raise TruncatedFileError(f"{path} is corrupt ({exc}): re-download it") from None
    if pending:
        yield pending
    if in_frame:
        raise TruncatedFileError(f"{path} ends inside a zstd frame (truncated download?): re-download it")


def _json_records(lines: Iterable[bytes]) -> Generator[Any, None, None]:
    """Parse NDJSON lines; yield _MALFORMED for lines that are not JSON objects, skip blank lines."""
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            yield _MALFORMED
            continue
        yield record if isinstance(record, dict) else _MALFORMED


def _csv_records(raw: BinaryIO) -> Generator[Any, None, None]:
    """Parse a CSV dump with a header row; yield _MALFORMED for rows the csv module rejects."""
    csv.field_size_limit(1 << 27)
    text = io.TextIOWrapper(raw, encoding=BOM_ENCODING, errors="replace", newline="")
    reader = csv.DictReader(text)
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield _MALFORMED
                continue
            yield _MALFORMED if None in row else row  # None key: more fields than the header
    finally:
        text.detach()  # the caller still reads raw.tell() and closes raw


def _records(path: Path) -> tuple[BinaryIO, Generator[Any, None, None]]:
    """Open one dump and return (raw file for byte progress, iterator over its records)."""
    suffix = path.suffix.lower()
    if suffix not in DUMP_SUFFIXES:
        raise InputError(f"cannot read dump {path}: use RC_*.zst, .jsonl/.ndjson/.json or .csv files")
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if suffix == ".csv":
        return raw, _csv_records(raw)
    return raw, _json_records(_zst_lines(raw, path) if suffix == ".zst" else raw)


def _as_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _as_score(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) and abs(number) < 2**63 else None


class _Chunk:
    """Column buffers of kept comments waiting to be written as one row group."""

    def __init__(self, names: tuple[str, ...] = COMMENT_COLUMNS) -> None:
        self.names = names
        self.columns: dict[str, list[Any]] = {name: [] for name in names}

    def __len__(self) -> int:
        return len(self.columns[self.names[0]])

    def append(self, row: tuple[Any, ...]) -> None:
        for name, value in zip(self.names, row, strict=True):
            self.columns[name].append(value)

    def table(self, schema: Any) -> tuple[Any, int]:
        """(the chunk as an Arrow table, rows whose lone surrogates were replaced by U+FFFD on the way)."""
        import pyarrow as pa

        try:
            return pa.table(self.columns, schema=schema), 0
        except UnicodeEncodeError:  # half an emoji somewhere: repair only now, so clean chunks cost nothing
            changed: set[int] = set()
            for values in self.columns.values():
                for index, value in enumerate(values):
                    values[index], hit = repair(value)
                    if hit:
                        changed.add(index)
            return pa.table(self.columns, schema=schema), len(changed)


def is_bot(author: str, bots: frozenset[str], allowed: frozenset[str]) -> bool:
    """Explicit bot list (lower case) or the bot-name rule, unless the author is on the allow-list."""
    lowered = author.lower()
    if lowered in allowed:
        return False
    return lowered in bots or bool(BOT_CAMEL.search(author)) or lowered.endswith(("_bot", "-bot"))


def epoch_seconds(created: int, report: IngestReport) -> int | None:
    """created_utc in seconds: milliseconds converted (counted); outside 2005..2100 rejected (counted)."""
    milliseconds = created > MS_THRESHOLD
    seconds = created // 1000 if milliseconds else created
    if not EPOCH_RANGE[0] <= seconds <= EPOCH_RANGE[1]:
        report.bad_timestamp += 1
        return None
    report.millisecond_timestamps += milliseconds
    return seconds


@dataclass(frozen=True)
class Fields:
    """Which record fields hold the comment id, text and time (user files may name them differently)."""

    id: str = "id"
    text: str = "body"
    time: str = "created_utc"


class _Filter:
    """Decides for one record: keep it (returns the row) or count why it was dropped."""

    def __init__(
        self, report: IngestReport, subreddits: set[str] | None, lo: int | None, hi: int | None, bots: frozenset[str],
        allowed: frozenset[str] = DEFAULT_ALLOWED_AUTHORS, keep_edited: bool = False, fields: Fields = Fields(),
        extra: tuple[str, ...] = (),
    ) -> None:
        self.report, self.subreddits, self.lo, self.hi, self.bots = report, subreddits, lo, hi, bots
        self.allowed, self.keep_edited, self.fields, self.extra = allowed, keep_edited, fields, extra

    def row(self, record: Any) -> tuple[Any, ...] | None:
        """The output row of a record, or None (with the reason counted) if it is dropped."""
        report = self.report
        if record is _MALFORMED:
            report.malformed += 1
            return None
        comment_id = record.get(self.fields.id)
        comment_id = str(comment_id) if isinstance(comment_id, (str, int)) and not isinstance(comment_id, bool) else None
        created = parse_created_utc(record.get(self.fields.time))
        if not comment_id or created is None:
            report.malformed += 1
            return None
        created = epoch_seconds(created, report)
        if created is None:
            return None
        subreddit = str(record.get("subreddit") or "")
        if self.subreddits is not None and "subreddit" in record and subreddit.lower() not in self.subreddits:
            report.wrong_subreddit += 1
            return None
        if (self.lo is not None and created < self.lo) or (self.hi is not None and created >= self.hi):
            report.out_of_range += 1
            return None
        body = record.get(self.fields.text)
        body = body.strip() if isinstance(body, str) else ""
        if body.lower() in DELETED_BODIES:
            report.deleted += 1
            return None
        edited = record.get("edited")
        if not self.keep_edited and ((edited not in (None, False, 0, "", "false", "False")) or EDIT_MARK.search(body)):
            report.edited += 1
            return None
        author = str(record.get("author") or "[deleted]")
        if is_bot(author, self.bots, self.allowed):
            report.bot += 1
            return None
        if not body:
            report.empty += 1
            return None
        link_id, parent_id = _as_str(record.get("link_id")), _as_str(record.get("parent_id"))
        retrieved = parse_created_utc(record.get("retrieved_on", record.get("retrieved_utc")))
        lag = retrieved - created if retrieved is not None else None
        return (comment_id, author, created, subreddit, body, link_id, parent_id, _as_score(record.get("score")),
                retrieved, lag, *(_as_str(record.get(name)) for name in self.extra))


def utc_bounds(start: date | None, end: date | None) -> tuple[int | None, int | None]:
    """[start 00:00 UTC, (end + 1 day) 00:00 UTC) as epoch seconds; None leaves a side open."""

    def epoch(day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())

    lo = epoch(start) if start is not None else None
    hi = epoch(end + timedelta(days=1)) if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        raise InputError(f"start {start} is after end {end}: give an increasing date range")
    return lo, hi


def _check_dump(path: Path) -> None:
    """Refuse, before any work, a dump that is missing, a folder, of an unknown type or a .zst that is not zstd."""
    if path.is_dir():
        raise InputError(f"{path} is a folder: pass the dump files inside it (e.g. {path}/RC_*.zst)")
    if not path.is_file():
        raise InputError(f"dump file {path} not found: check the path")
    if path.suffix.lower() not in DUMP_SUFFIXES:
        raise InputError(f"cannot read dump {path}: use RC_*.zst, .jsonl/.ndjson/.json or .csv files")
    if path.suffix.lower() == ".zst":
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head != ZSTD_MAGIC:
            raise InputError(
                f"{path} is not a zstd file (it starts with {head!r}, not the zstd magic bytes): give the RC_*.zst "
                "dump itself, or rename an uncompressed file to .jsonl"
            )


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
) -> IngestReport:
    """Stream Reddit dumps into a Parquet table of kept comments (UTC date range inclusive); return counts.

    Dropped and counted: malformed records, timestamps outside 2005..2100 (milliseconds are converted),
    other subreddits (only when a record has a subreddit field), out of range, deleted, edited (the text
    may postdate created_utc; `keep_edited` keeps them), bots (explicit list plus the name rule, minus the
    allow-list), empty, duplicates. `retrieval_lag_s` = retrieved_on - created_utc when the dump has it.
    Lone surrogates (half an emoji) in any kept field become U+FFFD; `repaired_text` counts those rows.
    `extra_columns` are passed through as string columns (missing fields are null).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [Path(p) for p in dumps]
    if not paths:
        raise InputError("no dump files given: pass one or more RC_*.zst / .jsonl / .csv paths")
    for path in paths:
        _check_dump(path)
    wanted = {s.strip().lower().removeprefix("r/") for s in subreddits or () if s.strip()}
    lo, hi = utc_bounds(start, end)
    extra = tuple(name for name in dict.fromkeys(extra_columns) if name not in COMMENT_COLUMNS)
    names = (*COMMENT_COLUMNS, *extra)
    report = IngestReport(files=[str(p) for p in paths])
    keep = _Filter(report, wanted or None, lo, hi, frozenset(a.lower() for a in bot_authors),
                   frozenset(a.lower() for a in allow_authors), keep_edited, Fields(id_column, text_column, time_column),
                   extra)
    seen = SeenIds()
    schema = comment_schema(extra)
    began = time.perf_counter()
    tasks = report_progress(progress)

    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:

        def flush(chunk: _Chunk) -> None:
            table, repaired = chunk.table(schema)
            report.repaired_text += repaired
            mask = seen.keep_new(np.fromiter(map(id_key, chunk.columns["id"]), dtype=np.int64, count=len(chunk)))
            report.duplicate += int(mask.size - mask.sum())
            report.kept += int(mask.sum())
            if mask.any():
                writer.write_table(table.filter(pa.array(mask)))

        for path in paths:
            advance = tasks.task(f"ingesting {path.name} (bytes)", total=path.stat().st_size)
            raw, records = _records(path)
            done = 0
            lines_before, malformed_before = report.lines, report.malformed
            chunk = _Chunk(names)
            try:
                for record in records:
                    report.lines += 1
                    row = keep.row(record)
                    if row is None:
                        continue
                    chunk.append(row)
                    if len(chunk) >= chunk_rows:
                        flush(chunk)
                        chunk = _Chunk(names)
                        advance(raw.tell() - done)
                        done = raw.tell()
            except TruncatedFileError:
                report.truncated_files.append(str(path))  # keep what was decoded before the damage
            finally:
                records.close()
                report.bytes_read += raw.tell()
                raw.close()
            n_lines = report.lines - lines_before
            if n_lines and report.malformed - malformed_before == n_lines:
                raise InputError(
                    f"{path}: all {n_lines} lines are malformed (not Reddit comments with an id and a created_utc): "
                    "is it the right file? Nothing was written"
                )
            flush(chunk)
            advance(path.stat().st_size - done)
        if report.kept == 0:
            writer.write_table(schema.empty_table())
    report.seconds = time.perf_counter() - began
    return report
