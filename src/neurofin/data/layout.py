"""OpenNeuro ds003020 layout: locate the dataset, list subjects and stories, read responses lazily.

    ds003020/derivative/preprocessed_data/UTS0N/<story>.hf5   key "data": (n_trs, n_voxels)
    ds003020/derivative/TextGrids/<story>.TextGrid
    ds003020/derivative/respdict.json                         {story: raw TR count}
    ds003020/derivative/pycortex-db/UTS0N/transforms/UTS0N_auto/{mask_thick.nii.gz, reference.nii.gz, ...}

Volumes follow pycortex's convention: arrays are (z, y, x) (the NIfTI data transposed), and response
column j is the j-th True voxel of the mask in C order over (z, y, x).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.errors import AnnexPointerError, DataError, TruncatedFileError

DATASET_NAME = "ds003020"
RESPONSE_KEY = "data"
REPEATS_KEY = "individual_repeats"


@contextlib.contextmanager
def open_hf5(path: Path, root: Path) -> Iterator[Any]:
    """An open response file; an annex pointer, or a file h5py cannot read to the end, is a DataError saying how to fix it."""
    import h5py

    from neurofin.data.annex import annex_fix_hint, is_annex_pointer

    subject = path.parent.name
    if is_annex_pointer(path):
        raise AnnexPointerError(annex_fix_hint(path, subject, root.parent))
    if not path.is_file():
        raise DataError(f"{path} is missing: run `neurofin data check {root}` for the fix")
    try:
        with h5py.File(path, "r") as fh:
            yield fh
    except (OSError, KeyError) as exc:
        raise TruncatedFileError(
            f"{path} is not a readable ds003020 response file ({exc}): it is truncated or corrupt; delete it and "
            f"download it again with `neurofin data download --subjects {subject} --dest {root.parent}` "
            f"(`neurofin data check {root}` lists every such file)"
        ) from None


def find_dataset(path: str | Path) -> Dataset:
    """Locate ds003020 from the dataset folder itself, its parent, or its `derivative` folder."""
    path = Path(path).expanduser()
    for candidate in (path, path / DATASET_NAME, path.parent):
        if (candidate / "derivative").is_dir():
            return Dataset(candidate.resolve())
    raise DataError(
        f"no ds003020 dataset under {path}: expected {path}/derivative/ or {path}/{DATASET_NAME}/derivative/; "
        f"fetch it with `neurofin data download --subjects UTS01 --dest {path}` or make a synthetic one with `neurofin data synth`"
    )


@dataclass(frozen=True)
class Dataset:
    """A ds003020 root (the folder that holds `derivative/`)."""

    root: Path

    @property
    def derivative(self) -> Path:
        return self.root / "derivative"

    @property
    def responses_dir(self) -> Path:
        return self.derivative / "preprocessed_data"

    @property
    def textgrid_dir(self) -> Path:
        return self.derivative / "TextGrids"

    @property
    def pycortex_db(self) -> Path:
        return self.derivative / "pycortex-db"

    def subjects(self) -> list[str]:
        """Subjects with a responses folder, sorted."""
        if not self.responses_dir.is_dir():
            return []
        return sorted(p.name for p in self.responses_dir.iterdir() if p.is_dir())

    def stories(self, subject: str) -> list[str]:
        """Stories with a response file (or an annex link) for `subject`, sorted."""
        folder = self.responses_dir / subject
        if not folder.is_dir():
            raise DataError(f"subject {subject} has no folder {folder}: pick one of {self.subjects()}")
        return sorted(p.stem for p in folder.iterdir() if p.suffix == ".hf5")

    @cached_property
    def respdict(self) -> dict[str, int]:
        """Raw TR count per story from respdict.json."""
        path = self.derivative / "respdict.json"
        if not path.is_file():
            raise DataError(f"{path} is missing: download it with `neurofin data download` (it is tiny)")
        try:
            return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
        except (ValueError, AttributeError) as exc:
            raise DataError(f"{path} is not a JSON object of story -> TR count ({exc}); download it again") from None

    def response_path(self, subject: str, story: str) -> Path:
        return self.responses_dir / subject / f"{story}.hf5"

    def textgrid_path(self, story: str) -> Path:
        return self.textgrid_dir / f"{story}.TextGrid"

    def transform_dir(self, subject: str) -> Path:
        """The subject's pycortex transform folder (`<subject>_auto`, else the only one present)."""
        base = self.pycortex_db / subject / "transforms"
        preferred = base / f"{subject}_auto"
        if preferred.is_dir():
            return preferred
        found = sorted(p for p in base.glob("*") if p.is_dir()) if base.is_dir() else []
        if len(found) == 1:
            return found[0]
        raise DataError(f"no pycortex transform for {subject} under {base}: download the subject's pycortex-db")

    def n_voxels(self, subject: str, story: str) -> int:
        """Voxel count of one response file, read from its header only."""
        with open_hf5(self.response_path(subject, story), self.root) as fh:
            return int(fh[RESPONSE_KEY].shape[1])

    def read_responses(self, subject: str, story: str, voxels: np.ndarray | slice | None = None) -> np.ndarray:
        """(n_trs, n_voxels) float32 responses of one story; `voxels` reads a column subset lazily."""
        with open_hf5(self.response_path(subject, story), self.root) as fh:
            dset = fh[RESPONSE_KEY]
            data = dset[:, voxels] if voxels is not None else dset[...]
        return np.asarray(data, dtype=np.float32)

    def read_repeats(self, subject: str, story: str) -> np.ndarray | None:
        """(n_repeats, n_trs, n_voxels) individual repeats of a test story, or None if the file has none."""
        with open_hf5(self.response_path(subject, story), self.root) as fh:
            if REPEATS_KEY not in fh:
                return None
            return np.asarray(fh[REPEATS_KEY][...], dtype=np.float32)

    def mask(self, subject: str) -> np.ndarray:
        """The subject's cortical mask (`mask_thick`) as a boolean (z, y, x) array, pycortex order."""
        import nibabel as nib

        path = self.transform_dir(subject) / "mask_thick.nii.gz"
        if not path.is_file():
            raise DataError(f"{path} is missing: download {subject}'s pycortex-db with `neurofin data download`")
        return np.asarray(nib.load(path).get_fdata()).T > 0  # type: ignore[attr-defined]
