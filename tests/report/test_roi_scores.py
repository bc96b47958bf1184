"""Per-ROI test r and the success criteria, checked against direct masks on a planted voxel layout."""

import numpy as np
import pytest

from neurofin.atlas import load_atlas, load_rois
from neurofin.encoding import select_voxels
from neurofin.report.roi_scores import criteria_table, roi_scores

NACC_CENTER = np.array([-11.0, 14.0, -4.0])


@pytest.fixture(scope="module")
def rois():
    return load_rois(None, load_atlas())


def planted(rois, n=600, seed=0):
    """Parcels drawn from the language ROI and from elsewhere, a few voxels at the NAcc centre, planted r."""
    rng = np.random.default_rng(seed)
    by_name = {r.name: r for r in rois.rois}
    language = by_name["language"].parcel_ids
    other = np.setdiff1d(np.arange(1, 1001), language)
    parcels = np.where(rng.random(n) < 0.3, rng.choice(language, n), rng.choice(other, n))
    parcels[:20] = 0  # unlabelled voxels count for the whole brain only
    voxel_mni = rng.uniform(-60, 60, (n, 3))
    voxel_mni[20:30] = NACC_CENTER + rng.normal(0, 1.0, (10, 3))  # inside the 6 mm sphere
    test_r = rng.normal(0.02, 0.05, n)
    test_r[np.isin(parcels, language)] += 0.25
    test_r[20:30] = 0.01
    validation_r = test_r + rng.normal(0, 0.05, n)
    return parcels, voxel_mni, test_r, validation_r, by_name


def test_scores_equal_direct_masks(rois):
    parcels, voxel_mni, test_r, validation_r, by_name = planted(rois)
    keep = select_voxels(validation_r, 0.05)
    scores = roi_scores(test_r, keep, parcels, rois, voxel_mni).set_index("region")
    assert scores.loc["whole_brain", "mean_r_all"] == pytest.approx(test_r.mean())
    assert scores.loc["whole_brain", "n_selected"] == keep.sum()
    for name in ("language", "limbic", "visual"):
        member = np.isin(parcels, by_name[name].parcel_ids)
        assert scores.loc[name, "n_voxels"] == member.sum()
        assert scores.loc[name, "mean_r_all"] == pytest.approx(test_r[member].mean())
        assert scores.loc[name, "mean_r_selected"] == pytest.approx(test_r[member & keep].mean())
    nacc = np.linalg.norm(voxel_mni[:, None, :] - by_name["nacc"].sphere_centers_mni[None], axis=2).min(axis=1) <= 6
    assert scores.loc["nacc", "n_voxels"] == nacc.sum() >= 10
    assert scores.loc["nacc", "mean_r_all"] == pytest.approx(test_r[nacc].mean())


def test_criteria_pass_fail_and_empty(rois):
    parcels, voxel_mni, test_r, validation_r, _ = planted(rois)
    keep = select_voxels(validation_r, 0.05)
    table = criteria_table(roi_scores(test_r, keep, parcels, rois, voxel_mni)).set_index("region")
    assert table.loc["whole_brain", "result"] == ("pass" if test_r.mean() > 0.10 else "fail")
    assert table.loc["language", "result"] == "pass"  # planted ~0.27
    assert table.loc["nacc", "result"] == "fail"  # planted ~0.01
    far = voxel_mni.copy()
    far[20:30] = [0.0, -90.0, 60.0]  # nothing near the NAcc any more
    empty = criteria_table(roi_scores(test_r, keep, parcels, rois, far)).set_index("region")
    assert empty.loc["nacc", "result"] == "no voxels" and empty.loc["nacc", "voxels"] == 0
