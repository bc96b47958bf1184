"""Does text length (or the context prefix) move calibrated ROI values? The real SmolLM2 on a held-out synthetic twin.

Issue 20, items 2-4. TWIN is a folder made by benchmarks/calibration_twin.py (2 subjects x 12 stories x 400 voxels,
demo feature settings). Two stages, so the LM runs once per context and every protocol is compared on the same texts:

    PYTHONPATH=src python benchmarks/length_confound.py collect TWIN --prefix A        # every set: the default's context
    ... collect TWIN --prefix B --sets SWAP --limit 160    # also C, D, E+F+A, E+F+B; E, F with --limit 120
    PYTHONPATH=src python benchmarks/length_confound.py analyse TWIN                # -> results JSON
    ... collect TWIN --prefix A,B,C --sets SWAP --limit 120   # side by side; also D,B,C, A,D,C, A,B,D, ... with E, F
    ... collect TWIN --prefix A,B,C,I,J,K --sets SWAP --limit 120   # parallel_stories; also D,B,C,I,J,K, A,B,F,I,J,K, ...
    PYTHONPATH=src python benchmarks/length_confound.py prefix TWIN  # the prefix comparisons alone (SWAP sets only)
(run with nice, two collections at a time; each TWIN/collect_<label>.npz, merged when a label is collected again).

Contexts: A is the packaged neutral story (infer.context_prefix = neutral_story, the default), B..K the paragraphs
of benchmarks/data/story_passage.txt (other neutral passages; B and C are also the packaged neutral_stories'
2nd and 3rd passages, so "average of 3 passages A+B+C" is that protocol; I, J, K are parallel_stories' 4th to 6th
passages; D..H are never packaged);
"E+F+A" reads passages E, F and A one after the other; "A,B,C,I,J,K" reads them side by side in one LM pass (parallel
context windows, infer.context_prefix = parallel_stories: features/context.py; "A,B,C" its first 3: the protocol
before; "A:20,B:20,C:20,I:20,J:20,K:20,G:20,H:20": its 6 and 2 more, each cut to 20 words). A side-by-side label
that starts with parallel_stories' passages (its first k, or all 6 then others) is compared with each label of as many passages
that differs in one position. SWAP = the sets collected under every context (calibration
corpus, comment-like text, sentences), for the prefix comparisons. Text sets (tests/infer/twin_texts.py; seeds
other than the twin's): reference / scrambled / wordlists / sentence_starts = the calibration corpus of `neurofin
calibrate` (held-out story chunks of 3-300 words, the same shuffled, lists of the held-out stories' distinct words,
chunks starting at a sentence start);
sentences and word lists of 3-300 words; class texts (0/50/100% of one category's words, 5-300 words);
comment-like = chunks of another twin's stories. `collect` stores each text's readout-weighted feature sums per
subject (merged into the label's file); `analyse` reads the packages' readouts and reports per protocol:
  * R^2 of log(n_words) per subject x ROI and ensemble over sentences and word lists, with the 95% quantile of the
    max over ROIs when n_words is permuted (what noise alone reaches with this many texts) (item 2);
  * for planted (class, ROI) pairs that the packages learned (same sign planted and learned in every subject, the
    best learned such ROI per class: twin_texts.learned_pairs): the class effect (0 -> 100% class words), the length effect on class-free word
    lists (5 -> 300 words) and averaged over shares, each with its standard error (item 2);
  * sign flips and Spearman rank agreement of text x ROI values between contexts (item 3): one passage for another,
    one passage of a concatenation (or of passages read side by side) for another, and a concatenation of other passages;
  * per ROI, the ratio of the subjects' spreads on comment-like text, with a bootstrap 90% interval of its max over
    ROIs and the 95% quantile that max reaches on this many texts when the subjects' spreads are equal, with and
    without the noise of the scale (the SD of the corpus' story chunks) (item 4);
  * each of these for several calibration corpora: main's, + sentence-start chunks (the product), and each twice
    (a second corpus, seed 1); and the length R^2 on half the test texts when the other half is a corpus kind
    (whether a residual comes from the kinds of text the corpus lacks).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "infer"))

from twin_texts import (  # noqa: E402
    LENGTHS,
    class_texts,
    comment_like_texts,
    learned_pairs,
    sentence_texts,
    twin_vocabulary,
    word_list_texts,
)

from neurofin.infer.calibration import DEGREE  # noqa: E402
from neurofin.io import write_json_atomic  # noqa: E402

CLASSES = ("family", "body")  # the categories with the strongest planted effects the packages learned (learned_pairs)
REFERENCE_TEXTS = 240
CLASS_TEXTS = (60, 20, 6, 3)  # class texts per share at 5, 20, 80, 300 words: short texts vary more
PER_LENGTH = 24  # sentences (and word lists) per length in each of two sets: 2 x 24 x 10 lengths = 480 texts per kind,
# where noise alone keeps the max R^2 over 22 ROIs below ~0.02 (noise_floors; 0.057 with the 160 texts used before)
COMMENT_TEXTS = 300  # comment-like texts in each of two sets: 600, where equal spreads keep the max ratio near 1.15
SWAP = "reference,scrambled,comment_like,sentences"
REFERENCE_SETS = ("reference", "scrambled", "wordlists", "sentence_starts")  # the calibration corpus' kinds 0-3
SWAP_REFERENCE = 160  # story chunks of the calibration corpus used where every context is compared


def prefixes() -> dict[str, str]:
    """A: the packaged neutral story; B..H: the paragraphs of benchmarks/data/story_passage.txt (other neutral passages)."""
    from neurofin.infer.text import NEUTRAL_STORY

    paragraphs = (HERE / "data" / "story_passage.txt").read_text().splitlines()
    return {"A": NEUTRAL_STORY, **{chr(ord("B") + i): p for i, p in enumerate(paragraphs)}}


def packaged_labels() -> list[str]:
    """The labels of parallel_stories' packaged passages, in order (their side-by-side label is a protocol's base)."""
    from neurofin.infer.text import PARALLEL_STORIES, context_passages, prefix_words

    words = {tuple(prefix_words(p)): label for label, p in prefixes().items()}
    return [words[tuple(p)] for p in context_passages(PARALLEL_STORIES)]


def prefix_text(label: str) -> str | list[str]:
    """The prefix of a label: one passage ("A"), passages read one after the other ("E+F+A") or side by side ("A,B,C")."""
    from neurofin.infer.text import prefix_words

    if "," in label:  # a part "A:35": passage A's first 35 words
        return [" ".join(prefix_words(prefixes()[name])[: int(n) if n else None]) for name, _, n in (p.partition(":") for p in label.split(","))]
    return " ".join(" ".join(prefix_words(prefixes()[part])) for part in label.split("+"))


def predictor_for(twin: Path, prefix: str | list[str]):
    """The twin's predictor reading `prefix` (a list: passages side by side, as parallel_stories reads its own)."""
    from neurofin.encoding.package import package_dirs
    from neurofin.infer.predictor import Predictor

    predictor = Predictor.from_packages(package_dirs(twin / "models"), context_prefix=prefix, max_words=300,
                                        feature_overrides={"device": "cpu"})
    predictor.side_by_side = isinstance(prefix, list)
    return predictor


def text_sets(twin: Path) -> dict[str, tuple[list[str], dict[str, np.ndarray]]]:
    from neurofin.data.layout import find_dataset
    from neurofin.encoding.package import EncodingModel, package_dirs
    from neurofin.infer.calibration import reference_texts

    vocab, _ = twin_vocabulary(twin / "synth")
    records = [EncodingModel.load(p).record for p in package_dirs(twin / "models")]
    sets: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {}
    for seed, suffix in ((0, ""), (1, "2")):  # the corpus of `neurofin calibrate`, and a second one (twice the texts)
        texts, kinds, _ = reference_texts(find_dataset(twin / "synth"), records, REFERENCE_TEXTS, seed=seed)
        sets |= {name + suffix: ([t for t, k in zip(texts, kinds) if k == kind], {}) for kind, name in enumerate(REFERENCE_SETS)}
    from neurofin.infer.calibration import held_out_story_sentences, word_lists

    held = sorted({s for r in records for s in (*r.split.validation, *r.split.test)} - {s for r in records for s in r.split.train})
    pool = [[w for sentence in story for w in sentence] for story in held_out_story_sentences(find_dataset(twin / "synth"), held)]
    vocabulary = sorted({w for story in pool for w in story})
    sets["wordlists_240"] = (word_lists(pool, REFERENCE_TEXTS, seed=5), {})  # the corpus' word lists, twice as many
    rng = np.random.default_rng(6)  # the same pool on the test lists' length grid (24 per length)
    sets["wordlists_grid"] = ([" ".join(rng.choice(vocabulary, n)) for n in np.repeat(LENGTHS, PER_LENGTH)], {})
    for name, make, seed in (("sentences", sentence_texts, 101), ("lists", word_list_texts, 102),
                             ("sentences2", sentence_texts, 201), ("lists2", word_list_texts, 202)):
        sets[name] = (make(vocab, per_length=PER_LENGTH, seed=seed)[0], {})
    for category in CLASSES:
        texts, shares, _ = class_texts(vocab, category, per_cell=CLASS_TEXTS, seed=203)
        sets[f"class_{category}"] = (texts, {"share": shares})
    sets["comment_like"] = (comment_like_texts(vocab, COMMENT_TEXTS), {})
    sets["comment_like2"] = (comment_like_texts(vocab, COMMENT_TEXTS, seed=204), {})
    return sets


def collect(twin: Path, label: str, sets: list[str] | None = None, limit: int | None = None) -> None:
    """One LM pass over the text sets (all, or `sets`; each its first `limit` texts) under the context `label`:
    per subject the readout-weighted feature sums, merged into TWIN/collect_<label>.npz."""
    from neurofin.infer.text import comment_words

    predictor = predictor_for(twin, prefix_text(label))
    group = predictor.groups[0]
    path = twin / f"collect_{label}.npz"
    arrays: dict[str, np.ndarray] = load(twin, label) if path.is_file() else {}
    start = time.perf_counter()
    for name, (texts, extra) in text_sets(twin).items():
        if sets is not None and name not in sets:
            continue
        texts, extra = texts[:limit], {k: v[:limit] for k, v in extra.items()}
        words = [comment_words(t, predictor.max_words).words for t in texts]
        errors: list[str | None] = [None] * len(words)
        feats = predictor._features(group, words, list(range(len(words))), errors)
        assert all(f is not None for f in feats), errors
        for readout in group.readouts:
            sums, coverage = readout.weighted_sums(feats)  # type: ignore[arg-type]
            arrays[f"{name}/{readout.subject}/sums"] = sums
            arrays[f"{name}/{readout.subject}/coverage"] = coverage
        arrays[f"{name}/n_words"] = np.array([len(w) for w in words])
        for key, values in extra.items():
            arrays[f"{name}/{key}"] = values
        np.savez(path, **arrays)  # after every set: a long collection stopped half-way keeps what it read
        print(f"{label} {name}: {len(texts)} texts, {time.perf_counter() - start:.0f} s", flush=True)


def load(twin: Path, label: str) -> dict[str, np.ndarray]:
    with np.load(twin / f"collect_{label}.npz") as data:
        return dict(data)


def set_names(data: dict[str, np.ndarray]) -> list[str]:
    return sorted({k.split("/")[0] for k in data})


def values(data: dict[str, np.ndarray], predictor, calibrate: str, reference: Sequence[str] = REFERENCE_SETS,
           n_reference: int | None = None, degree: int = DEGREE) -> dict[str, dict[str, np.ndarray]]:
    """set -> subject (incl. ensemble) -> values: raw ("raw"), or calibrated as `neurofin calibrate` does ("product":
    length directions projected out, log-length baseline, scale; "baseline only": no projection) on the `reference`
    sets present (story chunks cut to their first `n_reference`), with polynomials of `degree` in log length."""
    from neurofin.infer.calibration import Calibration, fit_calibration

    sets = set_names(data)
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in sets}

    def part(name: str, key: str) -> np.ndarray:
        return data[f"{name}/{key}"][: n_reference if name == "reference" else None]

    for readout in predictor.groups[0].readouts:
        s = readout.subject
        calibrated, calibration = readout, None
        if calibrate != "raw":
            used = [n for n in reference if n in sets]
            sums = np.vstack([part(n, f"{s}/sums") for n in used])
            coverage = np.concatenate([part(n, f"{s}/coverage") for n in used])
            n_words = np.concatenate([part(n, "n_words") for n in used])
            kinds = [*REFERENCE_SETS, *(n for n in used if n.rstrip("2") not in REFERENCE_SETS)]  # test sets as extra kinds
            groups = np.concatenate([np.full(len(part(n, "n_words")), kinds.index(n if n in kinds else n.rstrip("2"))) for n in used])
            if calibrate == "baseline only":
                calibration = Calibration.fit(s, predictor.region_names, "", readout.apply(sums, coverage), n_words, {},
                                              degree=degree)
            else:
                calibration = fit_calibration(readout, predictor.region_names, "", sums, coverage, n_words, groups, {}, degree)
            calibrated = calibration.readout(readout)
        for name in sets:
            raw = calibrated.apply(data[f"{name}/{s}/sums"], data[f"{name}/{s}/coverage"])
            out[name][s] = raw if calibration is None else calibration.apply(raw, data[f"{name}/n_words"])
    for name in sets:
        out[name]["ensemble"] = np.nanmean(np.stack(list(out[name].values())), axis=0)
    return out


def r2_log_length(v: np.ndarray, n_words: np.ndarray) -> np.ndarray:
    """(n_regions,) R^2 of log(n_words) per region (NaN for regions without voxels)."""
    x = np.log(n_words)
    return np.array([np.corrcoef(x, v[:, j])[0, 1] ** 2 if np.isfinite(v[:, j]).all() else np.nan for j in range(v.shape[1])])


def null_max_r2(n_texts: int, n_regions: int, quantile: float = 0.95) -> float:
    """The `quantile` of the max over `n_regions` independent regions of R^2 with one regressor and no effect:
    R^2 = F / (F + n - 2), F ~ F(1, n - 2). Correlated regions reach less (the permutation null beside it)."""
    from scipy.stats import f

    q = f.ppf(quantile ** (1 / n_regions), 1, n_texts - 2)
    return float(q / (q + n_texts - 2))


def joined(v: dict[str, dict[str, np.ndarray]], data: dict[str, np.ndarray], names: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The sets `names` (those present) stacked: subject -> values, and n_words."""
    present = [n for n in names if n in v]
    return ({s: np.vstack([v[n][s] for n in present]) for s in v[present[0]]},
            np.concatenate([data[f"{n}/n_words"] for n in present]))


TEST_KINDS = (("sentences", ("sentences", "sentences2")), ("lists", ("lists", "lists2")))


def length_r2(v, data, names: Sequence[str], halves: bool = False, kinds=TEST_KINDS) -> dict:
    """Per kind (name, its sets) and subject: median and max R^2 of log(n_words) over regions, the region of the max,
    and what noise alone reaches: the 95% quantile of the max when n_words is permuted (200 draws) and for
    independent regions."""
    rng = np.random.default_rng(0)
    out = {}
    for kind, sets in kinds:
        per, n_words = joined(v, data, sets[:1] if halves else sets)
        out[kind] = {"n_texts": int(len(n_words))}
        for s, x in per.items():
            r2 = r2_log_length(x, n_words)
            null = [np.nanmax(r2_log_length(x, rng.permutation(n_words))) for _ in range(200)]
            out[kind][s] = {"median": round(float(np.nanmedian(r2)), 4), "max": round(float(np.nanmax(r2)), 4),
                            "max_roi": names[int(np.nanargmax(r2))],
                            "null_max_95": round(float(np.quantile(null, 0.95)), 4),
                            "null_max_95_independent": round(null_max_r2(len(n_words), int(np.isfinite(r2).sum())), 4)}
    return out


def cell_effect(v: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> tuple[float, float]:
    """Mean of rows_b minus mean of rows_a, and its standard error."""
    a, b = v[rows_a], v[rows_b]
    return float(b.mean() - a.mean()), float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))


def ols(design: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients and their heteroscedasticity-robust (HC1) standard errors (short texts vary more)."""
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    bread = np.linalg.inv(design.T @ design)
    meat = design.T @ (design * ((x - design @ coef) ** 2)[:, None])
    return coef, np.sqrt(np.diag(bread @ meat @ bread) * len(x) / (len(x) - design.shape[1]))


def share_and_length(x: np.ndarray, share: np.ndarray, n_words: np.ndarray) -> dict:
    """Issue 20's comparison on every class text: the class effect (0 -> 100% class words; x ~ 1 + share + log n)
    and the class-free length effect of going from 8 to 120 words (x ~ 1 + log n on the 0% texts), each with its
    HC1 standard error, |length| / |class|, and the class effect at each length (100% minus 0%)."""
    design = np.column_stack([np.ones(len(x)), share, np.log(n_words)])
    coef, se = ols(design, x)
    free = share == 0
    slope, slope_se = ols(design[free][:, [0, 2]], x[free])
    span = np.log(120 / 8)
    return {"class_effect": round(float(coef[1]), 3), "class_effect_se": round(float(se[1]), 3),
            "length_effect_8_to_120_class_free": round(float(slope[1] * span), 3),
            "length_effect_8_to_120_class_free_se": round(float(slope_se[1] * span), 3),
            "length_over_class": round(float(abs(slope[1] * span) / abs(coef[1])), 3),
            "class_effect_by_length": [round(float(x[(n_words == n) & (share == 1)].mean() - x[(n_words == n) & free].mean()), 3)
                                       for n in np.unique(n_words)]}


def planted(v, data, pairs, names) -> list[dict]:
    rows = []
    for category, roi, truth, learned in pairs:
        name, j = f"class_{category}", names.index(roi)
        if name not in v:
            continue
        share, n_words = data[f"{name}/share"], data[f"{name}/n_words"]
        short, long = n_words == n_words.min(), n_words == n_words.max()
        row: dict = {"class": category, "roi": roi, "planted_effect": truth, "learned_effect": learned,
                     "n_texts": int(len(share)), "subjects": {}}
        for s, x in v[name].items():
            x = x[:, j]
            cls, cls_se = cell_effect(x, share == 0, share == 1)
            length0, length0_se = cell_effect(x, short & (share == 0), long & (share == 0))
            length, length_se = cell_effect(x, short, long)
            row["subjects"][s] = {
                "class_effect": round(cls, 3), "class_effect_se": round(cls_se, 3),
                "length_effect_class_free": round(length0, 3), "length_effect_class_free_se": round(length0_se, 3),
                "length_effect_all_shares": round(length, 3), "length_effect_all_shares_se": round(length_se, 3),
                "means_by_share": [round(float(x[share == sh].mean()), 3) for sh in np.unique(share)],
                "means_by_length": [round(float(x[n_words == n].mean()), 3) for n in np.unique(n_words)],
                "regression (share + log length, all class texts)": share_and_length(x, share, n_words)}
        rows.append(row)
    return rows


def agreement(va: dict[str, np.ndarray], vb: dict[str, np.ndarray]) -> dict:
    """Per subject: share of text x ROI signs that differ, median and min over ROIs of the Spearman rank correlation."""
    from scipy.stats import spearmanr

    out = {}
    for s in va:
        x, y = va[s], vb[s]
        ok = np.isfinite(x).all(axis=0)
        ranks = np.array([spearmanr(x[:, j], y[:, j])[0] for j in np.flatnonzero(ok)])
        out[s] = {"sign_flips": round(float(np.mean(np.sign(x[:, ok]) != np.sign(y[:, ok]))), 4),
                  "rank_median": round(float(np.median(ranks)), 4), "rank_min": round(float(ranks.min()), 4)}
    return out


def spread_ratio(v, reference: Sequence[str], names=("comment_like", "comment_like2")) -> dict:
    """Per ROI, the subjects' largest over smallest spread of calibrated values on comment-like text: median and max
    over ROIs, a bootstrap 90% interval of the max, and the 95% quantile the max reaches when the subjects' spreads
    are equal: with the texts resampled, and with the calibration's story chunks (`reference`, whose SD set the
    scale) resampled too (both samples' noise)."""
    per, _ = joined(v, {f"{n}/n_words": v[n]["ensemble"][:, 0] for n in names if n in v}, names)
    subjects = [s for s in per if s != "ensemble"]

    def ratio(spreads: np.ndarray) -> float | np.ndarray:
        return np.nanmax(spreads, axis=0) / np.nanmin(spreads, axis=0)

    n = len(per[subjects[0]])
    observed = ratio(np.stack([per[s].std(axis=0) for s in subjects]))
    rng = np.random.default_rng(0)
    draws = [rng.integers(0, n, n) for _ in range(500)]
    boot = [np.nanmax(ratio(np.stack([per[s][rows].std(axis=0) for s in subjects]))) for rows in draws]
    equal = {s: per[s] / per[s].std(axis=0) for s in subjects}  # every subject's spread set equal on these texts
    null = [np.nanmax(ratio(np.stack([equal[s][rows].std(axis=0) for s in subjects]))) for rows in draws]
    out = {"n_texts": n, "median": round(float(np.nanmedian(observed)), 3), "max": round(float(np.nanmax(observed)), 3),
           "max_bootstrap_90": [round(float(q), 3) for q in np.quantile(boot, [0.05, 0.95])],
           "max_if_spreads_were_equal_95": round(float(np.quantile(null, 0.95)), 3)}
    if reference:
        chunks = {s: np.vstack([v[r][s] for r in reference if r in v]) for s in subjects}
        chunks = {s: c / c.std(axis=0) for s, c in chunks.items()}
        m = len(chunks[subjects[0]])
        both = []
        for rows in draws:
            scale_rows = rng.integers(0, m, m)
            both.append(np.nanmax(ratio(np.stack([equal[s][rows].std(axis=0) / chunks[s][scale_rows].std(axis=0) for s in subjects]))))
        out |= {"n_scale_texts": m, "max_if_spreads_were_equal_95_with_scale_noise": round(float(np.quantile(both, 0.95)), 3)}
        by_size = {}  # the same null with the scale set by m' chunks drawn from these (how many the target needs)
        for size in (240, 480, 960, 1920, 3840):
            draws_m = [np.nanmax(ratio(np.stack([equal[s][rows].std(axis=0) / chunks[s][scale_rows].std(axis=0) for s in subjects])))
                       for rows, scale_rows in ((r, rng.integers(0, m, size)) for r in draws)]
            by_size[f"{size} scale texts"] = round(float(np.quantile(draws_m, 0.95)), 3)
        out["max_if_spreads_were_equal_95_by_scale_texts"] = by_size
    return out


def averaged(datas: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The mean of several contexts' collections over their common arrays (the readout is linear in the sums)."""
    keys = set.intersection(*(set(d) for d in datas))
    return {k: np.mean([d[k][: min(len(e[k]) for e in datas)] for d in datas], axis=0) for k in keys}


def common(a: dict[str, np.ndarray], b: dict[str, np.ndarray], names: Sequence[str]) -> tuple[dict, dict]:
    """Both collections cut to the sets `names` they share, each set to their common first rows."""
    out_a, out_b = {}, {}
    for key in set(a) & set(b):
        if key.split("/")[0] in names:
            n = min(len(a[key]), len(b[key]))
            out_a[key], out_b[key] = a[key][:n], b[key][:n]
    return out_a, out_b


def prefix_comparisons(twin: Path, predictor) -> dict:
    """Item 3: for each protocol, its context vs swapped contexts, each calibrated on its own corpus."""
    have = {p.name[len("collect_"):-len(".npz")] for p in twin.glob("collect_*.npz")}
    singles = sorted(label for label in have if "+" not in label and "," not in label)
    data = {label: load(twin, label) for label in have}
    swap_sets = ("reference", "scrambled", "comment_like", "sentences")

    def compare(a: dict, b: dict) -> dict:
        a, b = common(a, b, swap_sets)
        va = values(a, predictor, "product", n_reference=SWAP_REFERENCE)
        vb = values(b, predictor, "product", n_reference=SWAP_REFERENCE)
        return {name: agreement(va[name], vb[name]) for name in ("comment_like", "sentences")}

    def summary(results: list[dict], what: str) -> dict:
        flat = [(name, s, r) for res in results for name, per in res.items() for s, r in per.items()]
        per_comparison = [np.mean([r["sign_flips"] for per in res.values() for r in per.values()]) for res in results]
        return {"what": what, "comparisons": len(results),
                "sign_flips_max": max(r["sign_flips"] for _, _, r in flat),
                "sign_flips_mean": round(float(np.mean([r["sign_flips"] for _, _, r in flat])), 4),
                "sign_flips_mean_worst_comparison": round(float(max(per_comparison)), 4),
                "rank_median_median": round(float(np.median([r["rank_median"] for _, _, r in flat])), 4),
                "rank_min_min": min(r["rank_min"] for _, _, r in flat)}

    out: dict = {"contexts": sorted(have), "collected": {label: {name: int(len(data[label][f"{name}/n_words"])) for name in set_names(data[label])}
                                                         for label in sorted(have)},
                 "texts": "the first texts collected under both contexts (`collected`: comment-like texts, sentences), each context "
                 "calibrated on its own story chunks + shuffled chunks where both have them (first 120 each; word lists and sentence-start "
                 "chunks not collected under every context)"}
    raw_pairs = [(data["A"], data[b]) for b in singles if b != "A"]
    if raw_pairs:
        out["single passage: A vs each other passage, raw values"] = summary(
            [{n: agreement(values(a, predictor, "raw")[n], values(b, predictor, "raw")[n]) for n in ("comment_like", "sentences")}
             for a, b in (common(x, y, swap_sets) for x, y in raw_pairs)], "raw readout values, prefix A vs B..H")
        out["single passage: A vs each other passage"] = summary([compare(a, b) for a, b in raw_pairs], "prefix A vs B..H")
    for k in (2, 3, 4):
        base = singles[:k]
        held = [x for x in singles if x not in base]
        if len(held) < 1:
            continue
        avg = averaged([data[x] for x in base])
        swaps = [compare(avg, averaged([data[x] for x in (*base[:i], h, *base[i + 1:])])) for i in range(k) for h in held]
        out[f"average of {k} passages {'+'.join(base)}: swap one"] = summary(swaps, f"K={k} LM passes per text; one passage replaced by each other")
        disjoint = [compare(avg, averaged([data[x] for x in other])) for other in itertools.combinations(held, k)]
        if disjoint:
            out[f"average of {k} passages {'+'.join(base)}: disjoint sets"] = summary(disjoint, f"vs every set of {k} other passages")
    packaged = packaged_labels()
    def names(label: str) -> list[str]:  # the passages of a side-by-side label read in full, or each cut alike ("A:35,B:35")
        parts = [p.partition(":") for p in label.split(",")]
        return [name for name, _, _ in parts] if len({cut for _, _, cut in parts}) == 1 else []

    for label in sorted(x for x in have if "," in x and names(x)[: len(packaged)] == packaged[: len(x.split(","))]):
        parts = label.split(",")
        one = [o for o in sorted(have) if "," in o and len(o.split(",")) == len(parts)
               and sum(p != q for p, q in zip(parts, o.split(","))) == 1]
        if one:
            results = {o: compare(data[label], data[o]) for o in one}
            out[f"side by side {label}: swap one passage"] = {
                **summary(list(results.values()), f"one LM pass per text; vs {', '.join(one)}"),
                "per swap": {o: {**summary([r], o), "per set and subject": r} for o, r in results.items()}}
    done: set[frozenset[str]] = set()
    for label in sorted(x for x in have if "+" in x):
        parts = label.split("+")
        others = sorted(x for x in have if "+" in x and x != label and len(x.split("+")) == len(parts)
                        and frozenset((x, label)) not in done)
        done |= {frozenset((x, label)) for x in others}
        one = [o for o in others if sum(p != q for p, q in zip(parts, o.split("+"))) == 1]
        disjoint = [o for o in others if not set(parts) & set(o.split("+"))]
        if one:
            out[f"concatenation {label}: swap one passage"] = summary([compare(data[label], data[o]) for o in one], f"vs {', '.join(one)}")
        if disjoint:
            out[f"concatenation {label}: disjoint passages"] = summary([compare(data[label], data[o]) for o in disjoint], f"vs {', '.join(disjoint)}")
    return out


def twin_description(twin: Path) -> str:
    """What the twin is: subjects, stories (fitted / held out: the calibration corpus' source), voxels, seed."""
    from neurofin.encoding.package import EncodingModel, package_dirs

    truth = json.loads((twin / "synth" / "truth" / "truth.json").read_text())
    split = EncodingModel.load(package_dirs(twin / "models")[0]).record.split
    return (f"benchmarks/calibration_twin.py TWIN --subjects {truth['n_subjects']} --stories {truth['n_stories']} --voxels "
            f"{truth['n_voxels']} --seed {truth['seed']} --validation-stories {len(split.validation)}: {len(split.train)} "
            f"stories fitted, {len(split.validation) + len(split.test)} held out (validation + test)")


def length_r2_summary(r2: dict) -> dict:
    """length_r2 cut to its median and max per kind and subject."""
    return {kind: {s: [r["median"], r["max"]] for s, r in per.items() if isinstance(r, dict)} for kind, per in r2.items()}


def analyse(twin: Path, out: Path, product: str) -> None:
    vocab, _ = twin_vocabulary(twin / "synth")
    predictor = predictor_for(twin, prefixes()["A"])
    names = predictor.region_names
    pairs = learned_pairs(twin, predictor.groups[0].readouts, names, vocab, CLASSES)
    results: dict = {
        "benchmark": "issue 20 calibration: length, planted class, prefix, subjects (SmolLM2-135M, CPU)",
        "twin": twin_description(twin),
        "product_context": product}
    data = load(twin, product)
    results["command"] = ("benchmarks/calibration_twin.py TWIN (options: 'twin'); benchmarks/length_confound.py collect "
                          f"TWIN --prefix {product} --sets {','.join(set_names(data))} (in any grouping; merged); "
                          + " ".join(["benchmarks/length_confound.py", *sys.argv[1:]]))
    results["noise_floors"] = {"what": "95% quantile of the max R^2 of one regressor over 22 independent ROIs with no effect",
                               **{f"{n} texts": round(null_max_r2(n, 22), 4) for n in (80, 160, 240, 480, 960)}}
    results["texts"] = {n: int(len(data[f"{n}/n_words"])) for n in set_names(data)}
    twice = tuple(REFERENCE_SETS) + tuple(n + "2" for n in REFERENCE_SETS)  # a second corpus of every kind (seed 1)
    seen: list[list[str]] = []
    for label, calibrate, reference in (
            ("before (raw readout, as on main)", "raw", ()),
            ("calibrated on main's corpus (240 chunks, 120 shuffled, 120 word lists)", "product", REFERENCE_SETS[:3]),
            ("calibrated on main's corpus twice", "product", twice[:3] + twice[4:7]),
            ("calibrated on main's corpus + 120 sentence-start chunks", "product", REFERENCE_SETS),
            ("calibrated on main's corpus + sentence-start chunks, twice", "product", twice)):
        present = [r for r in reference if f"{r}/n_words" in data]
        if present in seen[1:]:
            continue  # the second corpus was not collected (or only some of its kinds: the label says which)
        seen.append(present)
        if "twice" in label:
            label += " (" + ", ".join(f"{r} {len(data[f'{r}/n_words'])}" for r in present) + ")"
        v = values(data, predictor, calibrate, reference)
        results[label] = {"length_r2": length_r2(v, data, names), "planted": planted(v, data, pairs, names),
                          "subject_spread_ratio": spread_ratio(v, [r for r in reference if r.rstrip("2") == "reference"])}
    v = values(data, predictor, "product", REFERENCE_SETS)
    results["the corpus' own kinds: in sample (seed 0) and new draws (seed 1, those collected), calibrated on seed 0"] = {
        "in sample": length_r2(v, data, names, kinds=[(n, (n,)) for n in REFERENCE_SETS]),
        "new draws": length_r2(v, data, names, kinds=[(n, (n + "2",)) for n in REFERENCE_SETS if n + "2" in v])}
    word_list_kinds = {"120 word lists (the product)": "wordlists", "240 word lists": "wordlists_240",
                       "240 word lists on the test's length grid (24 per length)": "wordlists_grid"}
    results["the corpus' word-list kind (drawn from the held-out stories' words): [median, max] R^2 per kind and subject"] = {
        label: length_r2_summary(length_r2(values(data, predictor, "product", (*REFERENCE_SETS[:2], REFERENCE_SETS[3], name)),
                                           data, names))
        for label, name in word_list_kinds.items() if f"{name}/n_words" in data}
    results["degree of the length polynomial: [median, max] R^2 per kind and subject (product corpus)"] = {
        str(degree): length_r2_summary(length_r2(values(data, predictor, "product", REFERENCE_SETS, degree=degree), data, names))
        for degree in (1, 2, 3, 4, 5)}
    for label, reference in (("the product's corpus", REFERENCE_SETS),
                             ("+ the other 240 sentences and word lists as corpus kinds", (*REFERENCE_SETS, "sentences2", "lists2"))):
        v = values(data, predictor, "product", reference)
        results.setdefault("which kinds: read on the first 240 sentences and word lists", {})[label] = length_r2(v, data, names, halves=True)
    results["prefix"] = prefix_comparisons(twin, predictor)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    previous = {k: v for k, v in previous.items() if not k.startswith("issue 20")}  # earlier runs stay (main's: "main ...")
    write_json_atomic(out, {**previous, "issue 20 (calibration, held-out twin)": results})
    print(json.dumps(results, indent=1))


def prefix_only(twin: Path, out: Path) -> None:
    """The prefix comparisons alone, from collections of the SWAP sets."""
    predictor = predictor_for(twin, prefixes()["A"])
    prefix = prefix_comparisons(twin, predictor)
    results = {"benchmark": "issue 20 item 3: prefix swaps, one passage / averaged / side by side (SmolLM2-135M, CPU)",
               "twin": "benchmarks/calibration_twin.py: 2 subjects x 12 stories x 400 voxels, seed 0",
               "command": "; ".join(f"benchmarks/length_confound.py collect TWIN --prefix {label} --sets {','.join(sets)} --limit "
                                    f"{max(sets.values())}" for label, sets in prefix["collected"].items())
                          + "; benchmarks/length_confound.py prefix TWIN --out THIS",
               "prefix": prefix}
    write_json_atomic(out, results)
    print(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["collect", "analyse", "prefix"])
    parser.add_argument("twin", type=Path)
    parser.add_argument("--prefix", default="A", help="a passage label (A..K), labels joined by + (read in that order) or by , (side by side)")
    parser.add_argument("--sets", help=f"comma-separated text sets to collect (default: all; SWAP = {SWAP})")
    parser.add_argument("--limit", type=int, help="collect only the first LIMIT texts of each set")
    parser.add_argument("--product", default="A", help="analyse: the context label of the product's protocol")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "length_confound_smollm2.json")
    args = parser.parse_args()
    if args.stage == "collect":
        sets = None if not args.sets else (SWAP if args.sets == "SWAP" else args.sets).split(",")
        collect(args.twin, args.prefix, sets, args.limit)
    elif args.stage == "prefix":
        prefix_only(args.twin, args.out)
    else:
        analyse(args.twin, args.out, args.product)


if __name__ == "__main__":
    main()
