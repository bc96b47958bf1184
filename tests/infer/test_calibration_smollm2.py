"""Calibrated values with the real SmolLM2 on a held-out synthetic twin (issue 20, items 2-4).

The twin's packages (demo settings) are calibrated the way a user does it (`calibrate_packages`, what `neurofin
calibrate` and `atlas register --packages` run), then scored on texts the calibration never saw (twin_texts.py).
On main (raw readout values) the length R^2 reached 0.3-0.6 and the prefix swap flipped 15-19% of signs
(benchmarks/results/length_confound_smollm2.json, "before"; the benchmark holds the measured figures).
Long: LM passes over ~1,500 texts. The issue's targets that are not reached are strict xfail tests.
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
    learned_pairs,
    sentence_texts,
    twin_vocabulary,
    word_list_texts,
)

from neurofin.encoding.package import EncodingModel
from neurofin.schema import ENSEMBLE

pytestmark = pytest.mark.slow
# another neutral passage (benchmarks/data/story_passage.txt, paragraph 3; never packaged)
OTHER_PASSAGE = ("when i got to the house he was sitting on the porch in the same chair he had been sitting in for thirty "
                 "years and he had a cup of coffee in his hand even though it was four in the afternoon and he looked "
                 "smaller than i remembered and his hair was almost completely white and he stood up when he saw my car")
CLASSES = ("family", "body")


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


def length_r2(twin, per_length: int) -> dict[str, dict[str, np.ndarray]]:
    out, packages = twin
    p = predictor(packages)
    assert p.uncalibrated() == []
    vocab, _ = twin_vocabulary(out / "synth")
    result: dict[str, dict[str, np.ndarray]] = {}
    for make in (sentence_texts, word_list_texts):
        texts, n_words = make(vocab, per_length=per_length)
        result[make.__name__] = {}
        for subject, values in by_subject(p.predict_rois(texts), p.region_names).items():
            finite = np.isfinite(values).all(axis=0)
            result[make.__name__][subject] = np.array([np.corrcoef(np.log(n_words), values[:, j])[0, 1] ** 2 for j in np.flatnonzero(finite)])
    return result


def test_length_explains_little_of_the_median_region(twin):
    """Measured (benchmark, 160 texts each): median R^2 0.008-0.018 sentences, 0.003-0.005 word lists; raw up to 0.10."""
    r2 = length_r2(twin, per_length=5)
    for subject, values in r2["sentence_texts"].items():
        assert np.median(values) <= 0.02, (subject, np.round(values, 3))
    for subject, values in r2["word_list_texts"].items():
        assert np.median(values) <= 0.05, (subject, np.round(values, 3))


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: max R^2 over ROIs 0.04-0.09 (sentences), "
                   "0.04-0.15 (word lists) on this twin's 200 texts; medians 0.008-0.014")
def test_length_explains_at_most_2_percent_median_5_percent_max(twin):
    """200 texts of each kind, so that noise alone keeps the max over 22 ROIs below 0.05 (permutation null ~0.045)."""
    for kind in length_r2(twin, per_length=20).values():
        for subject, values in kind.items():
            assert np.median(values) <= 0.02 and values.max() <= 0.05, (subject, np.round(values, 3))


def planted_classes(twin, categories=CLASSES):
    """Per learned planted pair (twin_texts.learned_pairs): planted sign, and per subject the region's values with
    the class share and the class-free length."""
    out, packages = twin
    p = predictor(packages)
    vocab, _ = twin_vocabulary(out / "synth")
    rows = []
    for category, region, planted, _ in learned_pairs(out, p.groups[0].readouts, p.region_names, vocab, categories):
        texts, shares, n_words = class_texts(vocab, category, per_cell=(40, 12, 4, 2))
        j = p.region_names.index(region)
        per_subject = {}
        for subject, values in by_subject(p.predict_rois(texts), p.region_names).items():
            v = values[:, j]
            by_share = np.array([v[shares == s].mean() for s in np.unique(shares)])
            free = shares == 0
            length = v[free & (n_words == n_words.max())].mean() - v[free & (n_words == n_words.min())].mean()
            per_subject[subject] = (by_share, length)
        rows.append((category, region, np.sign(next(iter(planted.values()))), per_subject))
    return rows


@pytest.mark.parametrize("category", ["body", pytest.param("family", marks=pytest.mark.xfail(
    strict=True, reason="family words' best learned region in this twin, dacc_medial_salience, does not move with the "
    "share in UTS01 (-1.39 / -1.12 / -1.45 SD at 0 / 50 / 100%; UTS02 +1.52 / +0.61 / -0.66): the package learned it "
    "from stories, the class texts are word lists"))])
def test_planted_class_moves_its_region_with_the_share_and_the_planted_sign(twin, category):
    """Body words in their best learned region (somatomotor in this twin: +1.21 / +2.41 / +4.36 and +0.21 / +1.02 /
    +2.12 SD at 0 / 50 / 100% body words, planted +); on the benchmark's twin (packages trained by the code of
    08:07) family words in salience_ventral_attention moved too (-2.3 / -2.1 SD)."""
    [(_, region, sign, per_subject)] = planted_classes(twin, (category,))
    for subject, (by_share, _) in per_subject.items():
        assert (np.sign(np.diff(by_share)) == sign).all(), (category, region, subject, by_share)


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: class-free length effect (5 -> 300 words) "
                   "+0.54 SD vs class +3.14 (body, somatomotor, UTS01), -1.00 vs -2.18 (family, UTS02)")
def test_planted_class_effect_is_ten_times_the_length_effect(twin):
    for category, region, _, per_subject in planted_classes(twin):
        for subject, (by_share, length) in per_subject.items():
            assert abs(length) < abs(by_share[-1] - by_share[0]) / 10, (category, region, subject, length, by_share)


def calibrated_for(twin, prefix):
    """A predictor under `prefix`, calibrated on the twin's reference corpus (what `neurofin calibrate` stores)."""
    from neurofin.data.layout import find_dataset
    from neurofin.infer.calibration import reference_texts

    out, packages = twin
    p = predictor(packages, prefix)
    reference, kinds, corpus = reference_texts(find_dataset(out / "synth"), [EncodingModel.load(pk).record for pk in packages], 120)
    p.calibrate(reference, kinds, corpus)
    return p


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: swapping one of 3 averaged passages flips "
                   "4.7% of signs on average, up to 6.1%; rank agreement min over ROIs 0.93 (benchmark)")
def test_averaging_three_passages_keeps_signs_and_ranks_when_one_passage_is_swapped(twin):
    """context_prefix = neutral_stories vs the same with its last passage replaced by another neutral one, each
    calibrated on its own corpus (benchmark: 4.7% flips, up to 6.1%, rank median 0.98, min 0.93; one passage 13%)."""
    from neurofin.infer.text import NEUTRAL_STORIES, context_passages

    out, _ = twin
    vocab, _ = twin_vocabulary(out / "synth")
    texts = comment_like_texts(vocab, 80)
    passages = [" ".join(p) for p in context_passages(NEUTRAL_STORIES)]
    a, b = calibrated_for(twin, NEUTRAL_STORIES), calibrated_for(twin, [*passages[:-1], OTHER_PASSAGE])
    va, vb = by_subject(a.predict_rois(texts), a.region_names), by_subject(b.predict_rois(texts), b.region_names)
    for subject in va:
        x, y = va[subject], vb[subject]
        finite = np.isfinite(x).all(axis=0)
        assert np.mean(np.sign(x[:, finite]) != np.sign(y[:, finite])) <= 0.05, subject
        assert min(spearmanr(x[:, j], y[:, j])[0] for j in np.flatnonzero(finite)) >= 0.95, subject


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached with one passage (the default): 13% sign flips "
                   "on average, up to 16% (benchmark, 5 other passages)")
def test_another_neutral_prefix_keeps_signs_and_ranks(twin):
    out, packages = twin
    vocab, _ = twin_vocabulary(out / "synth")
    texts = comment_like_texts(vocab, 80)
    a, b = predictor(packages), calibrated_for(twin, OTHER_PASSAGE)
    va, vb = by_subject(a.predict_rois(texts), a.region_names), by_subject(b.predict_rois(texts), b.region_names)
    for subject in va:
        x, y = va[subject], vb[subject]
        finite = np.isfinite(x).all(axis=0)
        assert np.mean(np.sign(x[:, finite]) != np.sign(y[:, finite])) <= 0.05, subject


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: max spread ratio over ROIs 1.41 (median 1.18) on "
                   "this twin's 240 texts; benchmark 1.30, where equal spreads reach 1.31 (95% quantile)")
def test_subjects_share_one_scale_on_comment_like_text(twin):
    """Per ROI, the subjects' spreads of calibrated values on held-out comment-like text within a factor 1.25."""
    out, packages = twin
    vocab, _ = twin_vocabulary(out / "synth")
    texts = comment_like_texts(vocab, 120) + comment_like_texts(vocab, 120, seed=204)
    p = predictor(packages)
    values = by_subject(p.predict_rois(texts), p.region_names)
    spreads = np.stack([v.std(axis=0) for s, v in values.items() if s != ENSEMBLE])
    ratio = spreads.max(0) / spreads.min(0)
    assert np.nanmax(ratio) <= 1.25, f"max {np.nanmax(ratio):.3f}, median {np.nanmedian(ratio):.3f}"
