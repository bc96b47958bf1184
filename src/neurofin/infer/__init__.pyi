"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .inputs import read_texts
from .predictor import Predictor
from .run import infer_file

__all__ = [
    "Predictor",
    "infer_file",
    "read_texts",
]
