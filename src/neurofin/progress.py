"""One progress convention for every stage: library code is silent unless given a `Progress`.

A long-running function takes `progress: Progress | None = None` and calls
`advance = report(progress).task("label", total)` then `advance(n)`. The CLI passes `cli_progress()`,
which draws one labelled line per task on stderr (stdout stays clean for tables and JSON); a notebook
passes nothing (silent) or its own object with the same `task` method.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

Advance = Callable[[float], None]


class Progress(Protocol):
    """Receives labelled tasks; each task returns the function that advances it."""

    def task(self, label: str, total: float | None = None) -> Advance: ...


def _ignore(n: float = 1) -> None:
    """Advance nothing."""


class _Silent:
    def task(self, label: str, total: float | None = None) -> Advance:
        return _ignore


SILENT: Progress = _Silent()
_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Turn CLI progress lines off (`neurofin --quiet`) or back on."""
    global _QUIET
    _QUIET = quiet


def report(progress: Progress | None) -> Progress:
    """`progress`, or the silent reporter when None."""
    return progress if progress is not None else SILENT


class _RichLines:
    """Each task is one labelled rich progress line on stderr (bar, count or bytes, time)."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def task(self, label: str, total: float | None = None) -> Advance:
        task_id = self._bar.add_task(label, total=total)

        def advance(n: float = 1) -> None:
            self._bar.advance(task_id, n)

        return advance


@contextlib.contextmanager
def cli_progress(enabled: bool = True) -> Iterator[Progress]:
    """Progress lines on stderr for a CLI command (silent when not `enabled` or after `neurofin --quiet`)."""
    if not enabled or _QUIET:
        yield SILENT
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with RichProgress(*columns, console=Console(stderr=True)) as bar:
        yield _RichLines(bar)
