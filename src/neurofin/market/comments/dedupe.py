"""Deduplication of ingested comments by id: a compact index of every kept id.

Reddit ids are base-36 integers, stored as int64 in sorted numpy runs (8 bytes per kept comment, e.g. 80 MB for
10 million kept comments, merged like a log-structured tree so lookups stay logarithmic). Non-base-36 ids are
hashed to 64 bits. For runs beyond ~1e8 kept comments, ingest month by month (Reddit ids never repeat across months).
"""

from __future__ import annotations

import hashlib
from itertools import repeat

import numpy as np


def id_key(comment_id: str) -> int:
    """A 64-bit integer key of a Reddit id: its base-36 value, or a 64-bit hash for other strings."""
    bare = comment_id.removeprefix("t1_")
    if 0 < len(bare) <= 12 and bare.isascii() and bare.isalnum():
        return int(bare, 36)
    digest = hashlib.blake2b(comment_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def id_keys(comment_ids: list[str]) -> np.ndarray:
    """`id_key` of each id as int64; a batch of bare base-36 ids (the dumps' own) is read in one C-level pass."""
    joined = "".join(comment_ids)
    lengths = list(map(len, comment_ids))
    if joined.isascii() and joined.isalnum() and min(lengths, default=1) > 0 and max(lengths, default=0) <= 12:
        return np.fromiter(map(int, comment_ids, repeat(36)), np.int64, len(comment_ids))
    return np.fromiter(map(id_key, comment_ids), np.int64, len(comment_ids))


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
