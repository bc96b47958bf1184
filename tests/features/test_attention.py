"""On CPU the model reads grouped keys/values in place (features/attention.py): transformers' "sdpa" values, no copies."""

from __future__ import annotations

import numpy as np
import pytest

from neurofin.features.attention import CPU_ATTENTION, sdpa_gqa_forward
from neurofin.features.extract import extract_many
from neurofin.infer.text import PARALLEL_STORIES, context_passages

WORDS = ["so", "i", "bought", "more", "shares", "of", "the", "stock", "after", "the", "earnings", "call", "and", "then", "it", "went", "down", "again"]


def word_lists() -> list[list[str]]:
    return [WORDS[:n] for n in (2, 7, 18)]  # three lengths in one batch: right padding


@pytest.mark.parametrize("masked", [True, False])
def test_attention_equals_transformers_sdpa(masked: bool) -> None:
    """Random grouped heads (9 query heads on 3 key/value heads, as SmolLM2), with a padding mask over a cached
    prefix or causal without a mask: the same values as transformers' "sdpa", which copies the key/value heads."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    gen = torch.Generator().manual_seed(0)
    rows, q, past = 4, 6, 0 if not masked else 11
    query = torch.randn(rows, 9, q, 64, generator=gen)
    key, value = (torch.randn(rows, 3, past + q, 64, generator=gen) for _ in range(2))
    mask = None
    if masked:
        allowed = torch.ones(rows, 1, q, past + q, dtype=torch.bool).tril(past)
        allowed[1, :, :, past + 3 :] = False  # a padded row
        mask = allowed
    module = torch.nn.Module()
    module.num_key_value_groups, module.is_causal = 3, True
    want, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.125)
    got, _ = sdpa_gqa_forward(module, query, key, value, mask, scaling=0.125)
    assert torch.allclose(got, want, rtol=0, atol=1e-6)


def test_the_cpu_model_never_copies_key_value_heads(smollm2_loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passages side by side and padded texts: transformers' `repeat_kv` (a copy of the cached passages per query
    head and batch row) is never called."""
    import transformers.integrations.sdpa_attention as sdpa

    def no_copy(*_args, **_kwargs):
        raise AssertionError("repeat_kv called: key/value heads copied")

    monkeypatch.setattr(sdpa, "repeat_kv", no_copy)
    passages = context_passages(PARALLEL_STORIES)
    extract_many(smollm2_loaded, word_lists(), [29], 512, "strided", 2048, batch_size=8, context=passages[0],
                 parallel_context=passages[1:])
    extract_many(smollm2_loaded, word_lists(), [29], 512, "strided", 2048, batch_size=8)


def test_features_equal_transformers_sdpa(smollm2_loaded) -> None:
    """SmolLM2's word features with passages side by side and padding: the same as with transformers' "sdpa"."""
    model = smollm2_loaded.model
    passages = context_passages(PARALLEL_STORIES)

    def features() -> list[np.ndarray]:
        smollm2_loaded.contexts.clear()  # the passages' cache, computed again under this attention
        return extract_many(smollm2_loaded, word_lists(), [5, 29], 512, "strided", 2048, batch_size=8,
                            context=passages[0], parallel_context=passages[1:])

    assert model.config._attn_implementation == CPU_ATTENTION
    got = features()
    try:
        model.set_attn_implementation("sdpa")
        want = features()
    finally:
        model.set_attn_implementation(CPU_ATTENTION)
        smollm2_loaded.contexts.clear()
    for g, w in zip(got, want):
        assert np.abs(g - w).max() <= 1e-6 * np.abs(w).max()
