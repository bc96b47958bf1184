"""Turn a comment into transcript-like words for the LM (one text = one context).

The word form matches the training transcripts (ds003020 TextGrid words: lower case, no attached
punctuation), so a comment's words sit at the positions the encoding model was fitted on. Rules of word
form WORD_FORM (recorded in every package, checked at inference): markdown links keep their text, bare URLs
and markdown markup are removed, whitespace splits words, each word is lower-cased (curly apostrophes
become ') and loses leading and trailing characters that are not letters or digits ("moon!!" -> "moon",
"$GME" -> "gme", "it's" stays), and words without a letter or digit (emoji, punctuation) are dropped.
Texts longer than `max_words` are cut to their first `max_words` words and flagged.

A context prefix (infer.context_prefix) is read by the LM before each text but never scored, so a short
comment's words are not each read with almost no context (benchmarks/bench_context_prefix.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from neurofin.errors import InputError

WORD_FORM = "transcript-v1"  # the rules above; PackageRecord.word_form

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MARKUP = re.compile(r"[*_~`>#]+")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


@dataclass(frozen=True)
class TextWords:
    """Words of one text plus what happened on the way."""

    words: list[str]
    truncated: bool
    error: str | None


def transcript_word(token: str) -> str:
    """One whitespace token in the transcripts' word form ('' when nothing of it is a word)."""
    return _EDGES.sub("", token.lower().replace("\u2019", "'").replace("\u2018", "'"))


def comment_words(text: object, max_words: int = 256) -> TextWords:
    """Words of a comment, or an error string for texts with no usable words (never raises)."""
    if not isinstance(text, str):
        return TextWords([], False, f"not a text ({type(text).__name__})")
    cleaned = _MARKUP.sub(" ", _URL.sub(" ", _MD_LINK.sub(r"\1", text)))
    words = [w for w in (transcript_word(t) for t in cleaned.split()) if w]
    if not words:
        return TextWords([], False, "no words (empty, emoji-only or markup-only text)")
    return TextWords(words[:max_words], len(words) > max_words, None)


NEUTRAL_STORY = "neutral_story"  # infer.context_prefix keyword: the packaged passage resources/context_prefix.txt
NEUTRAL_STORIES = "neutral_stories"  # keyword: the first 3 packaged passages resources/context_passages.txt, values averaged
PARALLEL_STORIES = "parallel_stories"  # keyword: the 6 packaged passages read side by side in one LM pass
PACKAGED_PASSAGES = {NEUTRAL_STORIES: 3, PARALLEL_STORIES: 6}  # how many of resources/context_passages.txt each reads


def prefix_words(prefix: str | None) -> list[str]:
    """Words of a context prefix: "none"/None/"" -> none, "neutral_story" -> the packaged story passage, else the text."""
    if prefix is None or prefix.strip().lower() in ("", "none"):
        return []
    if prefix == NEUTRAL_STORY:
        prefix = resources.files("neurofin.resources").joinpath("context_prefix.txt").read_text(encoding="utf-8")
    return comment_words(prefix, max_words=10_000).words


def context_passages(prefix: str | Sequence[str] | None) -> list[list[str]]:
    """The passages the LM reads before each text (`read_side_by_side`: in one LM pass, else one pass per passage
    and the values averaged): "neutral_stories"/"parallel_stories" -> their first `PACKAGED_PASSAGES` packaged
    passages (the first is "neutral_story"), a sequence -> each of its prefixes, else the one prefix of `prefix_words`."""
    keyword = prefix.strip().lower() if isinstance(prefix, str) else None
    if keyword in PACKAGED_PASSAGES:
        text = resources.files("neurofin.resources").joinpath("context_passages.txt").read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip()][: PACKAGED_PASSAGES[keyword]]
        return [comment_words(line, max_words=10_000).words for line in lines]
    if prefix is None or isinstance(prefix, str):
        return [prefix_words(prefix)]
    if not prefix:
        raise InputError("give at least one context prefix (or \"none\")")
    return [prefix_words(p) for p in prefix]


def read_side_by_side(prefix: str | Sequence[str] | None) -> bool:
    """Whether the protocol reads its passages side by side in one LM pass (parallel context windows, features/context.py)."""
    return isinstance(prefix, str) and prefix.strip().lower() == PARALLEL_STORIES
