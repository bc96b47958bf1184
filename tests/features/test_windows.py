"""Context windows: every token kept once, with at least ctx tokens of context (all of them near the start)."""

from __future__ import annotations

import numpy as np
import pytest

from neurofin.features.windows import exact_windows, strided_windows


@pytest.mark.parametrize(("n_tokens", "ctx", "stride"), [(1, 4, 2), (7, 4, 3), (100, 16, 8), (101, 16, 7), (33, 0, 5)])
def test_strided_windows_keep_each_token_once_with_full_context(n_tokens: int, ctx: int, stride: int) -> None:
    windows = strided_windows(0, n_tokens, ctx, stride)
    kept = np.concatenate([np.arange(w.keep_start, w.end) for w in windows])
    assert kept.tolist() == list(range(n_tokens))
    for w in windows:
        assert 0 <= w.start <= w.keep_start < w.end <= n_tokens
        assert w.length == min(ctx + stride, n_tokens)  # uniform length: no padding within a text
        assert w.keep_start - w.start >= min(ctx, w.keep_start)  # first kept token sees >= ctx tokens
        assert w.keep_start == 0 or w.end - w.keep_start <= stride


def test_strided_cost_is_span_over_stride() -> None:
    windows = strided_windows(0, 10_000, 512, 512)
    processed = sum(w.length for w in windows)
    assert processed / 10_000 == pytest.approx(2.0, rel=0.06)


def test_exact_windows_one_per_unique_position() -> None:
    windows = exact_windows(3, np.array([5, 0, 5, 40]), 16)
    assert [(w.text, w.start, w.end, w.keep_start) for w in windows] == [(3, 0, 1, 0), (3, 0, 6, 5), (3, 24, 41, 40)]
