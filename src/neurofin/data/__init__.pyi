"""Types of the names this package loads lazily (read by lazy_loader.attach_stub and by type checkers)."""

from .check import CheckReport, Problem, check_dataset
from .download import DownloadReport, download_dataset
from .layout import Dataset, find_dataset
from .synth import SynthSpec, make_synthetic_dataset
from .textgrid import read_textgrid
from .transcript import Transcript

__all__ = [
    "CheckReport",
    "Dataset",
    "DownloadReport",
    "Problem",
    "SynthSpec",
    "Transcript",
    "check_dataset",
    "download_dataset",
    "find_dataset",
    "make_synthetic_dataset",
    "read_textgrid",
]
