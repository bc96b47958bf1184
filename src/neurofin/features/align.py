"""Word -> token alignment through the tokenizer's character offsets (any fast tokenizer: tiktoken-style BPE,
GPT-2 byte-level BPE, SentencePiece/Metaspace, WordLevel).

The words are stripped and joined with single spaces, the text is tokenized ONCE (no special tokens;
the model's BOS is added per window by the extractor), and each word is mapped to its LAST sub-token:
the last token that starts before the word's final character ends. Consequences, by design:
- a word that tokenizes normally gets the token holding its last character;
- a word with no token of its own (an empty label, or characters the tokenizer's normalizer drops)
  shares the previous word's last token (a leading one takes the text's first token);
- a token spanning two words (rare; a tokenizer merging across a space) is shared by both words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TokenizedWords:
    """One text's token ids and, per word, the index of the word's last sub-token."""

    ids: np.ndarray  # (n_tokens,) int64, no special tokens
    word_token: np.ndarray  # (n_words,) int64 index into ids

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])


def join_words(words: list[str]) -> tuple[str, np.ndarray]:
    """The single-space-joined text of the stripped words and each word's end character offset (exclusive)."""
    parts: list[str] = []
    ends = np.zeros(len(words), dtype=np.int64)
    cursor = 0
    for i, word in enumerate(words):
        word = word.strip()
        if word:
            if parts:
                cursor += 1  # the joining space
            parts.append(word)
            cursor += len(word)
        ends[i] = cursor
    return " ".join(parts), ends


def align_words(tokenizer: Any, words: list[str]) -> TokenizedWords:
    """Tokenize the joined words once and map every word to its last sub-token by character offsets."""
    text, ends = join_words(words)
    if not text:
        return TokenizedWords(np.zeros(0, dtype=np.int64), np.zeros(len(words), dtype=np.int64))
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids = np.asarray(encoding["input_ids"], dtype=np.int64)
    starts = np.maximum.accumulate(np.asarray([start for start, _ in encoding["offset_mapping"]], dtype=np.int64))
    word_token = np.searchsorted(starts, ends, side="left") - 1
    return TokenizedWords(ids, np.clip(word_token, 0, max(len(ids) - 1, 0)))
