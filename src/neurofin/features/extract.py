"""Word features from a causal LM: hidden states of the requested blocks at each word's last sub-token.

Windows (see `windows.py`) from one or many texts are packed into right-padded batches of about
`batch_size` full-length windows' worth of tokens (many short texts share one batch), run with
`use_cache=False`, and forward hooks on the kept blocks gather only the positions that carry a word.
Block i is `hidden_states[i + 1]` of the full model: the raw output of block i, except the model's last
block, whose `hidden_states` entry is after the final norm (the base model's `last_hidden_state`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from neurofin.errors import ConfigError, ModelLoadError
from neurofin.features.align import TokenizedWords, align_words
from neurofin.features.model import LoadedModel, validate_blocks
from neurofin.features.windows import Window, exact_windows, strided_windows
from neurofin.progress import Advance

Mode = Literal["strided", "exact"]


@dataclass(frozen=True)
class _Job:
    """One window, the batch columns it keeps and where their features go."""

    window: Window
    columns: np.ndarray  # positions inside the (prefix + window) row
    slots: np.ndarray  # indices into the text's needed-token list
    n_words: int  # words featurised by this job (for progress)


def extract_word_features(
    loaded: LoadedModel,
    words: list[str],
    blocks: list[int],
    context_tokens: int,
    mode: Mode = "strided",
    stride: int = 512,
    batch_size: int = 8,
    advance: Advance | None = None,
) -> np.ndarray:
    """(n_words, n_blocks, dim) float32 features of one text (e.g. a story) with the chosen context windows."""
    return extract_many(loaded, [words], blocks, context_tokens, mode, stride, batch_size, advance)[0]


def extract_many(
    loaded: LoadedModel,
    texts_as_word_lists: list[list[str]],
    blocks: list[int],
    context_tokens: int,
    mode: Mode = "strided",
    stride: int = 512,
    batch_size: int = 8,
    advance: Advance | None = None,
) -> list[np.ndarray]:
    """Per text (each its own context), (n_words, n_blocks, dim) float32 features; short texts share batches."""
    _check_request(loaded, blocks, context_tokens, mode, stride, batch_size)
    tokenized = [align_words(loaded.tokenizer, words) for words in texts_as_word_lists]
    needed = [np.unique(t.word_token) if t.n_tokens else np.zeros(0, dtype=np.int64) for t in tokenized]
    jobs = [job for i, t in enumerate(tokenized) for job in _plan(i, t, needed[i], context_tokens, mode, stride)]
    span = (context_tokens + stride if mode == "strided" else context_tokens + 1) + len(loaded.prefix_ids)
    features = [np.zeros((len(n), len(blocks), loaded.hidden_size), dtype=np.float32) for n in needed]
    with _BlockTaps(loaded, blocks) as taps:
        for batch in _batches(jobs, len(loaded.prefix_ids), batch_size * span):
            gathered = taps.run(batch, [t.ids for t in tokenized])
            offset = 0
            for job in batch:
                n = len(job.slots)
                features[job.window.text][job.slots] = gathered[offset : offset + n]
                offset += n
            if advance is not None:
                advance(sum(job.n_words for job in batch))
    return [
        f[np.searchsorted(n, t.word_token)] if t.n_tokens else np.zeros((len(t.word_token),) + f.shape[1:], np.float32)
        for f, n, t in zip(features, needed, tokenized)
    ]


def _check_request(loaded: LoadedModel, blocks: list[int], context_tokens: int, mode: str, stride: int, batch_size: int) -> None:
    """Raise a clear error for blocks the model lacks or windows it cannot take."""
    validate_blocks(blocks, loaded.n_blocks)
    if max(blocks) >= loaded.n_blocks_loaded:
        raise ModelLoadError(
            f"block {max(blocks)} was not loaded (model built up to block {loaded.n_blocks_loaded - 1}): "
            "load it with settings whose features.blocks include every block you extract"
        )
    if mode not in ("strided", "exact"):
        raise ConfigError(f"unknown context mode {mode!r}: use 'strided' or 'exact'")
    if context_tokens < 0 or stride < 1 or batch_size < 1:
        raise ConfigError("context tokens must be >= 0, stride >= 1 and batch size >= 1")
    longest = (context_tokens + stride if mode == "strided" else context_tokens + 1) + len(loaded.prefix_ids)
    if loaded.max_positions is not None and longest > loaded.max_positions:
        raise ConfigError(
            f"windows of {longest} tokens exceed the model's {loaded.max_positions} positions: "
            "lower features.context_tokens or features.stride"
        )


def _plan(text: int, tokenized: TokenizedWords, needed: np.ndarray, ctx: int, mode: Mode, stride: int) -> list[_Job]:
    """The windows one text needs and, for each, the needed tokens it keeps."""
    if not len(needed):
        return []
    windows = strided_windows(text, tokenized.n_tokens, ctx, stride) if mode == "strided" else exact_windows(text, needed, ctx)
    words_per_token = np.bincount(tokenized.word_token, minlength=tokenized.n_tokens)
    jobs = []
    for window in windows:
        lo, hi = np.searchsorted(needed, [window.keep_start, window.end])
        if hi > lo:
            kept = needed[lo:hi]
            jobs.append(_Job(window, kept - window.start, np.arange(lo, hi), int(words_per_token[kept].sum())))
    return jobs


def _batches(jobs: list[_Job], prefix_len: int, max_tokens: int) -> list[list[_Job]]:
    """Group jobs, longest first, so that rows x padded length stays within max_tokens (>= 1 row per batch)."""
    ordered = sorted(jobs, key=lambda job: -job.window.length)
    batches: list[list[_Job]] = []
    for job in ordered:
        if batches and (len(batches[-1]) + 1) * (batches[-1][0].window.length + prefix_len) <= max_tokens:
            batches[-1].append(job)
        else:
            batches.append([job])
    return batches


class _BlockTaps:
    """Forward hooks on the kept blocks that gather the requested (row, column) positions of each batch."""

    def __init__(self, loaded: LoadedModel, blocks: list[int]) -> None:
        self.loaded = loaded
        self.blocks = blocks
        self.final = loaded.n_blocks - 1  # hidden_states[n] is after the final norm: read from the model output
        self.index: tuple[Any, Any] | None = None
        self.captured: dict[int, Any] = {}
        self.handles: list[Any] = []

    def __enter__(self) -> _BlockTaps:
        layers = _block_list(self.loaded.model, self.loaded.n_blocks_loaded)
        for block in self.blocks:
            if block != self.final:
                self.handles.append(layers[block].register_forward_hook(self._hook(block)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.remove()

    def _hook(self, block: int) -> Callable[..., None]:
        def capture(_module: Any, _inputs: Any, output: Any) -> None:
            hidden = output[0] if isinstance(output, tuple) else output
            self.captured[block] = hidden[self.index]

        return capture

    def run(self, batch: list[_Job], token_ids: list[np.ndarray]) -> np.ndarray:
        """Forward one batch; (n_kept_positions, n_blocks, dim) float32 in job order."""
        import torch

        prefix = list(self.loaded.prefix_ids)
        width = batch[0].window.length + len(prefix)
        pad_id = self.loaded.tokenizer.pad_token_id or 0
        ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, job in enumerate(batch):
            w = job.window
            ids[row, : len(prefix) + w.length] = prefix + token_ids[w.text][w.start : w.end].tolist()
            mask[row, : len(prefix) + w.length] = 1
        rows = np.concatenate([np.full(len(job.columns), r) for r, job in enumerate(batch)])
        cols = np.concatenate([job.columns + len(prefix) for job in batch])
        device = self.loaded.device
        self.index = (torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device))
        self.captured = {}
        try:
            with torch.inference_mode():
                out = self.loaded.model(
                    input_ids=torch.from_numpy(ids).to(device),
                    attention_mask=None if mask.all() else torch.from_numpy(mask).to(device),
                    use_cache=False,
                )
                if self.final in self.blocks:
                    self.captured[self.final] = out.last_hidden_state[self.index]
                stacked = torch.stack([self.captured[b] for b in self.blocks], dim=1)
                return stacked.float().cpu().numpy()
        except (torch.OutOfMemoryError, MemoryError) as exc:
            raise ModelLoadError(
                f"out of memory featurising a batch of {len(batch)} windows x {width} tokens on {device}: "
                "set a smaller features.batch_size, fewer features.blocks, a smaller features.stride, or features.load_in_4bit"
            ) from exc


def _block_list(model: Any, n_blocks: int) -> Any:
    """The model's ModuleList of transformer blocks (the first ModuleList with one entry per block)."""
    from torch import nn

    for _name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_blocks:
            return module
    raise ModelLoadError(f"cannot find the {n_blocks} transformer blocks of {type(model).__name__}: unsupported architecture")
