"""Check a ds003020 root story by story and say, for each problem, how to fix it.

Per subject and story: the response file is real data (not a git-annex pointer), opens with h5py and
holds a 2-D "data" dataset whose last row is readable, has respdict - 20 rows (docs/REFERENCE.md section 2)
and as many voxel columns as the subject's `mask_thick`, and every value of its data and repeats is finite
(NaN/inf are counted per file: `train` refuses them). With a feature cache folder, every cached story's word
features must be finite too. Per story: the TextGrid is real and parses;
words overlapping in time or non-UTF-8 bytes are warnings (the file is usable, repaired on reading).
Stories listed in respdict.json without a response file for a subject are reported as missing (one
problem per subject), unless the caller allows partial story sets.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.data.annex import annex_fix_hint, is_annex_pointer
from neurofin.data.layout import REPEATS_KEY, RESPONSE_KEY, Dataset, find_dataset
from neurofin.data.textgrid import read_textgrid, textgrid_warnings
from neurofin.errors import DataError
from neurofin.timing import expected_rows

ANNEX_POINTER = "annex_pointer"
BAD_HF5 = "bad_hf5"
BAD_MASK = "bad_mask"
BAD_TEXTGRID = "bad_textgrid"
MISSING_MASK = "missing_mask"
MISSING_RESPDICT = "missing_respdict"
MISSING_STORY = "missing_story"
MISSING_SUBJECT = "missing_subject"
MISSING_TEXTGRID = "missing_textgrid"
NONFINITE = "nonfinite"
ROW_COUNT = "row_count"
TEXTGRID_ODDITY = "textgrid_oddity"  # a warning: overlapping words, non-UTF-8 bytes
TRUNCATED_HF5 = "truncated_hf5"
UNLISTED_STORY = "unlisted_story"
VOXEL_COUNT = "voxel_count"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the dataset; `message` says what and how to fix it."""

    kind: str
    message: str
    subject: str | None = None
    story: str | None = None


def nonfinite_counts(array: Any, rows_per_read: int = 256) -> tuple[int, int, int]:
    """(NaN values, inf values, last-axis columns holding either) of an array or h5py dataset, read in row blocks."""
    n_nan = n_inf = 0
    bad = np.zeros(array.shape[-1], dtype=bool)
    for start in range(0, array.shape[0], rows_per_read):
        block = np.asarray(array[start : start + rows_per_read])
        nan, inf = np.isnan(block), np.isinf(block)
        n_nan, n_inf = n_nan + int(nan.sum()), n_inf + int(inf.sum())
        bad |= (nan | inf).reshape(-1, block.shape[-1]).any(axis=0)
    return n_nan, n_inf, int(bad.sum())


def describe_nonfinite(counts: tuple[int, int, int], columns: str | None = None) -> str | None:
    """'4 non-finite values (3 NaN, 1 inf) in 2 voxel column(s)' for `nonfinite_counts`, or None when all are finite."""
    n_nan, n_inf, n_columns = counts
    if not n_nan + n_inf:
        return None
    return f"{n_nan + n_inf} non-finite values ({n_nan} NaN, {n_inf} inf)" + (f" in {n_columns} {columns}" if columns else "")


def hf5_nonfinite(fh: Any) -> str | None:
    """What is not finite in an open response file's data and individual repeats, or None when all of it is."""
    found = []
    for key, where in ((RESPONSE_KEY, ""), (REPEATS_KEY, " of its individual repeats")):
        text = describe_nonfinite(nonfinite_counts(fh[key]), "voxel column(s)") if key in fh else None
        if text:
            found.append(text + where)
    return "; ".join(found) or None


def feature_cache_problems(cache_dir: str | Path) -> list[Problem]:
    """One problem per feature cache file (features.cache_dir) whose word features hold NaN/inf."""
    from safetensors import SafetensorError, safe_open

    problems = []
    for path in sorted(Path(cache_dir).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as fh:
                values = fh.get_tensor("values")
        except (OSError, SafetensorError):  # unreadable files are recomputed by the feature stage
            continue
        text = describe_nonfinite(nonfinite_counts(values.reshape(values.shape[0], -1)))
        if text:
            problems.append(Problem(NONFINITE, f"{path}: its word features hold {text}: delete the file and rerun "
                                    "`neurofin features extract` (in float16, values beyond 65504 overflow to inf)"))
    return problems


@dataclass(frozen=True)
class SubjectSummary:
    """What one subject has: readable response files, their rows in total, mask voxels, problems."""

    subject: str
    stories: int
    trs: int
    voxels: int | None
    problems: int


@dataclass(frozen=True)
class CheckReport:
    """The result of `check_dataset`: per-subject summaries, TextGrids checked, every problem."""

    root: Path
    subjects: list[SubjectSummary]
    textgrids: int
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)  # usable, but repaired on reading: worth a look

    @property
    def ok(self) -> bool:
        return not self.problems


class _Checker:
    """Collects problems for one dataset; every fix hint names this dataset's download folder."""

    def __init__(self, dataset: Dataset) -> None:
        self.ds = dataset
        self.dest = dataset.root.parent
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.respdict: dict[str, int] | None = None  # None: unusable, row counts are not checked

    def fetch(self, subject: str) -> str:
        return f"`neurofin data download --subjects {subject} --dest {self.dest}`"

    def add(self, kind: str, message: str, subject: str | None = None, story: str | None = None) -> None:
        self.problems.append(Problem(kind, message, subject, story))

    def load_respdict(self, subject: str) -> None:
        """Read respdict.json, or record one problem when it is missing or malformed."""
        try:
            self.respdict = self.ds.respdict
        except DataError as exc:
            self.add(MISSING_RESPDICT, f"{exc}: {self.fetch(subject)} fetches it; row counts were not checked")

    def mask_voxels(self, subject: str) -> int | None:
        """Voxel count of the subject's mask_thick, or None (one problem) when it is unusable."""
        try:
            path = self.ds.transform_dir(subject) / "mask_thick.nii.gz"
        except DataError as exc:
            self.add(MISSING_MASK, f"{exc} with {self.fetch(subject)}; voxel counts were not checked", subject)
            return None
        if is_annex_pointer(path):
            self.add(ANNEX_POINTER, annex_fix_hint(path, subject, self.dest), subject)
            return None
        if not path.is_file():
            self.add(MISSING_MASK, f"{subject}'s cortical mask {path} is missing, so voxel counts were not checked: "
                     f"fetch the subject's pycortex-db with {self.fetch(subject)}", subject)
            return None
        from nibabel.filebasedimages import ImageFileError

        try:
            return int(self.ds.mask(subject).sum())
        except (OSError, EOFError, zlib.error, ImageFileError) as exc:
            self.add(BAD_MASK, f"{subject}'s cortical mask {path} cannot be read ({exc}): it is truncated or corrupt; "
                     f"delete it and fetch it again with {self.fetch(subject)}", subject)
            return None

    def missing_stories(self, subject: str, stories: list[str]) -> None:
        """One problem for all of a subject's respdict stories that have no file at all."""
        shown = ", ".join(stories[:8]) + (f" and {len(stories) - 8} more" if len(stories) > 8 else "")
        self.add(MISSING_STORY, f"{subject}: {len(stories)} story(ies) listed in respdict.json have no response file "
                 f"under {self.ds.responses_dir / subject}: {shown}. Fetch them with {self.fetch(subject)} (complete "
                 f"files are skipped); if {subject} never heard them (in ds003020 UTS02 has 79 training stories and "
                 "UTS04-08 about 26), rerun with --allow-missing-stories", subject)

    def response(self, subject: str, story: str, mask_voxels: int | None) -> int | None:
        """Check one response file; its row count when it is readable, else None."""
        path = self.ds.response_path(subject, story)
        if is_annex_pointer(path):
            self.add(ANNEX_POINTER, annex_fix_hint(path, subject, self.dest), subject, story)
            return None
        shape = self._hf5_shape(path, subject, story)
        if shape is None:
            return None
        rows, voxels = shape
        n_raw = None if self.respdict is None else self.respdict.get(story)
        if self.respdict is not None and n_raw is None:
            self.add(UNLISTED_STORY, f"{subject}/{story}: {path} exists but respdict.json has no entry for {story}, so "
                     f"its row count cannot be checked: fetch the current respdict.json with {self.fetch(subject)}",
                     subject, story)
        elif n_raw is not None and rows != expected_rows(n_raw):
            self.add(ROW_COUNT, f"{subject}/{story}: {path} has {rows} rows but respdict.json gives {n_raw} TRs, so it "
                     f"should have {n_raw} - 20 = {expected_rows(n_raw)}: the response file and respdict.json come "
                     f"from different releases; delete both and fetch them again with {self.fetch(subject)}",
                     subject, story)
        if mask_voxels is not None and voxels != mask_voxels:
            self.add(VOXEL_COUNT, f"{subject}/{story}: {path} has {voxels} voxel columns but {subject}'s mask_thick "
                     f"has {mask_voxels} voxels: responses and pycortex-db belong to different subjects or "
                     f"releases; fetch both again with {self.fetch(subject)}", subject, story)
        return rows

    def _hf5_shape(self, path: Path, subject: str, story: str) -> tuple[int, int] | None:
        """(rows, voxels) of a response file whose data is readable to its last row, else None (one problem)."""
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                if RESPONSE_KEY not in fh or fh[RESPONSE_KEY].ndim != 2:
                    self.add(BAD_HF5, f"{subject}/{story}: {path} has no 2-D dataset {RESPONSE_KEY!r} (keys: "
                             f"{sorted(fh)}): it is not a ds003020 response file; delete it and fetch it with "
                             f"{self.fetch(subject)}", subject, story)
                    return None
                dset = fh[RESPONSE_KEY]
                if dset.shape[0]:
                    dset[-1]  # the last row lies at the end of the data: a cut-off file fails here
                nonfinite = hf5_nonfinite(fh)
                if nonfinite:
                    self.add(NONFINITE, f"{subject}/{story}: {path} holds {nonfinite}: the file is damaged or was "
                             f"written with missing values; fetch it again with {self.fetch(subject)}", subject, story)
                return int(dset.shape[0]), int(dset.shape[1])
        except OSError as exc:
            self.add(TRUNCATED_HF5, f"{subject}/{story}: {path} is not a readable HDF5 file ({exc}): it is truncated "
                     f"or corrupt (e.g. an interrupted copy); delete it and download it again with "
                     f"{self.fetch(subject)}", subject, story)
            return None

    def textgrid(self, story: str, subject: str) -> None:
        """Check that a story's TextGrid is real and parses to at least one word."""
        path = self.ds.textgrid_path(story)
        if is_annex_pointer(path):
            self.add(ANNEX_POINTER, annex_fix_hint(path, subject, self.dest), story=story)
        elif not path.exists():
            self.add(MISSING_TEXTGRID, f"{story}: no transcript; it should be at {path}: fetch the TextGrids (all "
                     f"stories come with any subject) with {self.fetch(subject)}", story=story)
        else:
            try:
                n_words = len(read_textgrid(path))
            except DataError as exc:
                self.add(BAD_TEXTGRID, f"{story}: {exc}; fetch it again with {self.fetch(subject)}", story=story)
                return
            if n_words == 0:
                self.add(BAD_TEXTGRID, f"{story}: {path} has no spoken words in its words tier: fetch it again "
                         f"with {self.fetch(subject)}", story=story)
            self.warnings += [Problem(TEXTGRID_ODDITY, message, story=story) for message in textgrid_warnings(path)]


def check_dataset(
    root: str | Path, subjects: Iterable[str] | None = None, allow_missing_stories: bool = False,
    feature_cache: str | Path | None = None,
) -> CheckReport:
    """Check every story of every subject (or of `subjects`) of the ds003020 dataset at or under `root`, and the
    word features in `feature_cache` (a features.cache_dir folder) when given.

    Stories listed in respdict.json without any file for a subject are one problem per subject, unless
    `allow_missing_stories` (real ds003020: UTS02 heard 79 of the 82 training stories, UTS04-08 about 26).
    """
    checker = _Checker(find_dataset(root))
    ds = checker.ds
    chosen = list(subjects) if subjects else ds.subjects()
    if not chosen:
        checker.add(MISSING_SUBJECT, f"no subject folders under {ds.responses_dir}: fetch responses with "
                    f"{checker.fetch('UTS01')}, or make a synthetic dataset with `neurofin data synth`")
    checker.load_respdict(chosen[0] if chosen else "UTS01")
    listed = set(checker.respdict or ())
    textgrid_stories = set(listed)
    summaries = []
    for subject in chosen:
        if not (ds.responses_dir / subject).is_dir():
            checker.add(MISSING_SUBJECT, f"{subject} has no response folder {ds.responses_dir / subject}: fetch it "
                        f"with {checker.fetch(subject)}; subjects present: {ds.subjects()}", subject)
            summaries.append(SubjectSummary(subject, 0, 0, None, 1))
            continue
        before = len(checker.problems)
        mask_voxels = checker.mask_voxels(subject)
        present = ds.stories(subject)
        textgrid_stories.update(present)
        missing = sorted(listed - set(present))  # present includes dangling annex links: they are checked below
        if missing and not allow_missing_stories:
            checker.missing_stories(subject, missing)
        rows = [checker.response(subject, story, mask_voxels) for story in sorted((listed | set(present)) - set(missing))]
        readable = [n for n in rows if n is not None]
        summaries.append(SubjectSummary(subject, len(readable), sum(readable), mask_voxels,
                                        len(checker.problems) - before))
    for story in sorted(textgrid_stories):
        checker.textgrid(story, chosen[0] if chosen else "UTS01")
    if feature_cache is not None:
        checker.problems += feature_cache_problems(feature_cache)
    return CheckReport(ds.root, summaries, len(textgrid_stories), checker.problems, checker.warnings)
