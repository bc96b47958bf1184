"""Context windows over one text's tokens: which tokens each forward pass sees and which positions it keeps.

`exact`: one window per needed token p, covering tokens [max(0, p - ctx), p] (the token sees exactly the
previous ctx tokens, fewer at the start of the text).
`strided`: windows of W = ctx + stride tokens. The first covers tokens [0, W) and keeps all of them; each
next one keeps the following `stride` tokens [k, k + stride) and starts W tokens before the end of what it
keeps (the last window keeps [k, n) and still spans W tokens), so every kept token sees >= ctx previous
tokens (all of them near the start) and the cost per token is about W / stride forward positions.
The model's prefix tokens (e.g. BOS) are put before every window by the extractor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """Tokens [start, end) of one text go through the model; features are kept for tokens [keep_start, end)."""

    text: int
    start: int
    end: int
    keep_start: int

    @property
    def length(self) -> int:
        return self.end - self.start


def strided_windows(text: int, n_tokens: int, context_tokens: int, stride: int) -> list[Window]:
    """Windows of context_tokens + stride tokens advancing by stride that keep every token exactly once."""
    if n_tokens == 0:
        return []
    span = context_tokens + stride
    windows = [Window(text, 0, min(span, n_tokens), 0)]
    keep_start = span
    while keep_start < n_tokens:
        end = min(keep_start + stride, n_tokens)
        windows.append(Window(text, end - span, end, keep_start))
        keep_start = end
    return windows


def exact_windows(text: int, positions: np.ndarray, context_tokens: int) -> list[Window]:
    """One window per token position p covering [max(0, p - ctx), p] and keeping only p."""
    return [Window(text, max(0, int(p) - context_tokens), int(p) + 1, int(p)) for p in np.unique(positions)]
