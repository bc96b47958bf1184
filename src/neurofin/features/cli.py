"""CLI commands of the features stage."""

import typer

app = typer.Typer(help="features commands.", no_args_is_help=True)
