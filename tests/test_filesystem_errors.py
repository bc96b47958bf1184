"""Issue 16.6: file-system errors a user can cause are NeurofinErrors naming the path, raised before expensive work.

The unwritable output is a path below a regular file (no permission bits involved, so it holds for root too).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neurofin import cli
from neurofin.errors import NeurofinError


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file: any output path below it cannot be created."""
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


def _invoke(args: list[str]):
    cli._register()
    return CliRunner().invoke(cli.app, args)


def _assert_user_error(result, path: Path) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, NeurofinError), repr(result.exception)
    assert str(path) in str(result.exception)


def test_synth_into_an_unwritable_folder(blocker):
    _assert_user_error(_invoke(["data", "synth", "--out", str(blocker / "synth")]), blocker / "synth")


def test_features_extract_checks_its_cache_folder_before_loading_a_model(blocker, tmp_path):
    from neurofin.data.synth import make_synthetic_dataset

    dataset = make_synthetic_dataset(tmp_path / "synth", n_subjects=1, n_stories=1, n_voxels=20, seed=0)
    cache = blocker / "cache"
    result = _invoke(["features", "extract", "--data-root", str(dataset.root), "--model", str(tmp_path / "no-model"),
                      "--cache-dir", str(cache)])
    _assert_user_error(result, cache)  # a ModelLoadError here would mean the model was tried first


def test_infer_checks_its_output_before_loading_packages(blocker, tmp_path):
    comments = tmp_path / "c.jsonl"
    comments.write_text('{"id": "a", "body": "x"}\n')
    out = blocker / "rois.parquet"
    result = _invoke(["infer", "--packages", str(tmp_path / "no-packages"), "--input", str(comments), "--out", str(out)])
    _assert_user_error(result, out.parent)  # a PackageIntegrityError would mean packages were loaded first


def test_ingest_into_an_unwritable_folder(blocker, tmp_path):
    dump = tmp_path / "d.jsonl"
    dump.write_text(json.dumps({"id": "a", "body": "GME", "created_utc": 1611846000, "subreddit": "wallstreetbets",
                                "author": "x"}) + "\n")
    out = blocker / "comments.parquet"
    _assert_user_error(_invoke(["market", "ingest", str(dump), "--out", str(out)]), out.parent)


def test_panel_db_below_a_file_and_a_db_that_is_not_duckdb(blocker, tmp_path):
    db = blocker / "panel.duckdb"
    _assert_user_error(_invoke(["market", "panel", "--db", str(db), "--demo-prices"]), db)
    text = tmp_path / "notes.duckdb"
    text.write_text("these are my notes, not a database\n" * 20)
    _assert_user_error(_invoke(["market", "panel", "--db", str(text), "--demo-prices"]), text)
    assert text.read_text().startswith("these are my notes")  # nothing of the user's file is lost
    _assert_user_error(_invoke(["market", "backtest", "--db", str(text), "--out", str(tmp_path / "bt")]), text)


def test_panel_export_folder_is_checked_before_the_update(blocker, tmp_path):
    export = blocker / "export"
    db = tmp_path / "panel.duckdb"
    _assert_user_error(_invoke(["market", "panel", "--db", str(db), "--demo-prices", "--export", str(export)]), export)
    assert not db.exists()  # refused before any work


def test_any_remaining_oserror_is_one_line_not_a_traceback(blocker):
    """The console entry point's last line of defence: an OSError naming a path prints one line and exits 2."""
    code = ("import sys; from neurofin import cli; cli._register = lambda: None; "
            "cli.app = lambda: open(sys.argv[1] + '/x', 'w'); cli.main()")
    proc = subprocess.run([sys.executable, "-c", code, str(blocker)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and str(blocker) in proc.stderr
