"""Detect git-annex / datalad pointers that stand where real data should be."""

from __future__ import annotations

import os
from pathlib import Path

ANNEX_MARKERS = (b"/annex/objects/", b".git/annex/", b"annex/objects")
POINTER_MAX_BYTES = 1024


def is_annex_pointer(path: str | Path) -> bool:
    """True for a dangling symlink, a link into .git/annex that is not fetched, or a tiny annex pointer file."""
    path = Path(path)
    if path.is_symlink():
        target = os.readlink(path)
        return not path.exists() or ("annex/objects" in target and path.stat().st_size == 0)
    if not path.is_file() or path.stat().st_size > POINTER_MAX_BYTES:
        return False
    head = path.read_bytes()
    return any(marker in head for marker in ANNEX_MARKERS)


def annex_fix_hint(path: str | Path, subject: str = "UTS01", dest: str | Path = "<folder>") -> str:
    """The message telling a user how to replace a pointer by the real file."""
    return (
        f"{path} is a git-annex pointer, not the data (the datalad/git mirror only holds links): "
        f"fetch it with `datalad get {path}` (or `git annex get {path}`) inside the dataset, or download the "
        f"real files from the OpenNeuro S3 bucket with `neurofin data download --subjects {subject} --dest {dest}`"
    )
