"""Where neurofin keeps caches: the user cache dir, never inside a dataset (which may be read-only or a datalad copy)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    """$NEUROFIN_CACHE/<kind>, else $XDG_CACHE_HOME/neurofin/<kind>, else ~/.cache/neurofin/<kind>."""
    if os.environ.get("NEUROFIN_CACHE"):
        return Path(os.environ["NEUROFIN_CACHE"]) / kind
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "neurofin" / kind
