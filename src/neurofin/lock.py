"""An exclusive inter-process lock on a file that its holder may delete (POSIX `flock`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on `path` (created if absent; waits for another holder) for the block.

    The holder may unlink `path` before leaving (to tidy up): a waiter that then wakes on the unlinked file
    sees that `path` is no longer the file it locked and starts again, so two holders never overlap.
    """
    path = Path(path)
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # the folder was removed between mkdir and open
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield path
    finally:
        os.close(fd)
