"""Minimal valid package records for tests that build encoding models by hand."""

from __future__ import annotations

from neurofin.config import Settings
from neurofin.encoding.design import StorySplit
from neurofin.encoding.record import FeatureRecord, FitRecord, PackageRecord, VoxelSelection


def make_record(
    subject: str = "UTS01", settings: Settings | None = None, n_blocks: int = 1, dim: int = 12,
    speech_rate_wps: float = 2.4, threshold: float = 0.05,
) -> PackageRecord:
    """A PackageRecord with the given settings (default: Settings()) and a placeholder fit and split."""
    settings = settings or Settings()
    return PackageRecord(
        neurofin_version="test",
        subject=subject,
        mask_sha256=None,
        settings=settings,
        features=FeatureRecord.from_settings(settings.features, n_blocks, dim),
        fit=FitRecord(solver="ridge", backend="numpy", alphas_grid=[1.0], wall_s={}),
        split=StorySplit(train=["a", "b"], validation=["c"], test=["wheretheressmoke"]),
        voxel_selection=VoxelSelection(threshold=threshold, top_fraction=0.05),
        speech_rate_wps=speech_rate_wps,
    )
