"""ROI definitions as data: a TOML file of named rules over Schaefer parcel labels, plus MNI spheres.

Each `[[roi]]` has a `name`, a `description` and either
  match  = [ {network = "Default", subregion = "Temp", hemisphere = "LH", x = [-70, -30]}, ... ]
           (a parcel belongs to the ROI if any rule matches: network token required; subregion (a token or a
           list), hemisphere ("LH"/"RH") and MNI centroid bounds x/y/z = [lo, hi] in mm optional), or
  sphere = {centers_mni = [[-11, 14, -4], [11, 14, -4]], radius_mm = 6}  (union of balls, MNI mm).
The packaged default is src/neurofin/resources/rois.toml; users pass their own with `--roi-file`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.atlas.schaefer import Atlas, ParcelLabel, load_atlas
from neurofin.errors import AtlasError
from neurofin.io import sha256_bytes
from neurofin.unicode import BOM_ENCODING

RULE_KEYS = {"network", "subregion", "hemisphere", "x", "y", "z"}
AXES = {"x": 0, "y": 1, "z": 2}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def default_roi_file() -> Path:
    """The packaged ROI definitions (resources/rois.toml)."""
    return Path(str(resources.files("neurofin") / "resources" / "rois.toml"))


@dataclass(frozen=True)
class Roi:
    """One region: a set of atlas parcels, or a union of MNI spheres."""

    name: str
    description: str
    parcel_ids: np.ndarray  # sorted int32 parcel ids (empty for a sphere ROI)
    sphere_centers_mni: np.ndarray | None = None  # (n_centers, 3) mm, for a sphere ROI
    sphere_radius_mm: float = 0.0

    @property
    def is_sphere(self) -> bool:
        return self.sphere_centers_mni is not None

    def mni_mask(self, atlas: Atlas) -> np.ndarray:
        """Boolean volume on the atlas grid: the ROI's voxels in MNI space."""
        if self.sphere_centers_mni is not None:
            return within_spheres(grid_mni(atlas), self.sphere_centers_mni, self.sphere_radius_mm).reshape(
                atlas.volume.shape
            )
        return np.isin(atlas.volume, self.parcel_ids)


@dataclass(frozen=True)
class RoiSet:
    """Validated ROI definitions for one atlas labelling, with the file they came from."""

    rois: tuple[Roi, ...]
    source: Path
    fingerprint: str  # sha256 of the file text
    networks: int

    @property
    def names(self) -> list[str]:
        return [roi.name for roi in self.rois]

    def __len__(self) -> int:
        return len(self.rois)

    def record(self) -> dict[str, Any]:
        """JSON-ready description stored beside anything computed with these ROIs."""
        return {
            "source": str(self.source),
            "sha256": self.fingerprint,
            "networks": self.networks,
            "rois": {
                roi.name: (
                    {"sphere_centers_mni": roi.sphere_centers_mni.tolist(), "radius_mm": roi.sphere_radius_mm}
                    if roi.sphere_centers_mni is not None
                    else {"parcels": roi.parcel_ids.tolist()}
                )
                for roi in self.rois
            },
        }


def grid_mni(atlas: Atlas) -> np.ndarray:
    """(n_grid_voxels, 3) MNI mm of every atlas-grid voxel centre, in C order over (i, j, k)."""
    ijk = np.indices(atlas.volume.shape).reshape(3, -1).T
    return ijk @ atlas.affine[:3, :3].T + atlas.affine[:3, 3]


def within_spheres(points_mni: np.ndarray, centers_mni: np.ndarray, radius_mm: float) -> np.ndarray:
    """Which points lie within `radius_mm` of any centre (boundary included)."""
    dist2 = ((points_mni[:, None, :] - centers_mni[None, :, :]) ** 2).sum(-1)
    return (dist2 <= radius_mm**2 + 1e-9).any(axis=1)


def _fail(source: Path, where: str, what: str) -> AtlasError:
    return AtlasError(f"{source}: {where}: {what}")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _rule_matches(rule: dict[str, Any], atlas: Atlas, source: Path, where: str) -> set[int]:
    """Parcel ids selected by one match rule, after checking every token against the atlas labels."""
    unknown = set(rule) - RULE_KEYS
    if unknown:
        raise _fail(source, where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(RULE_KEYS)}")
    labels: list[ParcelLabel] = list(atlas.labels)
    networks = sorted({lab.network for lab in labels})
    network = rule.get("network")
    if network not in networks:
        raise _fail(source, where, f"unknown network {network!r}; the {atlas.networks}-network atlas has {networks}")
    in_network = [lab for lab in labels if lab.network == network]
    if "subregion" in rule:
        known = sorted({lab.subregion for lab in in_network if lab.subregion})
        wanted = _as_list(rule["subregion"])
        bad = [s for s in wanted if s not in known]
        if bad:
            raise _fail(source, where, f"unknown sub-region(s) {bad} of network {network}; it has {known}")
        in_network = [lab for lab in in_network if lab.subregion in wanted]
    if "hemisphere" in rule:
        if rule["hemisphere"] not in ("LH", "RH"):
            raise _fail(source, where, f"hemisphere must be 'LH' or 'RH', not {rule['hemisphere']!r}")
        in_network = [lab for lab in in_network if lab.hemisphere == rule["hemisphere"]]
    ids = np.array([lab.parcel_id for lab in in_network], dtype=np.int64)
    for axis, col in AXES.items():
        if axis not in rule:
            continue
        bounds = rule[axis]
        if not (isinstance(bounds, list) and len(bounds) == 2 and float(bounds[0]) < float(bounds[1])):
            raise _fail(source, where, f"{axis} must be [low, high] MNI mm with low < high, not {bounds!r}")
        coord = atlas.centroids_mni[ids, col]
        ids = ids[(coord >= float(bounds[0])) & (coord <= float(bounds[1]))]
    return set(ids.tolist())


def _parse_sphere(spec: Any, source: Path, where: str) -> tuple[np.ndarray, float]:
    if not isinstance(spec, dict) or set(spec) != {"centers_mni", "radius_mm"}:
        raise _fail(source, where, "sphere must be {centers_mni = [[x, y, z], ...], radius_mm = r}")
    try:
        centers = np.asarray(spec["centers_mni"], dtype=np.float64)
        radius = float(spec["radius_mm"])
    except (TypeError, ValueError):
        raise _fail(source, where, "sphere centres and radius must be numbers (MNI mm)") from None
    if centers.ndim != 2 or centers.shape[1] != 3 or len(centers) == 0 or radius <= 0:
        raise _fail(source, where, "sphere needs at least one [x, y, z] centre and radius_mm > 0")
    return centers, radius


def _parse_roi(entry: Any, index: int, atlas: Atlas, source: Path) -> Roi:
    where = f"roi #{index + 1}"
    if not isinstance(entry, dict):
        raise _fail(source, where, "each [[roi]] must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _fail(source, where, f"name {name!r} must be lower_snake_case (letters, digits, underscores)")
    where = f"roi {name!r}"
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise _fail(source, where, "needs a non-empty description")
    extra = set(entry) - {"name", "description", "match", "sphere"}
    if extra:
        raise _fail(source, where, f"unknown key(s) {sorted(extra)}; use name, description and match or sphere")
    if ("match" in entry) == ("sphere" in entry):
        raise _fail(source, where, "give exactly one of `match` (parcel rules) or `sphere` (MNI balls)")
    if "sphere" in entry:
        centers, radius = _parse_sphere(entry["sphere"], source, where)
        roi = Roi(name, description.strip(), np.zeros(0, np.int32), centers, radius)
        if not roi.mni_mask(atlas).any():
            raise _fail(source, where, "the sphere holds no voxel of the MNI grid: move it inside the brain")
        return roi
    rules = entry["match"]
    if not isinstance(rules, list) or not rules or not all(isinstance(r, dict) for r in rules):
        raise _fail(source, where, "match must be a non-empty list of {network = ..., ...} tables")
    ids: set[int] = set()
    for k, rule in enumerate(rules):
        ids |= _rule_matches(rule, atlas, source, f"{where} rule #{k + 1}")
    if not ids:
        raise _fail(source, where, "is empty: its rules match no parcel; loosen the sub-region or centroid bounds")
    return Roi(name, description.strip(), np.array(sorted(ids), dtype=np.int32))


def load_rois(path: str | Path | None = None, atlas: Atlas | None = None) -> RoiSet:
    """Read and validate ROI definitions (default: the packaged rois.toml) against the atlas labels."""
    source = Path(path).expanduser() if path is not None else default_roi_file()
    atlas = atlas if atlas is not None else load_atlas()
    if not source.is_file():
        raise AtlasError(f"ROI file {source} not found: set atlas.roi_file to an existing TOML file")
    text = source.read_text(encoding=BOM_ENCODING)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AtlasError(f"ROI file {source} is not valid TOML ({exc}); fix the line it names") from None
    entries = raw.get("roi")
    if not isinstance(entries, list) or not entries:
        raise AtlasError(f"ROI file {source} defines no [[roi]] tables: see the packaged rois.toml for the format")
    rois = tuple(_parse_roi(entry, i, atlas, source) for i, entry in enumerate(entries))
    seen: set[str] = set()
    for roi in rois:
        if roi.name in seen:
            raise AtlasError(f"ROI file {source}: the name {roi.name!r} is used twice; names must be unique")
        seen.add(roi.name)
    return RoiSet(rois, source, sha256_bytes(text.encode("utf-8")), atlas.networks)
