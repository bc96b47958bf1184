"""Extraction equals independent forward passes: (b) strided windows, (c) exact per-word windows, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurofin.errors import ModelLoadError
from neurofin.features.align import align_words
from neurofin.features.extract import extract_many, extract_word_features

STORY = ["I'd", "never", "seen", "the", "ocean", "before", "that", "summer.", "My", "aunt", "said,", "\"Don't", "worry,", "it's", "only", 'water"', "—", "but", "at", "3.14", "a.m.", "the", "waves", "sounded", "like", "1,000", "drums.", "Naïve?", "Maybe.", "Café", "owners", "laughed;", "we", "didn't."]


def reference_states(model, prefix: tuple[int, ...], ids: np.ndarray, start: int, end: int, blocks: list[int]) -> np.ndarray:
    """Independent: one forward over prefix + tokens [start, end); (n_blocks, dim) hidden_states[b + 1] at the last token."""
    window = torch.tensor([list(prefix) + ids[start:end].tolist()])
    with torch.inference_mode():
        out = model(input_ids=window, output_hidden_states=True, use_cache=False)
    return np.stack([out.hidden_states[b + 1][0, -1].float().numpy() for b in blocks])


def strided_window_of(p: int, n_tokens: int, ctx: int, stride: int) -> tuple[int, int]:
    """From the definition: the window (start, end) whose kept tokens hold token p; the forward stops at p."""
    span = ctx + stride
    if p < span:
        return 0, min(span, n_tokens)
    end = min(span + ((p - span) // stride + 1) * stride, n_tokens)
    return end - span, end


def base(model):
    return model.model if hasattr(model, "lm_head") else model


@pytest.mark.parametrize("which", ["tiny", "smollm2"])
def test_strided_equals_independent_window_forward(which: str, request) -> None:
    loaded = request.getfixturevalue(f"{which}_loaded")
    reference = base(request.getfixturevalue("tiny_reference")) if which == "tiny" else loaded.model
    blocks = [0, 2] if which == "tiny" else [4, 29]
    ctx, stride = 12, 5
    words = STORY[:24]
    got = extract_word_features(loaded, words, blocks, ctx, "strided", stride, batch_size=3)
    aligned = align_words(loaded.tokenizer, words)
    assert aligned.n_tokens > ctx + 2 * stride  # several windows, a short last one
    for w in range(0, len(words), 3):
        p = int(aligned.word_token[w])
        start, _ = strided_window_of(p, aligned.n_tokens, ctx, stride)
        # causal model: the state at p in window [start, end) equals the state at the end of [start, p + 1)
        want = reference_states(reference, loaded.prefix_ids, aligned.ids, start, p + 1, blocks)
        for j in range(len(blocks)):
            np.testing.assert_allclose(got[w, j], want[j], rtol=1e-4, atol=1e-4 * np.abs(want[j]).max())


@pytest.mark.parametrize("which", ["tiny", "smollm2"])
def test_exact_equals_one_window_per_word(which: str, request) -> None:
    loaded = request.getfixturevalue(f"{which}_loaded")
    reference = base(request.getfixturevalue("tiny_reference")) if which == "tiny" else loaded.model
    block = 1 if which == "tiny" else 29
    ctx = 6
    words = STORY[:10]
    got = extract_word_features(loaded, words, [block], ctx, "exact", batch_size=4)
    aligned = align_words(loaded.tokenizer, words)
    for w, p in enumerate(aligned.word_token):
        want = reference_states(reference, loaded.prefix_ids, aligned.ids, max(0, int(p) - ctx), int(p) + 1, [block])
        np.testing.assert_allclose(got[w], want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_strided_differs_from_exact_when_context_differs(tiny_loaded) -> None:
    """Guard against a vacuous pass: with a longer strided window the states are not the exact-mode ones."""
    words = STORY[:30]
    strided = extract_word_features(tiny_loaded, words, [2], 4, "strided", 16)
    exact = extract_word_features(tiny_loaded, words, [2], 4, "exact")
    assert np.abs(strided - exact).max() > 1e-2


def test_extract_many_packs_texts_without_changing_them(tiny_loaded) -> None:
    texts = [STORY[:5], STORY[5:40], [], STORY[40:41], ["", "x"]]
    together = extract_many(tiny_loaded, texts, [0, 2], 8, "strided", 4, batch_size=2)
    for text, feats in zip(texts, together):
        alone = extract_word_features(tiny_loaded, text, [0, 2], 8, "strided", 4, batch_size=1)
        assert feats.shape == (len(text), 2, tiny_loaded.hidden_size)
        np.testing.assert_allclose(feats, alone, rtol=1e-4, atol=1e-5)


def test_progress_counts_every_word(tiny_loaded) -> None:
    seen: list[int] = []
    extract_many(tiny_loaded, [STORY[:20], ["", "a"], STORY[20:30]], [1], 8, "exact", advance=seen.append)
    assert sum(seen) == 32


def test_blocks_beyond_depth_are_refused(tiny_loaded) -> None:
    with pytest.raises(ModelLoadError, match="3 transformer blocks"):
        extract_word_features(tiny_loaded, STORY[:3], [3], 8)
