"""One message channel: stage code logs; `neurofin --quiet` keeps only warnings and errors, `--verbose` adds debug."""

import logging
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from neurofin import cli


@pytest.fixture
def speaking_app():
    """An app with neurofin's real root callback and one command that logs at each level, as stage code does."""
    app = typer.Typer()
    app.callback()(cli.root)

    @app.command()
    def speak() -> None:
        log = logging.getLogger("neurofin.some.stage")
        log.debug("a detail")
        log.info("a step")
        log.warning("a repaired row")
        typer.echo("the result")

    yield app
    logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers if h.__class__.__module__ != "neurofin.logs"]
    logging.getLogger("neurofin").setLevel(logging.NOTSET)
    logging.getLogger().setLevel(logging.WARNING)


@pytest.mark.parametrize(("flags", "shown", "hidden"), [
    ([], ["a step", "warning: a repaired row", "the result"], ["a detail"]),
    (["--quiet"], ["warning: a repaired row", "the result"], ["a step", "a detail"]),
    (["--verbose"], ["a detail", "a step", "warning: a repaired row", "the result"], []),
])
def test_quiet_and_verbose_act_on_the_log_messages(speaking_app, flags, shown, hidden):
    result = CliRunner().invoke(speaking_app, [*flags, "speak"])
    assert result.exit_code == 0, result.output
    for text in shown:
        assert text in result.output, (flags, result.output)
    for text in hidden:
        assert text not in result.output, (flags, result.output)


def test_verbose_shows_how_the_real_cli_merged_the_settings():
    def run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "neurofin.cli", *flags, "config"], capture_output=True, text=True, timeout=120)

    verbose, plain = run("--verbose"), run()
    assert verbose.returncode == plain.returncode == 0
    assert "settings: defaults <- no --config file <- overrides {}" in verbose.stderr
    assert "settings:" not in plain.stderr and verbose.stdout == plain.stdout  # stdout stays the result alone
