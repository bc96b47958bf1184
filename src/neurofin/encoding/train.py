"""Fit one subject's encoding model from word features: `fit_subject` in memory, `train_subject` = fit + save.

Besides the weights, a model carries what the inference stage needs: `validation_r` (per voxel, r on the
validation stories: the voxel-selection score, never test r), `speech_rate_wps` (median over training
stories of words per second, the pace at which pseudo-time inference lays out text) and `word_mean` (the
training mean word, the reference of the region readout), plus the subject's voxel -> parcel map when its
registration is cached (so inference needs only the package).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import neurofin
from neurofin.config import EncodingSettings, Settings
from neurofin.data.layout import Dataset
from neurofin.encoding.design import (
    FeatureSource,
    StorySplit,
    WordFeatureLike,
    check_row_counts,
    downsampled_stories,
    mean_word,
    pooled_feature_stats,
    split_stories,
    stack_design,
    stack_scaled,
    story_folds,
)
from neurofin.encoding.evaluate import model_grid_check, validation_r
from neurofin.encoding.fit import RidgeFit, delayed_band_groups, fit_ridge
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.record import FeatureRecord, FitRecord, PackageRecord, VoxelSelection
from neurofin.encoding.reduce import fit_banded_basis, fit_pca_basis
from neurofin.encoding.responses import read_story_responses, require_finite_responses
from neurofin.errors import DataError
from neurofin.io import sha256_bytes
from neurofin.timing import median_speech_rate


class AlphaGridWarning(UserWarning):
    """Many voxels chose an end of the ridge alpha grid: their best alpha may lie beyond it (extend encoding.alphas)."""


def cached_feature_source(dataset: Dataset, settings: Settings) -> FeatureSource:
    """Word features from the neurofin feature cache (extracting what is missing)."""

    def source(stories: Sequence[str]) -> Mapping[str, WordFeatureLike]:
        from neurofin.features.cache import story_features

        return story_features(dataset, list(stories), settings.features, settings.features.cache_dir)

    return source


def block_slices(n_blocks: int, dim: int, blocks_per_band: int) -> list[slice]:
    """Column ranges of consecutive block groups in a flattened (n_blocks * dim) feature row."""
    step = max(1, blocks_per_band) * dim
    return [slice(start, min(start + step, n_blocks * dim)) for start in range(0, n_blocks * dim, step)]


def feature_shape(features: Mapping[str, WordFeatureLike]) -> tuple[int, int]:
    """(n_blocks, dim) of the word features ((n_words, n_features) counts as one block)."""
    values = next(iter(features.values())).values
    return (values.shape[1], values.shape[2]) if values.ndim == 3 else (1, values.shape[1])


def mask_hash(dataset: Dataset, subject: str) -> str | None:
    """SHA-256 of the subject's cortical mask bytes (None when the pycortex-db is not present)."""
    try:
        return sha256_bytes(np.ascontiguousarray(dataset.mask(subject)).tobytes())
    except DataError:
        return None


def reduced_basis(
    zscored_rows: np.ndarray, bands: list[slice], settings: EncodingSettings
) -> tuple[np.ndarray | None, list[slice]]:
    """The pre-delay basis (None = identity) and the feature bands it outputs."""
    if settings.pca_components is None:
        return None, bands
    if settings.solver == "banded":
        return fit_banded_basis(zscored_rows, bands, settings.pca_components, settings.seed)
    basis = fit_pca_basis(zscored_rows, settings.pca_components, settings.seed)
    return basis, [slice(0, basis.shape[1])]


@dataclass
class StoryFit:
    """A fitted model before packaging: pre-delay basis (None = identity), the ridge fit, wall time per phase."""

    basis: np.ndarray | None
    ridge: RidgeFit
    wall_s: dict[str, float]


def fit_stories(
    rows: Mapping[str, np.ndarray], resp: Mapping[str, np.ndarray], stories: Sequence[str], bands: list[slice],
    settings: Settings, std: np.ndarray,
) -> StoryFit:
    """Reduced basis, per-story delayed design (rows scaled by `std`, the package's feature_std) and per-voxel-alpha
    ridge with leave-stories-out CV on `stories`."""
    enc, delays = settings.encoding, settings.timing.delays
    start = time.perf_counter()
    basis, bands = reduced_basis(stack_scaled(rows, stories, std), bands, enc)
    reduced = time.perf_counter()
    design, story_ids = stack_design(rows, stories, delays, std, basis)
    band_groups = delayed_band_groups(bands, design.shape[1] // len(delays), len(delays)) if enc.solver == "banded" else None
    designed = time.perf_counter()
    fit = fit_ridge(
        design, np.concatenate([resp[s] for s in stories]), story_folds(story_ids, enc.cv_folds), enc,
        band_groups=band_groups,
    )
    wall_s = {"reduce": reduced - start, "design": designed - reduced, "ridge": time.perf_counter() - designed}
    return StoryFit(basis=basis, ridge=fit, wall_s=wall_s)


def package_record(
    settings: Settings, subject: str, split: StorySplit, fitted: StoryFit, n_blocks: int, dim: int,
    mask_sha: str | None, speech_rate_wps: float,
) -> PackageRecord:
    """The package's record: the settings plus everything needed to rebuild the features and read the model."""
    enc = settings.encoding
    return PackageRecord(
        neurofin_version=neurofin.__version__,
        subject=subject,
        mask_sha256=mask_sha,
        settings=settings,
        features=FeatureRecord.from_settings(settings.features, n_blocks, dim),
        fit=FitRecord(
            solver=fitted.ridge.solver, backend=fitted.ridge.backend, alphas_grid=enc.alphas,
            design_eigenvalues=fitted.ridge.design_eigenvalues,
            wall_s={phase: round(seconds, 3) for phase, seconds in fitted.wall_s.items()},
        ),
        split=split,
        voxel_selection=VoxelSelection(threshold=enc.voxel_r_threshold, top_fraction=enc.top_fraction),
        speech_rate_wps=speech_rate_wps,
    )


def fit_subject(
    dataset: Dataset, subject: str, settings: Settings, features: FeatureSource,
    voxel_atlas: Mapping[str, np.ndarray] | None = None,
) -> EncodingModel:
    """Fit `subject` on its training stories and score its validation stories; nothing is written.

    `voxel_atlas` (neurofin.atlas.package_voxel_atlas: parcel and MNI position per voxel) is stored in the
    model so that inference needs no dataset; without it, inference registers the subject's anatomy.
    """
    enc, timing = settings.encoding, settings.timing
    split = split_stories(
        dataset.stories(subject), settings.data.test_stories, enc.validation_stories, enc.seed, settings.data.held_out_stories
    )
    require_finite_responses(dataset, subject, split.train + split.validation + split.test)  # before any work
    resp = read_story_responses(dataset, subject, split.train)
    word_features = features(split.train)
    n_blocks, dim = feature_shape(word_features)
    rows = downsampled_stories(word_features, dataset.respdict, split.train, timing)
    check_row_counts(rows, {s: r.shape[0] for s, r in resp.items()}, dataset.respdict)
    feature_mean, feature_std = pooled_feature_stats(rows, split.train)
    fitted = fit_stories(rows, resp, split.train, block_slices(n_blocks, dim, enc.blocks_per_band), settings, feature_std)
    del rows, resp
    speech_rate = median_speech_rate([np.asarray(word_features[s].times) for s in split.train])
    model = EncodingModel(
        record=package_record(settings, subject, split, fitted, n_blocks, dim, mask_hash(dataset, subject), speech_rate),
        weights=fitted.ridge.primal_weights(),
        feature_mean=feature_mean,
        feature_std=feature_std,
        basis=fitted.basis,
        word_mean=mean_word(word_features, split.train),
        voxel_atlas=dict(voxel_atlas or {}),
        arrays={"alphas": fitted.ridge.alphas, "cv_r": fitted.ridge.cv_scores},
    )
    model = replace(model, arrays={**model.arrays, "validation_r": validation_r(model, dataset, features)})
    grid = model_grid_check(model)
    if grid["warning"]:
        warnings.warn(f"{subject}: {grid['warning']}", AlphaGridWarning, stacklevel=2)
    return model


def train_subject(
    dataset: Dataset, subject: str, settings: Settings, out: str | Path, features: FeatureSource,
    voxel_atlas: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Fit `subject` (fit_subject) and save its package under out/<subject>; returns the package directory."""
    return fit_subject(dataset, subject, settings, features, voxel_atlas).save(Path(out) / subject)
