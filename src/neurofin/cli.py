"""The `neurofin` command line: a thin layer that parses, calls stage functions and reports errors."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

import neurofin
from neurofin.errors import NeurofinError

app = typer.Typer(
    name="neurofin",
    help="LLM fMRI encoding models -> predicted brain-region activity for text -> honest return forecasts.\n\n"
    "Start with `neurofin demo --out demo_out`, or `neurofin data synth --out synth` then `neurofin data check synth`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich's formatter costs a quarter second at every `neurofin --help`
)


def _register() -> None:
    """Attach every stage's commands: each stage's CLI module has `register(app)` and imports its stage inside commands."""
    from neurofin import demo
    from neurofin.atlas import cli as atlas_cli
    from neurofin.data import cli as data_cli
    from neurofin.encoding import cli as encoding_cli
    from neurofin.features import cli as features_cli
    from neurofin.infer import cli as infer_cli
    from neurofin.market import cli as market_cli
    from neurofin.report import cli as report_cli
    from neurofin.scale import cli as scale_cli
    from neurofin.serve import command as serve_cli

    for stage in (data_cli, features_cli, encoding_cli, atlas_cli, infer_cli, market_cli, demo, report_cli, serve_cli, scale_cli):
        stage.register(app)
    if _market_report not in market_cli.BACKTEST_PAGES:
        market_cli.BACKTEST_PAGES.append(_market_report)


def _market_report(folder: Path) -> Path:
    """The backtest's own report.html beside its outputs (`neurofin market backtest` writes it)."""
    from neurofin.report.market import write_market_report

    return write_market_report(folder)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"neurofin {neurofin.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or info messages (results, warnings and errors still print)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also debug messages of each stage (and third-party info logs)."),
) -> None:
    """LLM fMRI encoding models -> predicted brain-region activity for text -> honest return forecasts."""
    from neurofin.logs import configure_cli_logging
    from neurofin.progress import set_quiet

    set_quiet(quiet)
    configure_cli_logging(quiet, verbose)


@app.command("config")
def config_show(
    config: str = typer.Option(None, "--config", help="TOML file to merge over the defaults."),
    toml: bool = typer.Option(False, "--toml", help="Print TOML (a starting file for --config) instead of JSON."),
    demo: bool = typer.Option(False, "--demo", help="Start from the demo's settings (the shipped SmolLM2-135M, small fits)."),
) -> None:
    """Print the effective settings (defaults <- --config file) as JSON, or as TOML to save and edit.

    Example: neurofin config --toml > run.toml   # then edit run.toml and pass --config run.toml to any command
    """
    import json

    from neurofin.config import Settings

    if demo:
        from neurofin.demo import demo_settings
        from neurofin.errors import ConfigError

        if config is not None:
            raise ConfigError("--demo prints the demo's own settings: drop --config (or edit the printed file)")
        settings = demo_settings()
    else:
        settings = Settings.load(config)
    typer.echo(settings.to_toml() if toml else json.dumps(settings.to_record(), indent=2), nl=not toml)


def main() -> None:
    """Console entry point: user errors print one clear line and exit 2, without a traceback."""
    _register()
    try:
        app()
    except NeurofinError as exc:
        sys.stderr.write(f"error: {exc}\n")  # plain text: paths and messages may contain [brackets]
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file-system problem the user can fix: still one line, no traceback
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"error: cannot access{where} ({exc.strerror or exc}): check the path, its permissions and free disk space\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
