"""The per-subject encoding model package: safetensors + JSON, SHA-256 manifest verified on load, no pickle.

Layout of a package directory:
    config.json          the PackageRecord (record.py): settings, feature identity and shape, fit, split,
                         subject, mask hash, voxel-selection rule, speech_rate_wps, format and neurofin version
    weights.safetensors  basis (n_features_in, k) [absent = identity], weights (k * n_delays, n_voxels),
                         feature_mean (n_features_in,) the TR rows' mean pooled over training stories,
                         feature_std the std of the story-centred rows (the scale of every design), word_mean (n_features_in,) the training mean word (infer/readout.py)
    arrays.safetensors   per-voxel training-time arrays: alphas, cv_r, validation_r (r on the validation
                         stories: the voxel-selection score)
    scores.safetensors   per-voxel evaluation arrays: test_r, cc_max/<story> (written by `neurofin evaluate`)
    atlas.safetensors    the subject's registered atlas per voxel: parcel (n_voxels,) Schaefer id (0 = none),
                         voxel_mni (n_voxels, 3) mm; written at train time when the registration is cached,
                         or by `neurofin atlas register --packages`; with it, inference needs only the package
    metrics.json         evaluation summary (written by `neurofin evaluate`)
    manifest.json        SHA-256 + size of every other file and shape + dtype of every tensor

`train` writes the first three and the manifest; `evaluate` adds scores, metrics and a figure and rewrites
only the manifest (after verifying the files it covers), never the weights.

Prediction: word features -> Lanczos + trims -> centred within the story and divided by feature_std
(timing.centre_scale, as in training; new text is centred on word_mean by the readout) -> `project` (basis)
-> FIR delays -> `predict`.
Region predictions are exact through the weights: with M an (n_voxels, n_regions) averaging matrix,
X @ (W @ M) = (X @ W) @ M, so `collapse(M)` gives (k * n_delays, n_regions) weights for parcels/ROIs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from neurofin.encoding.record import FORMAT_VERSION, PackageRecord
from neurofin.errors import PackageIntegrityError
from neurofin.io import atomic_path, sha256_file, write_json_atomic
from neurofin.timing import centre_scale, make_delayed

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
ARRAYS_FILE = "arrays.safetensors"
SCORES_FILE = "scores.safetensors"
ATLAS_FILE = "atlas.safetensors"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
WEIGHT_TENSORS = ("weights", "feature_mean", "feature_std")  # always in WEIGHTS_FILE (basis, word_mean optional)


def _write_tensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp))


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise PackageIntegrityError(f"{path} is not a readable safetensors file ({exc}); re-run `neurofin train`") from None


def _tensor_record(tensors: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {name: {"shape": list(arr.shape), "dtype": str(arr.dtype)} for name, arr in sorted(tensors.items())}


@dataclass
class EncodingModel:
    """A loaded encoding model: reduced basis, weights, normalisation statistics, per-voxel arrays, its record."""

    record: PackageRecord
    weights: np.ndarray  # (k * n_delays, n_voxels) float32
    feature_mean: np.ndarray  # (n_features_in,) pooled training mean of downsampled features
    feature_std: np.ndarray  # (n_features_in,)
    basis: np.ndarray | None = None  # (n_features_in, k); None = identity
    word_mean: np.ndarray | None = None  # (n_features_in,) mean word feature over the training stories' words
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # training-time per-voxel arrays
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # evaluation per-voxel arrays (test_r, cc_max/...)
    voxel_atlas: dict[str, np.ndarray] = field(default_factory=dict)  # parcel, voxel_mni per voxel (ATLAS_FILE)
    metrics: dict[str, Any] | None = None

    @property
    def subject(self) -> str:
        """The subject whose voxels the model predicts."""
        return self.record.subject

    @property
    def delays(self) -> list[int]:
        """FIR delays (TRs) the weights were fitted with."""
        return list(self.record.timing.delays)

    @property
    def n_voxels(self) -> int:
        """Number of voxels (response columns) the model predicts."""
        return int(self.weights.shape[1])

    def project(self, feature_rows: np.ndarray) -> np.ndarray:
        """Map z-scored pre-delay TR rows (n_trs, n_features_in) onto the reduced basis (n_trs, k)."""
        rows = np.asarray(feature_rows, dtype=np.float32)
        return rows if self.basis is None else rows @ self.basis

    def delayed_design(self, feature_rows: np.ndarray) -> np.ndarray:
        """One story's z-scored pre-delay rows -> its delayed design (n_trs, k * n_delays)."""
        return make_delayed(self.project(feature_rows), self.delays)

    def predict(self, delayed_design: np.ndarray) -> np.ndarray:
        """(n_trs, n_voxels) predicted responses for a delayed design (n_trs, k * n_delays)."""
        return np.asarray(delayed_design, dtype=np.float32) @ self.weights

    def predict_story(self, story_rows: np.ndarray) -> np.ndarray:
        """(n_trs, n_voxels) predictions for one story's downsampled, trimmed rows, scaled as in training (centre_scale)."""
        return self.predict(self.delayed_design(centre_scale(story_rows, self.feature_std)))

    def collapse(self, region_matrix: np.ndarray) -> np.ndarray:
        """Weights (k * n_delays, n_regions) for regions: X @ collapse(M) == predict(X) @ M exactly (linear map)."""
        region_matrix = np.asarray(region_matrix, dtype=np.float32)
        if region_matrix.shape[0] != self.n_voxels:
            raise ValueError(f"region matrix has {region_matrix.shape[0]} rows, the model has {self.n_voxels} voxels")
        return self.weights @ region_matrix

    def weight_tensors(self) -> dict[str, np.ndarray]:
        """The tensors stored in weights.safetensors."""
        tensors = {
            "weights": self.weights.astype(np.float32),
            "feature_mean": self.feature_mean.astype(np.float32),
            "feature_std": self.feature_std.astype(np.float32),
        }
        if self.basis is not None:
            tensors["basis"] = self.basis.astype(np.float32)
        if self.word_mean is not None:
            tensors["word_mean"] = self.word_mean.astype(np.float32)
        return tensors

    def save(self, directory: str | Path) -> Path:
        """Write the package (each file atomically, manifest last) and return its directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._check_shapes(self.weight_tensors())
        write_json_atomic(directory / CONFIG_FILE, self.record.to_json())
        tensor_files = {WEIGHTS_FILE: self.weight_tensors()}
        for name, arrays in ((ARRAYS_FILE, self.arrays), (SCORES_FILE, self.scores), (ATLAS_FILE, self.voxel_atlas)):
            if arrays:
                tensor_files[name] = {k: np.asarray(v) for k, v in arrays.items()}
        for name, tensors in tensor_files.items():
            _write_tensors(directory / name, tensors)
        if self.metrics is not None:
            write_json_atomic(directory / METRICS_FILE, self.metrics)
        write_manifest(directory, {name: _tensor_record(t) for name, t in tensor_files.items()})
        return directory

    def _check_shapes(self, tensors: dict[str, np.ndarray]) -> None:
        n_in = tensors["feature_mean"].shape[0]
        k = tensors["basis"].shape[1] if "basis" in tensors else n_in
        problems = []
        for name in ("feature_std", "word_mean"):
            if name in tensors and tensors[name].shape != (n_in,):
                problems.append(f"{name} {tensors[name].shape} != ({n_in},)")
        if "basis" in tensors and tensors["basis"].shape[0] != n_in:
            problems.append(f"basis rows {tensors['basis'].shape[0]} != feature dim {n_in}")
        if tensors["weights"].ndim != 2 or tensors["weights"].shape[0] != k * len(self.delays):
            problems.append(f"weights {tensors['weights'].shape} != ({k} x {len(self.delays)} delays, n_voxels)")
        for name, arr in (self.arrays | self.scores | self.voxel_atlas).items():
            if (arr.ndim == 1 or name in self.voxel_atlas) and arr.shape[0] != tensors["weights"].shape[1]:
                problems.append(f"array {name} has {arr.shape[0]} voxels, weights have {tensors['weights'].shape[1]}")
        if problems:
            raise PackageIntegrityError("inconsistent encoding package: " + "; ".join(problems) + "; re-run `neurofin train`")

    @classmethod
    def load(cls, directory: str | Path) -> EncodingModel:
        """Load a package after verifying every file's SHA-256 and every tensor's shape against the manifest."""
        directory = Path(directory)
        manifest = verify_manifest(directory)
        record = read_record(directory)
        loaded: dict[str, dict[str, np.ndarray]] = {}
        for name, expected in manifest["tensors"].items():
            tensors = _read_tensors(directory / name)
            if _tensor_record(tensors) != expected:
                raise PackageIntegrityError(
                    f"{directory / name}: tensor names/shapes/dtypes differ from the manifest; re-run `neurofin train`"
                )
            loaded[name] = tensors
        weights = loaded[WEIGHTS_FILE]
        metrics_path = directory / METRICS_FILE
        model = cls(
            record=record,
            weights=weights["weights"],
            feature_mean=weights["feature_mean"],
            feature_std=weights["feature_std"],
            basis=weights.get("basis"),
            word_mean=weights.get("word_mean"),
            arrays=loaded.get(ARRAYS_FILE, {}),
            scores=loaded.get(SCORES_FILE, {}),
            voxel_atlas=loaded.get(ATLAS_FILE, {}),
            metrics=_read_metrics(metrics_path) if metrics_path.is_file() else None,
        )
        model._check_shapes(weights)
        return model


def read_record(directory: Path) -> PackageRecord:
    """The package's config.json as a validated PackageRecord."""
    try:
        raw = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # missing, not JSON or not UTF-8
        raise PackageIntegrityError(f"{directory / CONFIG_FILE} is not readable JSON ({exc}); re-run `neurofin train`") from None
    return PackageRecord.from_json(raw, str(directory))


def _read_metrics(path: Path) -> dict[str, Any]:
    """metrics.json as a JSON object (it is sealed, so damage here was resealed or written by another tool)."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON or not UTF-8
        raise PackageIntegrityError(f"{path} is not valid JSON ({exc}); re-run `neurofin evaluate`") from None
    if not isinstance(metrics, dict):
        raise PackageIntegrityError(f"{path} holds a JSON {type(metrics).__name__}, not an object of metrics; "
                                    "re-run `neurofin evaluate`")
    return metrics


def write_evaluation(directory: str | Path, metrics: dict[str, Any], scores: dict[str, np.ndarray]) -> None:
    """Add evaluation results to a saved package: scores.safetensors, metrics.json, then a new manifest.

    The files the old manifest covers are verified first, so a damaged package is never re-sealed.
    """
    directory = Path(directory)
    tensors = verify_manifest(directory)["tensors"]
    scores = {k: np.asarray(v) for k, v in scores.items()}
    _write_tensors(directory / SCORES_FILE, scores)
    write_json_atomic(directory / METRICS_FILE, metrics)
    write_manifest(directory, {**tensors, SCORES_FILE: _tensor_record(scores)})


def write_voxel_atlas(directory: str | Path, parcel: np.ndarray, voxel_mni: np.ndarray) -> None:
    """Add (or replace) the subject's voxel -> parcel map in a saved package, then re-seal its manifest."""
    directory = Path(directory)
    manifest = verify_manifest(directory)
    n_voxels = manifest["tensors"][WEIGHTS_FILE]["weights"]["shape"][1]
    if len(parcel) != n_voxels or np.shape(voxel_mni) != (n_voxels, 3):
        raise PackageIntegrityError(
            f"{directory}: the atlas map has {len(parcel)} voxels, the model {n_voxels}: the package and the registration "
            "belong to different subjects or masks"
        )
    tensors = {"parcel": np.asarray(parcel, dtype=np.int32), "voxel_mni": np.asarray(voxel_mni, dtype=np.float32)}
    _write_tensors(directory / ATLAS_FILE, tensors)
    write_manifest(directory, {**manifest["tensors"], ATLAS_FILE: _tensor_record(tensors)})


def write_manifest(directory: Path, tensors: dict[str, dict[str, Any]]) -> None:
    """Record SHA-256 and size of every file in the package (except the manifest) plus the tensor shapes."""
    files = {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != MANIFEST_FILE and not p.name.startswith(".")
    }
    write_json_atomic(directory / MANIFEST_FILE, {"format_version": FORMAT_VERSION, "files": files, "tensors": tensors})


class _FileSeal(BaseModel):
    model_config = ConfigDict(strict=True)

    sha256: str
    bytes: int


class _TensorShape(BaseModel):
    model_config = ConfigDict(strict=True)

    shape: list[int]
    dtype: str


class _Manifest(BaseModel):
    """The structure of manifest.json: file seals and, per tensor file, each tensor's shape and dtype."""

    model_config = ConfigDict(strict=True)

    files: dict[str, _FileSeal]
    tensors: dict[str, dict[str, _TensorShape]]


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest, its structure checked (plain file names, the weights' tensors listed); files are not hashed."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise PackageIntegrityError(f"{directory} has no {MANIFEST_FILE}: it is not a complete encoding package")
    try:
        manifest = _Manifest.model_validate(json.loads(path.read_text(encoding="utf-8"))).model_dump()
    except (ValueError, ValidationError) as exc:  # not JSON, not UTF-8, or another structure
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]) \
            if isinstance(exc, ValidationError) else str(exc)
        raise PackageIntegrityError(f"{path} is unreadable ({reason}); re-run `neurofin train`") from None
    files, tensors = manifest["files"], manifest["tensors"]
    for required in (CONFIG_FILE, WEIGHTS_FILE):
        if required not in files:
            raise PackageIntegrityError(f"{path} does not list {required}; the package is incomplete")
    odd = [n for n in [*files, *tensors] if n != Path(n).name or n.startswith(".") or "\0" in n]
    unsealed = [n for n in tensors if n not in files]
    weights = tensors.get(WEIGHTS_FILE, {})
    missing = [n for n in WEIGHT_TENSORS if n not in weights]
    flat = "weights" in weights and len(weights["weights"]["shape"]) != 2
    if odd or unsealed or missing or flat:
        raise PackageIntegrityError(
            f"{path} is damaged (names that are not plain file names: {odd}; tensor files without a seal: {unsealed}; "
            f"{WEIGHTS_FILE} tensors missing: {missing}{'; weights not 2-D' if flat else ''}); "
            "copy the package again or re-run `neurofin train`")
    return manifest


def verify_manifest(directory: Path) -> dict[str, Any]:
    """Check that every file the manifest lists exists with its recorded size and SHA-256; return the manifest."""
    manifest = read_manifest(directory)
    for name, record in manifest["files"].items():
        file = directory / name
        if not file.is_file():
            raise PackageIntegrityError(f"{file} is missing from the package; copy the whole directory again")
        if file.stat().st_size != record["bytes"] or sha256_file(file) != record["sha256"]:
            raise PackageIntegrityError(
                f"{file} does not match its SHA-256 in {MANIFEST_FILE}: the file was modified or damaged; "
                "copy the package again or re-run `neurofin train`"
            )
    return manifest


def package_dirs(directory: str | Path) -> list[Path]:
    """A package directory itself, or every package directory one level below `directory`.

    Every non-hidden sub-folder must be a complete package: one without a manifest is an error, never skipped.
    """
    directory = Path(directory)
    if (directory / MANIFEST_FILE).is_file():
        return [directory]
    if not directory.is_dir():
        raise PackageIntegrityError(f"{directory} is not a folder: give a package or the output folder of `neurofin train`")
    found = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise PackageIntegrityError(f"no encoding package under {directory}: give the output folder of `neurofin train`")
    incomplete = [p for p in found if not (p / MANIFEST_FILE).is_file()]
    if incomplete:
        raise PackageIntegrityError(
            f"{', '.join(map(str, incomplete))}: no {MANIFEST_FILE}, so not a complete package (deleted, or "
            "`neurofin train` stopped before finishing it): re-run `neurofin train` for that subject, or move the folder away"
        )
    return found
