"""CLI commands of the market stage."""

import typer

app = typer.Typer(help="market commands.", no_args_is_help=True)
