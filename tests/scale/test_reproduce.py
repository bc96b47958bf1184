"""`neurofin reproduce` end to end: a local S3 server (moto) holding a synthetic ds003020 twin, SmolLM2 features."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import tomli_w
from s3_server import public_bucket
from typer.testing import CliRunner

from neurofin import cli
from neurofin.atlas import load_atlas, load_rois, roi_membership, subject_atlas
from neurofin.data.download import BUCKET
from neurofin.encoding.evaluate import score_model
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.train import cached_feature_source


@pytest.fixture(scope="module")
def s3_twin(smollm2_models) -> Iterator[str]:
    """A moto S3 server whose `openneuro.org` bucket holds the synthetic twin under ds003020/."""
    root = smollm2_models.dataset.root
    objects = {"ds003020/" + path.relative_to(root).as_posix(): path.read_bytes()
               for path in sorted(p for p in root.rglob("*") if p.is_file())}
    with public_bucket(BUCKET, objects) as url:
        yield url


@pytest.mark.slow
def test_reproduce_downloads_trains_and_reports_the_protocol_table(tmp_path, smollm2_models, s3_twin):
    config = tmp_path / "smollm2.toml"
    tables: dict[str, dict] = {}
    for dotted, value in smollm2_models.overrides.items():
        section, key = dotted.split(".")
        tables.setdefault(section, {})[key] = value
    config.write_text(tomli_w.dumps(tables))
    out = tmp_path / "out"
    cli._register()
    result = CliRunner().invoke(cli.app, [
        "reproduce", "--subjects", "UTS01,UTS02", "--dest", str(tmp_path / "data"), "--out", str(out),
        "--config", str(config), "--endpoint-url", s3_twin,
    ])
    assert result.exit_code == 0, result.output
    # the download is the twin, byte for byte
    source = smollm2_models.dataset.root
    for path in source.rglob("*.hf5"):
        assert (tmp_path / "data" / "ds003020" / path.relative_to(source)).read_bytes() == path.read_bytes()

    record = json.loads((out / "reproduce.json").read_text())
    rows = {r["subject"]: r for r in record["rows"]}
    assert list(rows) == ["UTS01", "UTS02"]
    atlas, rois = load_atlas(), load_rois()
    features = cached_feature_source(smollm2_models.dataset, smollm2_models.settings)
    for subject, package in zip(["UTS01", "UTS02"], smollm2_models.packages):
        # independent run: the fixture's package, trained from the twin directly, scored on the twin
        metrics, arrays = score_model(EncodingModel.load(package), smollm2_models.dataset, features)
        row = rows[subject]
        assert row["scored_against"] == {"wheretheressmoke": "repeat_mean"}
        assert row["test_mean_r"] == pytest.approx(metrics["test_mean_r"], rel=1e-6, abs=1e-9)
        assert row["test_top_mean_r"] == pytest.approx(metrics["test_top_mean_r"], rel=1e-6, abs=1e-9)
        maps = subject_atlas(smollm2_models.dataset, subject, smollm2_models.atlas_cache, atlas=atlas)
        member = roi_membership(maps.parcels(atlas), rois, maps.voxel_mni)
        for k, name in enumerate(rois.names):
            if member[:, k].any():
                assert row[f"roi_r/{name}"] == pytest.approx(float(arrays["test_r"][member[:, k]].mean()), rel=1e-5, abs=1e-7), name
            else:
                assert row[f"roi_r/{name}"] is None, name  # an ROI the subject's voxels miss: n/a, never 0
        # the criteria are metrics.json's, under its one rule (all voxels of the region)
        saved = json.loads((out / "models" / subject / "metrics.json").read_text())
        assert row["success_criteria"] == saved["success_criteria"]
        by_roi = {c["roi"]: c for c in saved["success_criteria"]}
        assert by_roi["language"]["value"] == pytest.approx(row["roi_r/language"])
        for c in saved["success_criteria"]:
            verdict = record["criteria"][f"{c['criterion']} > {c['threshold']:.2f}"][subject]
            assert verdict == (None if c["status"] == "not evaluated" else c["status"] == "pass")
    table = (out / "reproduce.md").read_text()
    assert "wheretheressmoke (repeat_mean)" in table and "0.172" in table and "OPT-30B" in table
    assert "| language-cortex r > 0.20 |" in table and table in result.output
