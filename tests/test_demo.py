"""`make demo` runs the whole chain; its outcome reflects the planted truth and the absent market signal.

The same run backs the README's notebook snippet (executed as written) and the load-once rule for the LM.
"""

import logging
import re
from pathlib import Path

import pandas as pd
import pytest

from neurofin.config import Settings
from neurofin.demo import run_demo
from neurofin.features import model as lm

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo run under <tmp>/demo_out, counting how often a language model is actually loaded."""
    root = tmp_path_factory.mktemp("demo")
    loads = []
    real_load = lm._load
    lm._load_cached.cache_clear()
    lm._load = lambda settings: loads.append(settings.model) or real_load(settings)
    lines: list[str] = []
    collect = logging.Handler()
    collect.emit = lambda record: lines.append(record.getMessage())  # the demo's one channel: logging (info)
    demo_logger = logging.getLogger("neurofin")
    level = demo_logger.level
    demo_logger.addHandler(collect)
    demo_logger.setLevel(logging.INFO)
    try:
        summary = run_demo(root / "demo_out", n_subjects=2, n_stories=8, n_voxels=400)
    finally:
        lm._load = real_load
        demo_logger.removeHandler(collect)
        demo_logger.setLevel(level)
    return root, summary, loads, lines


@pytest.mark.timeout(1800)  # this test builds the module's demo run (a few minutes on 2 idle cores)
def test_demo_recovers_planted_brain_signal_and_reports_no_market_signal(demo):
    _, summary, _, lines = demo
    assert summary["check_problems"] == 0
    for subject in ("UTS01", "UTS02"):
        assert summary[subject]["test_top_mean_r"] > 0.2  # planted voxels are found with real SmolLM2 features
        assert summary[subject]["test_top_mean_r"] > summary[subject]["test_mean_r"]
    assert "nacc" in summary["rois"] and len(summary["rois"]) >= 20
    assert summary["market"]["verdict"].startswith("Verdict: no signal")
    assert any(line.startswith("    controls: sentiment (VADER, Loughran-McDonald); attention (comment and author counts)")
               for line in lines)
    assert (Path(summary["market"]["backtest"]) / "summary.json").is_file()
    report = Path(summary["report"]).read_text(encoding="utf-8")
    assert "Verdict: no signal" in report
    explained = pd.read_parquet(summary["explanations"])  # the extreme `language` comments, word by word
    assert set(explained["roi"]) == {"language"} and explained["id"].nunique() == 4
    assert "highest language in rois.parquet" in report and "lowest language in rois.parquet" in report


def test_demo_loads_the_language_model_once_and_prints_whole_tables(demo):
    _, summary, loads, lines = demo
    assert len(loads) == 1, f"the language model was loaded {len(loads)} times"
    table = "\n".join(lines)
    assert "alpha grid edge" not in table  # issue 20.10: no false alarm on the demo's own defaults
    assert "..." not in table  # no pandas truncation
    assert all(roi in table for roi in summary["rois"])


def test_demo_writes_settings_that_load_back(demo):
    root, summary, _, _ = demo
    settings = Settings.load(summary["settings"])
    assert settings.features.blocks == [20, 21, 22, 23] and Path(settings.features.model).suffix == ".gguf"
    assert settings.data.data_root == (root / "demo_out" / "synth" / "ds003020").resolve()


def test_readme_notebook_snippet_runs_as_written(demo, monkeypatch):
    root, summary, _, _ = demo
    snippet = re.search(r"<!-- notebook-snippet -->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    assert len(snippet.strip().splitlines()) <= 6
    monkeypatch.chdir(root)
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    frame = namespace["frame"]
    assert isinstance(frame, pd.DataFrame) and set(summary["rois"]) <= set(frame.columns)
    assert {"UTS01", "UTS02", "ensemble"} == set(frame["subject"])
