"""A context prefix's keys/values, computed once per loaded model and reused by every text read after it.

Inference reads each text after the same context prefix (infer.context_prefix). The extractor runs the
prefix (with the model's own special tokens, e.g. Llama-3 BOS) once, keeps its transformers `DynamicCache`
on the `LoadedModel`, and for each batch gives the model only the texts' own tokens, right-padded, with
position ids continuing after the prefix and an attention mask over prefix + text: every text token sees
the same positions and keys as when prefix + text is run whole (tests/features/test_context.py).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurofin.features.align import align_words
from neurofin.features.model import LoadedModel


@dataclass(frozen=True)
class ContextState:
    """The prefix's text tokens and the model's cache after reading the special tokens and them (batch of one)."""

    token_ids: np.ndarray  # the prefix words' tokens, as they start every prefix + text tokenization
    cache: Any  # transformers DynamicCache, never mutated: `for_batch` hands out copies
    length: int  # cached positions: special tokens + prefix tokens

    def starts(self, ids: np.ndarray) -> bool:
        """Whether a prefix + text tokenization begins with exactly the cached prefix tokens."""
        n = len(self.token_ids)
        return len(ids) > n and bool(np.array_equal(ids[:n], self.token_ids))

    def for_batch(self, model: Any, rows: int) -> dict[str, Any]:
        """The model's cache arguments: a fresh copy of the prefix's cache once per batch row (the model appends
        the batch's own keys to it)."""
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(rows)
        return {"use_cache": True, cache_argument(model): cache}


def cache_argument(model: Any) -> str:
    """The forward argument (and output field) holding the cache: `cache` in recent transformers, else `past_key_values`."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def context_state(loaded: LoadedModel, words: list[str]) -> ContextState | None:
    """The cached state of the prefix `words` for this model (computed on first use); None for no prefix."""
    import torch

    ids = align_words(loaded.tokenizer, words).ids
    if not len(ids):
        return None
    key = tuple(int(i) for i in ids)
    state = loaded.contexts.get(key)
    if state is None:
        tokens = torch.tensor([[*loaded.prefix_ids, *key]], device=loaded.device)
        with torch.inference_mode():
            cache = getattr(loaded.model(input_ids=tokens, use_cache=True), cache_argument(loaded.model))
        state = ContextState(ids, cache, tokens.shape[1])
        loaded.contexts[key] = state
    return state
