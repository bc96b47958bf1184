"""Subject atlas on the synthetic dataset: composition with the pycortex transform, ANTs registration, cache.

The synthetic subject's anatomy is nilearn's MNI template moved by a planted rigid transform (conftest), so
the true parcel of every mask voxel is known: the generator's Schaefer label at that voxel.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil

import nibabel as nib
import numpy as np
import pytest

from neurofin.atlas import coverage_summary, load_atlas, subject_atlas
from neurofin.atlas import subject as subject_module
from neurofin.atlas.subject import map_subject
from neurofin.atlas.xfm import read_functional_transform
from neurofin.errors import AtlasError


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


def test_composition_with_the_exact_map_recovers_every_planted_parcel(planted_synth, atlas, known_map):
    dataset, labels = planted_synth
    transform = read_functional_transform(dataset.transform_dir("UTS01"))
    mask = dataset.mask("UTS01")
    voxel_mni, mni_column = map_subject(mask, transform, known_map.planted(), atlas)
    assert np.array_equal(atlas.parcel_at(voxel_mni), labels)
    # the reverse map: the atlas-grid voxel at each mask voxel's MNI centre lands back in that voxel's column
    ijk = np.rint((voxel_mni - atlas.affine[:3, 3]) @ np.linalg.inv(atlas.affine[:3, :3]).T).astype(int)
    assert np.array_equal(mni_column[tuple(ijk.T)], np.arange(len(voxel_mni)))
    assert int((mni_column >= 0).sum()) >= len(voxel_mni)


def test_wrong_composition_order_is_detected(planted_synth, atlas, known_map):
    """Control: applying the planted transform the wrong way round loses the parcels (the test above can fail)."""
    dataset, labels = planted_synth
    transform = read_functional_transform(dataset.transform_dir("UTS01"))
    wrong = known_map(np.linalg.inv(known_map.planted().rigid))
    voxel_mni, _ = map_subject(dataset.mask("UTS01"), transform, wrong, atlas)
    assert np.mean(atlas.parcel_at(voxel_mni) == labels) < 0.2


@pytest.mark.parametrize("mode, min_agree, max_error_mm", [("affine", 0.99, 0.5), ("syn", 0.97, 1.0)])
def test_ants_registration_undoes_the_planted_transform(
    planted_synth, atlas, known_map, tmp_path, mode, min_agree, max_error_mm
):
    dataset, labels = planted_synth
    maps = subject_atlas(dataset, "UTS01", tmp_path, mode=mode, atlas=atlas)
    exact, _ = map_subject(
        dataset.mask("UTS01"), read_functional_transform(dataset.transform_dir("UTS01")), known_map.planted(), atlas
    )
    error_mm = np.linalg.norm(maps.voxel_mni - exact, axis=1)
    print(f"{mode}: mean error {error_mm.mean():.3f} mm, parcel agreement {np.mean(maps.parcels(atlas, 0.0) == labels):.3f}")
    assert error_mm.mean() < max_error_mm
    assert np.mean(maps.parcels(atlas, fill_mm=0.0) == labels) >= min_agree
    assert coverage_summary(maps, atlas)["with_parcel"] == 1.0  # every synthetic voxel gets a parcel


def test_parcel_fill_reaches_only_within_fill_mm(atlas):
    """A point just outside the cortical ribbon gets the nearest parcel within fill_mm and nothing beyond."""
    labelled = np.argwhere(atlas.volume > 0)
    ventricle = np.array([[0.0, -10.0, 18.0]])  # between the lateral ventricles: far from any cortical parcel
    assert atlas.parcel_at(ventricle, fill_mm=4.0)[0] == 0
    # walk from a labelled voxel outward along -z until the label ends; the next voxel is empty but adjacent
    start = labelled[np.lexsort(labelled.T[::-1])][len(labelled) // 2]
    step = np.array([0, 0, -1])
    point = start.copy()
    while atlas.volume[tuple(point + step)] > 0:
        point = point + step
    empty = point + step
    assert atlas.volume[tuple(empty)] == 0
    mni = empty @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]
    assert atlas.parcel_at(mni[None], fill_mm=0.0)[0] == 0
    filled = atlas.parcel_at(mni[None], fill_mm=2.0)[0]
    dist, nearest = atlas._nearest_labelled
    assert filled == nearest[tuple(empty)] and filled > 0 and dist[tuple(empty)] <= 2.0


class CountingRegistration:
    """Replaces the ANTs registration by a fixed point map and counts how often registration runs."""

    def __init__(self, point_map) -> None:
        self.point_map = point_map
        self.calls = 0

    @contextlib.contextmanager
    def __call__(self, anat_path, mode):
        self.calls += 1
        yield self.point_map


def test_cache_is_content_addressed_and_atomic(planted_synth, atlas, known_map, tmp_path, monkeypatch):
    dataset, _ = planted_synth
    dataset = type(dataset)(shutil.copytree(dataset.root, tmp_path / "ds003020", symlinks=True))
    counter = CountingRegistration(known_map.planted())
    monkeypatch.setattr(subject_module, "register_to_mni", counter)
    cache = tmp_path / "cache"
    first = subject_atlas(dataset, "UTS01", cache, atlas=atlas)
    second = subject_atlas(dataset, "UTS01", cache, atlas=atlas)
    assert counter.calls == 1
    assert np.array_equal(first.voxel_mni, second.voxel_mni) and np.array_equal(first.mni_column, second.mni_column)
    assert second.record == first.record and second.record["inputs_sha256"]["mask"]
    # a different registration mode is a different entry
    subject_atlas(dataset, "UTS01", cache, mode="affine", atlas=atlas)
    assert counter.calls == 2
    # editing an input (drop one mask voxel) changes the key: recomputed, one voxel fewer
    mask_path = dataset.transform_dir("UTS01") / "mask_thick.nii.gz"
    image = nib.load(mask_path)
    data = np.asarray(image.dataobj).copy()
    data[tuple(np.argwhere(data > 0)[0])] = 0
    mask_path.write_bytes(gzip.compress(nib.Nifti1Image(data, image.affine).to_bytes()))
    third = subject_atlas(dataset, "UTS01", cache, atlas=atlas)
    assert counter.calls == 3 and third.n_voxels == first.n_voxels - 1
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 3 and all(name.startswith("UTS01-") and name.endswith(".npz") for name in files)


def test_mask_reference_mismatch_and_missing_inputs_are_user_errors(planted_synth, atlas, known_map, tmp_path):
    dataset, _ = planted_synth
    transform = read_functional_transform(dataset.transform_dir("UTS01"))
    with pytest.raises(AtlasError, match="same pycortex transform folder"):
        map_subject(np.zeros((3, 4, 5), bool), transform, known_map(np.eye(4)), atlas)
    broken = type(dataset)(shutil.copytree(dataset.root, tmp_path / "ds003020", symlinks=True))
    (broken.pycortex_db / "UTS01" / "anatomicals" / "raw.nii.gz").unlink()
    with pytest.raises(AtlasError, match="anatomy file .* is missing"):
        subject_atlas(broken, "UTS01", tmp_path / "cache", atlas=atlas)
    (broken.transform_dir("UTS01") / "matrices.xfm").write_text('{"magnet": []}')
    with pytest.raises(AtlasError, match="not a pycortex transform"):
        read_functional_transform(broken.transform_dir("UTS01"))
