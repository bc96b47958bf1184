"""Optional dependencies: each serves one corner and comes with an install extra (pyproject.toml).

    ants = import_extra("ants", "atlas", "atlas registration")   # MissingExtraError naming the extra if absent
"""

from __future__ import annotations

import importlib
from types import ModuleType

from neurofin.errors import NeurofinError


class MissingExtraError(NeurofinError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import `module`, or raise MissingExtraError telling to `pip install 'neurofin[extra]'` for `purpose`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{purpose} needs {module.split('.')[0]}, which is not installed: pip install 'neurofin[{extra}]'") from None
