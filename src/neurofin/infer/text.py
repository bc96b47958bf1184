"""Turn a comment into transcript-like words for the LM (one text = one context).

Rules (documented choice, tested): markdown links keep their text, bare URLs and markdown markup are
removed, whitespace splits words, a word must contain at least one letter or digit (emoji-only and
punctuation-only tokens are dropped), case and attached punctuation are kept because the LM reads real
text. Texts longer than `max_words` are cut to their first `max_words` words and flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MARKUP = re.compile(r"[*_~`>#]+")
_HAS_ALNUM = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class TextWords:
    """Words of one text plus what happened on the way."""

    words: list[str]
    truncated: bool
    error: str | None


def comment_words(text: object, max_words: int = 256) -> TextWords:
    """Words of a comment, or an error string for texts with no usable words (never raises)."""
    if not isinstance(text, str):
        return TextWords([], False, f"not a text ({type(text).__name__})")
    cleaned = _MARKUP.sub(" ", _URL.sub(" ", _MD_LINK.sub(r"\1", text)))
    words = [w for w in cleaned.split() if _HAS_ALNUM.search(w)]
    if not words:
        return TextWords([], False, "no words (empty, emoji-only or markup-only text)")
    return TextWords(words[:max_words], len(words) > max_words, None)
