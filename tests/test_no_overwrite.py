"""Issue 24.3: no `--out` of any command replaces an input (same path, hard link or symlink) or an existing file
of another type; the refusal comes before any work and leaves the file as it was.

Each case runs the real `neurofin` app (typer) with the output pointed at a file the command must not touch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from neurofin import cli
from neurofin.errors import InputError
from neurofin.io import guard_output

DUMP = json.dumps({"id": "a1", "author": "u", "body": "GME up", "created_utc": 1611846000, "subreddit": "wallstreetbets"})


def _files(tmp: Path) -> dict[str, Path]:
    """Input files of every kind a command reads, and a text file and a folder that are no command's output."""
    files = {"dump": tmp / "RC.jsonl", "comments": tmp / "comments.parquet", "config": tmp / "run.toml",
             "notes": tmp / "notes.txt", "csv_notes": tmp / "table.parquet", "db": tmp / "panel.duckdb",
             "models": tmp / "models", "exported": tmp / "export" / "panel.parquet"}
    files["dump"].write_text(DUMP + "\n")
    pd.DataFrame({"id": ["a1"], "body": ["GME up"]}).to_parquet(files["comments"])
    files["config"].write_text("[infer]\nbatch_size = 8\n")
    files["notes"].write_text("my notes: do not lose them\n")
    files["csv_notes"].write_text("id,body\na1,not really Parquet\n")  # a CSV under a .parquet name
    files["db"].write_bytes(b"\0" * 8 + b"DUCK" + b"\0" * 64)  # the DuckDB magic: an input, never read here
    files["models"].mkdir()
    files["exported"].parent.mkdir()
    files["exported"].write_bytes(files["comments"].read_bytes())  # comments kept under the name --export writes
    return files


Case = Callable[[dict[str, Path]], tuple[list, str, str]]  # files -> (args, the file at stake, the refusal)

CASES: dict[str, Case] = {
    "market ingest onto its dump": lambda f: (["market", "ingest", f["dump"], "--out", f["dump"]], "dump", "is the input"),
    "market ingest onto a text file": lambda f: (["market", "ingest", f["dump"], "--out", f["notes"]], "notes", "not a Parquet file"),
    "infer onto its input": lambda f: (["infer", "--packages", f["models"], "--input", f["comments"], "--out", f["comments"]], "comments", "is the input"),
    "infer onto a CSV named .parquet": lambda f: (["infer", "--packages", f["models"], "--input", f["comments"], "--out", f["csv_notes"]], "csv_notes", "not a Parquet file"),
    "explain --html onto its config": lambda f: (["explain", "x", "--packages", f["models"], "--config", f["config"], "--html", f["config"]], "config", "is the input"),
    "explain --html onto a text file": lambda f: (["explain", "x", "--packages", f["models"], "--html", f["notes"]], "notes", "not an HTML file"),
    "explain --table onto a CSV named .parquet": lambda f: (["explain", "x", "--packages", f["models"], "--table", f["csv_notes"]], "csv_notes", "not a Parquet file"),
    "explain --csv onto a text file": lambda f: (["explain", "x", "--packages", f["models"], "--csv", f["notes"]], "notes", "not a CSV file"),
    "market panel --db onto its comments": lambda f: (["market", "panel", "--db", f["comments"], "--comments", f["comments"], "--roi", f["comments"]], "comments", "is the input"),
    "market panel --db onto a text file": lambda f: (["market", "panel", "--db", f["notes"], "--demo-prices"], "notes", "not a DuckDB file"),
    "market panel --export over its comments": lambda f: (["market", "panel", "--db", f["db"].with_name("new.duckdb"), "--comments", f["exported"], "--roi", f["comments"], "--export", f["exported"].parent], "exported", "is the input"),
    "market select onto its panel": lambda f: (["market", "select", "--db", f["db"], "--out", f["db"]], "db", "is the input"),
    "market forecast onto a text file": lambda f: (["market", "forecast", "--db", f["db"], "--out", f["notes"]], "notes", "not a folder"),
    "market backtest onto its panel": lambda f: (["market", "backtest", "--db", f["db"], "--out", f["db"]], "db", "is the input"),
    "market demo-dump onto a text file": lambda f: (["market", "demo-dump", "--out", f["notes"]], "notes", "not a JSONL file"),
    "report onto its ROI table": lambda f: (["report", "--rois", f["comments"], "--out", f["comments"]], "comments", "is the input"),
    "report onto a text file": lambda f: (["report", "--rois", f["comments"], "--out", f["notes"]], "notes", "not an HTML file"),
    "data synth onto a text file": lambda f: (["data", "synth", "--out", f["notes"]], "notes", "not a folder"),
    "features extract cache onto a text file": lambda f: (["features", "extract", "--data-root", f["models"], "--cache-dir", f["notes"]], "notes", "not a folder"),
    "train onto its config": lambda f: (["train", "--config", f["config"], "--out", f["config"]], "config", "is the input"),
    "atlas register cache onto its config": lambda f: (["atlas", "register", "--config", f["config"], "--cache", f["config"]], "config", "is the input"),
    "reproduce onto its config": lambda f: (["reproduce", "--config", f["config"], "--out", f["config"], "--no-download"], "config", "is the input"),
    "demo onto a text file": lambda f: (["demo", "--out", f["notes"]], "notes", "not a folder"),
}


def _run(args: list) -> object:
    cli._register()
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def _snapshot(files: dict[str, Path]) -> dict[str, bytes]:
    return {k: p.read_bytes() for k, p in files.items() if p.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_no_command_overwrites_an_input_or_a_file_of_another_type(tmp_path, name):
    files = _files(tmp_path)
    args, _, message = CASES[name](files)
    before = _snapshot(files)
    result = _run(args)
    assert isinstance(result.exception, InputError), (result.exception, result.output)
    assert message in str(result.exception) and ("--" in str(result.exception)), str(result.exception)
    assert _snapshot(files) == before  # every file as it was


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_to_the_input_is_the_input(tmp_path, link):
    files = _files(tmp_path)
    alias = tmp_path / "alias.parquet"
    (os.link if link == "hard" else os.symlink)(files["comments"], alias)
    before = files["comments"].read_bytes()
    result = _run(["infer", "--packages", files["models"], "--input", files["comments"], "--out", alias])
    assert isinstance(result.exception, InputError) and "is the input" in str(result.exception)
    result = _run(["market", "ingest", files["dump"], "--out", tmp_path / "sub" / ".." / "RC.jsonl"])
    assert isinstance(result.exception, InputError) and "is the input" in str(result.exception)
    assert files["comments"].read_bytes() == before and files["dump"].read_text() == DUMP + "\n"


def test_ingest_onto_its_dump_is_one_line_exit_2(tmp_path):
    files = _files(tmp_path)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "neurofin.cli", "market", "ingest", str(files["dump"]), "--out",
                           str(files["dump"])], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: --out"), proc.stderr
    assert files["dump"].read_text() == DUMP + "\n"  # was: the dump replaced by Parquet bytes, exit 0


def test_outputs_of_the_same_kind_are_replaced(tmp_path):
    files = _files(tmp_path)
    assert guard_output(files["comments"], "parquet") == files["comments"]  # an earlier Parquet output
    assert guard_output(files["db"], "duckdb") == files["db"]
    empty = tmp_path / "empty.html"
    empty.touch()
    assert guard_output(empty, "html") == empty  # nothing to lose
    assert guard_output(files["models"], "folder") == files["models"]
    csv = tmp_path / "old.csv"
    csv.write_text("a,b\n1,2\n")
    assert guard_output(csv, "table") == csv
    csv.write_bytes(b"PAR1\0\0binary")
    with pytest.raises(InputError, match="not a CSV file"):
        guard_output(csv, "table")
