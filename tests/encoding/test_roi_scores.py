"""Per-ROI evaluation: counts and mean r per ROI against a direct computation; the success-criteria table."""

import json

import numpy as np
import pytest

from neurofin.config import Settings
from neurofin.encoding.evaluate import evaluate_package
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.roi_scores import VoxelRois, format_tables, roi_scores, success_criteria
from neurofin.encoding.train import train_subject


def test_roi_scores_match_a_direct_computation():
    rng = np.random.default_rng(0)
    n = 500
    test_r, val_r = rng.uniform(-0.2, 0.6, n), rng.uniform(-0.2, 0.6, n)
    membership = rng.random((n, 3)) < 0.2
    membership[:, 2] = False  # an ROI no voxel reaches
    rois = VoxelRois(["language", "nacc", "empty"], membership)
    rows = roi_scores(test_r, val_r, 0.05, rois)
    for k, name in enumerate(rois.names):
        member = membership[:, k]
        assert rows[name]["n_voxels"] == member.sum()
        assert rows[name]["n_selected"] == (member & (val_r > 0.05)).sum()
        if member.any():
            assert rows[name]["mean_test_r"] == pytest.approx(test_r[member].mean())
            assert rows[name]["mean_test_r_selected"] == pytest.approx(test_r[member & (val_r > 0.05)].mean())
    assert rows["empty"]["mean_test_r"] is None and rows["empty"]["mean_test_r_selected"] is None


def test_success_criteria_statuses():
    rois = {"language": {"mean_test_r_selected": 0.25}, "nacc": {"mean_test_r_selected": 0.01}}
    table = {row["criterion"]: row for row in success_criteria(0.08, rois)}
    assert [table[c]["status"] for c in ("whole-brain mean r", "language-cortex r", "NAcc r")] == ["fail", "pass", "fail"]
    missing = {row["criterion"]: row for row in success_criteria(0.12, None, "run neurofin atlas register")}
    assert missing["whole-brain mean r"]["status"] == "pass"
    assert missing["NAcc r"]["status"] == "not evaluated" and "atlas register" in missing["NAcc r"]["note"]


def test_evaluate_writes_per_roi_scores_and_criteria(tiny, tmp_path):
    settings = Settings.model_validate({"encoding": {"backend": "numpy", "validation_stories": 2, "cv_folds": 3,
                                                     "alphas": [10.0**e for e in range(-1, 5)]}})
    package = train_subject(tiny.dataset, tiny.subject, settings, tmp_path / "models", tiny.source)
    membership = np.zeros((40, 2), bool)
    membership[:20, 0] = True  # "language": the first half of the voxels
    membership[30:, 1] = True  # "nacc"
    metrics = evaluate_package(package, tiny.dataset, tiny.source, rois=VoxelRois(["language", "nacc"], membership))
    model = EncodingModel.load(package)
    test_r, keep = model.scores["test_r"], model.arrays["validation_r"] > model.record.voxel_selection.threshold
    saved = json.loads((package / "metrics.json").read_text())
    assert saved["rois"]["language"]["mean_test_r_selected"] == pytest.approx(float(test_r[:20][keep[:20]].mean()))
    ceiling = saved["rois"]["nacc"]["ceiling/wheretheressmoke"]
    assert ceiling["n_voxels"] == int(keep[30:].sum())
    table = {row["criterion"]: row for row in saved["success_criteria"]}
    assert table["NAcc r"]["value"] == pytest.approx(float(test_r[30:][keep[30:]].mean()))
    assert table["NAcc r"]["status"] == ("pass" if table["NAcc r"]["value"] > 0.05 else "fail")
    text = format_tables(metrics)
    assert "language" in text and "NAcc r" in text
