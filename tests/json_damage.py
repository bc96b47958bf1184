"""Damaging a JSON document at any place: the Hypothesis suites over manifests and summary.json use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DELETE = object()  # as a replacement: remove the part instead


def json_paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path (tuple of keys/indices) into a JSON document, the root included."""
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from json_paths(child, (*prefix, key))


def replaced(node: Any, path: tuple, value: Any) -> Any:
    """A copy of `node` with the part at `path` replaced by `value` (removed when value is DELETE; the root never is)."""
    if not path:
        return None if value is DELETE else value
    copy = dict(node) if isinstance(node, dict) else list(node)
    if len(path) == 1 and value is DELETE:
        del copy[path[0]]
    else:
        copy[path[0]] = replaced(copy[path[0]], path[1:], value)
    return copy


def damaged(document: Any, where: int, value: Any) -> Any:
    """`document` with its part number `where` (modulo the number of parts) replaced by `value`."""
    paths = list(json_paths(document))
    return replaced(document, paths[where % len(paths)], value)
