"""HTML building blocks of the self-contained report, rendered from jinja2 templates with autoescape.

The templates (neurofin.templates, resources/templates): blocks.html.j2 holds one macro per block,
report.html.j2 the page, report.css its stylesheet. Every block returns `Markup` (HTML, already safe); any other
value given to a block is escaped. A section's parts and the page's header parts are HTML by contract.

Everything is inline: figures are base64 PNG data URIs, the stylesheet is a <style> block, there is no
JavaScript and no external URL, so the file opens offline and can be mailed as is.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd
from markupsafe import Markup, escape

from neurofin.templates import TEMPLATES, macros, source

BLOCKS = macros("blocks.html.j2")
STYLE = Markup(source("report.css"))


def esc(text: object) -> Markup:
    """HTML-escaped text of any value."""
    return escape(str(text))


def png_data_uri(png: bytes) -> str:
    """A PNG as a data: URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class Figure:
    """One embedded figure: PNG bytes, a title (the alt text) and a caption."""

    title: str
    png: bytes
    caption: str = ""

    def html(self) -> Markup:
        return BLOCKS.figure(self.title, png_data_uri(self.png), self.caption)


def paragraph(text: str, css: str = "") -> Markup:
    """<p> of escaped text, with an optional class."""
    return BLOCKS.paragraph(text, css)


def table(frame: pd.DataFrame, digits: int = 3, index: bool = False) -> Markup:
    """An HTML table of a frame (pandas escapes it): floats rounded to `digits` significant digits, missing as '-'."""
    return Markup(frame.to_html(index=index, float_format=lambda v: f"{v:.{digits}g}", na_rep="-", border=0, escape=True))


def key_value_table(rows: Iterable[tuple[str, object]], css: str = "") -> Markup:
    """A two-column table of (label, value) rows."""
    return BLOCKS.key_value_table(list(rows), css)


def heading(text: str) -> Markup:
    """An <h3> of escaped text."""
    return BLOCKS.heading(text)


def span(text: str, css: str) -> Markup:
    """A <span> of escaped text with a class."""
    return BLOCKS.span(text, css)


def details(summary: str, body: str, open: bool = False) -> Markup:
    """A <details> block: escaped summary text (Markup passes as is) over `body` HTML."""
    return BLOCKS.details(summary, Markup(body), open)


@dataclass
class Section:
    """A report section: an anchor id, a heading and its HTML parts in order."""

    anchor: str
    title: str
    parts: list[Markup] = field(default_factory=list)

    def add(self, *parts: str | Figure) -> None:
        """Append HTML strings or figures."""
        self.parts.extend(p.html() if isinstance(p, Figure) else Markup(p) for p in parts)

    def html(self) -> Markup:
        return BLOCKS.section(self.anchor, self.title, self.parts)


def page(title: str, header: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole document: title, header parts (verdict, provenance), a table of contents, the sections."""
    return TEMPLATES.get_template("report.html.j2").render(
        title=title, style=STYLE, header=[Markup(part) for part in header], sections=sections)
