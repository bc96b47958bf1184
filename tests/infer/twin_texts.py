"""Texts and planted truth of a synthetic twin (neurofin.data.synth) for the calibration tests and benchmarks.

All texts use the twin's built-in vocabulary; `seed` here is not the twin's seed, so the texts are held out from
every story the packages were fitted or calibrated on:
  * neutral sentences: the synth grammar's sentences over random topics, cut to n words;
  * word lists: n vocabulary words drawn at random;
  * class texts: word lists with a given share of one category's words (the planted word class);
  * comment-like text: stories of another twin (other seed) cut into chunks of 3-300 words.
`build_twin` writes the twin and its SmolLM2 packages (the demo's steps 1-2). `planted_effect` reads the truth: a category's mean planted response in each region (category words minus the
other words, through the subject's planted weights, averaged over the region's voxels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurofin.data.synth import TOPIC_CATEGORIES, SynthSpec, _sentence, build_vocabulary, generate_story
from neurofin.infer.calibration import story_chunks

LENGTHS = [3, 5, 8, 13, 20, 33, 55, 90, 150, 300]


def twin_vocabulary(synth: Path):
    truth = json.loads((synth / "truth" / "truth.json").read_text())
    seed = int(truth.get("seed", 0))
    spec = SynthSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in truth.get("spec", {}).items()}) if "spec" in truth else SynthSpec()
    return build_vocabulary(seed, spec.semantic_dim), spec


def sentence_texts(vocab, lengths=LENGTHS, per_length: int = 8, seed: int = 101) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, n = [], []
    for length in lengths:
        for _ in range(per_length):
            topics = list(rng.choice(TOPIC_CATEGORIES, size=2, replace=False))
            words: list[str] = []
            while len(words) < length:
                words += _sentence(rng, vocab, topics)
            texts.append(" ".join(words[:length]))
            n.append(length)
    return texts, np.asarray(n)


def word_list_texts(vocab, lengths=LENGTHS, per_length: int = 8, seed: int = 102) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(vocab.words, length)) for length in lengths for _ in range(per_length)]
    return texts, np.repeat(lengths, per_length)


def class_texts(vocab, category: str, shares=(0.0, 0.5, 1.0), lengths=(5, 20, 80, 300), per_cell: int | tuple[int, ...] = 5,
                seed: int = 103) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Word lists with `share` of `category` words, `per_cell` texts per share and length (or one count per length:
    short texts vary more); returns texts, shares, lengths."""
    rng = np.random.default_rng(seed)
    members = [w for w, c in zip(vocab.words, vocab.categories) if c == category]
    others = [w for w, c in zip(vocab.words, vocab.categories) if c not in (category, "function")]
    counts = per_cell if isinstance(per_cell, tuple) else (per_cell,) * len(lengths)
    texts, s_out, n_out = [], [], []
    for share in shares:
        for length, count in zip(lengths, counts):
            for _ in range(count):
                k = int(round(share * length))
                words = list(rng.choice(members, k)) + list(rng.choice(others, length - k))
                texts.append(" ".join(rng.permutation(words)))
                s_out.append(share)
                n_out.append(length)
    return texts, np.asarray(s_out), np.asarray(n_out)


def comment_like_texts(vocab, n_texts: int = 120, seed: int = 104) -> list[str]:
    """Chunks of 3-300 words of stories generated with another seed (held out from the twin)."""
    spec = SynthSpec()
    stories = [generate_story(f"held{i}", seed, i, vocab, spec) for i in range(4)]
    words = [[w for _, _, w in story.words_tier if w != "sp" and any(ch.isalnum() for ch in w)] for story in stories]
    return story_chunks(words, n_texts, seed)


def planted_effect(synth: Path, subject: str, vocab, category: str, region_matrix: np.ndarray) -> np.ndarray:
    """(n_regions,) planted response of the category's words minus the other content words, averaged per region."""
    from safetensors.numpy import load_file

    weights = load_file(str(synth / "truth" / f"{subject}.safetensors"))["weights"].astype(np.float64)
    cats = np.asarray(vocab.categories)
    vectors = vocab.vectors.astype(np.float64)
    direction = vectors[cats == category].mean(0) - vectors[(cats != category) & (cats != "function")].mean(0)
    return (direction @ weights) @ region_matrix


def build_twin(out: Path, subjects: int = 2, stories: int = 12, voxels: int = 400, seed: int = 0,
               validation_stories: int | None = None) -> list[Path]:
    """Synthetic twin -> registration -> SmolLM2 features (demo settings) -> one package per subject (out/models).

    `validation_stories` overrides the demo's 3 (with the test story they are the held-out stories the calibration
    corpus is cut from)."""
    import warnings

    from neurofin.atlas import subject_atlas
    from neurofin.data.synth import make_synthetic_dataset
    from neurofin.demo import demo_settings
    from neurofin.encoding.train import AlphaGridWarning, cached_feature_source
    from neurofin.pipeline import train_package

    dataset = make_synthetic_dataset(out / "synth", subjects, stories, voxels, seed, overwrite=True)
    settings = demo_settings(out, dataset.root)
    if validation_stories is not None:
        settings.encoding.validation_stories = validation_stories
    for subject in dataset.subjects():
        subject_atlas(dataset, subject, settings.atlas.cache_dir)
    features = cached_feature_source(dataset, settings)
    packages = []
    for subject in dataset.subjects():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlphaGridWarning)
            packages.append(train_package(dataset, subject, settings, out / "models", features))
    return packages


def learned_effect(twin: Path, readout, vocab, category: str) -> np.ndarray:
    """(n_regions,) what the package learned: the readout of the category's words minus the other content words,
    on the in-story LM features of the stories the package was fitted on (the training condition, no inference path),
    in SDs of the per-word readout values.

    A planted (class, region) pair whose learned sign differs from the planted one was not learned by the encoding
    model (12 stories are few); the inference path cannot be asked to recover it."""
    from safetensors.numpy import load_file

    from neurofin.data.layout import find_dataset
    from neurofin.demo import demo_settings
    from neurofin.encoding.package import EncodingModel
    from neurofin.features.cache import story_features

    model = EncodingModel.load(twin / "models" / readout.subject)
    dataset = find_dataset(twin / "synth")
    settings = demo_settings(twin, dataset.root)
    stories = list(model.record.split.train)
    features = story_features(dataset, stories, settings.features, settings.features.cache_dir)
    index = load_file(str(twin / "synth" / "truth" / "words.safetensors"))
    cats = np.asarray(vocab.categories)
    inside, outside = [], []
    for story in stories:
        values = features[story].values
        words = cats[index[f"{story}/word_index"]]
        assert len(words) == values.shape[0], story
        per_word = values.reshape(values.shape[0], -1).astype(np.float64) @ readout.gain
        inside.append(per_word[words == category])
        outside.append(per_word[(words != category) & (words != "function")])
    with np.errstate(invalid="ignore", divide="ignore"):  # regions without voxels: 0 / 0
        effect = (np.vstack(inside).mean(axis=0) - np.vstack(outside).mean(axis=0)) / np.vstack(inside + outside).std(axis=0)
    effect[readout.empty] = np.nan
    return effect


def learned_pairs(twin: Path, readouts, region_names: list[str], vocab, categories) -> list[tuple[str, str, dict, dict]]:
    """Per category: among the regions with the same planted sign in every subject that every package learned with
    that sign (`learned_effect`), the best learned one (largest smallest learned effect over subjects);
    (category, region, planted per subject, learned per subject)."""
    from neurofin.encoding.package import EncodingModel
    from neurofin.infer.predictor import AtlasRegions

    regions = AtlasRegions.open(None, "rois", None, None, None)
    matrices = {r.subject: regions.matrix(EncodingModel.load(twin / "models" / r.subject), r.subject)[0] for r in readouts}
    pairs = []
    for category in categories:
        planted = np.stack([planted_effect(twin / "synth", r.subject, vocab, category, matrices[r.subject]) for r in readouts])
        learned = np.stack([learned_effect(twin, r, vocab, category) for r in readouts])
        agree = (np.abs(np.sign(planted).sum(axis=0)) == len(readouts)) & (np.sign(planted) == np.sign(learned)).all(axis=0)
        j = int(np.argmax(np.where(agree, np.nan_to_num(np.abs(learned)).min(axis=0), -1)))
        pairs.append((category, region_names[j], {r.subject: round(float(e[j]), 4) for r, e in zip(readouts, planted)},
                      {r.subject: round(float(e[j]), 4) for r, e in zip(readouts, learned)}))
    return pairs
