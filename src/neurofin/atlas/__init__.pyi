"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .coverage import RoiCoverage, coverage_summary, roi_coverage
from .regions import RegionMatrix, parcel_matrix, roi_matrix, roi_membership
from .rois import Roi, RoiSet, load_rois
from .schaefer import Atlas, load_atlas
from .subject import SubjectAtlas, subject_atlas

__all__ = [
    "Atlas",
    "RegionMatrix",
    "Roi",
    "RoiCoverage",
    "RoiSet",
    "SubjectAtlas",
    "coverage_summary",
    "load_atlas",
    "load_rois",
    "parcel_matrix",
    "roi_coverage",
    "roi_matrix",
    "roi_membership",
    "subject_atlas",
]
