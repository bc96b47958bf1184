"""Atomic file writing, output guards and hashing shared by every stage (nothing half-written under a final name,
no input replaced by an output)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it onto `final` only if the block succeeds.

    The file gets the mode a plain `open` would give (0666 less the umask), not mkstemp's private 0600.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it while reading)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def require_writable(folder: str | Path, what: str) -> Path:
    """Create `folder` if needed and prove a file can be written in it; else InputError naming it and `what` to change."""
    from neurofin.errors import InputError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".neurofin-write-test."):
            pass
    except OSError as exc:
        raise InputError(
            f"cannot write to {folder} ({exc.strerror or exc}): choose another {what}, or fix the folder "
            "(a file in the way, permissions, a full or read-only disk)"
        ) from None
    return folder


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def write_table_atomic(path: str | Path, table: Any, index: bool = False) -> None:
    """Write a pandas table atomically, as Parquet or CSV by the path's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: tables are written as .parquet or .csv")
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            table.to_parquet(tmp, index=index)
        else:
            table.to_csv(tmp, index=index)


def content_hash(record: Any) -> str:
    """SHA-256 of a JSON-able record in canonical form (sorted keys): the identity of cached or resumable work."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return sha256_bytes(text.encode("utf-8", "surrogatepass"))  # a lone surrogate hashes too


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


OutputKind = Literal["parquet", "csv", "table", "json", "jsonl", "html", "duckdb", "folder"]
_TEXT_SUFFIXES = {"csv": (".csv",), "json": (".json",), "jsonl": (".jsonl", ".ndjson", ".json"), "html": (".html", ".htm")}
_NAMES = {"parquet": "a Parquet file", "duckdb": "a DuckDB file", "csv": "a CSV file", "json": "a JSON file",
          "jsonl": "a JSONL file", "html": "an HTML file", "folder": "a folder"}


def guard_output(
    out: str | Path, kind: OutputKind, inputs: Iterable[str | Path | None] = (), option: str = "--out"
) -> Path:
    """Refuse, before any work, an output that would replace an input or an existing file of another type.

    An input is the same file when `out` resolves to it (same path, a symlink to it or a hard link). An
    existing `out` is replaced only when it is what the command writes: a folder for `folder`, a Parquet
    (or DuckDB) file by its magic bytes, else a text file with the output's suffix. `table` is Parquet or
    CSV by the suffix. Raises InputError naming `option`.
    """
    from neurofin.errors import InputError

    out = Path(out)
    real = Path(os.path.realpath(out))  # "missing/../x" is x to the writer, which creates the missing folder
    for given in inputs:
        if given is not None and _same_file(real, Path(given)):
            raise InputError(f"{option} {out} is the input {given}: writing it would destroy that input; "
                             "choose another output path")
    if kind == "table":
        kind = "parquet" if out.suffix.lower() == ".parquet" else "csv"
    if not real.exists() or (kind == "folder" and real.is_dir()):
        return out
    if kind == "folder" or real.is_dir():
        raise InputError(f"{option} {out} exists and is not {_NAMES[kind]}: remove it or choose another path")
    if not _looks_like(real, kind):
        raise InputError(f"{option} {out} exists and is not {_NAMES[kind]} (it would be overwritten): "
                         "remove it or choose another path")
    return out


def _same_file(out: Path, given: Path) -> bool:
    try:
        return os.path.samefile(out, given)
    except OSError:  # either is missing: nothing to destroy
        return False


def _looks_like(path: Path, kind: str) -> bool:
    """Whether an existing file is of `kind` (an empty file is anything: nothing is lost)."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        return True
    if kind == "parquet":
        return head[:4] == b"PAR1"
    if kind == "duckdb":
        return head[8:12] == b"DUCK"
    return path.suffix.lower() in _TEXT_SUFFIXES[kind] and b"\0" not in head
