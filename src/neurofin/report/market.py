"""Market backtest report: a self-contained HTML page (figures embedded as PNG) plus the PNG files."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.io import write_bytes_atomic

METRIC_LABELS = {
    "model": "model", "n": "forecasts", "ic_pooled": "IC pooled", "ic_mean": "IC mean/date", "ic_t": "IC t (HAC)",
    "ic_p": "IC p", "perm_p": "IC permutation p", "same_as": "same as", "hit_rate": "hit rate",
    "base_rate": "base rate", "r2_vs_zero": "OOS R2 vs zero", "r2_vs_hist_mean": "OOS R2 vs mean",
    "pinball": "pinball", "coverage_80": "80% band coverage", "cw_t": "Clark-West t vs univariate",
    "cw_p": "Clark-West p", "cw_p_holm": "Clark-West p (Holm)",
}

LINE_STYLES = ("-", "--", ":", "-.")
MAX_ANNOTATED_CELLS = 400


def _png(figure) -> bytes:  # figure: matplotlib.figure.Figure
    """Render a matplotlib figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def cumulative_ic_figure(ic_by_model: pd.DataFrame) -> bytes:
    """PNG of the cumulative per-date IC of every model (columns) over sessions (index)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    for index, model in enumerate(ic_by_model.columns):  # styles differ so that identical curves stay visible
        axes.plot(ic_by_model.index, ic_by_model[model].fillna(0.0).cumsum(), label=model,
                  linestyle=LINE_STYLES[index % len(LINE_STYLES)])
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xlabel("session")
    axes.set_ylabel("cumulative Spearman IC")
    axes.legend(fontsize=8, ncols=2)
    figure.autofmt_xdate()
    return _png(figure)


def selection_heatmap_figure(frequencies: pd.DataFrame) -> bytes:
    """PNG heatmap of how often each ROI (rows) was selected for each ticker (columns) across folds."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.2 + 0.45 * max(frequencies.shape[1], 1), 1.0 + 0.35 * max(frequencies.shape[0], 1)))
    axes = figure.subplots()
    image = axes.imshow(frequencies.to_numpy(float), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    axes.set_xticks(range(frequencies.shape[1]), frequencies.columns, rotation=90, fontsize=8)
    axes.set_yticks(range(frequencies.shape[0]), frequencies.index, fontsize=8)
    if frequencies.size <= MAX_ANNOTATED_CELLS:
        for (row, col), value in np.ndenumerate(frequencies.to_numpy(float)):
            axes.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                      color="black" if value > 0.5 else "white")
    figure.colorbar(image, ax=axes, label="selection frequency")
    return _png(figure)


def write_market_report(
    out_dir: str | Path, metrics: pd.DataFrame, ic_by_model: pd.DataFrame, frequencies: pd.DataFrame,
    verdict: str, notes: list[str],
) -> Path:
    """Write cumulative_ic.png, selection_frequency.png and report.html (figures embedded) into out_dir."""
    out_dir = Path(out_dir)
    figures = {
        "cumulative_ic.png": ("Cumulative per-date IC", cumulative_ic_figure(ic_by_model)),
        "selection_frequency.png": ("Selection frequency (ROI x ticker, share of folds)",
                                    selection_heatmap_figure(frequencies)),
    }
    for name, (_, png) in figures.items():
        write_bytes_atomic(out_dir / name, png)
    table = metrics.rename(columns=METRIC_LABELS).to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")
    images = "".join(
        f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
        for title, png in figures.values()
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>neurofin market backtest</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        ".verdict{font-size:1.1em;font-weight:bold;padding:.6em;background:#f3f3f3}</style></head><body>"
        f"<h1>neurofin market backtest</h1><p class='verdict'>{html.escape(verdict)}</p>"
        f"<h2>Metrics (out of sample)</h2>{table}"
        + "".join(f"<p>{html.escape(n)}</p>" for n in notes) + images + "</body></html>"
    )
    report = out_dir / "report.html"
    write_bytes_atomic(report, page.encode("utf-8"))
    return report
