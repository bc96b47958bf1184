"""Steps that compose two stages for the commands: training with the subject's voxel map, evaluation per ROI.

The encoding stage knows nothing of atlases (the stage order); these helpers hand it what the atlas stage
has cached, so a package carries its voxel->parcel map and `evaluate` reports per-ROI scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurofin.atlas.subject import package_voxel_atlas, registered_rois
from neurofin.config import Settings
from neurofin.data.layout import Dataset
from neurofin.encoding.design import FeatureSource
from neurofin.encoding.evaluate import evaluate_package
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.roi_scores import VoxelRois
from neurofin.encoding.train import train_subject
from neurofin.errors import AtlasError, DataError


def train_package(dataset: Dataset, subject: str, settings: Settings, out: str | Path, features: FeatureSource) -> Path:
    """Train and save `subject`'s package, storing its voxel map when the subject's registration is cached."""
    voxel_atlas = package_voxel_atlas(dataset, subject, settings.atlas.cache_dir)
    return train_subject(dataset, subject, settings, out, features, voxel_atlas)


def evaluation_rois(dataset: Dataset, subject: str, settings: Settings) -> tuple[VoxelRois | None, str | None]:
    """The subject's voxels per ROI from its cached registration, or None and the reason (how to make one)."""
    try:
        names, membership = registered_rois(dataset, subject, settings.atlas.cache_dir, settings.atlas.roi_file)
    except (AtlasError, DataError) as exc:  # no registered atlas, or no anatomy to register
        return None, str(exc)
    return VoxelRois(names, membership), None


def evaluate_with_rois(package: str | Path, dataset: Dataset, features: FeatureSource, settings: Settings) -> dict[str, Any]:
    """`evaluate_package` with the per-ROI scores of the subject's registered atlas (or a note saying how to get them)."""
    rois, note = evaluation_rois(dataset, EncodingModel.load(package).subject, settings)
    return evaluate_package(package, dataset, features, rois, note)
