"""Schaefer parcels in a subject's functional space: registration composed with the pycortex transform, cached.

Chain for a cortical-mask voxel (response column j = j-th True voxel of `mask_thick` in C order over (z, y, x)):
    functional voxel --inverse pycortex "coord"--> anatomical mm --ANTs (affine + SyN)--> MNI mm
and its parcel is the atlas label at that MNI point by nearest neighbour (`SubjectAtlas.parcels`). The MNI
atlas grid is also mapped the other way (MNI -> anatomical -> nearest functional voxel), which gives each ROI's
coverage: the share of its MNI volume that lands in a mask voxel. Only mask voxels carry labels.

Mask voxels whose centre falls just off the 2 mm cortical ribbon of the atlas take the nearest parcel within
FILL_MM (default 4 mm): pycortex's `thick` mask holds every functional voxel within 8 mm of the mid-cortical
surface, so on S1 only ~56% of mask voxel centres sit inside a labelled atlas voxel, ~83% within 4 mm.

The cache (default: the user cache dir) is one `.npz` per subject, named by a hash of the inputs' contents (anatomy, transform, reference,
mask), the registration settings, the template and the atlas grid, written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.atlas.register import PointMap, RegistrationMode, register_to_mni, registration_record
from neurofin.atlas.rois import grid_mni
from neurofin.atlas.schaefer import Atlas, load_atlas
from neurofin.atlas.xfm import FunctionalTransform, read_functional_transform
from neurofin.data.layout import Dataset
from neurofin.errors import AtlasError, DataError
from neurofin.io import atomic_path, content_hash, sha256_file
from neurofin.paths import user_cache_dir
from neurofin.progress import Progress, report

CACHE_VERSION = 2
FILL_MM = 4.0


@dataclass(frozen=True)
class SubjectAtlas:
    """A subject's functional mask voxels in MNI space, and the MNI atlas grid in the subject's voxels."""

    subject: str
    voxel_mni: np.ndarray  # (n_voxels, 3) float32 MNI mm of each mask voxel centre, response column order
    mni_column: np.ndarray  # atlas-grid-shaped int32: response column each MNI grid voxel lands in, -1 if none
    record: dict[str, Any]  # inputs' hashes and registration settings

    @property
    def n_voxels(self) -> int:
        return len(self.voxel_mni)

    def parcels(self, atlas: Atlas, fill_mm: float = FILL_MM) -> np.ndarray:
        """(n_voxels,) parcel id of each response column (0 = no parcel within `fill_mm` of the voxel centre)."""
        if tuple(self.mni_column.shape) != tuple(atlas.volume.shape):
            raise AtlasError(f"{self.subject}'s atlas maps were made on another atlas grid: recompute them for this atlas")
        return atlas.parcel_at(self.voxel_mni, fill_mm)


def subject_inputs(dataset: Dataset, subject: str) -> dict[str, Path]:
    """The pycortex files registration needs: anatomy, transform, reference volume, cortical mask."""
    transform_dir = dataset.transform_dir(subject)
    paths = {
        "anatomy": dataset.pycortex_db / subject / "anatomicals" / "raw.nii.gz",
        "transform": transform_dir / "matrices.xfm",
        "reference": transform_dir / "reference.nii.gz",
        "mask": transform_dir / "mask_thick.nii.gz",
    }
    for role, path in paths.items():
        if not path.is_file():
            raise AtlasError(f"{subject}'s {role} file {path} is missing: download the subject's pycortex-db")
    return paths


def map_subject(
    mask: np.ndarray, transform: FunctionalTransform, registration: PointMap, atlas: Atlas
) -> tuple[np.ndarray, np.ndarray]:
    """(voxel_mni, mni_column): mask voxel centres in MNI mm, and the response column of every atlas-grid voxel."""
    if mask.shape != transform.shape_zyx:
        raise AtlasError(
            f"the mask has shape {mask.shape} but the reference volume is {transform.shape_zyx} (z, y, x): "
            "both must come from the same pycortex transform folder"
        )
    voxel_mni = registration.subject_to_mni(transform.voxel_to_anat_mm(np.argwhere(mask)))
    columns = np.full(mask.shape, -1, dtype=np.int32)
    columns[mask] = np.arange(int(mask.sum()), dtype=np.int32)
    grid_zyx = transform.anat_mm_to_voxel(registration.mni_to_subject(grid_mni(atlas)))
    inside = ((grid_zyx >= 0) & (grid_zyx < np.array(mask.shape))).all(axis=1)
    mni_column = np.full(len(grid_zyx), -1, dtype=np.int32)
    mni_column[inside] = columns[tuple(grid_zyx[inside].T)]
    return voxel_mni.astype(np.float32), mni_column.reshape(atlas.volume.shape)


def _record(inputs: dict[str, Path], subject: str, atlas: Atlas, mode: RegistrationMode) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "subject": subject,
        "inputs_sha256": {role: sha256_file(path) for role, path in inputs.items()},
        "registration": registration_record(mode),
        "atlas_grid": {"shape": list(atlas.volume.shape), "affine": atlas.affine.tolist()},
    }


def default_cache_dir() -> Path:
    """Where registered maps go unless told otherwise: the user cache dir (neurofin.paths), never the dataset."""
    return user_cache_dir("atlas")


def cache_path(cache_dir: str | Path, record: dict[str, Any]) -> Path:
    """The cache file of one subject's maps: named by the hash of everything they depend on."""
    key = content_hash(record)[:20]
    return Path(cache_dir).expanduser() / f"{record['subject']}-{record['registration']['mode']}-{key}.npz"


def cached_subject_atlas(
    dataset: Dataset, subject: str, cache_dir: str | Path, mode: RegistrationMode = "syn", atlas: Atlas | None = None
) -> SubjectAtlas | None:
    """The subject's registered maps if the cache holds them for the current inputs, else None (nothing is computed)."""
    atlas = atlas if atlas is not None else load_atlas()
    record = _record(subject_inputs(dataset, subject), subject, atlas, mode)
    path = cache_path(cache_dir, record)
    if path.is_file():
        with np.load(path, allow_pickle=False) as arrays:
            if json.loads(str(arrays["record"])) == record:
                return SubjectAtlas(subject, arrays["voxel_mni"], arrays["mni_column"], record)
    return None


def package_voxel_atlas(
    dataset: Dataset, subject: str, cache_dir: str | Path | None = None, atlas: Atlas | None = None
) -> dict[str, np.ndarray]:
    """What a model package stores of the subject's cached registration (parcel, voxel_mni), or {} without one."""
    atlas = atlas if atlas is not None else load_atlas()
    try:
        maps = cached_subject_atlas(dataset, subject, cache_dir or default_cache_dir(), atlas=atlas)
    except (AtlasError, DataError):  # no pycortex-db for this subject
        return {}
    if maps is None:
        return {}
    return {"parcel": maps.parcels(atlas).astype(np.int32), "voxel_mni": maps.voxel_mni.astype(np.float32)}


def registered_rois(
    dataset: Dataset, subject: str, cache_dir: str | Path | None, roi_file: str | Path | None = None
) -> tuple[list[str], np.ndarray]:
    """ROI names and the (n_voxels, n_rois) bool membership of `subject`'s voxels, from its cached registration
    (nothing is registered here)."""
    from neurofin.atlas.regions import roi_membership
    from neurofin.atlas.rois import load_rois

    atlas = load_atlas()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    maps = cached_subject_atlas(dataset, subject, cache, atlas=atlas)
    if maps is None:
        raise AtlasError(
            f"{subject} has no registered atlas in {cache}: run `neurofin atlas register --data-root {dataset.root} "
            f"--subjects {subject} --cache {cache}`, then `neurofin evaluate` again"
        )
    rois = load_rois(roi_file, atlas)
    return rois.names, roi_membership(maps.parcels(atlas), rois, maps.voxel_mni)


def subject_atlas(
    dataset: Dataset,
    subject: str,
    cache_dir: str | Path,
    mode: RegistrationMode = "syn",
    atlas: Atlas | None = None,
    progress: Progress | None = None,
) -> SubjectAtlas:
    """The subject's registered atlas maps: from the cache when its inputs match, else computed and cached."""
    atlas = atlas if atlas is not None else load_atlas()
    cached = cached_subject_atlas(dataset, subject, cache_dir, mode, atlas)
    if cached is not None:
        return cached
    inputs = subject_inputs(dataset, subject)
    record = _record(inputs, subject, atlas, mode)
    path = cache_path(cache_dir, record)
    transform = read_functional_transform(inputs["transform"].parent)
    mask = dataset.mask(subject)
    done = report(progress).task(f"{subject}: registering anatomy to MNI ({mode}), mapping voxels", total=1)
    with register_to_mni(inputs["anatomy"], mode) as registration:
        voxel_mni, mni_column = map_subject(mask, transform, registration, atlas)
    done(1)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, voxel_mni=voxel_mni, mni_column=mni_column, record=np.array(json.dumps(record, sort_keys=True))
        )
    return SubjectAtlas(subject, voxel_mni, mni_column, record)
