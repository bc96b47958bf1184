"""Per-ROI coverage report on a hand-built subject whose data hold exactly the left visual network."""

from __future__ import annotations

import numpy as np

from neurofin.atlas import SubjectAtlas, load_atlas, load_rois, roi_coverage


def test_coverage_counts_and_flags(tmp_path):
    atlas = load_atlas()
    vis_lh = [lab.parcel_id for lab in atlas.labels if lab.network == "Vis" and lab.hemisphere == "LH"]
    grid = np.isin(atlas.volume, vis_lh)
    ijk = np.argwhere(grid)
    keep_half = np.arange(len(ijk)) % 2 == 0  # the subject's mask holds every other voxel of the left visual network
    voxel_mni = (ijk[keep_half] @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]).astype(np.float32)
    mni_column = np.full(atlas.volume.shape, -1, dtype=np.int32)
    mni_column[tuple(ijk[keep_half].T)] = np.arange(keep_half.sum())
    maps = SubjectAtlas("toy", voxel_mni, mni_column, {})
    centre = atlas.centroids_mni[vis_lh[0]]
    path = tmp_path / "rois.toml"
    path.write_text(
        '[[roi]]\nname = "vis_lh"\ndescription = "d"\nmatch = [{ network = "Vis", hemisphere = "LH" }]\n'
        '[[roi]]\nname = "vis_rh"\ndescription = "d"\nmatch = [{ network = "Vis", hemisphere = "RH" }]\n'
        f'[[roi]]\nname = "vis_ball"\ndescription = "d"\nsphere = {{ centers_mni = [{centre.tolist()}], radius_mm = 3 }}\n'
        '[[roi]]\nname = "nacc"\ndescription = "d"\nsphere = { centers_mni = [[-11, 14, -4], [11, 14, -4]], radius_mm = 6 }\n'
    )
    report = {row.name: row for row in roi_coverage(maps, load_rois(path, atlas), atlas, fill_mm=0.0)}
    assert report["vis_lh"].n_voxels == keep_half.sum() and report["vis_lh"].n_parcels == len(vis_lh)
    assert report["vis_lh"].mni_voxels == grid.sum() and np.isclose(report["vis_lh"].coverage, keep_half.mean())
    assert report["vis_lh"].note == ""
    assert report["vis_rh"].n_voxels == 0 and report["vis_rh"].coverage == 0.0 and report["vis_rh"].note.startswith("~empty")
    assert "subcortical" not in report["vis_ball"].note  # a sphere on the cortex is not called subcortical
    assert report["nacc"].n_voxels == 0 and "~empty" in report["nacc"].note and "subcortical" in report["nacc"].note
