"""One message channel: library code logs to `logging.getLogger(__name__)` (under "neurofin"); bars go through Progress.

The CLI shows the messages on stderr, warnings as `warning: ...`: neurofin's info and up by default, only warnings
and errors after `neurofin --quiet`, neurofin's debug and third-party info after `--verbose`. A notebook or a
service keeps Python's defaults (warnings only) or configures `logging` itself.
"""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.Handler):
    """Writes each message to the current sys.stderr (test runners swap it), prefixed with its level from warning up."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            prefix = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
            sys.stderr.write(prefix + message + "\n")
        except Exception:
            self.handleError(record)


def configure_cli_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Route log messages to stderr for a CLI run: levels as the module docstring says (calling again replaces them)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    root.addHandler(_StderrHandler())
    root.setLevel(logging.INFO if verbose else logging.WARNING)  # third-party libraries
    logging.getLogger("neurofin").setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
