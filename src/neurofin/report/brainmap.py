"""A brain map of per-voxel values (test r): a pycortex flatmap when the subject's database has flat surfaces,
otherwise an MNI glass brain through the atlas registration (nilearn).

pycortex is optional (`pip install neurofin[flatmap]`). Its flatmap needs `surfaces/flat_lh.gii` and
`flat_rh.gii` in the subject's pycortex-db folder (ds003020 ships them; the synthetic twin does not).
pycortex keeps a per-subject pixel-map cache; it is sent to `cache_dir` (never into the dataset). The first
flatmap of a subject builds that cache (minutes), later ones reuse it.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from neurofin.report.figures import new_figure, to_png

FLAT_SURFACES = ("flat_lh.gii", "flat_rh.gii")


def flatmap_unavailable(filestore: Path, subject: str) -> str | None:
    """Why no pycortex flatmap can be drawn for `subject`, or None when it can."""
    import importlib.util

    if importlib.util.find_spec("cortex") is None:
        return "pycortex is not installed (pip install 'neurofin[flatmap]')"
    missing = [n for n in FLAT_SURFACES if not (filestore / subject / "surfaces" / n).is_file()]
    if missing:
        return f"the subject's pycortex database {filestore / subject} has no flat surfaces ({', '.join(missing)})"
    return None


@contextmanager
def _pycortex_store(filestore: Path, cache_dir: Path):
    """Point pycortex's global database at `filestore` and its cache at `cache_dir`, restoring both after."""
    import cortex

    config = cortex.options.config
    had_cache = config.has_option("basic", "cache")
    old_cache = config.get("basic", "cache") if had_cache else None
    old_store = cortex.db.filestore
    cache_dir.mkdir(parents=True, exist_ok=True)
    config.set("basic", "cache", str(cache_dir))
    cortex.db.filestore = str(filestore)
    cortex.db.reload_subjects()
    try:
        yield cortex
    finally:
        cortex.db.filestore = old_store
        cortex.db.reload_subjects()
        if had_cache:
            config.set("basic", "cache", old_cache)
        else:
            config.remove_option("basic", "cache")


def flatmap_png(
    values: np.ndarray, mask_zyx: np.ndarray, filestore: Path, subject: str, transform: str, title: str,
    cache_dir: Path, limit: float,
) -> bytes:
    """pycortex flatmap of per-mask-voxel `values` (response column order = mask True voxels in C order, z y x)."""
    import matplotlib.pyplot as plt

    volume = np.full(mask_zyx.shape, np.nan, dtype=np.float32)
    volume[mask_zyx] = values
    with _pycortex_store(Path(filestore), Path(cache_dir)) as cortex:
        data = cortex.Volume(volume, subject, transform, vmin=-limit, vmax=limit, cmap="RdBu_r")
        figure = cortex.quickflat.make_figure(data, with_rois=False, with_curvature=False, with_sulci=False,
                                              with_labels=False, with_colorbar=True, with_dropout=False)
    try:
        figure.set_size_inches(10, 5.5)
        figure.suptitle(title, fontsize=11, fontweight="bold")
        return to_png(figure)
    finally:
        plt.close(figure)


def mni_volume(values: np.ndarray, mni_column: np.ndarray) -> np.ndarray:
    """Values on the MNI atlas grid: each grid voxel takes the value of the response column it lands in (NaN if none)."""
    out = np.full(mni_column.shape, np.nan, dtype=np.float32)
    hit = mni_column >= 0
    out[hit] = np.asarray(values, dtype=np.float32)[mni_column[hit]]
    return out


def glass_brain_png(values: np.ndarray, mni_column: np.ndarray, affine: np.ndarray, title: str, limit: float) -> bytes:
    """MNI glass brain (signed maximum projections) of `values` mapped through the registration (nilearn)."""
    import nibabel as nib
    from nilearn import plotting

    volume = mni_volume(values, mni_column)
    inside = np.isfinite(volume)
    image = nib.Nifti1Image(np.where(inside, volume, 0.0).astype(np.float32), affine)
    figure = new_figure(11, 3.4, title, layout=None)
    plotting.plot_glass_brain(image, display_mode="lyrz", plot_abs=False, threshold=1e-6, vmin=-limit, vmax=limit,
                              cmap="RdBu_r", colorbar=True, figure=figure)
    return to_png(figure)
