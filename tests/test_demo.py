"""`make demo` runs the whole chain; its outcome reflects the planted truth and the absent market signal."""

from pathlib import Path

from neurofin.demo import run_demo


def test_demo_recovers_planted_brain_signal_and_reports_no_market_signal(tmp_path):
    summary = run_demo(tmp_path, n_subjects=2, n_stories=8, n_voxels=400)
    assert summary["check_problems"] == 0
    for subject in ("UTS01", "UTS02"):
        assert summary[subject]["test_top_mean_r"] > 0.2  # planted voxels are found with real SmolLM2 features
        assert summary[subject]["test_top_mean_r"] > summary[subject]["test_mean_r"]
    assert "nacc" in summary["rois"] and len(summary["rois"]) >= 20
    assert summary["market"]["verdict"].startswith("Verdict: no signal")
    assert Path(summary["market"]["report"]).is_file()
    assert "Verdict: no signal" in Path(summary["report"]).read_text(encoding="utf-8")
