"""Text as real dumps hold it: lone surrogates (half an emoji) repaired, a UTF-8 byte-order mark accepted.

Pushshift dumps carry JSON escapes such as "\\ud83d" without their second half; Python reads them as a lone
surrogate, which no UTF-8 writer (Parquet, hashing, tokenizers) accepts. Every reader of user text (market
ingest, infer, explain) passes strings through `repair` and counts the rows it changed.
"""

from __future__ import annotations

import sys
from typing import Any

BOM_ENCODING = "utf-8-sig"  # decodes UTF-8 with or without a leading byte-order mark


def repair_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD; a surrogate pair becomes its character."""
    if text.isascii():  # O(1) in CPython: most texts end here
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def repair(value: Any) -> tuple[Any, bool]:
    """(`value` with lone surrogates repaired in it and in its items and keys, whether anything changed)."""
    if isinstance(value, str):
        fixed = repair_text(value)
        return fixed, fixed is not value
    numpy = sys.modules.get("numpy")  # arrays (Parquet list cells) only exist once numpy is loaded
    if isinstance(value, (list, tuple)) or (numpy is not None and isinstance(value, numpy.ndarray)):
        items = [repair(item) for item in value]
        if not any(changed for _, changed in items):
            return value, False
        repaired = [item for item, _ in items]
        return (tuple(repaired) if isinstance(value, tuple) else repaired), True
    if isinstance(value, dict):
        pairs = [(repair(k), repair(v)) for k, v in value.items()]
        if not any(k[1] or v[1] for k, v in pairs):
            return value, False
        return {k[0]: v[0] for k, v in pairs}, True
    return value, False
