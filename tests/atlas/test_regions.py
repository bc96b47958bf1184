"""Voxel -> region averaging matrices, against manual averages over the kept voxels."""

from __future__ import annotations

import numpy as np
import pytest

from neurofin.atlas import load_atlas, load_rois, parcel_matrix, roi_matrix
from neurofin.errors import AtlasError


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def toy(atlas):
    """400 voxels with random parcels (some 0), MNI positions (some inside the NAcc spheres), data and a keep mask."""
    rng = np.random.default_rng(7)
    n = 400
    parcels = rng.integers(0, atlas.n_parcels + 1, n)
    parcels[rng.random(n) < 0.1] = 0
    voxel_mni = rng.uniform(-60, 60, (n, 3))
    voxel_mni[:15] = [11.0, 14.0, -4.0] + rng.uniform(-3, 3, (15, 3))
    data = rng.standard_normal((30, n))
    keep = rng.random(n) < 0.7
    return parcels, voxel_mni, data, keep


def test_roi_matrix_average_equals_manual_average_over_kept_voxels(atlas, toy):
    parcels, voxel_mni, data, keep = toy
    rois = load_rois(atlas=atlas)
    regions = roi_matrix(parcels, rois, keep, voxel_mni)
    assert regions.matrix.shape == (len(parcels), len(rois)) and regions.names == rois.names
    got = data @ regions.matrix.toarray()
    assert np.allclose(regions.average(data), got)
    for k, roi in enumerate(rois.rois):
        if roi.is_sphere:
            inside = ((voxel_mni[:, None, :] - roi.sphere_centers_mni[None]) ** 2).sum(-1).min(1) <= roi.sphere_radius_mm**2
        else:
            inside = np.isin(parcels, roi.parcel_ids)
        chosen = inside & keep
        assert regions.n_voxels_per_region[k] == chosen.sum()
        if chosen.any():
            assert np.allclose(got[:, k], data[:, chosen].mean(axis=1)), roi.name
            assert not regions.empty[k]
        else:
            assert np.all(got[:, k] == 0) and regions.empty[k]
    assert regions.n_voxels_per_region[rois.names.index("nacc")] > 0
    # dropped voxels carry no weight anywhere
    assert np.all(regions.matrix.toarray()[~keep] == 0)


def test_sphere_rois_need_voxel_positions(atlas, toy):
    parcels, _, _, keep = toy
    rois = load_rois(atlas=atlas)
    regions = roi_matrix(parcels, rois, keep)
    assert regions.empty[rois.names.index("nacc")]


def test_parcel_matrix_average_equals_manual_average(atlas, toy):
    parcels, _, data, keep = toy
    regions = parcel_matrix(parcels, atlas.n_parcels, keep)
    got = regions.average(data)
    for p in np.unique(parcels[keep & (parcels > 0)])[:50]:
        assert np.allclose(got[:, p - 1], data[:, keep & (parcels == p)].mean(axis=1))
    missing = np.setdiff1d(np.arange(1, atlas.n_parcels + 1), parcels[keep])
    assert np.all(regions.empty[missing - 1]) and np.all(got[:, missing - 1] == 0)
    with pytest.raises(AtlasError, match="parcel ids must lie in"):
        parcel_matrix(np.array([1, 1001]), atlas.n_parcels)


def test_keep_mask_must_be_a_bool_per_voxel(atlas, toy):
    parcels, _, _, _ = toy
    rois = load_rois(atlas=atlas)
    with pytest.raises(AtlasError, match="bool mask"):
        roi_matrix(parcels, rois, np.ones(len(parcels), dtype=int))
    with pytest.raises(AtlasError, match="bool mask"):
        roi_matrix(parcels, rois, np.ones(len(parcels) - 1, dtype=bool))
