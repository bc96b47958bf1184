"""CLI commands of the atlas stage."""

import typer

app = typer.Typer(help="atlas commands.", no_args_is_help=True)
