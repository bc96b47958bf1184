"""`neurofin infer` end to end: synthetic dataset -> tiny-LM package -> registered ROIs -> Parquet."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))

from tokenizers_offline import byte_level_bpe, save_tiny_llama

from neurofin import cli
from neurofin.atlas import load_rois
from neurofin.config import Settings
from neurofin.data.synth import make_synthetic_dataset
from neurofin.encoding.train import cached_feature_source, train_subject
from neurofin.errors import NeurofinError
from neurofin.infer.calibration import CalibrationError
from neurofin.infer.embedding import embedding_names
from neurofin.schema import ENSEMBLE
from neurofin.schema import ROI_META_COLUMNS as META_COLUMNS


def test_infer_cli_writes_rois_per_subject_and_ensemble(tmp_path):
    dataset = make_synthetic_dataset(tmp_path / "synth", n_subjects=1, n_stories=6, n_voxels=300, seed=1)
    tiny = save_tiny_llama(tmp_path / "llama", byte_level_bpe(bos="<s>"), 3)
    settings = Settings.load(overrides={
        "features.model": str(tiny), "features.blocks": "1-2", "features.context_tokens": 32, "features.stride": 32,
        "features.device": "cpu", "features.cache_dir": str(tmp_path / "cache"), "encoding.validation_stories": 2,
        "encoding.cv_folds": 3, "encoding.pca_components": 16,
    })
    package = train_subject(dataset, "UTS01", settings, tmp_path / "models", cached_feature_source(dataset, settings))
    rule = json.loads((package / "config.json").read_text())["voxel_selection"]
    assert rule["threshold"] == 0.05 and rule["rule"] == "validation_r > threshold"
    comments = tmp_path / "comments.jsonl"
    rows = [{"id": "a", "body": "buying more calls on $TSLA", "ticker": "TSLA"}, {"id": "b", "body": "", "ticker": "X"},
            {"id": "c", "body": "🚀", "ticker": "Y"}]
    comments.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = tmp_path / "rois.parquet"

    cli._register()
    command = ["infer", "--packages", str(package.parent), "--input", str(comments), "--out", str(out),
               "--data-root", str(dataset.root), "--atlas-cache", str(tmp_path / "atlas"), "--batch-size", "2"]
    refused = CliRunner().invoke(cli.app, command)  # an uncalibrated package: a user error saying what to run (exit 2)
    assert isinstance(refused.exception, CalibrationError) and isinstance(refused.exception, NeurofinError) and "neurofin calibrate" in str(refused.exception), refused.output
    raw_out = tmp_path / "raw.parquet"
    raw = CliRunner().invoke(cli.app, [*command[:6], str(raw_out), *command[7:], "--units", "raw"])
    assert raw.exit_code == 0, raw.output
    result = CliRunner().invoke(cli.app, ["calibrate", "--packages", str(package.parent), "--data-root", str(dataset.root),
                                          "--atlas-cache", str(tmp_path / "atlas"), "--texts", "60"])
    assert result.exit_code == 0 and "UTS01: calibrated on 150 texts" in result.output, result.output
    split = json.loads((package / "config.json").read_text())["split"]
    corpus = json.loads((package / "calibration.json").read_text())["corpus"]  # held-out story text only
    assert corpus["held_out_stories"] == sorted(split["validation"] + split["test"]) and split["test"] == ["wheretheressmoke"]
    result = CliRunner().invoke(cli.app, command)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    rois = load_rois().names
    emb = embedding_names(Settings().infer.embedding_dims)  # the no-brain control's columns, ensemble rows only
    assert list(frame.columns) == ["id", "subject", *META_COLUMNS, *rois, *emb]
    assert np.isfinite(frame.loc[(frame["id"] == "a") & (frame["subject"] == ENSEMBLE), emb]).all().all()
    assert frame.loc[(frame["id"] != "a") | (frame["subject"] != ENSEMBLE), emb].isna().all().all()
    assert sorted(frame["subject"].unique()) == sorted(["UTS01", ENSEMBLE])
    valid = frame[frame["id"] == "a"]
    assert valid["error"].isna().all() and (valid["n_words"] == 5).all()
    covered = [r for r in rois if np.isfinite(valid[r]).all()]
    assert len(covered) >= len(rois) // 2  # the synthetic cortex covers most ROIs
    assert valid[[r for r in rois if r not in covered]].isna().all().all()  # uncovered ROIs are NaN, never 0
    assert (valid[covered] != 0).all().all()
    np.testing.assert_allclose(valid.loc[valid["subject"] == ENSEMBLE, covered].to_numpy(), valid.loc[valid["subject"] == "UTS01", covered].to_numpy())
    assert frame.loc[frame["id"].isin(["b", "c"]), "error"].notna().all()
    assert not out.with_name(out.name + ".parts").exists()

    # the same run as a wide CSV with a passed-through column: one row per text, joinable on id
    wide_out = tmp_path / "rois.csv"
    result = CliRunner().invoke(cli.app, [
        "infer", "--packages", str(package.parent), "--input", str(comments), "--out", str(wide_out),
        "--data-root", str(dataset.root), "--atlas-cache", str(tmp_path / "atlas"), "--layout", "wide",
        "--id-column", "id", "--keep-columns", "ticker",
    ])
    assert result.exit_code == 0, result.output
    wide = pd.read_csv(wide_out)
    assert wide["id"].tolist() == ["a", "b", "c"] and wide["ticker"].tolist() == ["TSLA", "X", "Y"]
    for subject in ("UTS01", ENSEMBLE):
        np.testing.assert_allclose(wide.loc[0, [f"{subject}/{r}" for r in covered]].to_numpy(float),
                                   valid.loc[valid["subject"] == subject, covered].to_numpy(float)[0], rtol=1e-6)
    assert [c for c in wide.columns if c.startswith("emb_")] == emb  # once per text, not per subject
    np.testing.assert_allclose(wide.loc[0, emb].to_numpy(float), valid.loc[valid["subject"] == ENSEMBLE, emb].to_numpy(float)[0],
                               rtol=1e-6)
