"""Provenance block of the report: when and with what it was made, which models, data span and tickers."""

from __future__ import annotations

import importlib.metadata
import platform
from datetime import UTC, datetime
from pathlib import Path

from markupsafe import Markup

from neurofin.report.html import details, key_value_table

LIBRARIES = ("numpy", "scipy", "pandas", "matplotlib", "nilearn", "nibabel", "pycortex", "statsmodels")
MAX_LISTED_TICKERS = 20


def versions() -> str:
    """'lib version' of neurofin, Python and the plotting/statistics libraries that are installed."""
    found = [f"neurofin {_version('neurofin')}", f"Python {platform.python_version()}"]
    found += [f"{lib} {_version(lib)}" for lib in LIBRARIES if _version(lib) != "absent"]
    return ", ".join(found)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        if name == "neurofin":
            from neurofin import __version__

            return __version__
        return "absent"


def package_line(package: Path) -> str:
    """One line per encoding package: subject, language model and blocks, weights' SHA-256 prefix (the model id)."""
    from neurofin.encoding.package import WEIGHTS_FILE, read_manifest, read_record

    record = read_record(package)
    digest = read_manifest(package)["files"][WEIGHTS_FILE]["sha256"][:12]
    blocks = record.features.blocks
    line = f"{record.subject}: {package.name} (weights sha256 {digest})"
    model = record.features.model
    if model:  # a hub id as is (org/name); a local file by its name only
        line += f", LM {Path(model).name if Path(model).is_absolute() else model}"
    return line + (f" blocks {blocks[0]}-{blocks[-1]}" if blocks else "")


def market_lines(folder: Path) -> list[tuple[str, str]]:
    """Date range, tickers and run settings of a backtest folder."""

    from neurofin.report.market import read_daily_ic, read_frequencies, read_summary

    summary = read_summary(folder)
    sessions = read_daily_ic(folder / "daily_ic.csv").index
    tickers = list(read_frequencies(folder / "selection_frequency.csv").columns)
    listed = ", ".join(tickers[:MAX_LISTED_TICKERS]) + (f" and {len(tickers) - MAX_LISTED_TICKERS} more"
                                                        if len(tickers) > MAX_LISTED_TICKERS else "")
    s = summary.settings.model_dump()
    targets = [("targets", f"{', '.join(summary.targets)} (primary {summary.primary_target})")] if summary.targets else []
    sentiment = summary.sentiment
    scored = [("sentiment control", f"{summary.controls['sentiment']}: "
               + ", ".join(f"{k} {v}" for k, v in sentiment["versions"].items())
               + (f", model {sentiment['finance_model']}" if sentiment.get("finance_model") else ""))
              ] if sentiment.get("versions") and "sentiment" in summary.controls else []
    return [
        ("forecast sessions", f"{sessions.min():%Y-%m-%d} to {sessions.max():%Y-%m-%d} ({len(sessions)} sessions)"),
        ("tickers", f"{len(tickers)}: {listed}"),
        ("backtest", f"forecaster {summary.forecaster}, {summary.n_folds} folds, "
                     f"{s.get('window')} window of {s.get('train_sessions')} sessions, step {s.get('step_sessions')}, embargo "
                     f"{s.get('embargo_sessions')}, seed {s.get('seed')}"),
        *targets,
        *scored,
    ]


def provenance_block(packages: list[Path], rois: Path | None, backtest: Path | None,
                     explanations: Path | None = None) -> Markup:
    """HTML <details> block with the report's provenance."""
    rows: list[tuple[str, str]] = [("generated", f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"), ("versions", versions())]
    rows += [("encoding model", package_line(p)) for p in packages]
    if rois is not None:
        rows.append(("ROI scores", str(Path(rois).name)))
    if explanations is not None:
        rows.append(("word attributions", str(Path(explanations).name)))
    if backtest is not None:
        rows += [("backtest folder", str(Path(backtest).name)), *market_lines(Path(backtest))]
    return details(Markup("<b>Provenance</b>"), key_value_table(rows, "prov"), open=True)
