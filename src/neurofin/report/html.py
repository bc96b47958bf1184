"""HTML building blocks of the self-contained report: escaped text, tables, embedded PNG figures, the page.

Everything is inline: figures are base64 PNG data URIs, the stylesheet is a <style> block, there is no
JavaScript and no external URL, so the file opens offline and can be mailed as is.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;
color:#1d1d1f;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f4f4f6}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:13px;color:#444}
.verdict{font-size:1.15em;font-weight:600;padding:.6em .8em;background:#f3f3f6;border-left:5px solid #556}
.note{font-size:13px;color:#555}.pass{color:#176117;font-weight:600}.fail{color:#a11;font-weight:600}
.prov td{text-align:left}nav ul{columns:2;font-size:14px}
span.w{padding:1px 3px;border-radius:3px;line-height:1.9}.explain p{margin:.2em 0}.explain{margin:.6em 0 1em}
.legend{font-size:13px}
"""


def esc(text: object) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(text), quote=True)


def png_data_uri(png: bytes) -> str:
    """A PNG as a data: URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class Figure:
    """One embedded figure: PNG bytes, a title (the alt text) and a caption."""

    title: str
    png: bytes
    caption: str = ""

    def html(self) -> str:
        caption = f"<figcaption>{esc(self.caption)}</figcaption>" if self.caption else ""
        return f"<figure><img alt='{esc(self.title)}' src='{png_data_uri(self.png)}'>{caption}</figure>"


def paragraph(text: str, css: str = "") -> str:
    """<p> of escaped text, with an optional class."""
    cls = f" class='{css}'" if css else ""
    return f"<p{cls}>{esc(text)}</p>"


def table(frame: pd.DataFrame, digits: int = 3, index: bool = False) -> str:
    """An HTML table of a frame: floats rounded to `digits` significant digits, missing values as '-'."""
    return frame.to_html(index=index, float_format=lambda v: f"{v:.{digits}g}", na_rep="-", border=0, escape=True)


def key_value_table(rows: Iterable[tuple[str, object]], css: str = "") -> str:
    """A two-column table of (label, value) rows."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    cls = f" class='{css}'" if css else ""
    return f"<table{cls}>{body}</table>"


@dataclass
class Section:
    """A report section: an anchor id, a heading and its HTML parts in order."""

    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)

    def add(self, *parts: str | Figure) -> None:
        """Append HTML strings or figures."""
        self.parts.extend(p.html() if isinstance(p, Figure) else p for p in parts)

    def html(self) -> str:
        return f"<section id='{esc(self.anchor)}'><h2>{esc(self.title)}</h2>{''.join(self.parts)}</section>"


def page(title: str, header: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole document: title, header parts (verdict, provenance), a table of contents, the sections."""
    toc = "".join(f"<li><a href='#{esc(s.anchor)}'>{esc(s.title)}</a></li>" for s in sections)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{''.join(header)}<nav><ul>{toc}</ul></nav>"
        + "".join(s.html() for s in sections) + "</body></html>"
    )
