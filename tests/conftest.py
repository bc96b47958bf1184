"""Shared test fixtures: the real reference files kept in the repository, checked against their provenance."""

import hashlib
import re
import sys
from pathlib import Path

import pytest

import neurofin

sys.path.insert(0, str(Path(__file__).resolve().parent))  # test helpers (records.py) importable by name

TEST_DATA = Path(__file__).resolve().parent / "data"
PACKAGED_ATLAS = Path(neurofin.__file__).resolve().parent / "resources" / "atlas"


def _verified(folder: Path) -> Path:
    """`folder`, after checking every file its PROVENANCE.md names against the recorded SHA-256."""
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    recorded = re.findall(r"`([^`]+\.(?:json|tsv|nii\.gz))`.*?sha256 ([0-9a-f]{64})", provenance, flags=re.S)
    assert recorded, f"{folder}/PROVENANCE.md records no checksums"
    for name, digest in recorded:
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert actual == digest, f"{folder / name} differs from the file its provenance line describes"
    return folder


@pytest.fixture(scope="session")
def ds003020_metadata() -> Path:
    """The real ds003020 metadata (respdict, session schedule) kept in tests/data/ds003020."""
    return _verified(TEST_DATA / "ds003020")


@pytest.fixture(scope="session")
def real_atlas_dir() -> Path:
    """The packaged Schaefer atlas files, verified byte for byte against their provenance checksums."""
    return _verified(PACKAGED_ATLAS)
