"""Register a subject's anatomy to the MNI template with ANTs and map points between the two spaces.

Fixed image: nilearn's packaged MNI152 2009 template at 2 mm (no download) with its brain mask; moving
image: the subject's `anatomicals/raw.nii.gz` (a whole-head T1). Two ANTs runs:
  1. Affine (mutual information, shrink 6/4/2/1, iterations AFFINE_ITERATIONS), from a centre-of-mass start;
  2. SyNOnly initialised by 1 (mutual information, shrink 4/2/1, iterations SYN_ITERATIONS: the full-resolution
     level is skipped), unless mode="affine".
Chosen for CI (2 cores): on pycortex's S1 (256^3 T1) ~4 s + ~12 s on idle cores, ~30 s with the cores shared
(benchmarks/bench_atlas.py). antspyx's single-call "SyN" ignores `aff_iterations` (2100x1200x1200 affine) and
took ~40 s for a slightly worse fit; a full-resolution SyN level tripled the SyN time for no gain. Fit on S1
(share of mid-cortical surface vertices landing in a Schaefer parcel): affine 0.82, affine + SyN 0.89.

The Schaefer volume lives on FSL's MNI152 (6th generation) grid, the template is MNI152 2009c: both are MNI152
space and differ by a few mm at most, which nearest-neighbour labels of 1000 parcels tolerate.

ANTs point convention (checked in tests): `apply_transforms_to_points` with the forward transforms maps
fixed-space (MNI) points to moving-space (subject) points; the inverse list (affine inverted) maps subject ->
MNI. ANTs points are LPS, so x and y flip sign on the way in and out.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from neurofin.errors import AtlasError
from neurofin.extras import import_extra

RegistrationMode = Literal["syn", "affine"]
MODES = ("syn", "affine")
AFFINE_ITERATIONS = (200, 100, 50, 10)
SYN_ITERATIONS = (40, 20, 0)
TEMPLATE = "nilearn MNI152 2009 template and brain mask, 2 mm (load_mni152_template / load_mni152_brain_mask)"


class PointMap(Protocol):
    """Anything that maps points between a subject's anatomical mm and MNI mm (RAS)."""

    def subject_to_mni(self, points_mm: np.ndarray) -> np.ndarray: ...

    def mni_to_subject(self, points_mni: np.ndarray) -> np.ndarray: ...


def _lps_frame(points: np.ndarray):  # -> pandas.DataFrame in ANTs' LPS
    import pandas as pd

    points = np.asarray(points, dtype=np.float64)
    return pd.DataFrame({"x": -points[:, 0], "y": -points[:, 1], "z": points[:, 2]})


def _from_lps(frame) -> np.ndarray:
    return np.stack([-frame["x"].to_numpy(), -frame["y"].to_numpy(), frame["z"].to_numpy()], axis=1)


@dataclass(frozen=True)
class MniRegistration:
    """ANTs transform files between a subject's anatomy (moving) and the MNI template (fixed)."""

    forward: list[str]  # ANTs fwdtransforms: warp images subject -> MNI, i.e. map MNI points to subject points
    inverse: list[str]  # ANTs invtransforms: map subject points to MNI points

    def mni_to_subject(self, points_mni: np.ndarray) -> np.ndarray:
        """(n, 3) subject anatomical mm of MNI mm points."""
        ants = import_extra("ants", "atlas", "atlas registration (ANTs)")

        moved = ants.apply_transforms_to_points(3, _lps_frame(points_mni), self.forward, whichtoinvert=[False] * len(self.forward))
        return _from_lps(moved)

    def subject_to_mni(self, points_mm: np.ndarray) -> np.ndarray:
        """(n, 3) MNI mm of subject anatomical mm points."""
        ants = import_extra("ants", "atlas", "atlas registration (ANTs)")

        invert = [path.endswith(".mat") for path in self.inverse]
        return _from_lps(ants.apply_transforms_to_points(3, _lps_frame(points_mm), self.inverse, whichtoinvert=invert))


def mni_template():  # -> (nibabel image, nibabel brain mask)
    """nilearn's packaged MNI152 2009 template at 2 mm and its brain mask (no download)."""
    from nilearn import datasets

    return datasets.load_mni152_template(resolution=2), datasets.load_mni152_brain_mask(resolution=2)


def registration_record(mode: RegistrationMode) -> dict:
    """JSON-ready settings of a registration (part of the subject atlas cache key)."""
    from neurofin.io import sha256_bytes

    template, _ = mni_template()
    return {
        "mode": mode,
        "template": TEMPLATE,
        "template_sha256": sha256_bytes(np.ascontiguousarray(template.get_fdata(), dtype=np.float32).tobytes()),
        "affine_iterations": list(AFFINE_ITERATIONS),
        "syn_iterations": list(SYN_ITERATIONS) if mode == "syn" else [],
    }


@contextmanager
def register_to_mni(anat_path: Path, mode: RegistrationMode = "syn") -> Iterator[MniRegistration]:
    """Register a subject's T1 to the MNI template (affine, then SyN unless mode='affine'); files live in the block."""
    ants = import_extra("ants", "atlas", "atlas registration (ANTs)")

    if mode not in MODES:
        raise AtlasError(f"registration mode {mode!r} is unknown: use one of {list(MODES)}")
    if not anat_path.is_file():
        raise AtlasError(f"{anat_path} is missing: download the subject's pycortex-db anatomicals/raw.nii.gz")
    os.environ.setdefault("ANTS_RANDOM_SEED", "1")  # repeatable metric sampling
    template, brain_mask = mni_template()
    fixed, mask = ants.from_nibabel_nifti(template), ants.from_nibabel_nifti(brain_mask)
    try:
        moving = ants.image_read(str(anat_path))
    except (RuntimeError, ValueError, OSError) as exc:
        raise AtlasError(f"cannot read {anat_path} as an image ({exc}); download it again") from None
    with tempfile.TemporaryDirectory(prefix="neurofin-reg-") as tmp:
        affine = ants.registration(
            fixed, moving, "Affine", mask=mask, aff_iterations=AFFINE_ITERATIONS, outprefix=str(Path(tmp) / "affine_")
        )
        if mode == "affine":
            yield MniRegistration(list(affine["fwdtransforms"]), list(affine["invtransforms"]))
            return
        syn = ants.registration(
            fixed, moving, "SyNOnly", initial_transform=affine["fwdtransforms"][0], mask=mask,
            reg_iterations=SYN_ITERATIONS, outprefix=str(Path(tmp) / "syn_"),
        )
        yield MniRegistration(list(syn["fwdtransforms"]), list(syn["invtransforms"]))
