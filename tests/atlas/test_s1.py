"""Registration checks on pycortex's example subject S1 (real anatomy, surfaces and functional transform).

The surfaces give an independent truth: each mask voxel's nearest cortical hemisphere and its distance to the
mid-cortical surface. Anterior/posterior is read in S1's own anatomical space (RAS mm of raw.nii.gz).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from neurofin.atlas import coverage_summary, load_atlas, load_rois, roi_coverage, roi_membership, subject_atlas
from neurofin.data.layout import Dataset

S1_THICK_VOXELS = 80_615  # docs/REFERENCE.md section 6: pycortex's mask_thick of S1/fullhead


@pytest.fixture(scope="module")
def s1(s1_dataset, tmp_path_factory):
    root, hemisphere, surface_mm = s1_dataset
    dataset = Dataset(root)
    atlas = load_atlas()
    cache = tmp_path_factory.mktemp("s1-atlas-cache")
    start = time.perf_counter()
    maps = subject_atlas(dataset, "S1", cache, atlas=atlas)
    seconds = time.perf_counter() - start
    print(f"\nS1 registration (affine + SyN) and mapping: {seconds:.1f} s")
    return dataset, atlas, maps, cache, hemisphere, surface_mm


def _anatomical_mm(dataset: Dataset) -> np.ndarray:
    """Mask voxels' centres in S1's anatomical mm, straight from pycortex's definition of "coord"."""
    xfm_dir = dataset.transform_dir("S1")
    inv = np.linalg.inv(np.asarray(json.loads((xfm_dir / "matrices.xfm").read_text())["coord"]))
    xyz = np.argwhere(dataset.mask("S1"))[:, ::-1]
    return xyz @ inv[:3, :3].T + inv[:3, 3]


def test_derived_thick_mask_matches_pycortex(s1):
    dataset = s1[0]
    assert int(dataset.mask("S1").sum()) == S1_THICK_VOXELS


def test_most_mask_voxels_get_a_cortical_parcel(s1):
    _, atlas, maps, _, _, surface_mm = s1
    summary = coverage_summary(maps, atlas)
    print(summary)
    assert summary["n_voxels"] == S1_THICK_VOXELS
    assert summary["on_ribbon"] > 0.5  # voxel centre inside a labelled atlas voxel
    assert summary["with_parcel"] > 0.8  # within FILL_MM of one
    # voxels within 2 mm of the mid-cortical surface (pycortex's `thin` mask) must sit on the atlas ribbon
    thin = surface_mm < 2.0
    on_ribbon = maps.parcels(atlas, fill_mm=0.0) > 0
    print(f"thin-mask voxels on the ribbon: {on_ribbon[thin].mean():.3f} of {thin.sum()}")
    assert on_ribbon[thin].mean() > 0.75


def test_parcel_hemisphere_matches_nearest_surface(s1):
    _, atlas, maps, _, hemisphere, _ = s1
    parcels = maps.parcels(atlas)
    labelled = parcels > 0
    right = np.array([lab.hemisphere == "RH" for lab in atlas.labels])[parcels[labelled] - 1]
    agree = float(np.mean(right == (hemisphere[labelled] == 1)))
    print(f"hemisphere agreement {agree:.4f}")
    assert agree > 0.97


def test_visual_parcels_posterior_frontal_rois_anterior(s1):
    dataset, atlas, maps, _, _, _ = s1
    rois = load_rois(atlas=atlas)
    member = roi_membership(maps.parcels(atlas), rois, maps.voxel_mni)
    y = _anatomical_mm(dataset)[:, 1]  # anterior is +y
    visual = y[member[:, rois.names.index("visual")]]
    frontal = y[member[:, [rois.names.index(n) for n in ("dlpfc_lh", "dlpfc_rh", "vmpfc_ofc")]].any(axis=1)]
    print(f"anatomical y: visual median {np.median(visual):.1f} mm, frontal median {np.median(frontal):.1f} mm")
    assert np.median(frontal) - np.median(visual) > 80.0
    assert np.mean(visual < np.percentile(frontal, 5)) > 0.95
    assert np.mean(frontal > np.percentile(visual, 95)) > 0.95


def test_roi_report_counts_voxels_and_flags_the_subcortical_nacc(s1):
    _, atlas, maps, _, _, _ = s1
    rois = load_rois(atlas=atlas)
    report = {row.name: row for row in roi_coverage(maps, rois, atlas)}
    member = roi_membership(maps.parcels(atlas), rois, maps.voxel_mni)
    for k, name in enumerate(rois.names):
        assert report[name].n_voxels == int(member[:, k].sum())
    nacc = report["nacc"]
    print(f"nacc: {nacc.n_voxels} voxels, coverage {nacc.coverage:.2f}; {nacc.note}")
    assert "subcortical" in nacc.note and "cortical only" in nacc.note
    for name, row in report.items():
        if name != "nacc":
            assert row.n_voxels > 100 and row.coverage > 0.9 and row.note == "", (name, row)


def test_second_call_is_served_from_the_cache(s1):
    dataset, atlas, maps, cache, _, _ = s1
    start = time.perf_counter()
    again = subject_atlas(dataset, "S1", cache, atlas=atlas)
    assert time.perf_counter() - start < 5.0
    assert np.array_equal(again.voxel_mni, maps.voxel_mni) and np.array_equal(again.mni_column, maps.mni_column)
    assert len(list(cache.iterdir())) == 1
