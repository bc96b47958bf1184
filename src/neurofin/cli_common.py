"""What every stage's CLI shares: settings from --config plus flags, the dataset and the subject list."""

from __future__ import annotations

from pathlib import Path

from neurofin.config import Settings, parse_subjects
from neurofin.data.layout import Dataset, find_dataset
from neurofin.errors import ConfigError

CONFIG_HELP = "TOML settings merged over the defaults (start from `neurofin config --toml > run.toml`)."
DATA_ROOT_HELP = "ds003020 folder (or its parent); default: data.data_root of the settings."
SUBJECTS_HELP = "Comma-separated subject ids, e.g. UTS01,UTS02; default: data.subjects of the settings, else every subject found."


def open_dataset(data_root: Path | None, settings: Settings) -> Dataset:
    """The dataset from --data-root, else from the settings' data.data_root."""
    root = data_root if data_root is not None else settings.data.data_root
    if root is None:
        raise ConfigError("no dataset given: pass --data-root or set data.data_root in the --config file")
    return find_dataset(root)


def chosen_subjects(subjects: str | None, settings: Settings, available: list[str]) -> list[str]:
    """Subjects from --subjects, else the settings' data.subjects, else every available subject."""
    chosen = parse_subjects(subjects) or settings.data.subjects or available
    if not chosen:
        raise ConfigError("no subjects found: pass --subjects UTS01,... or check --data-root")
    return chosen

