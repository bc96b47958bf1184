"""Issue 12 point 13: provenance in summary.json; market command failures are one line, 0-row results fail."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.chain import run_chain
from neurofin.market.forecast.models import ChronosForecaster
from neurofin.market.forecast.registry import recorded_settings
from neurofin.testing.planted_market import DEFAULT_ROIS, planted_panel


def run_cli(*args):
    """The console entry point in a subprocess with this checkout's sources."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "neurofin.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=180)


def one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_summary_records_the_forecaster_and_model_that_ran(tmp_path):
    panel, prices = planted_panel(n_sessions=90, tickers=("AAA", "BBB", "CCC"), n_subjects=2, seed=1)
    settings = MarketSettings(train_sessions=60, step_sessions=15, isc_null_shifts=30, granger_max_lag=2,
                              quantile_levels=[0.1, 0.5, 0.9], null_draws=200)  # settings say chronos
    result = run_chain(panel, prices, settings, tmp_path, forecaster="linear")
    summary = json.loads(result.files["summary"].read_text())
    assert summary["forecaster"] == "linear" and summary["settings"]["forecaster"] == "linear"
    assert summary["model"] is None and summary["permutation_null"]["draws"] == 200
    assert recorded_settings(ChronosForecaster(tmp_path / "my-chronos")) == {
        "forecaster": "chronos", "chronos_model": str(tmp_path / "my-chronos")}


def test_market_failures_are_one_line_errors(tmp_path):
    holiday = tmp_path / "closes.csv"
    holiday.write_text("date,AAA\n2021-12-23,1\n2021-12-24,2\n")
    one_line_error(run_cli("market", "panel", "--db", tmp_path / "p.duckdb", "--prices", holiday), "2021-12-24")
    one_line_error(run_cli("market", "backtest", "--db", tmp_path / "none.duckdb", "--out", tmp_path / "o"),
                   "not found")


def test_a_panel_update_that_writes_no_row_says_why(tmp_path):
    _ = planted_panel(n_sessions=5, tickers=("AAPL",), n_subjects=2, seed=0)
    comments = pd.DataFrame({"id": ["a", "b"], "author": "u", "created_utc": 1_614_600_000,
                             "body": ["$AAPL calls", "$AAPL puts"]})
    rois = pd.DataFrame({"id": ["x", "y"], "subject": "UTS01", **{roi: [0.1, 0.2] for roi in DEFAULT_ROIS}})
    comments.to_parquet(tmp_path / "c.parquet")
    rois.to_parquet(tmp_path / "r.parquet")
    one_line_error(run_cli("market", "panel", "--db", tmp_path / "p.duckdb", "--comments", tmp_path / "c.parquet",
                           "--roi", tmp_path / "r.parquet"), "0 panel rows", "has an ROI row")
