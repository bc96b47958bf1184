"""The HTML templates (package resources under resources/templates) in one jinja2 environment with autoescape:
the report's blocks and page (neurofin.report.html) and the shaded words of `neurofin explain --html`."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader

TEMPLATES = Environment(loader=PackageLoader("neurofin", "resources/templates"), autoescape=True)


def macros(name: str) -> Any:
    """The macros of template `name` as Python callables; each returns Markup (escaped HTML)."""
    return TEMPLATES.get_template(name).module


def source(name: str) -> str:
    """A template file's text as is (e.g. the stylesheet)."""
    return TEMPLATES.loader.get_source(TEMPLATES, name)[0]  # type: ignore[union-attr]
