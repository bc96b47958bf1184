"""Word features from a causal LM: hidden states of the requested blocks at each word's last sub-token.

Windows (see `windows.py`) from one or many texts are packed into right-padded batches of about
`batch_size` full-length windows' worth of tokens (many short texts share one batch), run with
`use_cache=False`, and forward hooks on the kept blocks gather only the positions that carry a word.
With a `context` (inference's context prefix, read before every text, never scored), windows that start at
the text's beginning reuse the prefix's keys/values computed once per model (context.py) and run only the
text's own tokens (after one prefix, or several passages read side by side); other windows read the
prefix tokens they contain as before.
Block i is `hidden_states[i + 1]` of the full model: the raw output of block i, except the model's last
block, whose `hidden_states` entry is after the final norm (the base model's `last_hidden_state`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from neurofin.errors import ConfigError, ModelLoadError
from neurofin.features.align import align_words
from neurofin.features.context import ContextState, context_state
from neurofin.features.model import LoadedModel, validate_blocks
from neurofin.features.windows import Window, exact_windows, strided_windows
from neurofin.progress import Advance

Mode = Literal["strided", "exact"]


@dataclass(frozen=True)
class _Job:
    """One window, the batch columns it keeps and where their features go."""

    window: Window
    columns: np.ndarray  # positions inside the window
    slots: np.ndarray  # indices into the text's needed-token list
    n_words: int  # words featurised by this job (for progress)
    skip: int = 0  # leading window tokens whose keys/values come from the cached context (0: none)

    @property
    def length(self) -> int:
        """Tokens this job feeds the model (besides the model's special prefix tokens when skip is 0)."""
        return self.window.length - self.skip


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
    context: Sequence[str] = (),
    parallel_context: Sequence[Sequence[str]] = (),
) -> list[np.ndarray]:
    """Per text (each its own context), (n_words, n_blocks, dim) float32 features; short texts share batches.

    `context`: words read before every text (their keys/values computed once, context.py), never featurised;
    `parallel_context`: passages read side by side with `context` where a window starts at the text's beginning
    (context.py); later windows of a long text read the `context` tokens they hold."""
    _check_request(loaded, blocks, context_tokens, mode, stride, batch_size)
    state = context_state(loaded, [context, *parallel_context]) if context else None
    tokenized = [align_words(loaded.tokenizer, [*context, *words]) for words in texts_as_word_lists]
    word_tokens = [t.word_token[len(context) :] for t in tokenized]
    needed = [np.unique(w) if t.n_tokens else np.zeros(0, dtype=np.int64) for w, t in zip(word_tokens, tokenized)]
    jobs = [job for i, t in enumerate(tokenized)
            for job in _plan(i, t.n_tokens, word_tokens[i], needed[i], context_tokens, mode, stride)]
    if state is not None:
        jobs = [_reuse_context(job, state, tokenized[job.window.text].ids) for job in jobs]
    span = (context_tokens + stride if mode == "strided" else context_tokens + 1) + len(loaded.prefix_ids)
    features = [np.zeros((len(n), len(blocks), loaded.hidden_size), dtype=np.float32) for n in needed]
    with _BlockTaps(loaded, blocks) as taps:
        for batch in _batches(jobs, len(loaded.prefix_ids), batch_size * span):
            gathered = taps.run(batch, [t.ids for t in tokenized], state)
            offset = 0
            for job in batch:
                n = len(job.slots)
                features[job.window.text][job.slots] = gathered[offset : offset + n]
                offset += n
            if advance is not None:
                advance(sum(job.n_words for job in batch))
    return [
        f[np.searchsorted(n, w)] if t.n_tokens else np.zeros((len(w),) + f.shape[1:], np.float32)
        for f, n, w, t in zip(features, needed, word_tokens, tokenized)
    ]


def _reuse_context(job: _Job, state: ContextState, ids: np.ndarray) -> _Job:
    """The job reading the cached context instead of its tokens, where its window starts with exactly them."""
    n = len(state.token_ids)
    if job.window.start != 0 or job.columns.min() < n or not state.starts(ids):
        return job
    return _Job(job.window, job.columns, job.slots, job.n_words, skip=n)


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


def _plan(text: int, n_tokens: int, word_token: np.ndarray, needed: np.ndarray, ctx: int, mode: Mode, stride: int) -> list[_Job]:
    """The windows one text needs and, for each, the needed tokens it keeps."""
    if not len(needed):
        return []
    windows = strided_windows(text, n_tokens, ctx, stride) if mode == "strided" else exact_windows(text, needed, ctx)
    words_per_token = np.bincount(word_token, minlength=n_tokens)
    jobs = []
    for window in windows:
        lo, hi = np.searchsorted(needed, [window.keep_start, window.end])
        if hi > lo:
            kept = needed[lo:hi]
            jobs.append(_Job(window, kept - window.start, np.arange(lo, hi), int(words_per_token[kept].sum())))
    return jobs


def _batches(jobs: list[_Job], prefix_len: int, max_tokens: int) -> list[list[_Job]]:
    """Group jobs with the same context reuse, longest first, so that rows x padded length stays within
    max_tokens (>= 1 row per batch)."""
    ordered = sorted(jobs, key=lambda job: (job.skip, -job.length))
    batches: list[list[_Job]] = []
    for job in ordered:
        first = batches[-1][0] if batches else None
        if first is not None and first.skip == job.skip and (len(batches[-1]) + 1) * (first.length + prefix_len) <= max_tokens:
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

    def run(self, batch: list[_Job], token_ids: list[np.ndarray], context: ContextState | None = None) -> np.ndarray:
        """Forward one batch (right-padded; after the cached context when its jobs skip it);
        (n_kept_positions, n_blocks, dim) float32 in job order."""
        import torch

        skip = batch[0].skip
        prefix = [] if skip else list(self.loaded.prefix_ids)  # a cached context already holds the special tokens
        past, start = (context.length, context.position) if skip and context is not None else (0, 0)
        width = batch[0].length + len(prefix)
        pad_id = self.loaded.tokenizer.pad_token_id or 0
        ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), past + width), dtype=np.int64)
        for row, job in enumerate(batch):
            w = job.window
            ids[row, : len(prefix) + job.length] = prefix + token_ids[w.text][w.start + skip : w.end].tolist()
            mask[row, : past + len(prefix) + job.length] = 1
        rows = np.concatenate([np.full(len(job.columns), r) for r, job in enumerate(batch)])
        cols = np.concatenate([job.columns + len(prefix) - skip for job in batch])
        device = self.loaded.device
        self.index = (torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device))
        self.captured = {}
        try:
            with torch.inference_mode():
                cached: dict[str, Any] = {"use_cache": False}
                if skip and context is not None:
                    positions = torch.arange(start, start + width, device=device).expand(len(batch), -1)
                    cached = {**context.for_batch(self.loaded.model, len(batch)), "position_ids": positions}
                out = self.loaded.model(
                    input_ids=torch.from_numpy(ids).to(device),
                    attention_mask=None if mask.all() else torch.from_numpy(mask).to(device),
                    **cached,
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
