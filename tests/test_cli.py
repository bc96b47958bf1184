"""The CLI: every command has help with an example; user errors exit 2 without a traceback."""

import subprocess
import sys

import pytest
from typer.main import get_command

from neurofin import cli


def _all_commands():
    """Every group and command under the root, with its path (the root itself left out)."""
    cli._register()
    root = get_command(cli.app)
    stack = [((), root)]
    while stack:
        path, cmd = stack.pop()
        if path:
            yield path, cmd
        if hasattr(cmd, "commands"):
            stack.extend(((*path, name), sub) for name, sub in cmd.commands.items())


def test_every_command_has_help_with_an_example():
    commands = list(_all_commands())
    names = {" ".join(path) for path, _ in commands}
    expected = {
        "config", "demo", "data synth", "data check", "data download", "features extract", "train", "evaluate",
        "atlas rois", "atlas register", "infer", "market ingest", "market panel", "market select",
        "market forecast", "market backtest", "market demo-dump", "report", "calibrate", "explain", "serve", "reproduce",
        "data", "features", "atlas", "market",
    }
    assert expected <= names, f"missing commands: {sorted(expected - names)}"
    for path, cmd in commands:
        assert cmd.help and "Example" in cmd.help, f"`neurofin {' '.join(path)}` lacks an Example in its help"


def test_every_command_help_runs():
    """`neurofin ... --help` for every group and command: it prints its usage and example."""
    from typer.testing import CliRunner

    for path, _ in _all_commands():
        result = CliRunner().invoke(cli.app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output and "Example" in result.output, (path, result.output)


def test_user_error_exits_2_with_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "neurofin.cli", "config", "--config", str(tmp_path / "missing.toml")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["market", "--help"]])
def test_help_runs(args):
    proc = subprocess.run([sys.executable, "-m", "neurofin.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 0 and "Usage" in proc.stdout


def test_error_messages_are_printed_as_plain_text_not_markup(tmp_path):
    """Issue 16.5: rich markup ate `[i + 1]` and crashed on a path containing `[/x]`."""
    path = tmp_path / "odd[/x]name" / "run[i + 1][bold].toml"
    proc = subprocess.run([sys.executable, "-m", "neurofin.cli", "config", "--config", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: config file {path} not found")
