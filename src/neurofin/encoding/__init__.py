"""Voxelwise encoding models: design, per-voxel ridge (himalaya), evaluation and the portable package.

    model   = fit_subject(dataset, "UTS01", settings, cached_feature_source(dataset, settings))  # in memory
    metrics, scores = score_model(model, dataset, features)     # validation/test r, noise ceiling
    model.save("models/UTS01"); model = EncodingModel.load("models/UTS01")   # checksummed, no pickle
"""

from neurofin.encoding.evaluate import evaluate_package, score_model
from neurofin.encoding.package import EncodingModel, package_dirs
from neurofin.encoding.record import FeatureRecord, FitRecord, PackageRecord, VoxelSelection
from neurofin.encoding.selection import select_voxels
from neurofin.encoding.train import cached_feature_source, fit_subject, train_subject

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
