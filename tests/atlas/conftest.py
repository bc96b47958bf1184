"""Atlas test fixtures: pycortex's example subject S1 (real anatomy, surfaces, `fullhead` transform), fetched once.

S1 ships in the pycortex 1.4.0 sdist on PyPI, in the same filestore format as ds003020's pycortex-db, but
without a cortical mask (pycortex computes masks on demand). `s1_dataset` derives pycortex's `thick` mask
exactly as cortex/utils.py `get_cortical_mask(..., "thick")` does: functional voxels whose centre (through the
inverse "coord" transform) lies < 8 mm from the fiducial surface (mean of the white and pial surfaces).
docs/REFERENCE.md gives that mask's size for S1 (80,615 voxels), which a test checks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest

SDIST_URL = (
    "https://files.pythonhosted.org/packages/5d/1a/8f4fb7674ea9f29780f991677ee7282758dacbacbdb5029eeb001fb7fb78/"
    "pycortex-1.4.0.tar.gz"
)
SDIST_SHA256 = "9fdb292a2df96bba6087ee07d428969ba1eb07ed03724bcfaca96ec8e28a5fd5"
SDIST_PREFIX = "pycortex-1.4.0/filestore/db/"
S1_FILES = (
    "S1/anatomicals/raw.nii.gz",
    "S1/transforms/fullhead/matrices.xfm",
    "S1/transforms/fullhead/reference.nii.gz",
    "S1/surfaces/wm_lh.gii",
    "S1/surfaces/wm_rh.gii",
    "S1/surfaces/pia_lh.gii",
    "S1/surfaces/pia_rh.gii",
)
THICK_MM = 8.0  # pycortex get_cortical_mask: thick = dist < 8, thin = dist < 2


def s1_cache_dir() -> Path:
    """Where S1 is kept between runs: $NEUROFIN_PYCORTEX_S1 or ~/.cache/neurofin-test/pycortex-S1."""
    return Path(os.environ.get("NEUROFIN_PYCORTEX_S1") or Path.home() / ".cache" / "neurofin-test" / "pycortex-S1")


def fetch_pycortex_s1(dest: Path, timeout_s: float = 120.0) -> Path:
    """Download the pycortex sdist (sha256-checked), extract only the S1 files used here into `dest`; return dest/S1."""
    if (dest / ".complete").is_file():
        return dest / "S1"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pycortex-s1-", dir=dest.parent) as tmp:
        archive = Path(tmp) / "pycortex.tar.gz"
        digest = hashlib.sha256()
        with urllib.request.urlopen(SDIST_URL, timeout=timeout_s) as response, open(archive, "wb") as fh:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != SDIST_SHA256:
            raise OSError(f"pycortex sdist sha256 {digest.hexdigest()} != {SDIST_SHA256}")
        staging = Path(tmp) / "out"
        wanted = {SDIST_PREFIX + name: name for name in S1_FILES}
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    target = staging / wanted[member.name]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
        missing = [name for name in S1_FILES if not (staging / name).is_file()]
        if missing:
            raise OSError(f"pycortex sdist lacks {missing}")
        (staging / ".complete").write_text(SDIST_SHA256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    return dest / "S1"


def fiducial_surface(s1: Path) -> tuple[np.ndarray, np.ndarray]:
    """(n_vertices, 3) mid-cortical points (mean of white and pial) in anatomical mm, and 0/1 = left/right hemisphere."""
    import nibabel as nib

    points, hemisphere = [], []
    for k, hemi in enumerate(("lh", "rh")):
        wm = nib.load(s1 / "surfaces" / f"wm_{hemi}.gii").darrays[0].data
        pia = nib.load(s1 / "surfaces" / f"pia_{hemi}.gii").darrays[0].data
        points.append((np.asarray(wm, np.float64) + np.asarray(pia, np.float64)) / 2)
        hemisphere.append(np.full(len(wm), k))
    return np.vstack(points), np.concatenate(hemisphere)


def thick_mask(s1: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pycortex's `thick` cortical mask of S1/fullhead as (z, y, x) bool; per voxel, the nearest-surface hemisphere
    (0 left, 1 right, -1 none) and the distance (mm) to the fiducial surface."""
    import nibabel as nib
    from scipy.spatial import cKDTree

    xfm_dir = s1 / "transforms" / "fullhead"
    coord = np.asarray(json.loads((xfm_dir / "matrices.xfm").read_text())["coord"])
    shape_xyz = nib.load(xfm_dir / "reference.nii.gz").shape[:3]
    ijk = np.indices(shape_xyz).reshape(3, -1).T
    inv = np.linalg.inv(coord)
    points, hemisphere = fiducial_surface(s1)
    dist, nearest = cKDTree(points).query(ijk @ inv[:3, :3].T + inv[:3, 3], distance_upper_bound=THICK_MM)
    inside = dist < THICK_MM
    hemi = np.full(len(ijk), -1)
    hemi[inside] = hemisphere[nearest[inside]]
    as_zyx = lambda a: a.reshape(shape_xyz).T.copy()  # noqa: E731
    return as_zyx(inside), as_zyx(hemi), as_zyx(dist)


@pytest.fixture(scope="session")
def pycortex_s1() -> Path:
    """The S1 filestore folder (fetched from PyPI on first use; skipped only if the download fails)."""
    try:
        return fetch_pycortex_s1(s1_cache_dir())
    except OSError as exc:  # urllib's URLError and timeouts are OSErrors
        pytest.skip(f"pycortex example subject S1 unavailable: download of {SDIST_URL} failed ({exc})")


def build_s1_dataset(s1: Path, root: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Lay out S1 as a ds003020 root (pycortex-db files linked, derived thick mask written); return the root and, per
    mask voxel in response-column order, its nearest-surface hemisphere (0 left, 1 right) and surface distance (mm)."""
    import nibabel as nib

    db = root / "derivative" / "pycortex-db" / "S1"
    for name in ("anatomicals/raw.nii.gz", "transforms/fullhead/matrices.xfm", "transforms/fullhead/reference.nii.gz"):
        (db / name).parent.mkdir(parents=True, exist_ok=True)
        (db / name).symlink_to(s1 / name)
    mask, hemi, dist = thick_mask(s1)
    reference = nib.load(s1 / "transforms" / "fullhead" / "reference.nii.gz")
    image = nib.Nifti1Image(mask.T.astype(np.uint8), reference.affine)
    (db / "transforms" / "fullhead" / "mask_thick.nii.gz").write_bytes(gzip.compress(image.to_bytes()))
    return root, hemi[mask], dist[mask]


@pytest.fixture(scope="session")
def s1_dataset(pycortex_s1: Path, tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """S1 as a ds003020 root with its derived thick mask (see build_s1_dataset)."""
    return build_s1_dataset(pycortex_s1, tmp_path_factory.mktemp("s1") / "ds003020")


# ---------------------------------------------------------------- synthetic subject with a planted transform

PLANTED_ROTATION_DEG = 6.0
PLANTED_SHIFT_MM = (8.0, -12.0, 5.0)


def planted_rigid() -> np.ndarray:
    """4x4 RAS map MNI mm -> the planted subject's anatomical mm: a 6 degree pitch and an (8, -12, 5) mm shift."""
    angle = np.deg2rad(PLANTED_ROTATION_DEG)
    rigid = np.eye(4)
    rigid[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    rigid[:3, 3] = PLANTED_SHIFT_MM
    return rigid


def plant_transform(dataset, subject: str, rigid: np.ndarray) -> None:
    """Move a synthetic subject's anatomy by `rigid` and re-express its pycortex "coord" for the moved anatomy."""
    import nibabel as nib

    anat_path = dataset.pycortex_db / subject / "anatomicals" / "raw.nii.gz"
    image = nib.load(anat_path)
    moved = nib.Nifti1Image(np.asarray(image.dataobj), rigid @ image.affine)
    anat_path.write_bytes(gzip.compress(moved.to_bytes()))
    xfm_path = dataset.transform_dir(subject) / "matrices.xfm"
    xfm = json.loads(xfm_path.read_text())
    xfm["coord"] = (np.asarray(xfm["coord"]) @ np.linalg.inv(rigid)).tolist()
    xfm_path.write_text(json.dumps(xfm))


class KnownMap:
    """The exact subject <-> MNI map of a planted rigid transform (stands in for an ANTs registration)."""

    def __init__(self, rigid: np.ndarray) -> None:
        self.rigid = rigid

    @classmethod
    def planted(cls) -> KnownMap:
        return cls(planted_rigid())

    def subject_to_mni(self, points_mm: np.ndarray) -> np.ndarray:
        inv = np.linalg.inv(self.rigid)
        return points_mm @ inv[:3, :3].T + inv[:3, 3]

    def mni_to_subject(self, points_mni: np.ndarray) -> np.ndarray:
        return points_mni @ self.rigid[:3, :3].T + self.rigid[:3, 3]


SYNTH_VOXELS = 200


@pytest.fixture(scope="session")
def planted_synth(tmp_path_factory):
    """A tiny synthetic ds003020 (subject UTS01) whose anatomy is moved by a planted rigid transform, and the planted
    Schaefer parcel of each mask voxel (the synthetic generator's labels)."""
    from neurofin.data.synth import load_anatomy, make_synthetic_dataset

    dataset = make_synthetic_dataset(tmp_path_factory.mktemp("synth"), n_subjects=1, n_stories=1, n_voxels=SYNTH_VOXELS)
    plant_transform(dataset, "UTS01", planted_rigid())
    labels = load_anatomy(SYNTH_VOXELS).labels_zyx[dataset.mask("UTS01")]
    return dataset, labels


@pytest.fixture(scope="session")
def known_map():
    """KnownMap(rigid): an exact subject <-> MNI point map; KnownMap.planted() is the planted subject's."""
    return KnownMap
