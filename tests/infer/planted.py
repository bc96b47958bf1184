"""A planted text dataset for readout tests: word features with a large common mean (like LM hidden states),
a word class that one region responds to, an encoding model fitted on it, and a stand-in for the LM.

Words are tokens "w<index>"; `fake_language_model` makes the predictor read each token's planted feature row
instead of running an LM, so the readout is tested through the public `Predictor` API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neurofin.config import Settings, TimingSettings
from neurofin.data.layout import Dataset
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.train import fit_subject
from neurofin.testing.design import story_design

DIM = 8
CLASS_SHARE = 0.25  # share of class words in the stories
REGIONS = ["class_region", "mixed", "other"]


@dataclass(frozen=True)
class Words:
    times: np.ndarray
    values: np.ndarray  # (n_words, 1, DIM)


@dataclass
class PlantedText:
    model: EncodingModel
    region_matrix: np.ndarray  # (n_voxels, 3) averaging matrix
    vocabulary: np.ndarray  # (n_tokens, DIM) feature row of token "w<i>"
    is_class: np.ndarray  # (n_tokens,) bool
    held_out: np.ndarray  # token indices of words from stories never used in fitting (validation + test)

    def regions(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        return {self.model.subject: (self.region_matrix, REGIONS)}


def make_planted(root: Path, n_stories: int = 10, n_voxels: int = 30, seed: int = 0, rate: float = 2.4) -> PlantedText:
    """Write a ds003020-layout dataset whose voxels respond linearly to planted word features; fit UTS01 on it."""
    rng = np.random.default_rng(seed)
    timing = TimingSettings()
    mean_word = rng.uniform(1.0, 3.0, DIM) * rng.choice([-1, 1], DIM)  # far from zero, as in LM hidden states
    class_direction = np.zeros(DIM)
    class_direction[0] = 3.0
    weights = 0.3 * rng.standard_normal((DIM * len(timing.delays), n_voxels))
    weights[0::DIM, :10] = 1.0  # voxels 0-9 respond to feature 0 (the class direction) at every delay
    weights[0::DIM, 10:] = 0.0
    stories = [f"story{i:02d}" for i in range(n_stories - 1)] + ["wheretheressmoke"]
    respdict = {s: int(rng.integers(80, 100)) for s in stories}
    folder = root / "derivative" / "preprocessed_data" / "UTS01"
    folder.mkdir(parents=True)
    (root / "derivative" / "respdict.json").write_text(json.dumps(respdict))
    features, vocabulary, is_class, story_of = {}, [], [], []
    for k, (story, n_raw) in enumerate(respdict.items()):
        duration = 2.0 * (n_raw - 5) - 10.0
        n_words = int(duration * rate)
        times = np.sort(rng.uniform(0.5, duration - 0.5, n_words))
        cls = rng.random(n_words) < CLASS_SHARE
        values = mean_word + rng.standard_normal((n_words, DIM)) + cls[:, None] * class_direction
        values -= CLASS_SHARE * class_direction  # the stories' mean word stays `mean_word`
        features[story] = Words(times, values[:, None, :].astype(np.float32))
        vocabulary.append(values)
        is_class.append(cls)
        story_of += [k] * n_words
        signal = story_design(times, values, n_raw, timing) @ weights
        with h5py.File(folder / f"{story}.hf5", "w") as fh:
            if story == "wheretheressmoke":
                repeats = signal[None] + rng.standard_normal((4,) + signal.shape)
                fh["data"] = repeats.mean(axis=0)
                fh["individual_repeats"] = repeats
            else:
                fh["data"] = signal + rng.standard_normal(signal.shape)
    settings = Settings.model_validate({"encoding": {
        "backend": "numpy", "solver": "ridge", "validation_stories": 2, "cv_folds": 3, "pca_components": None,
        "alphas": [10.0**e for e in range(-1, 5)],
    }})
    dataset = Dataset(root)
    model = fit_subject(dataset, "UTS01", settings, lambda names: {s: features[s] for s in names})
    region_matrix = np.zeros((n_voxels, 3))
    for j, voxels in enumerate((range(0, 10), range(10, 20), range(20, n_voxels))):
        region_matrix[list(voxels), j] = 1.0 / len(voxels)
    story_index = np.asarray(story_of)
    unfitted = [stories.index(s) for s in model.record.split.validation + model.record.split.test]
    return PlantedText(
        model=model, region_matrix=region_matrix, vocabulary=np.concatenate(vocabulary).astype(np.float32),
        is_class=np.concatenate(is_class), held_out=np.flatnonzero(np.isin(story_index, unfitted)),
    )


def text_of(tokens: np.ndarray) -> str:
    return " ".join(f"w{i}" for i in tokens)


def fake_language_model(monkeypatch, vocabulary: np.ndarray) -> None:
    """The predictor reads token "w<i>" as vocabulary[i] (n_blocks = 1) instead of running a language model."""

    def extract_many(loaded, word_lists, *args, **kwargs):
        rows = [[int(w[1:]) if w[:1] == "w" and w[1:].isdigit() else 0 for w in words] for words in word_lists]
        return [vocabulary[r][:, None, :] for r in rows]  # the context prefix (kwargs) is not read

    monkeypatch.setattr("neurofin.features.extract.extract_many", extract_many)
    monkeypatch.setattr("neurofin.features.model.load_language_model", lambda settings: object())


def planted_explain_cli(planted: PlantedText, monkeypatch, folder: Path) -> tuple[Any, Path]:
    """The `neurofin` app whose `explain` reads the planted model's saved package with the stand-in LM, and that package."""
    from neurofin import cli
    from neurofin.infer import cli as infer_cli
    from neurofin.infer.predictor import Predictor

    fake_language_model(monkeypatch, planted.vocabulary)
    package = planted.model.save(folder / "models" / "UTS01")
    def build_predictor(folders, settings, units="calibrated"):  # the planted package is not calibrated: raw values
        predictor = Predictor.from_packages(folders, region_matrices=planted.regions())
        predictor.units = "raw"
        return predictor

    monkeypatch.setattr(infer_cli, "build_predictor", build_predictor)
    cli._register()
    return cli.app, package
