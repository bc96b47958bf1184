"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .app import create_app, repair_surrogates, results_json
from .batcher import Batcher, BatchStats, ShuttingDown
from .command import package_records, register, run_service
from .options import ServeOptions

__all__ = [
    "BatchStats",
    "Batcher",
    "ServeOptions",
    "ShuttingDown",
    "create_app",
    "package_records",
    "register",
    "repair_surrogates",
    "results_json",
    "run_service",
]
