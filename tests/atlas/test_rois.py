"""ROI definitions: the packaged file, validation errors users can hit, and edits changing the ROIs as written."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from neurofin.atlas import load_atlas, load_rois, roi_matrix
from neurofin.atlas.rois import default_roi_file
from neurofin.errors import AtlasError

NETWORK_GROUPS = {
    "default_mode": "Default",
    "frontoparietal_control": "Cont",
    "salience_ventral_attention": "SalVentAttn",
    "dorsal_attention": "DorsAttn",
    "limbic": "Limbic",
    "visual": "Vis",
    "somatomotor": "SomMot",
}


@pytest.fixture(scope="module")
def atlas():
    return load_atlas()


@pytest.fixture(scope="module")
def label_names(real_atlas_dir) -> dict[int, str]:
    """Parcel id -> name, read straight from the real label file (checksum-verified), not through load_atlas."""
    path = real_atlas_dir / "Schaefer2018_1000Parcels_7Networks_labels.tsv"
    with open(path, newline="") as fh:
        return {int(row["index"]): row["name"] for row in csv.DictReader(fh, delimiter="\t")}


def _ids(label_names, predicate) -> list[int]:
    return sorted(i for i, name in label_names.items() if predicate(name.split("_")))


def test_packaged_rois_follow_the_label_names(atlas, label_names):
    rois = load_rois(atlas=atlas)
    assert 18 <= len(rois) <= 26 and len(set(rois.names)) == len(rois)
    by_name = {roi.name: roi for roi in rois.rois}
    for name, network in NETWORK_GROUPS.items():
        assert by_name[name].parcel_ids.tolist() == _ids(label_names, lambda p, n=network: p[2] == n)
    assert by_name["dlpfc_lh"].parcel_ids.tolist() == _ids(
        label_names, lambda p: p[1:4] == ["LH", "Cont", "PFCl"]
    )
    assert by_name["temporal_pole_rh"].parcel_ids.tolist() == _ids(
        label_names, lambda p: p[1:4] == ["RH", "Limbic", "TempPole"]
    )
    for roi in rois.rois:
        names = [label_names[i] for i in roi.parcel_ids]
        if roi.name.endswith("_lh"):
            assert all("_LH_" in n for n in names), roi.name
        if roi.name.endswith("_rh"):
            assert all("_RH_" in n for n in names), roi.name
    nacc = by_name["nacc"]
    assert nacc.is_sphere and len(nacc.parcel_ids) == 0
    assert np.all(np.abs(nacc.sphere_centers_mni[:, 0]) >= 10) and np.all(np.abs(nacc.sphere_centers_mni[:, 0]) <= 13)
    assert rois.record()["rois"]["dlpfc_lh"]["parcels"] == by_name["dlpfc_lh"].parcel_ids.tolist()


def test_centroid_bounds_select_by_parcel_centre(atlas, tmp_path):
    path = tmp_path / "rois.toml"
    path.write_text(
        '[[roi]]\nname = "left_front_default"\ndescription = "left default parcels in front of y = 0"\n'
        'match = [{ network = "Default", hemisphere = "LH", y = [0, 100] }]\n'
    )
    (roi,) = load_rois(path, atlas).rois
    default_lh = [lab.parcel_id for lab in atlas.labels if lab.network == "Default" and lab.hemisphere == "LH"]
    expected = [p for p in default_lh if atlas.centroids_mni[p, 1] >= 0]
    assert roi.parcel_ids.tolist() == expected and 0 < len(expected) < len(default_lh)
    # the centroids are the mean MNI position of each parcel's voxels
    ijk = np.argwhere(atlas.volume == expected[0])
    assert np.allclose(atlas.centroids_mni[expected[0]], (ijk @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]).mean(0))


GOOD = 'name = "r"\ndescription = "d"\n'


@pytest.mark.parametrize(
    "text, message",
    [
        ("this is = = not toml", "not valid TOML"),
        ("title = 'no rois'\n", "defines no \\[\\[roi\\]\\]"),
        ('[[roi]]\nname = "Bad Name"\ndescription = "d"\nmatch = [{network = "Vis"}]\n', "lower_snake_case"),
        ('[[roi]]\nname = "r"\nmatch = [{network = "Vis"}]\n', "non-empty description"),
        (f"[[roi]]\n{GOOD}", "exactly one of `match`"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Vis"}}]\nsphere = {{centers_mni = [[0, 0, 0]], radius_mm = 5}}\n',
         "exactly one of `match`"),
        (f'[[roi]]\n{GOOD}colour = "red"\nmatch = [{{network = "Vis"}}]\n', "unknown key\\(s\\) \\['colour'\\]"),
        (f"[[roi]]\n{GOOD}match = []\n", "non-empty list"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Visual"}}]\n', "unknown network 'Visual'"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Default", subregion = "Tmp"}}]\n', "unknown sub-region\\(s\\) \\['Tmp'\\]"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Vis", hemisphere = "left"}}]\n', "hemisphere must be 'LH' or 'RH'"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Vis", lobe = "occipital"}}]\n', "unknown key\\(s\\) \\['lobe'\\]"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Vis", y = [10, -10]}}]\n', "low < high"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Vis", y = [60, 90]}}]\n', "match no parcel"),
        (f"[[roi]]\n{GOOD}sphere = {{centers_mni = [[0, 0, 0]]}}\n", "sphere must be"),
        (f"[[roi]]\n{GOOD}sphere = {{centers_mni = [[0, 0]], radius_mm = 5}}\n", "at least one \\[x, y, z\\]"),
        (f"[[roi]]\n{GOOD}sphere = {{centers_mni = [[0, 0, 0]], radius_mm = -1}}\n", "radius_mm > 0"),
        (f"[[roi]]\n{GOOD}sphere = {{centers_mni = [[300, 0, 0]], radius_mm = 4}}\n", "holds no voxel"),
        (f'[[roi]]\n{GOOD}match = [{{network = "Vis"}}]\n[[roi]]\n{GOOD}match = [{{network = "Cont"}}]\n', "used twice"),
    ],
)
def test_invalid_roi_files_name_the_problem(atlas, tmp_path, text, message):
    path = tmp_path / "rois.toml"
    path.write_text(text)
    with pytest.raises(AtlasError, match=message) as info:
        load_rois(path, atlas)
    assert str(path) in str(info.value)


def test_missing_roi_file_says_what_to_do(atlas, tmp_path):
    with pytest.raises(AtlasError, match="not found: set atlas.roi_file to an existing TOML file"):
        load_rois(tmp_path / "nope.toml", atlas)


def _edit(tmp_path, old: str, new: str):
    text = default_roi_file().read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(old, new))
    return path


def test_editing_the_roi_file_changes_membership_and_matrix(atlas, tmp_path):
    base = load_rois(atlas=atlas)
    # a toy subject: 3 voxels per parcel, all kept
    parcels = np.repeat(np.arange(1, atlas.n_parcels + 1), 3)
    base_m = roi_matrix(parcels, base).matrix.toarray()

    # 1. remove parcels from an ROI: the default mode network restricted to the left hemisphere
    narrowed = load_rois(
        _edit(tmp_path, 'match = [{ network = "Default" }]', 'match = [{ network = "Default", hemisphere = "LH" }]'), atlas
    )
    k = base.names.index("default_mode")
    old_ids, new_ids = base.rois[k].parcel_ids, narrowed.rois[k].parcel_ids
    assert set(new_ids) < set(old_ids)
    assert all(atlas.labels[p - 1].hemisphere == "LH" for p in new_ids)
    assert all(atlas.labels[p - 1].hemisphere == "RH" for p in set(old_ids) - set(new_ids))
    new_m = roi_matrix(parcels, narrowed).matrix.toarray()
    removed = np.isin(parcels, list(set(old_ids) - set(new_ids)))
    assert np.all(new_m[removed, k] == 0) and np.all(base_m[removed, k] > 0)
    assert np.allclose(new_m[np.isin(parcels, new_ids), k], 1.0 / (3 * len(new_ids)))
    others = [j for j in range(len(base)) if j != k]
    assert np.array_equal(new_m[:, others], base_m[:, others])

    # 2. add a new ROI: one extra column holding exactly its parcels
    added_path = tmp_path / "added.toml"
    added_path.write_text(
        default_roi_file().read_text()
        + '\n[[roi]]\nname = "visual_lh"\ndescription = "left visual"\nmatch = [{ network = "Vis", hemisphere = "LH" }]\n'
    )
    added = load_rois(added_path, atlas)
    assert added.names == base.names + ["visual_lh"]
    vis_lh = [lab.parcel_id for lab in atlas.labels if lab.network == "Vis" and lab.hemisphere == "LH"]
    assert added.rois[-1].parcel_ids.tolist() == vis_lh
    added_m = roi_matrix(parcels, added).matrix.toarray()
    assert np.array_equal(added_m[:, :-1], base_m)
    assert np.array_equal(np.flatnonzero(added_m[:, -1]), np.flatnonzero(np.isin(parcels, vis_lh)))
    assert added.fingerprint != base.fingerprint

    # 3. move the NAcc sphere: its membership follows the voxel positions
    moved = load_rois(_edit(tmp_path, "radius_mm = 6", "radius_mm = 3"), atlas)
    j = base.names.index("nacc")
    voxel_mni = np.array([[11.0, 14.0, -4.0], [11.0, 18.5, -4.0], [40.0, 0.0, 0.0]])
    assert roi_matrix(np.zeros(3, int), base, voxel_mni=voxel_mni).n_voxels_per_region[j] == 2
    assert roi_matrix(np.zeros(3, int), moved, voxel_mni=voxel_mni).n_voxels_per_region[j] == 1
