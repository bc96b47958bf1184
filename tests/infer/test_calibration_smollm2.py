"""Calibrated values with the real SmolLM2 on a held-out synthetic twin (issue 20, items 2-4).

The twin's packages (demo settings) are calibrated the way a user does it (`calibrate_packages`, what `neurofin
calibrate` and `atlas register --packages` run), then scored on texts the calibration never saw (twin_texts.py).
On main (raw readout values) the length R^2 reached 0.3-0.6 and the prefix swap flipped 15-19% of signs
(benchmarks/results/length_confound_smollm2.json, "before"). Long: one LM pass over ~600 texts.
The issue's stricter targets that calibration does not reach yet are strict xfail tests, with the measured figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from twin_texts import (
    build_twin,
    class_texts,
    comment_like_texts,
    planted_effect,
    sentence_texts,
    twin_vocabulary,
    word_list_texts,
)

from neurofin.encoding.package import EncodingModel
from neurofin.schema import ENSEMBLE

pytestmark = pytest.mark.slow
OTHER_PREFIX = ("my father was not a man who talked very much and so when he called me on a tuesday night and asked if "
                "i could drive up to see him that weekend i knew something was going on")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    from neurofin.demo import demo_settings
    from neurofin.infer.calibrate import calibrate_packages

    out = tmp_path_factory.mktemp("twin")
    packages = build_twin(out)
    calibrate_packages(packages, demo_settings(out, out / "synth" / "ds003020"), n_texts=160)
    return out, packages


def predictor(packages, prefix="neutral_story"):
    from neurofin.infer.predictor import Predictor

    return Predictor.from_packages(packages, context_prefix=prefix, max_words=300)


def by_subject(frame, regions):
    return {s: rows[regions].to_numpy(float) for s, rows in frame.groupby("subject")}


def length_r2(twin) -> dict[str, dict[str, np.ndarray]]:
    out, packages = twin
    p = predictor(packages)
    assert p.uncalibrated() == []
    vocab, _ = twin_vocabulary(out / "synth")
    result: dict[str, dict[str, np.ndarray]] = {}
    for make in (sentence_texts, word_list_texts):
        texts, n_words = make(vocab, per_length=5)
        result[make.__name__] = {}
        for subject, values in by_subject(p.predict_rois(texts), p.region_names).items():
            finite = np.isfinite(values).all(axis=0)
            result[make.__name__][subject] = np.array([np.corrcoef(np.log(n_words), values[:, j])[0, 1] ** 2 for j in np.flatnonzero(finite)])
    return result


def test_length_explains_little_of_the_median_region(twin):
    """Measured: median R^2 0.003-0.007 (sentences), 0.008-0.031 (word lists); raw 0.02-0.11."""
    r2 = length_r2(twin)
    for subject, values in r2["sentence_texts"].items():
        assert np.median(values) <= 0.02, (subject, np.round(values, 3))
    for subject, values in r2["word_list_texts"].items():
        assert np.median(values) <= 0.05, (subject, np.round(values, 3))


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: max R^2 over ROIs 0.08 (sentences), 0.20-0.45 (word lists)")
def test_length_explains_at_most_2_percent_median_5_percent_max(twin):
    for kind in length_r2(twin).values():
        for subject, values in kind.items():
            assert np.median(values) <= 0.02 and values.max() <= 0.05, (subject, np.round(values, 3))


def planted_class(twin):
    from neurofin.infer.predictor import AtlasRegions

    out, packages = twin
    p = predictor(packages)
    vocab, _ = twin_vocabulary(out / "synth")
    regions = AtlasRegions.open(None, "rois", None, None, None)
    models = [EncodingModel.load(pk) for pk in packages]
    effects = {m.subject: planted_effect(out / "synth", m.subject, vocab, "family", regions.matrix(m, m.subject)[0]) for m in models}
    stacked = np.stack(list(effects.values()))
    j = int(np.argmax(np.where(np.abs(np.sign(stacked).sum(0)) == len(models), np.abs(stacked).min(0), -1)))
    texts, shares, n_words = class_texts(vocab, "family", per_cell=4)
    rows = {}
    for subject, values in by_subject(p.predict_rois(texts), p.region_names).items():
        v = values[:, j]
        by_share = np.array([v[shares == s].mean() for s in np.unique(shares)])
        by_length = np.array([v[n_words == n].mean() for n in np.unique(n_words)])
        rows[subject] = (by_share, by_length)
    return np.sign(stacked[0, j]), rows


def test_planted_class_moves_its_region_with_the_share_and_the_planted_sign(twin):
    """Family words in dlpfc_lh (planted negative in both subjects): measured class effect -2.98 / -1.34 SD."""
    sign, rows = planted_class(twin)
    for subject, (by_share, _) in rows.items():
        assert (np.sign(np.diff(by_share)) == sign).all(), (subject, by_share)


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: length effect 0.02 (UTS01) but 1.17 SD (UTS02) vs class 1.34 SD")
def test_planted_class_effect_is_ten_times_the_length_effect(twin):
    _, rows = planted_class(twin)
    for subject, (by_share, by_length) in rows.items():
        assert abs(by_length[-1] - by_length[0]) < abs(by_share[-1] - by_share[0]) / 10, (subject, by_length, by_share)


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: 9-12% sign flips, rank agreement min 0.75; spread ratio max 1.29")
def test_another_neutral_prefix_keeps_signs_and_ranks_and_subjects_share_one_scale(twin):
    from neurofin.demo import demo_settings
    from neurofin.infer.calibration import reference_texts

    out, packages = twin
    vocab, _ = twin_vocabulary(out / "synth")
    texts = comment_like_texts(vocab, 80)
    a = predictor(packages)
    b = predictor(packages, OTHER_PREFIX)
    from neurofin.data.layout import find_dataset

    reference, kinds, corpus = reference_texts(find_dataset(demo_settings(out, out / "synth" / "ds003020").data.data_root),
                                               [m.record for m in map(EncodingModel.load, packages)], 160)
    b.calibrate(reference, kinds, corpus)  # calibration per prefix: what `neurofin calibrate --context-prefix` stores
    va, vb = by_subject(a.predict_rois(texts), a.region_names), by_subject(b.predict_rois(texts), b.region_names)
    for subject in va:
        x, y = va[subject], vb[subject]
        finite = np.isfinite(x).all(axis=0)
        assert np.mean(np.sign(x[:, finite]) != np.sign(y[:, finite])) <= 0.05, subject
        assert min(spearmanr(x[:, j], y[:, j])[0] for j in np.flatnonzero(finite)) >= 0.95, subject
    spreads = np.stack([v.std(axis=0) for s, v in va.items() if s != ENSEMBLE])
    assert np.nanmax(spreads.max(0) / spreads.min(0)) <= 1.25
