"""The `neurofin` command line: a thin layer that parses, calls stage functions and reports errors."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from neurofin.errors import NeurofinError

app = typer.Typer(
    name="neurofin",
    help="LLM fMRI encoding models -> predicted brain-region activity for text -> honest return forecasts.\n\n"
    "Start with `neurofin demo --out demo_out`, or `neurofin data synth --out synth` then `neurofin data check synth`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    """Attach every stage's commands (each stage owns its own CLI module)."""
    from neurofin import demo
    from neurofin.atlas import cli as atlas_cli
    from neurofin.data import cli as data_cli
    from neurofin.encoding import cli as encoding_cli
    from neurofin.features import cli as features_cli
    from neurofin.infer import cli as infer_cli
    from neurofin.market import cli as market_cli
    from neurofin import serve
    from neurofin.scale import reproduce

    app.add_typer(data_cli.app, name="data")
    app.add_typer(features_cli.app, name="features")
    encoding_cli.register(app)
    app.add_typer(atlas_cli.app, name="atlas")
    infer_cli.register(app)
    app.add_typer(market_cli.app, name="market")
    demo.register(app)
    serve.register(app)
    reproduce.register(app)


@app.command("config")
def config_show(config: str = typer.Option(None, "--config", help="TOML file to merge over the defaults.")) -> None:
    """Print the effective settings as TOML-like JSON.

    Example: neurofin config --config my.toml
    """
    import json

    from neurofin.config import Settings

    typer.echo(json.dumps(Settings.load(config).to_record(), indent=2))


def main() -> None:
    """Console entry point: user errors print one clear line and exit 2, without a traceback."""
    _register()
    try:
        app()
    except NeurofinError as exc:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
