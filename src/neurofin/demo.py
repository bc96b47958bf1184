"""`neurofin demo`: run every stage that exists end-to-end on a synthetic dataset and summarise."""

from __future__ import annotations

from pathlib import Path

import typer


def run_demo(out: Path) -> None:
    """Synthesise a small ds003020 twin under `out` and run the pipeline on it."""
    raise NotImplementedError


def register(app: typer.Typer) -> None:
    """Attach the `demo` command."""

    @app.command("demo")
    def demo(out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the demo's data and artifacts.")) -> None:
        """Run the whole pipeline on built-in synthetic data and print a summary.

        Example: neurofin demo --out demo_out
        """
        run_demo(out)
