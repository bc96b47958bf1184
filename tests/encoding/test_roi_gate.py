"""The ROI encoding-quality gate can fail: planted silent regions of the synthetic twin fail it, signal regions pass.

The gate (issue 20.5) is the Pearson r, on the validation stories, of a region's mean response (all its voxels)
with the mean of their predictions. The old gate, the mean validation r of the voxels already selected for
validation r > 0.05, could not fail for a region with any selected voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from neurofin.config import MarketSettings, Settings
from neurofin.data.synth import make_synthetic_dataset
from neurofin.encoding.evaluate import evaluate_package
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.roi_scores import VoxelRois, format_tables, roi_quality_table
from neurofin.encoding.train import train_subject
from neurofin.market.selection.gate import roi_validation_r


@dataclass(frozen=True)
class PlantedWords:
    times: np.ndarray
    values: np.ndarray


@pytest.fixture(scope="module")
def twin_package(tmp_path_factory):
    """UTS01 of a synthetic twin fitted on its planted word vectors, and its voxels by planted truth."""
    out = tmp_path_factory.mktemp("twin")
    dataset = make_synthetic_dataset(out / "synth", n_subjects=1, n_stories=9, n_voxels=300, seed=4)
    words = load_file(out / "synth" / "truth" / "words.safetensors")
    truth = load_file(out / "synth" / "truth" / "UTS01.safetensors")

    def planted(stories):
        return {s: PlantedWords(words[f"{s}/word_times"], words["word_vectors"][words[f"{s}/word_index"]]) for s in stories}

    settings = Settings.model_validate({"encoding": {"backend": "numpy", "validation_stories": 3, "cv_folds": 3,
                                                     "pca_components": None}})
    package = train_subject(dataset, "UTS01", settings, out / "models", planted)
    silent = ~np.abs(truth["weights"]).any(axis=0)  # planted W = 0: pure noise
    good = truth["good"].astype(bool)
    membership = np.zeros((300, 3), bool)
    membership[np.flatnonzero(silent)[:40], 0] = True
    membership[np.flatnonzero(silent)[40:80], 1] = True
    membership[good, 2] = True
    metrics = evaluate_package(package, dataset, planted, VoxelRois(["silent_a", "silent_b", "signal"], membership))
    return package, metrics, membership


def test_planted_silent_regions_fail_the_gate_and_the_signal_region_passes(twin_package, tmp_path):
    package, metrics, membership = twin_package
    model = EncodingModel.load(package)
    gate = {name: row["validation_r_mean_response"] for name, row in metrics["rois"].items()}
    assert gate["signal"] > 0.3
    assert "gate r" in format_tables(metrics) and f"{gate['silent_a']:8.3f}" in format_tables(metrics)
    assert gate["silent_a"] < 0.05 and gate["silent_b"] < 0.05
    # the old gate: mean validation r of the already-selected voxels of the region, >= 0.05 whenever one is selected
    val_r = model.arrays["validation_r"]
    for k, name in enumerate(("silent_a", "silent_b")):
        chosen = membership[:, k] & (val_r > 0.05)
        assert chosen.any() and val_r[chosen].mean() >= 0.05, name
    # the table `neurofin infer` writes for the market (roi, subject, validation_r) carries the gate, and the
    # market's gate (median over subjects >= market.min_roi_validation_r) drops the silent regions
    table = roi_quality_table([package])
    assert list(table.columns) == ["roi", "subject", "validation_r"]
    assert table.set_index("roi")["validation_r"].to_dict() == pytest.approx(gate)
    path = tmp_path / "roi_quality.csv"
    table.to_csv(path, index=False)
    passed = {roi for roi, r in roi_validation_r(path, list(gate)).items() if r >= MarketSettings().min_roi_validation_r}
    assert passed == {"signal"}


def test_gate_is_the_r_of_the_region_mean_response_recomputed_independently(twin_package):
    """Recompute the gate from the hf5 files and the package's own prediction of every validation story."""
    from neurofin.data.layout import find_dataset
    from neurofin.encoding.evaluate import predict_stories

    package, metrics, membership = twin_package
    model = EncodingModel.load(package)
    dataset = find_dataset(package.parents[1] / "synth")
    words = load_file(package.parents[1] / "synth" / "truth" / "words.safetensors")
    stories = model.record.split.validation
    resp = {s: dataset.read_responses("UTS01", s).astype(np.float64) for s in stories}
    source = lambda names: {s: PlantedWords(words[f"{s}/word_times"], words["word_vectors"][words[f"{s}/word_index"]]) for s in names}  # noqa: E731
    preds = predict_stories(model, dataset, stories, source, {s: r.shape[0] for s, r in resp.items()})
    for k, name in enumerate(("silent_a", "silent_b", "signal")):
        member = membership[:, k]
        z = [(r - r.mean(0)) / r.std(0) for r in resp.values()]  # responses z-scored per story, as in training
        mean_resp = np.concatenate([block[:, member].mean(axis=1) for block in z])
        mean_pred = np.concatenate([preds[s][:, member].mean(axis=1) for s in stories])
        expected = pd.Series(mean_resp).corr(pd.Series(mean_pred))
        assert metrics["rois"][name]["validation_r_mean_response"] == pytest.approx(expected, abs=1e-5), name
