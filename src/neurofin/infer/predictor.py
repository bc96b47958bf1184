"""Predict region activity for texts from trained encoding packages: per subject and an ensemble.

    predictor = Predictor.from_packages(["models/UTS01", "models/UTS02"], data_root="ds003020")
    frame = predictor.predict_rois(["$GME to the moon", "I sold everything"])
    # or, from models fitted in this session: Predictor.from_models([fit_subject(...), ...], data_root=...)
    # packages that carry their voxel atlas (atlas.safetensors) need no data_root:
    predictor = Predictor.from_pretrained("models")   # a local folder, or a Hugging Face Hub repo id

Values are calibrated (infer/calibration.py): per subject and region, the raw readout value minus what a typical
comment-like text of the same length gets, in SDs of comment-like text; the ensemble is the plain mean of the
subjects' calibrated values. `predict_rois(texts, units="raw")` gives the uncalibrated readout values.
Packages carry their calibration (`neurofin calibrate`, also run by `neurofin atlas register --packages`);
an uncalibrated predictor warns and returns raw values.

Packages sharing a feature configuration (model, blocks, context) share one LM pass. Each subject's
weights are collapsed onto its regions (ROIs by default, or parcels) over the voxels its validation r
selects (never test r), so no voxel-sized array is touched at inference (readout.py). Texts that yield no
words or fail in the LM get a row with NaN regions and an `error`; the batch never stops.

The ensemble rows also carry `emb_000..` (`embedding_dims` of them, infer/embedding.py): the readout-weighted
mean LM features of the text, randomly projected, for the no-brain control. They use the first package's
features and speech rate (packages reading other features or at another rate would give another vector);
per-subject rows hold NaN there.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from neurofin.config import FeatureSettings, InferSettings, Settings
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.selection import select_voxels
from neurofin.errors import InputError
from neurofin.infer.calibration import Calibration, fingerprint, fit_calibration, read_calibration
from neurofin.infer.embedding import embedding_names, project
from neurofin.infer.readout import RegionReadout
from neurofin.infer.text import WORD_FORM, TextWords, comment_words, context_passages, read_side_by_side
from neurofin.schema import ENSEMBLE

Level = Literal["rois", "parcels"]
Units = Literal["calibrated", "raw"]
DEFAULT_MAX_WORDS = InferSettings().max_words
DEFAULT_PREFIX = InferSettings().context_prefix
DEFAULT_EMBEDDING_DIMS = InferSettings().embedding_dims


class UncalibratedWarning(UserWarning):
    """Values were asked calibrated but some package has no calibration for this readout and prefix: they are raw."""


@dataclass
class FeatureGroup:
    """Subjects whose packages need the same LM features; each readout keeps its own speech rate and timing."""

    settings: FeatureSettings
    readouts: list[RegionReadout]
    loaded: Any = None  # LoadedModel, loaded on first use


def feature_key(model: EncodingModel) -> str:
    """Identity of what a model's features are made of (model, blocks, context): one LM pass per key."""
    return model.record.features.key()


@dataclass
class AtlasRegions:
    """Regions placed in each subject's voxels by registration: the atlas, ROI set and dataset, loaded once."""

    dataset: Any  # neurofin.data.layout.Dataset, or None: every package carries its voxel atlas
    atlas: Any  # neurofin.atlas.Atlas
    rois: Any  # neurofin.atlas.RoiSet, or None for parcels
    cache: Path
    threshold: float | None  # None: each package's recorded rule

    @classmethod
    def open(
        cls, data_root: str | Path | None, level: Level, roi_file: str | Path | None, threshold: float | None,
        atlas_cache: str | Path | None,
    ) -> AtlasRegions:
        from neurofin.atlas import load_atlas, load_rois
        from neurofin.atlas.subject import default_cache_dir
        from neurofin.data.layout import find_dataset

        dataset = find_dataset(data_root) if data_root is not None else None
        atlas = load_atlas()
        rois = load_rois(roi_file, atlas) if level == "rois" else None
        cache = Path(atlas_cache) if atlas_cache is not None else default_cache_dir()
        return cls(dataset, atlas, rois, cache, threshold)

    def matrix(self, model: EncodingModel, subject: str) -> tuple[np.ndarray, list[str]]:
        """(n_voxels, n_regions) averaging matrix over the subject's selected voxels, and region names.

        Voxels are kept by the package's recorded rule (validation r > threshold) unless `threshold` overrides it.
        """
        from neurofin.atlas import parcel_matrix, roi_matrix, subject_atlas

        if "validation_r" not in model.arrays:
            raise InputError(f"the model of {subject} lacks validation_r: re-train it with this neurofin version")
        threshold = model.record.voxel_selection.threshold if self.threshold is None else self.threshold
        if model.voxel_atlas:  # stored in the package: no dataset needed
            parcels, voxel_mni = model.voxel_atlas["parcel"], model.voxel_atlas["voxel_mni"]
        elif self.dataset is None:
            raise InputError(
                f"the package of {subject} has no voxel atlas: give data_root (the ds003020 folder with the subjects' "
                "pycortex-db), or store the map in the package once with `neurofin atlas register --packages MODELS`"
            )
        else:
            maps = subject_atlas(self.dataset, subject, self.cache, atlas=self.atlas)
            parcels, voxel_mni = maps.parcels(self.atlas), maps.voxel_mni
        if len(parcels) != model.n_voxels:
            raise InputError(f"{subject}: the model has {model.n_voxels} voxels, the subject's mask {len(parcels)}; wrong data_root?")
        keep = select_voxels(model.arrays["validation_r"], threshold)
        if self.rois is None:
            regions = parcel_matrix(parcels, self.atlas.n_parcels, keep)
        else:
            regions = roi_matrix(parcels, self.rois, keep, voxel_mni)
        return regions.matrix.toarray(), list(regions.names)


def predictor_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `Predictor.from_packages` under a run's settings (regions, threshold, device, words, prefix,
    embedding dimensions):
    `neurofin infer`, `explain`, `serve` and the Ray actors build the same predictor from the same settings."""
    run = settings.infer
    return {"data_root": settings.data.data_root, "roi_file": settings.atlas.roi_file, "level": run.level,
            "threshold": run.voxel_r_threshold, "atlas_cache": settings.atlas.cache_dir,
            "feature_overrides": {"device": settings.features.device}, "max_words": run.max_words,
            "context_prefix": run.context_prefix, "embedding_dims": run.embedding_dims}


class Predictor:
    """Texts -> per-subject and ensemble region values (the mean per-word effect of readout.py)."""

    def __init__(
        self, groups: list[FeatureGroup], region_names: list[str], max_words: int = DEFAULT_MAX_WORDS,
        context_prefix: str | Sequence[str] | None = DEFAULT_PREFIX, embedding_dims: int = DEFAULT_EMBEDDING_DIMS,
        calibrations: Mapping[str, Calibration | None] | None = None,
    ) -> None:
        if embedding_dims < 0:
            raise InputError(f"embedding_dims {embedding_dims} must be 0 (no emb_ columns) or more (infer.embedding_dims)")
        self.groups = groups
        self.region_names = region_names
        self.max_words = max_words
        self.passages = context_passages(context_prefix)  # each read by the LM before every text, never scored
        self.side_by_side = read_side_by_side(context_prefix)  # passages in one LM pass, else one pass each, averaged
        self.embedding_dims = embedding_dims
        self.units: Units = "calibrated"  # what predict_rois and explain return unless told otherwise
        self.calibrations: dict[str, Calibration] = {}
        for subject, calibration in (calibrations or {}).items():
            if calibration is not None and calibration.fingerprint == self.fingerprints()[subject]:
                self.calibrations[subject] = calibration

    @property
    def prefix(self) -> list[str]:
        """The context prefix's words (the first passage's when values are averaged over several)."""
        return self.passages[0]

    @property
    def subjects(self) -> list[str]:
        return [r.subject for g in self.groups for r in g.readouts]

    def fingerprints(self) -> dict[str, str]:
        """Per subject, what a calibration must have been fitted for: this readout, these regions, this prefix."""
        prefix = self.passages[0] if len(self.passages) == 1 else self.passages
        return {r.subject: fingerprint(r.identity, self.region_names, prefix, self.side_by_side) for g in self.groups for r in g.readouts}

    def uncalibrated(self) -> list[str]:
        """Subjects without a calibration of this readout and prefix (`neurofin calibrate` makes them)."""
        return [s for s in self.subjects if s not in self.calibrations]

    def calibrate(self, texts: Sequence[str], groups: Sequence[int] | np.ndarray | None = None, corpus: dict[str, Any] | None = None
                  ) -> dict[str, Calibration]:
        """Fit and attach every subject's calibration on reference texts read through this predictor's LM path.

        `groups` labels the kinds of text (0 story chunks, 1 shuffled chunks, 2 word lists, 3 sentence-start chunks, 4 user texts): each kind's length trend is
        projected out (calibration.py). Texts without words or failing in the LM are left out."""
        words = [comment_words(t, self.max_words) for t in texts]
        rows = [i for i, w in enumerate(words) if w.error is None]
        labels = np.zeros(len(texts), dtype=int) if groups is None else np.asarray(groups)
        prints = self.fingerprints()
        for group in self.groups:
            sums: dict[str, list[np.ndarray]] = {r.subject: [] for r in group.readouts}
            coverage: dict[str, list[np.ndarray]] = {r.subject: [] for r in group.readouts}
            ok: list[int] = []
            for start in range(0, len(rows), 32):  # a few texts' word features at a time, only their sums kept
                chunk = rows[start : start + 32]
                feats = self._features(group, [words[i].words for i in chunk], chunk, [None] * len(chunk))
                done = [f for f in feats if f is not None]
                ok += [i for i, f in zip(chunk, feats) if f is not None]
                for readout in group.readouts if done else ():
                    s, c = readout.weighted_sums(done)
                    sums[readout.subject].append(s)
                    coverage[readout.subject].append(c)
            n_words = np.array([len(words[i].words) for i in ok])
            record = {**(corpus or {}), "n_texts": len(ok), "n_words_range": [int(n_words.min()), int(n_words.max())]}
            for readout in group.readouts:
                self.calibrations[readout.subject] = fit_calibration(
                    readout, self.region_names, prints[readout.subject], np.vstack(sums[readout.subject]),
                    np.concatenate(coverage[readout.subject]), n_words, labels[ok], record)
        return dict(self.calibrations)

    @classmethod
    def from_packages(cls, packages: Sequence[str | Path], **options: Any) -> Predictor:
        """Load saved packages (checksums verified) and build the predictor; `options` as for `from_models`."""
        if not packages:
            raise InputError("give at least one model package directory (written by `neurofin train`)")
        models = [EncodingModel.load(p) for p in packages]
        _one_per_subject([m.subject for m in models], [str(p) for p in packages])
        calibrations = {m.subject: read_calibration(p) for m, p in zip(models, packages)}
        return cls.from_models(models, calibrations=calibrations, **options)

    @classmethod
    def from_pretrained(cls, source: str | Path, revision: str | None = None, **options: Any) -> Predictor:
        """Packages from a local folder (one package or a folder of them) or a Hugging Face Hub repo id."""
        from neurofin.encoding.package import package_dirs

        path = Path(source).expanduser()
        if not path.exists():
            from huggingface_hub import snapshot_download

            try:
                path = Path(snapshot_download(repo_id=str(source), revision=revision))
            except Exception as exc:
                raise InputError(f"{source} is neither a local folder nor a downloadable Hugging Face Hub repo ({type(exc).__name__}: {exc})") from None
        return cls.from_packages(package_dirs(path), **options)

    @classmethod
    def from_models(
        cls,
        models: Sequence[EncodingModel],
        data_root: str | Path | None = None,
        roi_file: str | Path | None = None,
        level: Level = "rois",
        threshold: float | None = None,
        atlas_cache: str | Path | None = None,
        region_matrices: Mapping[str, tuple[np.ndarray, list[str]]] | None = None,
        feature_overrides: Mapping[str, Any] | None = None,
        max_words: int = DEFAULT_MAX_WORDS,
        context_prefix: str | Sequence[str] | None = DEFAULT_PREFIX,
        embedding_dims: int = DEFAULT_EMBEDDING_DIMS,
        calibrations: Mapping[str, Calibration | None] | None = None,
    ) -> Predictor:
        """Collapse in-memory models (`fit_subject` or `EncodingModel.load`) onto regions.

        Regions are placed by registering each subject's anatomy (`data_root`); `region_matrices`
        (subject -> (n_voxels x n_regions matrix, names)) replaces that lookup (custom regions, tests).
        `feature_overrides` changes run-time feature settings only (device, dtype, batch_size).
        `context_prefix` ("neutral_story", "none" or a text) is read by the LM before each text, never scored;
        "neutral_stories" (the packaged passages) or a sequence of prefixes: each is read in its own LM pass and the
        features (so the values) are averaged over them (one LM pass per prefix); "parallel_stories": the packaged
        passages read side by side in one LM pass (features/context.py).
        `embedding_dims`: `emb_*` columns of the ensemble rows (0 = none).
        `calibrations` (subject -> Calibration): used where they were fitted for this readout and prefix.
        """
        if not models:
            raise InputError("give at least one encoding model")
        _one_per_subject([m.subject for m in models], [f"model {i + 1}" for i in range(len(models))])
        atlas_regions = None if region_matrices is not None else AtlasRegions.open(data_root, level, roi_file, threshold, atlas_cache)
        groups: dict[str, FeatureGroup] = {}
        names: list[str] | None = None
        for model in models:
            subject = model.subject
            if region_matrices is not None:
                if subject not in region_matrices:
                    raise InputError(f"no region matrix for subject {subject}: region_matrices has {sorted(region_matrices)}")
                matrix, region_names = region_matrices[subject]
            else:
                assert atlas_regions is not None
                matrix, region_names = atlas_regions.matrix(model, subject)
            if names is not None and list(region_names) != names:
                raise InputError(f"the model of {subject} has other regions than the first model's; use one ROI file for all")
            names = list(region_names)
            if model.record.word_form != WORD_FORM:
                raise InputError(f"the model of {subject} reads words of form {model.record.word_form!r}, this neurofin "
                                 f"makes {WORD_FORM!r}: use the neurofin version that trained it, or re-train")
            key = feature_key(model)
            if key not in groups:
                settings = model.record.settings.features.model_copy(update=dict(feature_overrides or {}))
                groups[key] = FeatureGroup(FeatureSettings.model_validate(settings.model_dump()), [])
            groups[key].readouts.append(RegionReadout.from_model(subject, model, matrix))
        return cls(list(groups.values()), names or [], max_words, context_prefix, embedding_dims, calibrations)

    def predict_rois(self, texts: Sequence[object], ids: Sequence[str] | None = None, units: Units | None = None) -> pd.DataFrame:
        """Rows per (id, subject) incl. the ensemble (mean over the subjects covering each region): n_words, truncated,
        error, one column per region, then `emb_*` (the ensemble rows' text embedding; NaN in per-subject rows).

        `units` (default `self.units`): "calibrated" (SDs of comment-like text, length baseline removed; raw with an UncalibratedWarning when
        a package has no calibration) or "raw" (the readout's mean per-word effect). Repeated texts are predicted once.
        """
        ids = [str(i) for i in (ids if ids is not None else range(len(texts)))]
        if len(ids) != len(texts):
            raise InputError(f"{len(ids)} ids for {len(texts)} texts")
        slots: dict[object, int] = {}
        inverse = [slots.setdefault(t if isinstance(t, str) else ("not a text", i), len(slots)) for i, t in enumerate(texts)]
        unique: list[object] = [None] * len(slots)
        for text, slot in zip(texts, inverse):
            unique[slot] = text
        words = [comment_words(t, self.max_words) for t in unique]
        errors = [w.error for w in words]
        per_subject = {s: np.full((len(unique), len(self.region_names)), np.nan) for s in self.subjects}
        embedding = np.full((len(unique), self.embedding_dims), np.nan)
        calibrated = self._calibrated(units)
        for g, group in enumerate(self.groups):
            self._predict_group(group, words, errors, per_subject, embedding if g == 0 else None, calibrated)
        embedding[[e is not None for e in errors]] = np.nan  # a later group's failure makes it an error row too
        if calibrated:
            n_words = np.array([len(w.words) for w in words])
            per_subject = {s: self.calibrations[s].apply(v, n_words) for s, v in per_subject.items()}
        return self._frame(ids, words, errors, per_subject, embedding, np.asarray(inverse, dtype=np.int64))

    def _calibrated(self, units: Units | None) -> bool:
        """Whether to return calibrated values (warns when asked for them without a calibration)."""
        units = units or self.units
        if units not in get_args(Units):
            raise InputError(f"units {units!r}: use one of {list(get_args(Units))}")
        if units == "raw":
            return False
        missing = self.uncalibrated()
        if missing:
            warnings.warn(f"no calibration for {', '.join(missing)} with this ROI set, threshold and context prefix: values "
                          "are RAW readout values; run `neurofin calibrate --packages MODELS --data-root DATA` (docs/infer.md)",
                          UncalibratedWarning, stacklevel=3)
            return False
        return True

    def explain(self, text: str, units: Units | None = None) -> pd.DataFrame:
        """Exact per-word contributions (infer/explain.py): rows per (subject incl. ensemble, word); they sum to predict_rois.

        Calibrated: each word's raw contribution minus its share (its readout weight) of the length baseline, over the scale.
        """
        words = comment_words(text, self.max_words)
        if words.error is not None:
            raise InputError(f"nothing to explain: {words.error}")
        per_subject: dict[str, np.ndarray] = {}
        calibrated = self._calibrated(units)
        for group in self.groups:
            errors: list[str | None] = [None]
            feats = self._features(group, [words.words], [0], errors)[0]
            if feats is None:
                raise InputError(f"the text could not be explained: {errors[0]}")
            for readout in group.readouts:
                calibration = self.calibrations.get(readout.subject)
                values = (calibration.readout(readout) if calibrated and calibration else readout).contributions(feats)
                if calibrated and calibration:
                    share = readout.weights(len(words.words))
                    baseline = calibration.baseline(np.array([len(words.words)]))
                    values = (values - np.outer(share / share.sum(), baseline[0])) / calibration.scale
                per_subject[readout.subject] = values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a region no subject covers
            per_subject[ENSEMBLE] = np.nanmean(np.stack(list(per_subject.values())), axis=0)
        frames = []
        for subject, values in per_subject.items():
            frame = pd.DataFrame(values, columns=self.region_names)
            frame.insert(0, "word", words.words)
            frame.insert(0, "position", np.arange(len(words.words)))
            frame.insert(0, "subject", subject)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _predict_group(
        self, group: FeatureGroup, words: list[TextWords], errors: list[str | None], out: dict[str, np.ndarray],
        embedding: np.ndarray | None, calibrated: bool = False,
    ) -> None:
        """Fill `out` (subject -> regions) for the group's subjects, and `embedding` (if given) from its first pace.

        `calibrated`: through each subject's calibrated readout (length directions projected out), before the baseline."""
        rows = [i for i, e in enumerate(errors) if e is None]
        if not rows:
            return
        features = self._features(group, [words[i].words for i in rows], rows, errors)
        done = [(i, f) for i, f in zip(rows, features) if f is not None]
        if not done:
            return
        index = [i for i, _ in done]
        paces = list({r.pace: r for r in group.readouts}.values())  # word weights depend on each package's rate and timing
        sums = np.empty((len(paces), len(done), done[0][1].reshape(done[0][1].shape[0], -1).shape[1]))
        coverage = np.empty((len(paces), len(done)))
        for t, (_, feats) in enumerate(done):  # one pass over each text's features serves every pace
            weights = np.stack([r.weights(feats.shape[0]) for r in paces])
            sums[:, t] = weights @ np.asarray(feats.reshape(feats.shape[0], -1), dtype=np.float64)
            coverage[:, t] = weights.sum(axis=1)
        position = {r.pace: p for p, r in enumerate(paces)}
        for readout in group.readouts:
            p = position[readout.pace]
            chosen = self.calibrations[readout.subject].readout(readout) if calibrated else readout
            out[readout.subject][index] = chosen.apply(sums[p], coverage[p])
        if embedding is not None and embedding.shape[1]:
            embedding[index] = project(sums[0] / coverage[0][:, None], embedding.shape[1])

    def _features(
        self, group: FeatureGroup, word_lists: list[list[str]], rows: list[int], errors: list[str | None]
    ) -> list[np.ndarray | None]:
        """LM features per text; a failing batch is retried text by text so one bad text costs one row."""
        from neurofin.features.extract import extract_many
        from neurofin.features.model import load_language_model

        if group.loaded is None:
            group.loaded = load_language_model(group.settings)
        s = group.settings

        def run(lists: list[list[str]]) -> list[np.ndarray]:
            if self.side_by_side:
                return extract_many(group.loaded, lists, s.blocks, s.context_tokens, s.mode, s.stride, s.batch_size,
                                    context=self.passages[0], parallel_context=self.passages[1:])
            per_passage = [extract_many(group.loaded, lists, s.blocks, s.context_tokens, s.mode, s.stride, s.batch_size,
                                        context=passage) for passage in self.passages]
            return per_passage[0] if len(per_passage) == 1 else [np.mean(f, axis=0) for f in zip(*per_passage)]

        try:
            return list(run(word_lists))
        except Exception:
            out: list[np.ndarray | None] = []
            for i, single in zip(rows, word_lists):
                try:
                    out.append(run([single])[0])
                except Exception as exc:
                    errors[i] = f"feature extraction failed: {type(exc).__name__}: {exc}"
                    out.append(None)
            return out

    def _frame(
        self, ids: list[str], words: list[TextWords], errors: list[str | None], per_subject: dict[str, np.ndarray],
        embedding: np.ndarray, inverse: np.ndarray,
    ) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: an error row or a region no subject covers
            ensemble = np.nanmean(np.stack(list(per_subject.values())), axis=0)
        values = {**per_subject, ENSEMBLE: ensemble}
        words = [words[i] for i in inverse]
        errors = [errors[i] for i in inverse]
        frames = []
        columns = [*self.region_names, *embedding_names(self.embedding_dims)]
        for subject, regions in values.items():
            text = embedding if subject == ENSEMBLE else np.full_like(embedding, np.nan)
            frame = pd.DataFrame(np.hstack([regions, text])[inverse], columns=columns)
            frame.insert(0, "error", pd.Series(errors, dtype=object))
            frame.insert(0, "truncated", [w.truncated for w in words])
            frame.insert(0, "n_words", [len(w.words) if e is None else 0 for w, e in zip(words, errors)])
            frame.insert(0, "subject", subject)
            frame.insert(0, "id", ids)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def _one_per_subject(subjects: list[str], sources: list[str]) -> None:
    """Refuse two models of one subject (they would overwrite each other and weigh twice in the ensemble)."""
    seen: dict[str, list[str]] = {}
    for subject, source in zip(subjects, sources):
        seen.setdefault(subject, []).append(source)
    twice = {subject: where for subject, where in seen.items() if len(where) > 1}
    if twice:
        listed = "; ".join(f"{subject}: {', '.join(where)}" for subject, where in twice.items())
        raise InputError(f"one model per subject please; given several for {listed}: pass only one package of each subject")
