"""Shared test fixtures: paths to the real reference files in ../shared/data."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real atlas and ds003020 metadata shipped beside the project."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: CI and developers keep ../shared beside the repository")
    return SHARED_DATA
