"""A tiny ds003020-layout dataset with planted linear truth, independent of the synthetic-data module.

Responses are built with neurofin.timing.story_design (the reference per-story design) times planted
weights plus Gaussian noise, so the encoding stage's own design code is checked against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurofin.config import TimingSettings
from neurofin.data.layout import Dataset
from neurofin.testing.design import story_design

N_BLOCKS, DIM = 2, 6
N_REPEATS = 4


@dataclass(frozen=True)
class Words:
    """Word features of one story, shaped like neurofin.features' WordFeatures."""

    times: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class TinyData:
    dataset: Dataset
    subject: str
    features: dict[str, Words]
    weights: np.ndarray  # (N_BLOCKS * DIM * n_delays, n_voxels) planted
    noise_sd: float

    def source(self, stories):
        return {s: self.features[s] for s in stories}


def make_tiny_dataset(root: Path, n_stories: int = 8, n_voxels: int = 40, noise_sd: float = 1.0, seed: int = 0) -> TinyData:
    """Write respdict, hf5 responses (test story with repeats) and return word features + planted weights."""
    rng = np.random.default_rng(seed)
    timing = TimingSettings()
    stories = [f"story{i:02d}" for i in range(n_stories - 1)] + ["wheretheressmoke"]
    respdict = {s: int(rng.integers(70, 90)) for s in stories}
    weights = rng.standard_normal((N_BLOCKS * DIM * len(timing.delays), n_voxels)) * rng.uniform(0, 1, n_voxels)
    folder = root / "derivative" / "preprocessed_data" / "UTS01"
    folder.mkdir(parents=True)
    (root / "derivative" / "respdict.json").write_text(json.dumps(respdict))
    features = {}
    for story, n_raw in respdict.items():
        duration = 2.0 * (n_raw - 5) - 10.0
        times = np.sort(rng.uniform(0.5, duration - 0.5, int(duration * 2)))
        values = rng.standard_normal((len(times), N_BLOCKS, DIM)).astype(np.float16)
        features[story] = Words(times=times, values=values)
        signal = story_design(times, values.astype(np.float64), n_raw, timing) @ weights
        with h5py.File(folder / f"{story}.hf5", "w") as fh:
            if story == "wheretheressmoke":
                repeats = signal[None] + noise_sd * rng.standard_normal((N_REPEATS,) + signal.shape)
                fh["data"] = repeats.mean(axis=0)
                fh["individual_repeats"] = repeats
            else:
                fh["data"] = signal + noise_sd * rng.standard_normal(signal.shape)
    return TinyData(Dataset(root), "UTS01", features, weights, noise_sd)


@pytest.fixture
def tiny(tmp_path) -> TinyData:
    return make_tiny_dataset(tmp_path / "ds003020")
