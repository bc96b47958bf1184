"""Brain maps: MNI projection through the registration (planted columns) and a pycortex flatmap of pycortex's S1."""

import io
import json
from pathlib import Path

import numpy as np
import pytest

from neurofin.report.brainmap import flatmap_png, flatmap_unavailable, glass_brain_png, mni_volume


def test_mni_volume_takes_each_grid_voxels_column_value():
    columns = np.full((4, 5, 6), -1, dtype=np.int32)
    columns[1, 2, 3], columns[2, 2, 2], columns[3, 0, 0] = 0, 2, 2
    volume = mni_volume(np.array([0.5, -1.0, 0.25]), columns)
    assert volume[1, 2, 3] == 0.5 and volume[2, 2, 2] == 0.25 and volume[3, 0, 0] == 0.25
    assert np.isnan(volume).sum() == columns.size - 3


def test_glass_brain_is_a_titled_png():
    from neurofin.atlas import load_atlas

    atlas = load_atlas()
    columns = np.full(atlas.volume.shape, -1, dtype=np.int32)
    columns[atlas.volume > 0] = 0
    png = glass_brain_png(np.array([0.3]), columns, atlas.affine, "UTS09: test r", 0.5)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def pycortex_filestore() -> Path:
    cortex = pytest.importorskip("cortex")
    return Path(cortex.database.default_filestore)


def test_flatmap_availability_is_explained(tmp_path):
    store = pycortex_filestore()
    assert flatmap_unavailable(store, "S1") is None  # pycortex ships S1 with flat surfaces
    (tmp_path / "UTS01" / "surfaces").mkdir(parents=True)
    assert "has no flat surfaces (flat_lh.gii, flat_rh.gii)" in flatmap_unavailable(tmp_path, "UTS01")


@pytest.mark.slow
def test_flatmap_of_s1_puts_the_left_hemisphere_on_the_left():
    """Planted: +1 in voxels left of the midline, -1 right of it; the flatmap's left half must be red (RdBu_r)."""
    import matplotlib.image
    import nibabel as nib

    store = pycortex_filestore()
    xfm = store / "S1" / "transforms" / "fullhead"
    coord = np.asarray(json.loads((xfm / "matrices.xfm").read_text())["coord"])
    shape_xyz = nib.load(xfm / "reference.nii.gz").shape[:3]
    ijk = np.indices(shape_xyz).reshape(3, -1).T
    inverse = np.linalg.inv(coord)
    anat_x = (ijk @ inverse[:3, :3].T + inverse[:3, 3])[:, 0]
    lh = nib.load(store / "S1" / "surfaces" / "pia_lh.gii").darrays[0].data[:, 0]
    rh = nib.load(store / "S1" / "surfaces" / "pia_rh.gii").darrays[0].data[:, 0]
    midline = (lh.max() + rh.min()) / 2
    values_zyx = np.where(anat_x < midline, 1.0, -1.0).reshape(shape_xyz).T
    mask = np.ones(values_zyx.shape, dtype=bool)
    cache = Path.home() / ".cache" / "neurofin-test" / "pycortex-flat"
    png = flatmap_png(values_zyx[mask], mask, store, "S1", "fullhead", "S1: planted hemispheres", cache, 1.0)
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    red = pixels[..., 0] > pixels[..., 2] + 0.2  # RdBu_r: +1 is dark red, -1 dark blue
    blue = pixels[..., 2] > pixels[..., 0] + 0.2
    half = pixels.shape[1] // 2
    assert red[:, :half].sum() > 20 * blue[:, :half].sum() and red[:, :half].sum() > 10_000
    assert blue[:, half:].sum() > 20 * red[:, half:].sum() and blue[:, half:].sum() > 10_000


@pytest.mark.slow
def test_encoding_section_chooses_the_flatmap_when_the_database_has_flat_surfaces():
    from types import SimpleNamespace

    from neurofin.report.encoding import Anatomy, brain_map

    store = pycortex_filestore()
    shape_zyx = (31, 100, 100)
    dataset = SimpleNamespace(pycortex_db=store, mask=lambda s: np.ones(shape_zyx, dtype=bool),
                              transform_dir=lambda s: store / s / "transforms" / "fullhead")
    anatomy = Anatomy(dataset, None, Path("unused"), Path.home() / ".cache" / "neurofin-test" / "pycortex-flat")
    test_r = np.random.default_rng(0).normal(0, 0.1, int(np.prod(shape_zyx)))
    figure, note = brain_map("S1", test_r, anatomy, maps=None)
    assert figure.title == "S1: test r flatmap" and note == "pycortex flatmap of the subject's cortex."
    assert figure.png[:8] == b"\x89PNG\r\n\x1a\n"
