"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .infer import infer_ray
from .ingest import ingest_parallel
from .reproduce import reproduce
from .tasks import extract_features, train_subjects

__all__ = [
    "extract_features",
    "infer_ray",
    "ingest_parallel",
    "reproduce",
    "train_subjects",
]
