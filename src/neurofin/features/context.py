"""A context prefix's keys/values, computed once per loaded model and reused by every text read after it.

Inference reads each text after the same context prefix (infer.context_prefix). The extractor runs the
prefix (with the model's own special tokens, e.g. Llama-3 BOS) once, keeps its transformers `DynamicCache`
on the `LoadedModel`, and for each batch gives the model only the texts' own tokens, right-padded, with
position ids continuing after the prefix and an attention mask over prefix + text: every text token sees
the same positions and keys as when prefix + text is run whole (tests/features/test_context.py).

Several passages can be read side by side (parallel context windows, Ratner et al. 2023): each passage is run on
its own, right-aligned so that every passage ends at the same position (each with its own special tokens), their
caches are joined along the sequence, and the text, at the positions after that common end, attends to all of them
in one pass: no passage is nearest the text.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurofin.features.align import align_words
from neurofin.features.model import LoadedModel


@dataclass(frozen=True)
class ContextState:
    """The prefix's text tokens and the model's cache after reading the special tokens and them (batch of one)."""

    token_ids: np.ndarray  # the (first) prefix's word tokens, as they start every prefix + text tokenization
    cache: Any  # transformers DynamicCache, never mutated: `for_batch` hands out copies
    length: int  # cached keys: special tokens + prefix tokens (of every passage read side by side)
    position: int  # the position id of the text's first token: the (longest) passage's special + prefix tokens

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


def context_state(loaded: LoadedModel, passages: Sequence[Sequence[str]]) -> ContextState | None:
    """The cached state of the prefix `passages` (one, or several read side by side) for this model (computed on
    first use); None for no prefix. Texts are tokenized after the first passage."""
    import torch
    from transformers import DynamicCache

    ids = [align_words(loaded.tokenizer, list(words)).ids for words in passages]
    if not passages or not all(len(i) for i in ids):
        return None
    key = tuple(tuple(int(t) for t in i) for i in ids)
    state = loaded.contexts.get(key)
    if state is None:
        end = len(loaded.prefix_ids) + max(len(i) for i in key)
        caches = []
        for tokens in key:  # each passage on its own, ending at position `end` - 1
            row = torch.tensor([[*loaded.prefix_ids, *tokens]], device=loaded.device)
            positions = torch.arange(end - row.shape[1], end, device=loaded.device)[None]
            with torch.inference_mode():
                out = loaded.model(input_ids=row, position_ids=positions, use_cache=True)
            caches.append(getattr(out, cache_argument(loaded.model)))
        cache = caches[0] if len(caches) == 1 else DynamicCache(
            [(torch.cat([c.layers[i].keys for c in caches], dim=-2), torch.cat([c.layers[i].values for c in caches], dim=-2))
             for i in range(len(caches[0].layers))])
        state = ContextState(ids[0], cache, sum(c.get_seq_length() for c in caches), end)
        loaded.contexts[key] = state
    return state
