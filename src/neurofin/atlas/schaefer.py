"""The Schaefer 2018 cortical parcellation (1000 parcels) shipped as package data, with parsed labels.

Label names carry the network and sub-region: `7Networks_LH_Default_Temp_3` is parcel 3 of the
left-hemisphere default-network temporal sub-region; `7Networks_LH_Vis_1` has no sub-region token.
The packaged volume is the 7-network order; the 17-network labels number a different (17-network
order) volume, so 17-network labels need that volume passed explicitly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from neurofin.atlas.xfm import apply_affine
from neurofin.errors import AtlasError
from neurofin.io import sha256_file

VOLUME_7NET = "Schaefer2018_1000Parcels_7Networks_order_FSLMNI152_2mm.nii.gz"


def resource_dir() -> Path:
    """The packaged atlas folder (src/neurofin/resources/atlas)."""
    return Path(str(resources.files("neurofin") / "resources" / "atlas"))


def labels_path(networks: int) -> Path:
    """The packaged label TSV for the 7- or 17-network naming."""
    if networks not in (7, 17):
        raise AtlasError(f"networks={networks} is not available: use 7 or 17")
    return resource_dir() / f"Schaefer2018_1000Parcels_{networks}Networks_labels.tsv"


@dataclass(frozen=True)
class ParcelLabel:
    """One parcel: its 1-based id and the tokens of its name."""

    parcel_id: int
    name: str
    hemisphere: str  # "LH" or "RH"
    network: str  # e.g. "Default", "SalVentAttn", or 17-network "DefaultA"
    subregion: str  # e.g. "Temp", "PFCl"; "" when the name has none


def parse_label(parcel_id: int, name: str) -> ParcelLabel:
    """Split a Schaefer name like `7Networks_LH_Default_Temp_3` into hemisphere, network and sub-region."""
    parts = name.split("_")
    if len(parts) < 4 or parts[1] not in ("LH", "RH") or not parts[-1].isdigit():
        raise AtlasError(f"parcel {parcel_id} has an unexpected name {name!r}: expected e.g. 7Networks_LH_Default_Temp_3")
    return ParcelLabel(parcel_id, name, parts[1], parts[2], "_".join(parts[3:-1]))


def read_labels(path: Path) -> list[ParcelLabel]:
    """Parcel labels 1..N from a TemplateFlow-style TSV (columns index, name)."""
    if not path.is_file():
        raise AtlasError(f"atlas label file {path} is missing: reinstall neurofin (it ships the Schaefer labels)")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    labels = [parse_label(int(row["index"]), row["name"]) for row in rows]
    if [lab.parcel_id for lab in labels] != list(range(1, len(labels) + 1)):
        raise AtlasError(f"{path} does not list parcels 1..{len(labels)} in order: replace it with the packaged file")
    return labels


@dataclass(frozen=True)
class Atlas:
    """A labelled parcellation volume in MNI space; parcel id 0 is background."""

    volume_path: Path
    labels: tuple[ParcelLabel, ...]
    networks: int

    @property
    def n_parcels(self) -> int:
        return len(self.labels)

    @cached_property
    def image(self):  # nibabel.Nifti1Image; typed loosely to keep nibabel import lazy
        """The label volume as a nibabel image."""
        import nibabel as nib

        return nib.load(self.volume_path)

    @cached_property
    def volume(self) -> np.ndarray:
        """Integer parcel ids on the NIfTI (i, j, k) grid."""
        data = np.asarray(self.image.dataobj)
        ids = np.rint(data).astype(np.int32)
        if ids.min() < 0 or ids.max() > self.n_parcels:
            raise AtlasError(f"{self.volume_path} holds ids outside 0..{self.n_parcels}: it does not match the labels")
        return ids

    @property
    def affine(self) -> np.ndarray:
        """Voxel (i, j, k) -> MNI mm (RAS) affine of the label volume."""
        return np.asarray(self.image.affine, dtype=np.float64)

    @cached_property
    def voxel_mm(self) -> float:
        """Volume of one atlas voxel in mm^3."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @cached_property
    def centroids_mni(self) -> np.ndarray:
        """(n_parcels + 1, 3) mean MNI coordinate of each parcel's voxels (row 0 = background, NaN if absent)."""
        ids = self.volume
        ijk = np.argwhere(ids > 0)
        lab = ids[ids > 0]
        xyz = ijk @ self.affine[:3, :3].T + self.affine[:3, 3]
        counts = np.bincount(lab, minlength=self.n_parcels + 1).astype(np.float64)
        sums = np.stack([np.bincount(lab, weights=xyz[:, d], minlength=self.n_parcels + 1) for d in range(3)], 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / counts[:, None]

    @cached_property
    def _nearest_labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """Per grid voxel: distance (mm) to the nearest labelled voxel, and that voxel's parcel id."""
        from scipy import ndimage

        zooms = np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))
        dist, index = ndimage.distance_transform_edt(self.volume == 0, sampling=zooms, return_indices=True)
        return dist, self.volume[tuple(index)]

    def parcel_at(self, points_mni: np.ndarray, fill_mm: float = 0.0) -> np.ndarray:
        """(n,) parcel id at MNI points: the nearest grid voxel's label, else the nearest parcel within `fill_mm` (0 = none)."""
        ijk = np.rint(apply_affine(np.linalg.inv(self.affine), points_mni)).astype(np.int64)
        inside = ((ijk >= 0) & (ijk < np.array(self.volume.shape))).all(axis=1)
        out = np.zeros(len(ijk), dtype=np.int32)
        where = tuple(ijk[inside].T)
        if fill_mm > 0:
            dist, nearest = self._nearest_labelled
            out[inside] = np.where(dist[where] <= fill_mm, nearest[where], 0)
        else:
            out[inside] = self.volume[where]
        return out

    def fingerprint(self) -> str:
        """Content hash of the volume and label files (for cache keys and package records)."""
        from neurofin.io import sha256_bytes

        label_text = "\n".join(lab.name for lab in self.labels)
        return sha256_bytes((sha256_file(self.volume_path) + label_text).encode("utf-8"))


def load_atlas(networks: int = 7, volume: str | Path | None = None) -> Atlas:
    """The Schaefer 1000-parcel atlas: packaged 7-network volume and labels, or 17-network labels + their volume."""
    labels = tuple(read_labels(labels_path(networks)))
    if volume is None:
        if networks != 7:
            raise AtlasError(
                "17-network labels number the parcels of the 17-network-order volume, which is not packaged: pass "
                "volume=Schaefer2018_1000Parcels_17Networks_order_FSLMNI152_2mm.nii.gz (CBIG release)"
            )
        volume = resource_dir() / VOLUME_7NET
    volume = Path(volume).expanduser()
    if not volume.is_file():
        raise AtlasError(f"atlas volume {volume} not found: pass an existing Schaefer NIfTI file")
    return Atlas(volume_path=volume, labels=labels, networks=networks)
