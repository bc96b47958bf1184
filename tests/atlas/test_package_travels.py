"""A package that travels: the voxel atlas stored in the package (train or `atlas register --packages`),
inference without the dataset, caches in the user cache dir, from_pretrained from a folder or a Hub repo id."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infer"))

from planted import fake_language_model
from records import make_record

from neurofin.atlas import load_atlas, load_rois, roi_matrix
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.selection import select_voxels
from neurofin.errors import InputError
from neurofin.infer.predictor import Predictor


def model_for(n_voxels: int, seed: int = 0) -> EncodingModel:
    rng = np.random.default_rng(seed)
    return EncodingModel(
        record=make_record("UTS01", dim=12),
        weights=rng.standard_normal((12 * 4, n_voxels)).astype(np.float32),
        feature_mean=rng.standard_normal(12).astype(np.float32),
        feature_std=rng.uniform(0.5, 2.0, 12).astype(np.float32),
        word_mean=rng.standard_normal(12).astype(np.float32),
        arrays={"validation_r": rng.uniform(-0.1, 0.4, n_voxels).astype(np.float32)},
    )


@pytest.fixture
def registered_package(planted_synth, known_map, tmp_path, monkeypatch):
    """A UTS01 package (planted_synth's 200 mask voxels) after `neurofin atlas register --packages`."""
    from neurofin.atlas import cli as atlas_cli
    from neurofin.atlas import subject as subject_module

    dataset, _ = planted_synth

    @contextlib.contextmanager
    def planted_registration(anat_path, mode):
        yield known_map.planted()

    monkeypatch.setattr(subject_module, "register_to_mni", planted_registration)
    package = model_for(200).save(tmp_path / "models" / "UTS01")
    result = CliRunner().invoke(atlas_cli.app, ["register", "--data-root", str(dataset.root), "--subjects", "UTS01",
                                                "--cache", str(tmp_path / "cache"), "--packages", str(tmp_path / "models")])
    assert result.exit_code == 0, result.output
    return dataset, package, tmp_path / "cache"


def test_register_stores_the_voxel_map_and_inference_needs_only_the_package(registered_package, monkeypatch):
    from neurofin.atlas import subject_atlas

    dataset, package, cache = registered_package
    model = EncodingModel.load(package)
    atlas = load_atlas()
    maps = subject_atlas(dataset, "UTS01", cache, atlas=atlas)
    np.testing.assert_array_equal(model.voxel_atlas["parcel"], maps.parcels(atlas))
    np.testing.assert_array_equal(model.voxel_atlas["voxel_mni"], maps.voxel_mni)

    fake_language_model(monkeypatch, np.random.default_rng(1).standard_normal((20, 12)).astype(np.float32))
    texts = ["w1 w2 w3", "w4 w5 w6 w7 w8 w9"]
    alone = Predictor.from_packages([package]).predict_rois(texts)  # no data_root
    regions = roi_matrix(maps.parcels(atlas), load_rois(atlas=atlas), select_voxels(model.arrays["validation_r"], 0.05), maps.voxel_mni)
    explicit = Predictor.from_packages([package], region_matrices={"UTS01": (regions.matrix.toarray(), regions.names)}).predict_rois(texts)
    assert list(alone.columns) == list(explicit.columns)
    np.testing.assert_allclose(alone[regions.names].to_numpy(float), explicit[regions.names].to_numpy(float), rtol=1e-12)
    with_dataset = Predictor.from_packages([package], data_root=dataset.root, atlas_cache=cache).predict_rois(texts)
    np.testing.assert_allclose(with_dataset[regions.names].to_numpy(float), alone[regions.names].to_numpy(float), rtol=1e-12)


def test_without_a_stored_map_or_dataset_the_error_says_what_to_do(tmp_path):
    package = model_for(30).save(tmp_path / "UTS01")
    with pytest.raises(InputError, match="atlas register --packages"):
        Predictor.from_packages([package])


def test_from_pretrained_reads_a_local_folder_or_a_hub_repo(registered_package, monkeypatch, tmp_path):
    _, package, _ = registered_package
    fake_language_model(monkeypatch, np.random.default_rng(1).standard_normal((20, 12)).astype(np.float32))
    local = Predictor.from_pretrained(package.parent).predict_rois(["w1 w2"])
    calls = []

    def snapshot_download(repo_id, revision=None):
        calls.append((repo_id, revision))
        return str(package.parent)

    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    hub = Predictor.from_pretrained("someone/neurofin-packages", revision="v1").predict_rois(["w1 w2"])
    assert calls == [("someone/neurofin-packages", "v1")]
    pd.testing.assert_frame_equal(hub, local)

    def failing(repo_id, revision=None):
        raise OSError("offline")

    monkeypatch.setattr("huggingface_hub.snapshot_download", failing)
    with pytest.raises(InputError, match="neither a local folder"):
        Predictor.from_pretrained("someone/missing")


def test_default_caches_live_in_the_user_cache_dir(monkeypatch, tmp_path):
    from neurofin.atlas.subject import default_cache_dir
    from neurofin.features.cache import default_cache_dir as feature_cache_dir

    monkeypatch.delenv("NEUROFIN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "neurofin" / "atlas"
    assert feature_cache_dir() == tmp_path / "xdg" / "neurofin" / "features"
    monkeypatch.setenv("NEUROFIN_CACHE", str(tmp_path / "nf"))
    assert default_cache_dir() == tmp_path / "nf" / "atlas"
