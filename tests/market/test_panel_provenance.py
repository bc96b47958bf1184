"""Issue 24.6: the ROI table carries its model's digest, and `market panel` never mixes two models' rows silently.

A second `market panel` run with ROI rows of another model is refused (one line, exit 2, the panel untouched)
unless `--replace-rois` says to replace every stored ROI row; then the panel equals one built from the new
model's rows alone. Rows of the same model extend the panel as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_panel import comments_frame, normalised, roi_frame

from neurofin.errors import InputError
from neurofin.market.panel.store import PanelStore
from neurofin.schema import MODEL_DIGEST


def run_cli(*args: object) -> subprocess.CompletedProcess:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "neurofin.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=180)


def _roi_file(path: Path, seed: int, digest: str | None, ids: list[str] | None = None) -> Path:
    """An ROI table as `neurofin infer` writes it: the model's digest in the Parquet metadata."""
    frame = roi_frame(seed, ids)
    if digest is not None:
        frame.attrs[MODEL_DIGEST] = digest
    frame.to_parquet(path)
    return path


def test_panel_refuses_roi_rows_of_another_model_unless_told_to_replace_them(tmp_path):
    comments = tmp_path / "comments.parquet"
    comments_frame().to_parquet(comments)
    db = tmp_path / "panel.duckdb"
    first = _roi_file(tmp_path / "a1.parquet", 0, "model-a", ids=["c1", "c2", "c3"])
    more = _roi_file(tmp_path / "a2.parquet", 0, "model-a", ids=["c4", "c8", "c9"])  # same model, more comments
    other = _roi_file(tmp_path / "b.parquet", 1, "model-b")
    unrecorded = _roi_file(tmp_path / "u.parquet", 2, None)
    for roi in (first, more):
        result = run_cli("market", "panel", "--db", db, "--comments", comments, "--roi", roi)
        assert result.returncode == 0, result.stderr
    before = normalised(PanelStore(db).load_panel())
    for roi in (other, unrecorded):
        result = run_cli("market", "panel", "--db", db, "--comments", comments, "--roi", roi)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr  # was exit 0: two models mixed
        assert lines[0].startswith("error:") and "--replace-rois" in lines[0] and "model-a" in lines[0]
        pd.testing.assert_frame_equal(normalised(PanelStore(db).load_panel()), before)

    result = run_cli("market", "panel", "--db", db, "--comments", comments, "--roi", other, "--replace-rois")
    assert result.returncode == 0, result.stderr
    fresh = PanelStore(tmp_path / "fresh.duckdb")
    fresh.update(comments_frame(), pd.read_parquet(other))
    pd.testing.assert_frame_equal(normalised(PanelStore(db).load_panel()), normalised(fresh.load_panel()))
    result = run_cli("market", "panel", "--db", db, "--comments", comments, "--roi", first)
    assert result.returncode == 2 and "model-b" in result.stderr  # the panel now records model-b


def test_roi_tables_without_a_digest_still_build_a_panel(tmp_path):
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(["c1", "c2"]), roi_frame(0, ["c1", "c2"]))  # hand-made tables: no digest on either
    update = store.update(comments_frame(["c3"]), roi_frame(0, ["c3"]))
    assert update.panel_rows_written > 0


def test_a_panel_without_a_recorded_model_takes_a_models_rows_only_when_replacing(tmp_path):
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi_frame(0))  # as before provenance: no digest recorded
    digested = roi_frame(1)
    digested.attrs[MODEL_DIGEST] = "model-a"
    with pytest.raises(InputError, match="not recorded"):
        store.update(comments_frame(), digested)
    store.update(comments_frame(), digested, replace_rois=True)  # what `neurofin demo` does on a rerun
    fresh = PanelStore(tmp_path / "fresh.duckdb")
    fresh.update(comments_frame(), digested)
    pd.testing.assert_frame_equal(normalised(store.load_panel()), normalised(fresh.load_panel()))
