"""pycortex functional <-> anatomical transforms, read from a filestore `transforms/<name>/` folder.

pycortex convention (cortex/xfm.py `Transform`, cortex/database.py `get_xfm`, cortex/utils.py `get_vox_dist`):
`matrices.xfm` is JSON whose "coord" entry is a 4x4 affine from anatomical mm (the world space of
`anatomicals/raw.nii.gz`, where the subject's surfaces live) to functional voxel indices (i, j, k) = (x, y, z)
of `reference.nii.gz`; pycortex volumes are the NIfTI data transposed, (z, y, x). The reference's own NIfTI
affine plays no part. (Checked in tests: re-deriving pycortex's `thick` mask of example subject S1 from its
surfaces through "coord" gives docs/REFERENCE.md's 80,615 voxels.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurofin.errors import AtlasError


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 affine to (n, 3) points."""
    return np.asarray(points, dtype=np.float64) @ affine[:3, :3].T + affine[:3, 3]


@dataclass(frozen=True)
class FunctionalTransform:
    """A pycortex "coord" transform (anatomical mm -> functional voxel index) and the functional grid shape (z, y, x)."""

    coord: np.ndarray  # (4, 4)
    shape_zyx: tuple[int, int, int]

    def voxel_to_anat_mm(self, zyx: np.ndarray) -> np.ndarray:
        """(n, 3) anatomical mm of functional voxel centres given as (z, y, x) indices."""
        return apply_affine(np.linalg.inv(self.coord), np.asarray(zyx)[:, ::-1])

    def anat_mm_to_voxel(self, points_mm: np.ndarray) -> np.ndarray:
        """(n, 3) nearest functional voxel (z, y, x) of anatomical mm points (may fall outside the grid)."""
        return np.rint(apply_affine(self.coord, points_mm)[:, ::-1]).astype(np.int64)


def read_functional_transform(transform_dir: Path) -> FunctionalTransform:
    """Read pycortex `matrices.xfm` ("coord") and the reference volume's shape from a transform folder."""
    import nibabel as nib

    xfm_path, ref_path = transform_dir / "matrices.xfm", transform_dir / "reference.nii.gz"
    for path in (xfm_path, ref_path):
        if not path.is_file():
            raise AtlasError(f"{path} is missing: download the subject's pycortex-db transform folder")
    try:
        coord = np.asarray(json.loads(xfm_path.read_text())["coord"], dtype=np.float64)
    except (ValueError, KeyError, TypeError):
        raise AtlasError(f"{xfm_path} is not a pycortex transform (JSON with a 4x4 'coord'); download it again") from None
    if coord.shape != (4, 4) or not np.isfinite(coord).all() or abs(np.linalg.det(coord[:3, :3])) < 1e-12:
        raise AtlasError(f"{xfm_path}: 'coord' must be an invertible 4x4 matrix; download it again")
    try:
        shape_xyz = nib.load(ref_path).shape[:3]  # type: ignore[attr-defined]
    except (OSError, EOFError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise AtlasError(f"cannot read {ref_path} as NIfTI ({exc}); download it again") from None
    n_z, n_y, n_x = (int(n) for n in shape_xyz[::-1])
    return FunctionalTransform(coord, (n_z, n_y, n_x))
