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
    rois = {"language": {"mean_test_r": 0.25, "n_voxels": 9}, "nacc": {"mean_test_r": 0.01, "n_voxels": 3}}
    table = {row["criterion"]: row for row in success_criteria(50, 0.08, rois)}
    assert [table[c]["status"] for c in ("whole-brain mean r", "language-cortex r", "NAcc r")] == ["fail", "pass", "fail"]
    missing = {row["criterion"]: row for row in success_criteria(50, 0.12, None, "run neurofin atlas register")}
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
    assert table["NAcc r"]["value"] == pytest.approx(float(test_r[30:].mean()))
    assert table["NAcc r"]["status"] == ("pass" if table["NAcc r"]["value"] > 0.05 else "fail")
    text = format_tables(metrics)
    assert "language" in text and "NAcc r" in text


def _rule_split_package(tiny, tmp_path):
    """A package and a planted `language` ROI whose validation-selected voxels pass > 0.20 while all of its voxels
    do not (issue 20: metrics.json said "pass" on the selected voxels, the report "fail" on all voxels)."""
    import h5py

    rng = np.random.default_rng(5)
    for path in tiny.dataset.responses_dir.glob("UTS01/*.hf5"):  # voxels 22-39 become pure noise
        with h5py.File(path, "r+") as fh:
            for key in ("data", "individual_repeats"):
                if key in fh:
                    values = fh[key][...]
                    values[..., 22:] = rng.standard_normal(values[..., 22:].shape)
                    fh[key][...] = values
    settings = Settings.model_validate({"encoding": {"backend": "numpy", "validation_stories": 2, "cv_folds": 3,
                                                     "alphas": [10.0**e for e in range(-1, 5)]}})
    package = train_subject(tiny.dataset, tiny.subject, settings, tmp_path / "models", tiny.source)
    evaluate_package(package, tiny.dataset, tiny.source)
    model = EncodingModel.load(package)
    test_r, val_r = model.scores["test_r"], model.arrays["validation_r"]
    membership = np.zeros((40, 2), bool)
    membership[np.r_[np.argsort(-val_r[:22])[:2], np.arange(22, 38)], 0] = True  # "language": 2 best voxels, 16 noise ones
    membership[30:, 1] = True  # "nacc"
    keep = val_r > model.record.voxel_selection.threshold
    language = membership[:, 0]
    assert test_r[language & keep].mean() > 0.20 > test_r[language].mean()  # the two rules disagree here
    metrics = evaluate_package(package, tiny.dataset, tiny.source, rois=VoxelRois(["language", "nacc"], membership))
    return package, metrics, test_r, membership


def test_one_success_rule_on_all_voxels_of_the_region_named_in_metrics(tiny, tmp_path):
    package, metrics, test_r, membership = _rule_split_package(tiny, tmp_path)
    saved = json.loads((package / "metrics.json").read_text())
    assert saved["success_criteria"] == metrics["success_criteria"]
    table = {row["criterion"]: row for row in saved["success_criteria"]}
    language = table["language-cortex r"]
    assert language["value"] == pytest.approx(float(test_r[membership[:, 0]].mean()))
    assert language["status"] == "fail" and language["n_voxels"] == 18
    assert language["voxels"] == "all 18 voxels of ROI 'language' (no selection)"
    assert language["statistic"] == "mean per-voxel test r"
    assert table["whole-brain mean r"]["value"] == pytest.approx(float(test_r.mean()))
    assert table["whole-brain mean r"]["voxels"] == "all 40 voxels (no selection)"
    assert table["NAcc r"]["value"] == pytest.approx(float(test_r[30:].mean()))
    text = format_tables(metrics)
    assert "all 18 voxels of ROI 'language' (no selection)" in text and "mean per-voxel test r" in text


def test_report_and_reproduce_read_the_rule_from_metrics_json(tiny, tmp_path):
    from neurofin.report.encoding import subject_block
    from neurofin.scale.reproduce import subject_row, verdicts

    package, metrics, _, _ = _rule_split_package(tiny, tmp_path)
    html = "".join(part for part in subject_block(package, None) if isinstance(part, str))
    for row in metrics["success_criteria"]:  # shown without anatomy: nothing is recomputed
        assert row["voxels"] in html and f"{row['value']:.3f}" in html
    assert "language-cortex r" in html and ">fail<" in html
    row = subject_row(metrics, rois=True)
    assert row["roi_r/language"] == pytest.approx(metrics["rois"]["language"]["mean_test_r"])
    assert verdicts([row])["language-cortex r > 0.20"] == {"UTS01": False}
    assert verdicts([row])["whole-brain mean r > 0.10"] == {"UTS01": metrics["test_mean_r"] > 0.10}
