"""Does text length (or the context prefix) move calibrated ROI values? The real SmolLM2 on a held-out synthetic twin.

Issue 20, items 2-4. TWIN is a folder made by benchmarks/calibration_twin.py (2 subjects x 12 stories x 400 voxels,
demo feature settings). Two stages, so the LM runs once per prefix and every protocol is compared on the same texts:

    PYTHONPATH=src python benchmarks/length_confound.py collect TWIN --prefix A   # LM pass, TWIN/collect_A.npz
    PYTHONPATH=src python benchmarks/length_confound.py collect TWIN --prefix B
    PYTHONPATH=src python benchmarks/length_confound.py analyse TWIN              # -> results JSON

Prefix A is the packaged neutral story (infer.context_prefix = neutral_story), B another neutral passage (the first
paragraph of benchmarks/data/story_passage.txt). Text sets (tests/infer/twin_texts.py; seeds other than the twin's):
reference = held-out story text of the twin (validation + test stories) in chunks of 3-300 words, the calibration
corpus of `neurofin calibrate`; sentences and word lists of 3-300 words; class texts (0/50/100% of one category's
words, 5-300 words); comment-like = chunks of another twin's stories. `collect` stores each text's readout-weighted
feature sums per subject; `analyse` reads the packages' readouts and reports, "before" (raw readout values, as on
main) and "after" (calibrated on the reference corpus of the same prefix, as `neurofin calibrate` does):
  * R^2 of log(n_words) per subject x ROI and ensemble over sentences and word lists (item 2);
  * for planted (class, ROI) pairs: class effect (0 -> 100% class words) vs length effect (5 -> 300 words) (item 2);
  * sign flips and Spearman rank agreement of text x ROI values between prefixes A and B (item 3);
  * per ROI, the ratio of the subjects' spreads on comment-like text (item 4).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "infer"))

from twin_texts import class_texts, comment_like_texts, sentence_texts, twin_vocabulary, word_list_texts  # noqa: E402

from neurofin.io import write_json_atomic  # noqa: E402

CLASSES = ("family", "weather")  # planted categories with the strongest same-sign (ROI) effects in both subjects
REFERENCE_TEXTS = 240


def prefixes() -> dict[str, str]:
    from neurofin.infer.text import NEUTRAL_STORY

    return {"A": NEUTRAL_STORY, "B": (HERE / "data" / "story_passage.txt").read_text().splitlines()[0]}


def predictor_for(twin: Path, prefix: str):
    from neurofin.encoding.package import package_dirs
    from neurofin.infer.predictor import Predictor

    return Predictor.from_packages(package_dirs(twin / "models"), context_prefix=prefix, max_words=300,
                                   feature_overrides={"device": "cpu"})


def text_sets(twin: Path) -> dict[str, tuple[list[str], dict[str, np.ndarray]]]:
    from neurofin.data.layout import find_dataset
    from neurofin.encoding.package import EncodingModel, package_dirs
    from neurofin.infer.calibration import reference_texts

    vocab, _ = twin_vocabulary(twin / "synth")
    records = [EncodingModel.load(p).record for p in package_dirs(twin / "models")]
    texts, kinds, _ = reference_texts(find_dataset(twin / "synth"), records, REFERENCE_TEXTS)
    reference, scrambled = [t for t, k in zip(texts, kinds) if k == 0], [t for t, k in zip(texts, kinds) if k == 1]
    sets: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {"reference": (reference, {}), "scrambled": (scrambled, {})}
    for name, make in (("sentences", sentence_texts), ("lists", word_list_texts)):
        texts, _ = make(vocab)
        sets[name] = (texts, {})
    for category in CLASSES:
        texts, shares, _ = class_texts(vocab, category, per_cell=4)
        sets[f"class_{category}"] = (texts, {"share": shares})
    sets["comment_like"] = (comment_like_texts(vocab, 120), {})
    return sets


def collect(twin: Path, label: str) -> None:
    """One LM pass over every text set under prefix `label`: per subject the readout-weighted feature sums."""
    from neurofin.infer.text import comment_words

    predictor = predictor_for(twin, prefixes()[label])
    group = predictor.groups[0]
    arrays: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    for name, (texts, extra) in text_sets(twin).items():
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
        print(f"{label} {name}: {len(texts)} texts, {time.perf_counter() - start:.0f} s", flush=True)
    np.savez(twin / f"collect_{label}.npz", **arrays)


def load(twin: Path, label: str) -> dict[str, np.ndarray]:
    with np.load(twin / f"collect_{label}.npz") as data:
        return dict(data)


def raw_values(data: dict[str, np.ndarray], readout, name: str) -> np.ndarray:
    """(n_texts, n_regions) raw readout values of one text set."""
    return readout.apply(data[f"{name}/{readout.subject}/sums"], data[f"{name}/{readout.subject}/coverage"])


def values(data: dict[str, np.ndarray], predictor, protocol: str) -> dict[str, dict[str, np.ndarray]]:
    """set -> subject (incl. ensemble) -> values under `protocol`: raw, or calibrated on the reference set(s)."""
    from neurofin.infer.calibration import Calibration, fit_calibration

    sets = sorted({k.split("/")[0] for k in data})
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in sets}
    for readout in predictor.groups[0].readouts:
        if protocol == "raw":
            for name in sets:
                out[name][readout.subject] = raw_values(data, readout, name)
            continue
        reference = ["reference", "scrambled"]
        sums = np.vstack([data[f"{n}/{readout.subject}/sums"] for n in reference])
        coverage = np.concatenate([data[f"{n}/{readout.subject}/coverage"] for n in reference])
        n_words = np.concatenate([data[f"{n}/n_words"] for n in reference])
        groups = np.concatenate([np.full(len(data[f"{n}/n_words"]), i) for i, n in enumerate(reference)])
        if protocol == "baseline only":  # the length baseline, no projection of the length directions
            calibration = Calibration.fit(readout.subject, predictor.region_names, "", readout.apply(sums, coverage), n_words, {})
        else:
            calibration = fit_calibration(readout, predictor.region_names, "", sums, coverage, n_words, groups, {})
        calibrated = calibration.readout(readout)
        for name in sets:
            raw = raw_values(data, calibrated, name)
            out[name][readout.subject] = calibration.apply(raw, data[f"{name}/n_words"])
    for name in sets:
        out[name]["ensemble"] = np.nanmean(np.stack(list(out[name].values())), axis=0)
    return out


def r2_log_length(v: np.ndarray, n_words: np.ndarray) -> np.ndarray:
    """(n_regions,) R^2 of log(n_words) per region (finite regions only)."""
    x = np.log(n_words)
    return np.array([np.corrcoef(x, v[:, j])[0, 1] ** 2 for j in range(v.shape[1]) if np.isfinite(v[:, j]).all()])


def planted_pairs(twin: Path, predictor, vocab) -> list[tuple[str, str, dict[str, float]]]:
    """Per class: the ROI with the largest same-sign planted effect in every subject, and the effects."""
    from twin_texts import planted_effect

    from neurofin.encoding.package import EncodingModel, package_dirs
    from neurofin.infer.predictor import AtlasRegions

    regions = AtlasRegions.open(None, "rois", None, None, None)
    matrices = {}
    for package in package_dirs(twin / "models"):
        model = EncodingModel.load(package)
        matrices[model.subject] = regions.matrix(model, model.subject)[0]
    pairs = []
    for category in CLASSES:
        effects = {s: planted_effect(twin / "synth", s, vocab, category, m) for s, m in matrices.items()}
        stacked = np.stack(list(effects.values()))
        same = np.abs(np.sign(stacked).sum(axis=0)) == len(effects)
        strength = np.where(same, np.abs(stacked).min(axis=0), -1)
        j = int(np.argmax(strength))
        pairs.append((category, predictor.region_names[j], {s: round(float(e[j]), 4) for s, e in effects.items()}))
    return pairs


def summarise(twin: Path, predictor, vocab, a: dict[str, np.ndarray], b: dict[str, np.ndarray] | None, protocol: str) -> dict:
    va = values(a, predictor, protocol)
    vb = values(b, predictor, protocol) if b is not None else None
    names = predictor.region_names
    result: dict = {"length_r2": {}, "planted": [], "prefix": {}, "subject_spread_ratio": {}}
    for name in ("sentences", "lists"):
        n_words = a[f"{name}/n_words"]
        result["length_r2"][name] = {s: {"median": round(float(np.median(r2_log_length(v, n_words))), 4),
                                         "max": round(float(r2_log_length(v, n_words).max()), 4)}
                                     for s, v in va[name].items()}
    for category, roi, truth in planted_pairs(twin, predictor, vocab):
        name, j = f"class_{category}", names.index(roi)
        share, n_words = a[f"{name}/share"], a[f"{name}/n_words"]
        row: dict = {"class": category, "roi": roi, "planted_effect": truth, "subjects": {}}
        for s, v in va[name].items():
            cell = {(sh, n): v[(share == sh) & (n_words == n), j].mean() for sh in np.unique(share) for n in np.unique(n_words)}
            by_share = [np.mean([cell[(sh, n)] for n in np.unique(n_words)]) for sh in np.unique(share)]
            by_length = [np.mean([cell[(sh, n)] for sh in np.unique(share)]) for n in np.unique(n_words)]
            row["subjects"][s] = {"class_effect": round(float(by_share[-1] - by_share[0]), 4),
                                  "length_effect": round(float(by_length[-1] - by_length[0]), 4),
                                  "means_by_share": [round(float(x), 4) for x in by_share],
                                  "means_by_length": [round(float(x), 4) for x in by_length]}
        result["planted"].append(row)
    from scipy.stats import spearmanr

    for name in ("comment_like", "sentences") if vb is not None else ():
        per = {}
        for s in va[name]:
            x, y = va[name][s], vb[name][s]
            ok = np.isfinite(x).all(axis=0)
            flips = float(np.mean(np.sign(x[:, ok]) != np.sign(y[:, ok])))
            ranks = np.array([spearmanr(x[:, j], y[:, j])[0] for j in np.flatnonzero(ok)])
            per[s] = {"sign_flips": round(flips, 4), "rank_median": round(float(np.median(ranks)), 4),
                      "rank_min": round(float(ranks.min()), 4)}
        result["prefix"][name] = per
    spreads = {s: v.std(axis=0) for s, v in va["comment_like"].items() if s != "ensemble"}
    ratio = np.nanmax(np.stack(list(spreads.values())), axis=0) / np.nanmin(np.stack(list(spreads.values())), axis=0)
    result["subject_spread_ratio"] = {"median": round(float(np.nanmedian(ratio)), 3), "max": round(float(np.nanmax(ratio)), 3)}
    return result


def analyse(twin: Path, out: Path) -> None:
    vocab, _ = twin_vocabulary(twin / "synth")
    predictor = predictor_for(twin, prefixes()["A"])
    a = load(twin, "A")
    b = load(twin, "B") if (twin / "collect_B.npz").is_file() else None
    results = {"benchmark": "issue 20 calibration: length, planted class, prefix, subjects (SmolLM2-135M, CPU)",
               "twin": "benchmarks/calibration_twin.py: 2 subjects x 12 stories x 400 voxels, seed 0",
               "command": "benchmarks/length_confound.py collect TWIN --prefix A; ... --prefix B; ... analyse TWIN",
               "texts": {k.split("/")[0]: int(v.size) for k, v in a.items() if k.endswith("n_words")}}
    for label, protocol in (("before (raw readout, as on main)", "raw"), ("length baseline only (not chosen)", "baseline only"),
                            ("after (calibrated: length directions projected out, length baseline, scale)", "calibrated")):
        results[label] = summarise(twin, predictor, vocab, a, b, protocol)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    previous = {k: v for k, v in previous.items() if not k.startswith("issue 20")}  # earlier issues' runs stay
    write_json_atomic(out, {**previous, "issue 20 (calibration, held-out twin)": results})
    print(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["collect", "analyse"])
    parser.add_argument("twin", type=Path)
    parser.add_argument("--prefix", choices=["A", "B"], default="A")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "length_confound_smollm2.json")
    args = parser.parse_args()
    if args.stage == "collect":
        collect(args.twin, args.prefix)
    else:
        analyse(args.twin, args.out)


if __name__ == "__main__":
    main()
