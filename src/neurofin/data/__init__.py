"""The ds003020 data layer: layout, transcripts, checks, download and a synthetic twin.

    dataset = find_dataset("data")                      # the ds003020 folder, its parent or derivative/
    report  = check_dataset("data", ["UTS01"])          # one Problem per fault, each with its fix
    download_dataset(["UTS01"], "data")                 # anonymous S3, resumable
    make_synthetic_dataset("synth", n_subjects=2, n_stories=6, n_voxels=500)   # a twin with planted truth
    transcript = read_textgrid(dataset.textgrid_path("alternateithicatom"))
"""

from neurofin.data.check import CheckReport, Problem, check_dataset
from neurofin.data.download import DownloadReport, download_dataset
from neurofin.data.layout import Dataset, find_dataset
from neurofin.data.synth import SynthSpec, make_synthetic_dataset
from neurofin.data.textgrid import read_textgrid
from neurofin.data.transcript import Transcript

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
