"""What every stage's CLI shares: the options several commands take, settings from --config plus flags, the
dataset and the subject list.

Light on purpose (typer only): every CLI module imports it when `neurofin` starts, and stage code loads inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from neurofin.errors import ConfigError

if TYPE_CHECKING:
    from neurofin.config import Settings
    from neurofin.data.layout import Dataset

CONFIG_HELP = "TOML settings merged over the defaults (start from `neurofin config --toml > run.toml`)."
DATA_ROOT_HELP = "ds003020 folder (or its parent); default: data.data_root of the settings."
SUBJECTS_HELP = "Comma-separated subject ids, e.g. UTS01,UTS02; default: data.subjects of the settings, else every subject found."
PREFIX_HELP = ("Text the LM reads before each text, never scored: none | neutral_story | neutral_stories (3 packaged "
               "passages, one LM pass each, values averaged) | parallel_stories (6 packaged passages side by side, one "
               "LM pass) | any text (infer.context_prefix).")
UNITS_HELP = "calibrated (SDs of comment-like text, length baseline removed; needs `neurofin calibrate`) | raw (the readout's mean per-word effect)."

# The options the commands that load model packages (calibrate, infer, explain, serve) share.
PackagesOption = Annotated[list[Path], typer.Option("--packages", help="Model package folder(s) from `neurofin train` (repeat, or give their parent).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)]
RoiFileOption = Annotated[Path | None, typer.Option("--roi-file", help="Edited ROI definitions (TOML; atlas.roi_file); default: the packaged rois.toml.")]
LevelOption = Annotated[str | None, typer.Option("--level", help="rois | parcels (infer.level).")]
ThresholdOption = Annotated[float | None, typer.Option("--threshold", help="Validation-r voxel threshold (infer.voxel_r_threshold; default: each package's).")]
AtlasCacheOption = Annotated[Path | None, typer.Option("--atlas-cache", help="Registration cache folder (atlas.cache_dir).")]
DeviceOption = Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda[:i] for the language model (features.device).")]
PrefixOption = Annotated[str | None, typer.Option("--context-prefix", help=PREFIX_HELP)]
UnitsOption = Annotated[str, typer.Option("--units", help=UNITS_HELP)]
PACKAGE_DATA_ROOT_HELP = DATA_ROOT_HELP + " Needed only for packages without a stored voxel map (`neurofin atlas register --packages`)."


def open_dataset(data_root: Path | None, settings: Settings) -> Dataset:
    """The dataset from --data-root, else from the settings' data.data_root."""
    from neurofin.data.layout import find_dataset

    root = data_root if data_root is not None else settings.data.data_root
    if root is None:
        raise ConfigError("no dataset given: pass --data-root or set data.data_root in the --config file")
    return find_dataset(root)


def chosen_subjects(subjects: str | None, settings: Settings, available: list[str]) -> list[str]:
    """Subjects from --subjects, else the settings' data.subjects, else every available subject."""
    from neurofin.config import parse_subjects

    chosen = parse_subjects(subjects) or settings.data.subjects or available
    if not chosen:
        raise ConfigError("no subjects found: pass --subjects UTS01,... or check --data-root")
    return chosen

