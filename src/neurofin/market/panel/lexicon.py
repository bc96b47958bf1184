"""The project's market-slang lexicon: the optional "slang" extra of the sentiment control (market.sentiment_extras).

The sentiment control itself is the published measures (VADER, Loughran-McDonald: neurofin.market.panel.sentiment).
The shipped lexicon (resources/market/sentiment_lexicon.csv) is a small market-slang list written for
this project, not a published lexicon. Per comment:
- polarity  = (pos - neg) / (pos + neg) in [-1, 1], 0 when no lexicon word occurs;
- intensity = (pos + neg) / number of tokens (how much of the comment is sentiment words);
where pos / neg sum the absolute scores of positive / negative words; a negator ("not", "don't", ...)
up to three tokens before a word flips its sign.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from neurofin.errors import InputError

LEXICON_FEATURES: tuple[str, ...] = ("polarity", "intensity")
NEGATORS = frozenset({"not", "no", "never", "don't", "dont", "isn't", "isnt", "aint", "ain't", "won't", "can't", "cant"})
NEGATION_REACH = 3
_TOKEN = re.compile(r"[a-z][a-z']*|[^\w\s]")


@dataclass(frozen=True)
class Lexicon:
    """Term -> sentiment score (positive bullish, negative bearish)."""

    scores: dict[str, float]


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """A `term,score` CSV lexicon ('#' comments and a header allowed), or the shipped default."""
    if path is None:
        text = resources.files("neurofin").joinpath("resources", "market", "sentiment_lexicon.csv").read_text("utf-8")
    elif Path(path).is_file():
        text = Path(path).read_text(encoding="utf-8")
    else:
        raise InputError(f"lexicon file {path} not found: pass a term,score CSV")
    scores: dict[str, float] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.strip().lower() == "term,score":
            continue
        term, _, value = line.rpartition(",")
        try:
            scores[term.strip().lower()] = float(value)
        except ValueError:
            raise InputError(f"lexicon line {line!r} is not 'term,score': fix or remove it") from None
    return Lexicon(scores)


def comment_sentiment(text: str, lexicon: Lexicon) -> tuple[float, float]:
    """(polarity, intensity) of one comment."""
    tokens = _TOKEN.findall(text.lower())
    pos = neg = 0.0
    last_negator = -NEGATION_REACH - 1
    for i, token in enumerate(tokens):
        if token in NEGATORS:
            last_negator = i
            continue
        score = lexicon.scores.get(token)
        if score is None:
            continue
        if i - last_negator <= NEGATION_REACH:
            score = -score
        if score > 0:
            pos += score
        else:
            neg -= score
    total = pos + neg
    if total == 0:
        return 0.0, 0.0
    return (pos - neg) / total, total / len(tokens)


def lexicon_features(texts: Sequence[str], lexicon: Lexicon) -> dict[str, np.ndarray]:
    """Per-comment lexicon features {name: (n_comments,) array}, names as in LEXICON_FEATURES."""
    values = np.array([comment_sentiment(t, lexicon) for t in texts], dtype=np.float64).reshape(-1, 2)
    return {name: values[:, j] for j, name in enumerate(LEXICON_FEATURES)}
