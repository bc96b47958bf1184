"""CLI commands of the encoding stage."""

import typer


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the root app."""
