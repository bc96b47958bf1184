"""`neurofin report` from the command line: writes the file, and user errors exit 2 with one line."""

import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "neurofin.cli", "report", *args], capture_output=True, text=True)


def test_report_command_writes_the_file(report_inputs, tmp_path):
    out = tmp_path / "r.html"
    proc = run("--rois", str(report_inputs["rois"]), "--backtest", str(report_inputs["backtest"]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"report: {out}" and "Verdict: no brain signal: attention explains the roi forecasts" in out.read_text(encoding="utf-8")


def test_user_errors_exit_2_without_traceback(tmp_path, report_inputs):
    nothing = run("--out", str(tmp_path / "r.html"))
    assert nothing.returncode == 2 and "nothing to report" in nothing.stderr and "Traceback" not in nothing.stderr
    wrong = run("--backtest", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert wrong.returncode == 2 and "lacks metrics.csv" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (tmp_path / "r.html").exists()
