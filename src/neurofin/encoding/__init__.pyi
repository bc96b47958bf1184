"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .evaluate import evaluate_package, score_model
from .package import EncodingModel, package_dirs
from .record import FeatureRecord, FitRecord, PackageRecord, VoxelSelection
from .selection import select_voxels
from .train import cached_feature_source, fit_subject, train_subject

__all__ = [
    "EncodingModel",
    "FeatureRecord",
    "FitRecord",
    "PackageRecord",
    "VoxelSelection",
    "cached_feature_source",
    "evaluate_package",
    "fit_subject",
    "package_dirs",
    "score_model",
    "select_voxels",
    "train_subject",
]
