"""Calibrated values with the real SmolLM2 on a held-out synthetic twin (issue 20, items 2-4).

The twin's packages (demo settings) are calibrated the way a user does it (`calibrate_packages`, what `neurofin
calibrate` and `atlas register --packages` run), then scored on texts the calibration never saw (twin_texts.py).
Raw readout values: length R^2 up to 0.26-0.54 (benchmarks/results/length_confound_smollm2.json, "before"; the
benchmark, `benchmarks/length_confound.py` on the twin of `benchmarks/calibration_twin.py`, reads the same twin, the
same default calibration corpus and the same test texts as these tests, and holds the measured figures with what
noise alone reaches). Long: LM passes over ~3,000 texts. The issue's targets that are not reached are strict xfail
tests with the measured figures.
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
    calibrate_packages(packages, demo_settings(out, out / "synth" / "ds003020"))  # the default corpus, as the benchmark
    return out, packages


def predictor(packages, prefix="neutral_story"):
    from neurofin.infer.predictor import Predictor

    return Predictor.from_packages(packages, context_prefix=prefix, max_words=300)


def by_subject(frame, regions):
    return {s: rows[regions].to_numpy(float) for s, rows in frame.groupby("subject")}


def length_r2(twin, per_length: int, seeds: tuple[tuple[int, int], ...] = ((101, 102),)) -> dict[str, dict[str, np.ndarray]]:
    """Per kind (sentences, word lists) and subject: R^2 of log(n_words) per region, over `per_length` texts of each
    length per (sentence seed, word list seed) in `seeds`."""
    out, packages = twin
    p = predictor(packages)
    assert p.uncalibrated() == []
    vocab, _ = twin_vocabulary(out / "synth")
    result: dict[str, dict[str, np.ndarray]] = {}
    for k, make in enumerate((sentence_texts, word_list_texts)):
        made = [make(vocab, per_length=per_length, seed=pair[k]) for pair in seeds]
        texts, n_words = [t for more, _ in made for t in more], np.concatenate([n for _, n in made])
        result[make.__name__] = {}
        for subject, values in by_subject(p.predict_rois(texts), p.region_names).items():
            finite = np.isfinite(values).all(axis=0)
            result[make.__name__][subject] = np.array([np.corrcoef(np.log(n_words), values[:, j])[0, 1] ** 2 for j in np.flatnonzero(finite)])
    return result


@pytest.fixture(scope="module")
def r2_480(twin):
    """480 texts of each kind (the benchmark's), so that noise alone keeps the max over 22 ROIs near 0.02 (95%
    quantile; 0.057 with 160 texts): a max above 0.05 is a length effect, not noise."""
    return length_r2(twin, per_length=24, seeds=((101, 102), (201, 202)))


def test_length_explains_little_of_the_median_region(r2_480):
    """Measured (benchmark): median R^2 0.007-0.012 sentences, 0.005-0.008 word lists; raw 0.03-0.20."""
    for kind in r2_480.values():
        for subject, values in kind.items():
            assert np.median(values) <= 0.02, (subject, np.round(values, 3))


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: max R^2 over 22 ROIs 0.047-0.080 (sentences), "
                   "0.051-0.080 (word lists) on 480 texts each, where noise alone reaches 0.018-0.021 (benchmark); "
                   "medians 0.005-0.012")
def test_length_explains_at_most_2_percent_median_5_percent_max(r2_480):
    for kind in r2_480.values():
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
    strict=False, reason="family words' best learned region in this twin, dacc_medial_salience, does not move with the "
    "share in UTS01 (benchmark: -0.42 / -0.49 / -0.48 SD at 0 / 50 / 100%, steps within their noise, so either "
    "outcome happens; UTS02 +2.09 / +0.81 / -1.21): the package learned it from stories, the class texts are word "
    "lists"))])
def test_planted_class_moves_its_region_with_the_share_and_the_planted_sign(twin, category):
    """Body words in their best learned region (somatomotor in this twin; benchmark: +0.74 / +1.91 / +3.94 and
    -0.26 / +0.06 / +0.88 SD at 0 / 50 / 100% body words, planted +)."""
    [(_, region, sign, per_subject)] = planted_classes(twin, (category,))
    for subject, (by_share, _) in per_subject.items():
        assert (np.sign(np.diff(by_share)) == sign).all(), (category, region, subject, by_share)


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: class-free length effect (5 -> 300 words) "
                   "-0.70 +- 0.31 SD vs class +3.21 (body, somatomotor, UTS01), -0.87 +- 0.42 vs -3.30 (family, "
                   "UTS02; benchmark)")
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


@pytest.mark.xfail(strict=True, reason="issue 20 target not reached: max spread ratio over ROIs 1.40 (dlpfc_rh; median "
                   "1.07) on 600 texts (benchmark), where equal spreads reach 1.38 (95%) with the scale estimated on "
                   "240 story chunks: the default corpus cannot show 1.25 (twice the corpus: 1.30, noise 1.28)")
def test_subjects_share_one_scale_on_comment_like_text(twin):
    """Per ROI, the subjects' spreads of calibrated values on held-out comment-like text within a factor 1.25
    (600 texts, the benchmark's)."""
    out, packages = twin
    vocab, _ = twin_vocabulary(out / "synth")
    texts = comment_like_texts(vocab, 300) + comment_like_texts(vocab, 300, seed=204)
    p = predictor(packages)
    values = by_subject(p.predict_rois(texts), p.region_names)
    spreads = np.stack([v.std(axis=0) for s, v in values.items() if s != ENSEMBLE])
    ratio = spreads.max(0) / spreads.min(0)
    assert np.nanmax(ratio) <= 1.25, f"max {np.nanmax(ratio):.3f}, median {np.nanmedian(ratio):.3f}"
