"""Matplotlib helpers shared by the report sections: a titled figure and its PNG bytes (no pyplot state)."""

from __future__ import annotations

import io
from typing import Literal

DPI = 96
MAX_INCHES = (11.0, 9.0)  # no figure grows past this, whatever the number of tickers or ROIs


def new_figure(width: float, height: float, title: str, layout: Literal["constrained", "compressed", "tight"] | None = "constrained"):  # -> Figure
    """A figure of at most MAX_INCHES with a suptitle (figures always name their subject or model)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(min(width, MAX_INCHES[0]), min(height, MAX_INCHES[1])), layout=layout)
    figure.suptitle(title, fontsize=11, fontweight="bold")
    return figure


def to_png(figure) -> bytes:
    """Render a figure to PNG bytes; every text is drawn literally (a `$` in a name is not matplotlib mathtext)."""
    import matplotlib
    from matplotlib.text import Text

    buffer = io.BytesIO()
    with matplotlib.rc_context({"text.parse_math": False}):  # texts made while drawing (tick labels)
        for text in figure.findobj(Text):  # texts made before
            text.set_parse_math(False)
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
