"""Atomic file writing and hashing shared by every stage (nothing half-written under a final name)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
