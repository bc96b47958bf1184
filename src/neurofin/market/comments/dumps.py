"""Reading dumps: check and open a dump file, decompress zstd, decode each line into the filter's field values.

Inputs are read line by line, never whole: `RC_*.zst` (zstd NDJSON, window up to 2 GiB), `.jsonl` / `.ndjson` /
`.json` (NDJSON) and `.csv` with the dump's field names as header.

NDJSON lines are decoded by msgspec into a struct of only the fields the filter reads (the rest of the line is
validated and skipped, not built into Python objects), a batch at a time in one C-level pass. A line msgspec refuses (malformed JSON, a byte-order mark,
a lone surrogate, NaN, numbers beyond 64 bits, a value that is not an object) is decoded again by the standard
library's `json.loads`, the reference reader, so every line yields what `json.loads` makes of it.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from neurofin.errors import InputError, TruncatedFileError
from neurofin.market.comments.filters import RecordLayout
from neurofin.unicode import BOM_ENCODING

DUMP_SUFFIXES = {".zst", ".jsonl", ".ndjson", ".json", ".csv"}
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MALFORMED = None  # what a reader yields for a line that is not a JSON object / CSV row


def check_dump(path: Path) -> None:
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


def zst_blocks(raw: BinaryIO, path: Path, read_bytes: int = 1 << 16) -> Iterator[list[bytes]]:
    """Decompressed lines of a zstd NDJSON dump (one or more frames, lines with their b"\\n"), a block at a time.

    A corrupt frame, or a last frame cut short, raises TruncatedFileError after the complete lines. Blocks of
    64 KiB compressed (~0.5 MiB of lines) fit the decompressor's output in one piece (larger ones are regrown and
    copied by zstandard); the line cut at a block's end is prepended to the next block's first line alone.
    """
    import zstandard

    dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
    frame, in_frame, pending = dctx.decompressobj(), False, b""
    try:
        while block := raw.read(read_bytes):
            while block:
                in_frame = True
                lines = io.BytesIO(frame.decompress(block)).readlines()  # memchr: faster than bytes.split
                if lines:
                    lines[0] = pending + lines[0]
                    pending = lines.pop() if not lines[-1].endswith(b"\n") else b""
                    yield lines
                block = b""
                if frame.eof:  # next frame (if any) starts in the unused tail
                    block, frame, in_frame = frame.unused_data, dctx.decompressobj(), False
    except zstandard.ZstdError as exc:
        yield [pending]
        raise TruncatedFileError(f"{path} is corrupt ({exc}): re-download it") from None
    if pending:
        yield [pending]
    if in_frame:
        raise TruncatedFileError(f"{path} ends inside a zstd frame (truncated download?): re-download it")


def text_blocks(raw: BinaryIO, block_bytes: int = 1 << 20) -> Iterator[list[bytes]]:
    """The lines of an uncompressed NDJSON file, about `block_bytes` at a time."""
    while lines := raw.readlines(block_bytes):
        yield lines


def struct_decoder(layout: RecordLayout) -> Callable[[bytes], Any]:
    """A msgspec decoder of JSON objects into the layout's `Record` (UNSET where a line lacks a field)."""
    return msgspec.json.Decoder(layout.Record).decode


def reference_values(line: bytes, layout: RecordLayout) -> Any:
    """A line's `Record` as the standard library reads it; MALFORMED for anything but a JSON object."""
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return MALFORMED
    return layout.values(record) if isinstance(record, dict) else MALFORMED


def json_values(lines: list[bytes], layout: RecordLayout, decode: Callable[[bytes], Any] | None = None) -> list[Any]:
    """The layout's `Record` of each NDJSON line (MALFORMED for lines that are not JSON objects); blank lines
    skipped. `decode`: the layout's `struct_decoder`, built once per dump by the caller.

    The lines msgspec reads are decoded in one C-level pass (`map`); where it stops at a line it refuses, that line
    alone goes to the reference reader and the pass resumes after it."""
    decode = decode or struct_decoder(layout)
    values: list[Any] = []
    rest = iter(lines)
    blank = 0
    while True:
        try:
            values.extend(map(decode, rest))  # list.extend keeps the items before an exception
            return values
        except (msgspec.DecodeError, UnicodeDecodeError):
            line = lines[len(values) + blank]  # the line `map` just took from `rest`
            if line.strip():
                values.append(reference_values(line, layout))
            else:
                blank += 1


def _csv_values(raw: BinaryIO, layout: RecordLayout) -> Iterator[Any]:
    """The layout's `Record` of each row of a CSV dump with a header row; MALFORMED for rows the csv module rejects."""
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
                yield MALFORMED
                continue
            yield MALFORMED if None in row else layout.values(row)  # None key: more fields than the header
    finally:
        text.detach()  # the caller still reads raw.tell() and closes raw


def open_batches(path: Path, layout: RecordLayout, rows: int = 1024) -> tuple[BinaryIO, Generator[list[Any], None, None]]:
    """Open one dump; return (raw file for byte progress, iterator over batches of up to `rows` `Record`s, None for a
    malformed line). Batches of ~1000 records keep their decoded values in the CPU cache."""
    suffix = path.suffix.lower()
    if suffix not in DUMP_SUFFIXES:
        raise InputError(f"cannot read dump {path}: use RC_*.zst, .jsonl/.ndjson/.json or .csv files")
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if suffix == ".csv":
        return raw, _batched(_csv_values(raw, layout), rows)
    blocks = zst_blocks(raw, path) if suffix == ".zst" else text_blocks(raw)
    decode = struct_decoder(layout)
    return raw, (json_values(lines[i : i + rows], layout, decode) for lines in blocks for i in range(0, len(lines), rows))


def _batched(items: Iterator[Any], size: int) -> Generator[list[Any], None, None]:
    while batch := list(itertools.islice(items, size)):
        yield batch
