"""Fair dynamic batching: concurrent requests share bounded forward passes, and no failure stops the batcher.

Each pass takes texts round-robin from the waiting requests, oldest first (one text per request per round), up
to `max_batch` texts and `max_batch_chars` characters (a single longer text goes alone). A large request is so
scored over several passes while requests that arrive meanwhile join the next pass: a 1-text request waits at
most for the pass already running, then its own. Passes run one at a time on a daemon thread, so a stop never
waits for a pass to finish. Whatever goes wrong in a pass fails only the requests whose rows it concerned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


class ShuttingDown(RuntimeError):
    """The server stopped before this request was scored."""


@dataclass(eq=False)
class _Request:
    texts: list[str]
    ids: list[str]
    future: asyncio.Future
    handed: int = 0  # texts given to passes so far
    scored: int = 0  # texts whose rows came back
    frames: list[pd.DataFrame] = field(default_factory=list)


@dataclass
class BatchStats:
    """Counters of the batcher: requests served and failed, predict calls made, texts scored."""

    requests: int = 0
    failed: int = 0
    batches: int = 0
    texts: int = 0


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


@dataclass
class Batcher:
    """Collects concurrent requests into shared, bounded `predict(texts, ids)` calls, one at a time.

    The collector waits for a request, then up to `max_wait_ms` for more (or until `max_batch` texts wait);
    while a pass runs, new requests wait for the next one.
    """

    predict: Callable[[list[str], list[str]], pd.DataFrame]
    max_wait_ms: float = 5.0
    max_batch: int = 64
    max_batch_chars: int = 2048
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        self._waiting: list[_Request] = []  # requests with texts not yet given to a pass
        self._in_pass: list[_Request] = []
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._stopped = False

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        """Stop collecting and fail every unanswered request; a running pass is left to its daemon thread."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for request in [*self._waiting, *self._in_pass]:
            self._fail(request, ShuttingDown("the server is shutting down: retry on another instance"))

    async def submit(self, texts: Sequence[str], ids: Sequence[str]) -> pd.DataFrame:
        """Rows of `predict` for these texts (ids as given); cancelling it drops the texts not yet scored."""
        if self._arrived is None:
            raise RuntimeError("Batcher.start() was not awaited")
        if self._stopped:
            raise ShuttingDown("the server is shutting down: retry on another instance")
        request = _Request(list(texts), list(ids), asyncio.get_running_loop().create_future())
        if not request.texts:
            return pd.DataFrame()
        self._waiting.append(request)
        self._arrived.set()
        try:
            return await request.future
        finally:
            if request in self._waiting:
                self._waiting.remove(request)

    def _waiting_texts(self) -> int:
        return sum(len(r.texts) - r.handed for r in self._waiting)

    async def _gather(self) -> None:
        """Wait for a request, then up to max_wait_ms for more texts (or until a full pass waits)."""
        assert self._arrived is not None
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_ms / 1e3
        while self._waiting_texts() < self.max_batch and (remaining := deadline - loop.time()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break

    def _take(self) -> list[tuple[_Request, int, int]]:
        """The next pass: (request, first, stop) text slices taken round-robin within the pass limits."""
        taken = dict.fromkeys(self._waiting, 0)
        count = chars = 0
        while any(r.handed + taken[r] < len(r.texts) for r in taken):
            for request in taken:
                index = request.handed + taken[request]
                if index == len(request.texts):
                    continue
                size = len(request.texts[index])
                if count and (count == self.max_batch or chars + size > self.max_batch_chars):
                    return self._hand_out(taken)
                taken[request] += 1
                count, chars = count + 1, chars + size
        return self._hand_out(taken)

    def _hand_out(self, taken: dict[_Request, int]) -> list[tuple[_Request, int, int]]:
        slices = [(r, r.handed, r.handed + n) for r, n in taken.items() if n]
        for request, _, stop in slices:
            request.handed = stop
            if stop == len(request.texts):
                self._waiting.remove(request)
        return slices

    async def _collect(self) -> None:
        while True:
            await self._gather()
            slices = self._take()
            self._in_pass = [r for r, _, _ in slices]
            try:
                await self._run(slices)
            except Exception as exc:  # any failure of a pass is answered, and the batcher goes on
                for request in self._in_pass:
                    self._fail(request, exc)
            self._in_pass = []

    async def _run(self, slices: list[tuple[_Request, int, int]]) -> None:
        texts = [t for request, first, stop in slices for t in request.texts[first:stop]]
        frame = await self._in_thread(texts, [str(i) for i in range(len(texts))])  # positions: ids may repeat
        self.stats.batches += 1
        self.stats.texts += len(texts)
        position = frame["id"].astype(int).to_numpy()
        offset = 0
        for request, first, stop in slices:
            mine = (position >= offset) & (position < offset + stop - first)
            try:
                rows = frame[mine].copy()
                rows["id"] = [request.ids[first + p - offset] for p in position[mine]]
            except Exception as exc:  # this request's rows cannot be built: fail it alone
                self._fail(request, exc)
            else:
                self._deliver(request, rows, stop - first)
            offset += stop - first

    def _deliver(self, request: _Request, rows: pd.DataFrame, n_texts: int) -> None:
        request.frames.append(rows)
        request.scored += n_texts
        if request.scored == len(request.texts) and not request.future.done():
            self.stats.requests += 1
            request.future.set_result(pd.concat(request.frames, ignore_index=True))

    def _fail(self, request: _Request, error: BaseException) -> None:
        if request in self._waiting:
            self._waiting.remove(request)
        if not request.future.done():
            self.stats.failed += 1
            request.future.set_exception(error)

    async def _in_thread(self, texts: list[str], keys: list[str]) -> pd.DataFrame:
        """`predict(texts, keys)` on a daemon thread (an exiting server never waits for it)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def work() -> None:
            result, error = None, None
            try:
                result = self.predict(texts, keys)
            except BaseException as exc:  # handed to the awaiting request
                error = exc
            with contextlib.suppress(RuntimeError):  # the event loop closed: the server stopped meanwhile
                loop.call_soon_threadsafe(_settle, future, result, error)

        threading.Thread(target=work, name="neurofin-predict", daemon=True).start()
        return await future
