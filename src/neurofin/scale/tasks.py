"""Feature extraction and training fanned out over a Ray cluster (or run in this process without one).

Features: the uncached stories are split into one chunk per GPU (per CPU slot on a CPU-only cluster), each
chunk a Ray task that loads the model once and writes every story into the shared content-addressed cache
(atomic renames: concurrent writers never leave a half file). Training: one Ray task per subject. Outputs are
the same files the sequential commands write. On a multi-node cluster the dataset, the feature cache and
the output folder must be on storage every node mounts (NFS, a shared volume).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from neurofin.config import FeatureSettings, Settings
from neurofin.data.layout import Dataset, find_dataset
from neurofin.scale.cluster import connect, gpus_available, run_tasks


def _extract_chunk(root: str, stories: list[str], settings: FeatureSettings) -> int:
    from neurofin.features.cache import story_features

    features = story_features(find_dataset(root), stories, settings, settings.cache_dir)
    return sum(len(f.words) for f in features.values())


def chunks_by_size(sizes: dict[str, int], n_chunks: int) -> list[list[str]]:
    """Stories split into at most `n_chunks` groups of similar total size (largest first, to the lightest group)."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(n_chunks, len(sizes))))]
    totals = [0] * len(groups)
    for story in sorted(sizes, key=lambda s: (-sizes[s], s)):
        lightest = totals.index(min(totals))
        groups[lightest].append(story)
        totals[lightest] += sizes[story]
    return [g for g in groups if g]


def extract_features(dataset: Dataset, stories: Sequence[str], settings: FeatureSettings, ray_address: str | None = None) -> int:
    """Fill the feature cache for `stories`; returns the words covered. Ray: one task per GPU (or CPU slot)."""
    from neurofin.data.textgrid import read_textgrid
    from neurofin.features.cache import default_cache_dir

    settings = settings.model_copy(update={"cache_dir": Path(settings.cache_dir or default_cache_dir()).resolve()})
    root = str(dataset.root.resolve())
    if ray_address is None:
        return _extract_chunk(root, list(stories), settings)
    ray = connect(ray_address)
    slots = gpus_available(ray) or int(ray.cluster_resources().get("CPU", 1))
    sizes = {s: len(read_textgrid(dataset.textgrid_path(s))) for s in stories}
    calls = [(root, chunk, settings) for chunk in chunks_by_size(sizes, slots)]
    return sum(run_tasks(_extract_chunk, calls, ray_address, gpu=True))


def _train_one(root: str, subject: str, settings: Settings, out: str) -> Path:
    from neurofin.encoding.train import cached_feature_source
    from neurofin.pipeline import train_package

    dataset = find_dataset(root)
    return train_package(dataset, subject, settings, Path(out), cached_feature_source(dataset, settings))


def train_subjects(dataset: Dataset, subjects: Sequence[str], settings: Settings, out: Path, ray_address: str | None = None) -> list[Path]:
    """One package per subject under `out` (paths in `subjects` order). Ray: one task per subject (a GPU each)."""
    from neurofin.features.cache import default_cache_dir

    cache = Path(settings.features.cache_dir or default_cache_dir()).resolve()
    settings = settings.model_copy(update={"features": settings.features.model_copy(update={"cache_dir": cache})})
    calls = [(str(dataset.root.resolve()), s, settings, str(Path(out).resolve())) for s in subjects]
    return [Path(p) for p in run_tasks(_train_one, calls, ray_address, workers=1, gpu=True)]
