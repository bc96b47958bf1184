"""A synthetic ds003020 twin with a planted ground truth, for the demo, the tests and the benchmarks.

`make_synthetic_dataset(out, ...)` writes, in exactly the OpenNeuro ds003020 layout (docs/REFERENCE.md section 1):

    out/ds003020/derivative/respdict.json                          {story: raw TR count n_raw}
    out/ds003020/derivative/TextGrids/<story>.TextGrid             long Praat format, tier 0 "phones", tier 1 "words"
    out/ds003020/derivative/preprocessed_data/UTSnn/<story>.hf5    "data" (n_raw - 20, V) float32
    out/ds003020/derivative/preprocessed_data/UTSnn/wheretheressmoke.hf5
                                                                   + "individual_repeats" (n_repeats, T, V) float64
    out/ds003020/derivative/pycortex-db/UTSnn/anatomicals/raw.nii.gz          nilearn's MNI152 2009 template, 2 mm
    out/ds003020/derivative/pycortex-db/UTSnn/transforms/UTSnn_auto/reference.nii.gz   template on the functional grid
    .../UTSnn_auto/mask_thick.nii.gz, mask_thin.nii.gz             exactly V cortical voxels (Schaefer label > 0)
    .../UTSnn_auto/matrices.xfm                                    {"coord": anatomical mm -> functional voxel index,
                                                                    "magnet": anatomical mm -> functional world mm}

and the truth beside it (never under derivative/):

    out/truth/truth.json            parameters, seed, HRF, vocabulary (word, category), stories, and per subject the
                                    SNR and oracle-r summaries and the indices of the "good" voxels
    out/truth/words.safetensors     "word_vectors" (n_vocab, semantic_dim) float32; per story "<story>/word_times"
                                    (word midpoints, s from sound onset) and "<story>/word_index" (into the vocabulary)
    out/truth/UTSnn.safetensors     "weights" (semantic_dim, V), "snr", "ar_rho", "good" (V,),
                                    "clean/<story>" (T, V) noise-free responses, "oracle_r_repeat_mean" and
                                    "oracle_r_single" (V,): r of the noise-free response with the test story's
                                    repeat mean and (averaged) with its single repeats

Generative model (planted truth). Story text comes from a small grammar over a built-in vocabulary of common
English words in semantic categories; each story dwells on a few topic categories. Each vocabulary word has a
semantic vector (category centroid + word-specific part). Every spoken word is an impulse at its interval
midpoint carrying its vector; the semantic time course is these impulses convolved with the canonical
double-gamma HRF h(t) = g(t; 6) - g(t; 16) / 6 (g = gamma pdf, scale 1 s: peak ~5 s, undershoot ~15 s),
evaluated exactly at the TR centres of the reference grid: row i of a story with n_raw TRs sits at
`tr_centres(n_raw)[10 + i]` = 2 i + 11 s after sound onset. Response = features @ W (W per subject, scaled so the
signal has variance snr/(1+snr) over all stories) + AR(1) noise (variance 1/(1+snr), rho per voxel), then z-scored
within each story (the training stories' "data"; each test repeat is z-scored on its own and "data" is their mean).
"clean/<story>" is features @ W before z-scoring. A minority of voxels are "good" (log-uniform SNR in
`good_snr`, drawn preferably from the Default network); the rest are weak (`weak_snr`) or pure noise (W = 0).
"""

from __future__ import annotations

import gzip
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neurofin.config import TEST_STORY
from neurofin.data.layout import DATASET_NAME, REPEATS_KEY, RESPONSE_KEY, Dataset
from neurofin.errors import DataError
from neurofin.io import atomic_path, write_bytes_atomic, write_json_atomic
from neurofin.progress import Progress, report
from neurofin.timing import tr_centres, trim

if TYPE_CHECKING:
    from nibabel import Nifti1Image

ATLAS_VOLUME = "Schaefer2018_1000Parcels_7Networks_order_FSLMNI152_2mm.nii.gz"
ATLAS_LABELS = "Schaefer2018_1000Parcels_7Networks_labels.tsv"
FUNCTIONAL_VOXEL_MM = (4.0, 3.0, 2.5, 2.0)  # the coarsest grid with enough cortical voxels is used
TRUTH_DIR = "truth"

# Built-in vocabulary: category -> part of speech -> words. Every word belongs to exactly one category.
VOCABULARY: dict[str, dict[str, str]] = {
    "money": {
        "noun": "money price market stock bank cash debt loan rent profit budget tax salary investor fund "
        "cost bill wallet coin dollars economy shares trader mortgage savings",
        "verb": "paid bought sold borrowed invested earned owed spent",
    },
    "family": {
        "noun": "mother father sister brother son daughter wife husband grandmother grandfather uncle aunt "
        "cousin baby family parents kids mom dad",
    },
    "places": {
        "noun": "house city town kitchen school street river village office hospital church park station farm "
        "apartment beach bridge road garden miles",
    },
    "emotions": {
        "adj": "happy sad angry afraid proud lonely nervous excited ashamed calm scared glad",
        "noun": "love fear joy anger hope worry grief",
        "verb": "loved hated missed worried laughed cried",
    },
    "body": {
        "noun": "hand face eyes heart head arm leg foot back mouth hair skin shoulder stomach blood knee "
        "finger teeth",
        "adj": "sick tired hurt hungry",
    },
    "food": {
        "noun": "bread coffee dinner breakfast apple soup meat rice cheese cake milk sandwich pizza tea eggs "
        "sugar butter potatoes",
        "verb": "ate drank cooked baked",
    },
    "weather": {
        "noun": "rain snow wind sun cloud storm fog thunder sky ice weather winter summer",
        "adj": "cold warm wet dry",
    },
    "numbers": {
        "num": "one two three four five six seven eight nine ten twenty fifty hundred thousand million "
        "3 12 40 100 1987 2008",
    },
    "time": {
        "noun": "morning night evening week month year hour minute day years days minutes",
        "adv": "yesterday tomorrow today always never later early",
    },
    "animals": {
        "noun": "dog cat horse bird fish cow chicken rabbit wolf bear mouse snake deer pig",
    },
    "actions": {
        "verb": "walked ran said told saw looked took gave found lost called asked wanted needed remembered "
        "forgot opened closed carried watched heard felt thought knew waited left",
    },
    "description": {
        "adj": "old big small new little long good bad strange quiet dark bright empty heavy",
    },
    "function": {
        "det": "the a this that my your his her our their",
        "pron": "i you he she we they",
        "prep": "in on at with from to near behind into under",
        "conj": "and but so because when if",
        "aux": "was were is had",
        "contraction": "i'm it's we're she's they're",
        "neg": "don't didn't can't wasn't couldn't",
        "adv": "very just really not then there",
        "other": "about why that's every like it",
    },
}
TOPIC_CATEGORIES = ("money", "family", "places", "body", "food", "weather", "animals", "emotions")
NUMBER_UNITS = ("dollars", "years", "days", "minutes", "miles")
CONTENT_SCALE = {"function": 0.5}  # function words carry weaker semantic vectors

# Sentence templates: "<pos>" draws from the paragraph's topic categories, "<category:pos>" from one category,
# anything else is a literal word. "," and "." attach to the previous word.
TEMPLATES: tuple[str, ...] = (
    "<function:pron> <actions:verb> <function:det> <noun> <function:prep> <function:det> <places:noun> .",
    "<function:det> <noun> <function:aux> <adj> .",
    "when <function:pron> <verb> <function:det> <noun> , <function:pron> <function:aux> <emotions:adj> .",
    "<function:contraction> <function:adv> <emotions:adj> about <function:det> <noun> .",
    "<function:pron> <verb> <numbers:num> <unit> <time:adv> .",
    "my <family:noun> <verb> <function:det> <noun> <function:prep> <function:det> <places:noun> <time:adv> .",
    "<function:pron> <actions:verb> that <function:det> <noun> <function:aux> <adj> .",
    "and then <function:pron> <actions:verb> .",
    "that <time:noun> , <function:pron> <actions:verb> <function:det> <noun> .",
    "why <function:aux> <function:det> <noun> so <adj> ?",
    "<function:pron> <function:neg> <actions:verb> <function:det> <noun> , but <function:pron> <emotions:verb> it .",
    "every <time:noun> <function:pron> <verb> <function:det> <adj> <noun> with my <family:noun> .",
    "it's like <function:det> <noun> in <function:det> <weather:noun> !",
    "<function:pron> <actions:verb> <function:det> <body:noun> and <function:pron> <function:aux> <body:adj> .",
)
FALLBACK_SLOTS = {"noun": ("places", "noun"), "verb": ("actions", "verb"), "adj": ("description", "adj")}

LETTER_PHONES = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz0123456789'",
        ["AE1", "B", "K", "D", "EH1", "F", "G", "HH", "IH1", "JH", "K", "L", "M", "N", "AA1", "P", "K", "R", "S", "T", "AH1", "V", "W", "K", "Y", "Z", "W", "T", "T", "F", "F", "S", "S", "EY1", "N"]
        + ["T"],
    )
)


@dataclass(frozen=True)
class SynthSpec:
    """Parameters of the generative model (all recorded in truth.json)."""

    n_repeats: int = 10
    semantic_dim: int = 24
    story_seconds: tuple[float, float] = (120.0, 240.0)
    good_fraction: float = 0.15
    noise_fraction: float = 0.40
    good_snr: tuple[float, float] = (0.1, 1.0)
    weak_snr: tuple[float, float] = (0.005, 0.05)
    ar_rho: tuple[float, float] = (0.3, 0.6)
    default_network_preference: float = 3.0  # good voxels are this much likelier in the Default network
    hrf_shapes: tuple[float, float] = (6.0, 16.0)
    hrf_undershoot_ratio: float = 1.0 / 6.0
    tr_s: float = 2.0


@dataclass(frozen=True)
class Vocabulary:
    """The built-in words, their categories and parts of speech, and their planted semantic vectors."""

    words: list[str]
    categories: list[str]
    vectors: np.ndarray  # (n_words, semantic_dim)
    by_slot: dict[tuple[str, str], list[int]] = field(repr=False)

    def index(self, label: str) -> int:
        """Vocabulary index of a TextGrid word label (case and attached punctuation ignored)."""
        return self.words.index(word_key(label))


@dataclass(frozen=True)
class Story:
    """One generated story: its words tier, phones tier and the word events of the planted truth."""

    name: str
    words_tier: list[tuple[float, float, str]]
    phones_tier: list[tuple[float, float, str]]
    word_times: np.ndarray  # midpoints of the word intervals, s from sound onset
    word_index: np.ndarray  # vocabulary index per word
    duration_s: float

    @property
    def n_raw(self) -> int:
        """respdict TR count: the simulated grid (n_raw - 5 TRs from -10 s) reaches past the end of speech."""
        return math.ceil(self.duration_s / 2.0) + 10


def word_key(label: str) -> str:
    """The vocabulary key of a word label: lower case without attached punctuation."""
    return label.lower().strip(".,?!;:")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def build_vocabulary(seed: int, semantic_dim: int) -> Vocabulary:
    """The built-in vocabulary with semantic vectors = category centroid + word-specific part."""
    rng = _rng(seed, 1)
    words: list[str] = []
    categories: list[str] = []
    by_slot: dict[tuple[str, str], list[int]] = {}
    for category, slots in VOCABULARY.items():
        for pos, text in slots.items():
            for word in text.split():
                by_slot.setdefault((category, pos), []).append(len(words))
                words.append(word)
                categories.append(category)
    if len(set(words)) != len(words):
        raise AssertionError("the built-in vocabulary lists a word twice")
    names = list(VOCABULARY)
    centroids = rng.standard_normal((len(names), semantic_dim))
    specific = 0.6 * rng.standard_normal((len(words), semantic_dim))
    scale = np.array([CONTENT_SCALE.get(c, 1.0) for c in categories])[:, None]
    vectors = scale * (centroids[[names.index(c) for c in categories]] + specific) / np.sqrt(semantic_dim)
    return Vocabulary(words, categories, vectors.astype(np.float32), by_slot)


def story_names(seed: int, n_stories: int, vocab: Vocabulary) -> list[str]:
    """Pseudo-English story names like ds003020's ('winterbridge', 'mybrotherscoat'), unique, sorted."""
    rng = _rng(seed, 2)
    content = [w for w, c in zip(vocab.words, vocab.categories) if c not in ("function", "numbers")]
    names: set[str] = set()
    while len(names) < n_stories:
        parts = rng.choice(content, size=int(rng.integers(2, 4)), replace=False)
        name = "".join(parts).replace("'", "")
        if name != TEST_STORY and len(name) <= 24:
            names.add(name)
    return sorted(names)


def _sentence(rng: np.random.Generator, vocab: Vocabulary, topics: list[str]) -> list[str]:
    """Words of one sentence, with punctuation attached to the previous word."""
    out: list[str] = []
    for token in TEMPLATES[int(rng.integers(len(TEMPLATES)))].split():
        if token in ",.?!":
            out[-1] += token
            continue
        if not token.startswith("<"):
            out.append(token)
            continue
        slot = token[1:-1]
        if slot == "unit":
            out.append(NUMBER_UNITS[int(rng.integers(len(NUMBER_UNITS)))])
            continue
        if ":" in slot:
            kind, name = slot.split(":", 1)
            choices = vocab.by_slot[(kind, name)]
        else:
            topical = [vocab.by_slot[(t, slot)] for t in topics if (t, slot) in vocab.by_slot]
            choices = topical[int(rng.integers(len(topical)))] if topical else vocab.by_slot[FALLBACK_SLOTS[slot]]
        out.append(vocab.words[choices[int(rng.integers(len(choices)))]])
    return out


def _phones(word: str) -> list[str]:
    """Pseudo-ARPAbet phones of a word (letters mapped one by one, doubled letters merged)."""
    key = word_key(word)
    letters = [ch for i, ch in enumerate(key) if i == 0 or ch != key[i - 1]]
    return [LETTER_PHONES[ch] for ch in letters if ch in LETTER_PHONES] or ["AH0"]


def generate_story(name: str, seed: int, story_id: int, vocab: Vocabulary, spec: SynthSpec) -> Story:
    """Generate one story's text and speech timing (~2.5 words/s, pauses and non-speech markers between sentences)."""
    rng = _rng(seed, 3, story_id)
    target = float(rng.uniform(*spec.story_seconds))
    story_topics = list(rng.choice(TOPIC_CATEGORIES, size=3, replace=False))
    words: list[tuple[float, float, str]] = []
    phones: list[tuple[float, float, str]] = []
    times: list[float] = []
    index: list[int] = []
    t = round(float(rng.uniform(0.4, 1.2)), 4)
    sentence_no = 0
    while t < target:
        if sentence_no % 5 == 0:  # a new paragraph dwells on one or two of the story's topics
            topics = list(rng.choice(story_topics, size=int(rng.integers(1, 3)), replace=False))
        for label in _sentence(rng, vocab, topics):
            dur = (0.10 + 0.055 * len(word_key(label))) * float(rng.uniform(0.75, 1.25))
            start, stop = t, round(t + dur, 4)
            words.append((start, stop, label))
            times.append((start + stop) / 2.0)
            index.append(vocab.index(label))
            units = _phones(label)
            edges = np.round(np.linspace(start, stop, len(units) + 1), 4)
            phones.extend((float(a), float(b), p) for a, b, p in zip(edges[:-1], edges[1:], units))
            gap = round(float(rng.uniform(0.02, 0.12)), 4) if rng.random() < 0.3 else 0.0
            if gap > 0.08:
                words.append((stop, round(stop + gap, 4), "sp"))
                phones.append((stop, round(stop + gap, 4), "sp"))
            t = round(stop + gap, 4)
        t = _sentence_break(rng, t, words, phones)
        sentence_no += 1
    return Story(name, words, phones, np.array(times), np.array(index, dtype=np.int64), duration_s=round(t + 0.5, 4))


def _sentence_break(
    rng: np.random.Generator, t: float, words: list[tuple[float, float, str]], phones: list[tuple[float, float, str]]
) -> float:
    """Append a pause after a sentence: silence, sp, {br}, a {lg}, or sentence_end/sp/sentence_start markers."""
    pause = round(float(rng.uniform(0.25, 0.9)), 4)
    kind = rng.choice(["sp", "{br}", "", "markers", "{lg}"], p=[0.45, 0.2, 0.15, 0.15, 0.05])
    if kind == "markers":
        third = round(pause / 3.0, 4)
        labels = [("sentence_end", t, t + third), ("sp", t + third, t + 2 * third), ("sentence_start", t + 2 * third, t + pause)]
    elif kind == "{lg}":
        pause = round(pause + float(rng.uniform(0.6, 1.0)), 4)
        labels = [("{lg}", t, t + pause)]
    elif kind:
        labels = [(str(kind), t, t + pause)]
    else:
        labels = []  # left blank: praatio writes an empty interval
    for label, a, b in labels:
        words.append((round(a, 4), round(b, 4), label))
        phones.append((round(a, 4), round(b, 4), "sp"))
    return round(t + pause, 4)


def double_gamma_hrf(t: np.ndarray, spec: SynthSpec) -> np.ndarray:
    """Canonical double-gamma HRF at times `t` (s): g(t; 6) - g(t; 16)/6, zero for t <= 0."""
    t = np.asarray(t, dtype=np.float64)
    pos = np.clip(t, 1e-12, None)
    peak, under = spec.hrf_shapes
    g1 = np.exp((peak - 1) * np.log(pos) - pos - math.lgamma(peak))
    g2 = np.exp((under - 1) * np.log(pos) - pos - math.lgamma(under))
    return np.where(t > 0, g1 - spec.hrf_undershoot_ratio * g2, 0.0)


def semantic_features(story: Story, vocab: Vocabulary, spec: SynthSpec) -> np.ndarray:
    """(n_raw - 20, semantic_dim) HRF-convolved word vectors at the story's kept TR centres."""
    centres = trim(tr_centres(story.n_raw))
    kernel = double_gamma_hrf(centres[:, None] - story.word_times[None, :], spec)
    return kernel @ vocab.vectors[story.word_index].astype(np.float64)


def _ar1_noise(rng: np.random.Generator, n_trs: int, rho: np.ndarray) -> np.ndarray:
    """(n_trs, V) stationary AR(1) noise with unit variance and per-voxel coefficient rho."""
    innov = rng.standard_normal((n_trs, rho.size))
    out = np.empty_like(innov)
    out[0] = innov[0]
    scale = np.sqrt(1.0 - rho**2)
    for i in range(1, n_trs):
        out[i] = rho * out[i - 1] + scale * innov[i]
    return out


def _zscore(rows: np.ndarray) -> np.ndarray:
    return (rows - rows.mean(0)) / rows.std(0)


def _corr_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r per column; 0 where either column is constant."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    denom = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    return np.divide((a * b).sum(0), denom, out=np.zeros(a.shape[1]), where=denom > 0)


# ---------------------------------------------------------------- anatomy


@dataclass(frozen=True)
class Anatomy:
    """The shared anatomical template, the functional grid and its cortical (Schaefer) labels."""

    template: Nifti1Image  # nilearn's MNI152 2009 template at 2 mm
    reference: Nifti1Image  # the template resampled onto the functional grid
    labels_zyx: np.ndarray  # Schaefer parcel per functional voxel, pycortex (z, y, x) order
    parcel_network: dict[int, str]
    voxel_mm: float


def find_schaefer_atlas(atlas_dir: Path | None = None) -> tuple[Path, Path]:
    """The Schaefer 1000-parcel 7-network volume and labels: `atlas_dir`, or neurofin's package data."""
    import neurofin

    package = Path(neurofin.__file__).parent
    candidates = [atlas_dir] if atlas_dir is not None else []
    candidates += [package / "resources" / "atlas"]
    for folder in candidates:
        if (folder / ATLAS_VOLUME).is_file() and (folder / ATLAS_LABELS).is_file():
            return folder / ATLAS_VOLUME, folder / ATLAS_LABELS
    raise DataError(
        f"Schaefer atlas ({ATLAS_VOLUME} and {ATLAS_LABELS}) not found in {[str(c) for c in candidates]}: "
        "pass atlas_dir pointing at a folder that holds both files"
    )


def load_anatomy(n_voxels: int, atlas_dir: Path | None = None, voxel_mm: float | None = None) -> Anatomy:
    """MNI template, a functional grid (the coarsest of 4/3/2.5/2 mm with >= n_voxels cortical voxels) and its labels."""
    import nibabel as nib
    from nilearn import datasets, image

    volume_path, labels_path = find_schaefer_atlas(atlas_dir)
    template = datasets.load_mni152_template(resolution=2)
    atlas = nib.load(volume_path)
    parcel_network = {}
    for line in labels_path.read_text().splitlines()[1:]:
        index, name = line.split("\t")[:2]
        parcel_network[int(index)] = name.split("_")[2]
    counts = {}
    for mm in (voxel_mm,) if voxel_mm else FUNCTIONAL_VOXEL_MM:
        shape = tuple(int(math.ceil(s * 2.0 / mm)) for s in template.shape)
        affine = np.diag([mm, mm, mm, 1.0])
        affine[:3, 3] = template.affine[:3, 3]
        labels = image.resample_img(
            atlas, target_affine=affine, target_shape=shape, interpolation="nearest", force_resample=True, copy_header=True
        )
        labels_xyz = np.rint(np.asarray(labels.dataobj)).astype(np.int32)
        counts[mm] = int((labels_xyz > 0).sum())
        if counts[mm] >= n_voxels:
            reference = image.resample_img(
                template, target_affine=affine, target_shape=shape, interpolation="continuous", force_resample=True,
                copy_header=True,
            )
            reference = nib.Nifti1Image(np.asarray(reference.dataobj, dtype=np.float32), affine)
            return Anatomy(template, reference, labels_xyz.T.copy(), parcel_network, mm)
    raise DataError(f"{n_voxels} voxels is more than the cortex holds (cortical voxels per grid mm: {counts}): ask for fewer voxels (n_voxels)")


def _write_nifti(path: Path, img: Nifti1Image) -> None:
    img.header.set_xyzt_units("mm", "sec")
    write_bytes_atomic(path, gzip.compress(img.to_bytes(), mtime=0))


def write_pycortex_db(dataset: Dataset, subject: str, anatomy: Anatomy, mask_zyx: np.ndarray) -> None:
    """The subject's pycortex filestore: raw anatomy, reference volume, thick/thin masks and matrices.xfm."""
    import nibabel as nib

    base = dataset.pycortex_db / subject
    xfm_dir = base / "transforms" / f"{subject}_auto"
    _write_nifti(base / "anatomicals" / "raw.nii.gz", anatomy.template)
    _write_nifti(xfm_dir / "reference.nii.gz", anatomy.reference)
    affine = anatomy.reference.affine
    mask_img = nib.Nifti1Image(mask_zyx.T.astype(np.uint8), affine)
    _write_nifti(xfm_dir / "mask_thick.nii.gz", mask_img)
    _write_nifti(xfm_dir / "mask_thin.nii.gz", mask_img)
    coord = np.linalg.inv(affine)
    write_json_atomic(xfm_dir / "matrices.xfm", {"coord": coord.tolist(), "magnet": (affine @ coord).tolist()})


# ---------------------------------------------------------------- subjects


@dataclass(frozen=True)
class SubjectTruth:
    """A subject's planted mask, weights and voxel properties."""

    mask_zyx: np.ndarray
    weights: np.ndarray  # (semantic_dim, V), scaled to the voxel's SNR
    snr: np.ndarray
    ar_rho: np.ndarray
    good: np.ndarray


def plant_subject(
    seed: int, subject_id: int, n_voxels: int, anatomy: Anatomy, features: list[np.ndarray], spec: SynthSpec
) -> SubjectTruth:
    """Choose the subject's voxels and draw network-clustered weights, SNRs and noise autocorrelation."""
    rng = _rng(seed, 4, subject_id)
    cortical = np.flatnonzero(anatomy.labels_zyx.ravel() > 0)
    chosen = np.sort(rng.choice(cortical, size=n_voxels, replace=False))
    mask = np.zeros(anatomy.labels_zyx.size, dtype=bool)
    mask[chosen] = True
    parcels = anatomy.labels_zyx.ravel()[chosen]
    networks = sorted(set(anatomy.parcel_network.values()))
    network_idx = np.array([networks.index(anatomy.parcel_network[int(p)]) for p in parcels])
    dim = spec.semantic_dim
    network_patterns = rng.standard_normal((len(networks), dim))
    parcel_patterns = rng.standard_normal((max(anatomy.parcel_network) + 1, dim))
    raw = network_patterns[network_idx] + 0.7 * parcel_patterns[parcels] + 0.7 * rng.standard_normal((n_voxels, dim))
    signal_std = np.concatenate(features) @ raw.T
    raw = raw / signal_std.std(0)[:, None]

    n_good = int(round(spec.good_fraction * n_voxels))
    n_noise = int(round(spec.noise_fraction * n_voxels))
    preference = np.where(network_idx == networks.index("Default"), spec.default_network_preference, 1.0)
    good_idx = rng.choice(n_voxels, size=n_good, replace=False, p=preference / preference.sum())
    rest = rng.permutation(np.setdiff1d(np.arange(n_voxels), good_idx))
    weak_lo, weak_hi = (float(v) for v in np.log(spec.weak_snr))
    good_lo, good_hi = (float(v) for v in np.log(spec.good_snr))
    snr = np.exp(rng.uniform(weak_lo, weak_hi, size=n_voxels))
    snr[good_idx] = np.exp(rng.uniform(good_lo, good_hi, size=n_good))
    snr[rest[:n_noise]] = 0.0
    good = np.zeros(n_voxels, dtype=bool)
    good[good_idx] = True
    weights = (raw * np.sqrt(snr / (1.0 + snr))[:, None]).T
    rho = rng.uniform(*spec.ar_rho, size=n_voxels)
    return SubjectTruth(mask.reshape(anatomy.labels_zyx.shape), weights.astype(np.float32), snr, rho, good)


def _write_hf5(path: Path, data: np.ndarray, repeats: np.ndarray | None = None) -> None:
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset(RESPONSE_KEY, data=data.astype(np.float32))
        if repeats is not None:
            fh.create_dataset(REPEATS_KEY, data=repeats.astype(np.float64))


def write_textgrid(path: Path, story: Story) -> None:
    """Write a story's phones and words tiers as a long-format Praat TextGrid (praatio)."""
    from praatio import textgrid

    grid = textgrid.Textgrid()
    grid.addTier(textgrid.IntervalTier("phones", story.phones_tier, 0.0, story.duration_s))
    grid.addTier(textgrid.IntervalTier("words", story.words_tier, 0.0, story.duration_s))
    with atomic_path(path) as tmp:
        grid.save(str(tmp), format="long_textgrid", includeBlankSpaces=True, reportingMode="error")


def _summary(values: np.ndarray) -> dict[str, float]:
    return {k: round(float(f(values)), 4) for k, f in (("min", np.min), ("median", np.median), ("max", np.max))}


def make_synthetic_dataset(
    out: str | Path,
    n_subjects: int = 2,
    n_stories: int = 6,
    n_voxels: int = 500,
    seed: int = 0,
    *,
    spec: SynthSpec | None = None,
    atlas_dir: Path | None = None,
    voxel_mm: float | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Dataset:
    """Write a ds003020-shaped dataset with a planted ground truth under `out` (see the module docstring)."""
    from safetensors.numpy import save_file

    spec = spec or SynthSpec()
    if not (1 <= n_subjects <= 99 and n_stories >= 1 and n_voxels >= 10 and spec.n_repeats >= 2):
        raise DataError("synth needs 1-99 subjects, >= 1 story, >= 10 voxels and >= 2 repeats")
    out = Path(out)
    dataset = Dataset((out / DATASET_NAME).resolve())
    truth_dir = out / TRUTH_DIR
    if dataset.root.exists() or truth_dir.exists():
        if not overwrite:
            raise DataError(f"{dataset.root} or {truth_dir} already exists: pick another output folder or pass overwrite=True")
        shutil.rmtree(dataset.root, ignore_errors=True)
        shutil.rmtree(truth_dir, ignore_errors=True)

    vocab = build_vocabulary(seed, spec.semantic_dim)
    names = story_names(seed, n_stories, vocab) + [TEST_STORY]
    subjects = [f"UTS{i:02d}" for i in range(1, n_subjects + 1)]
    advance = report(progress).task("synthesising ds003020", total=len(names) + n_subjects * (len(names) + 1))
    stories = [generate_story(name, seed, i, vocab, spec) for i, name in enumerate(names)]
    for story in stories:
        write_textgrid(dataset.textgrid_path(story.name), story)
        advance(1)
    write_json_atomic(dataset.derivative / "respdict.json", {s.name: s.n_raw for s in stories})
    features = [semantic_features(s, vocab, spec) for s in stories]
    anatomy = load_anatomy(n_voxels, atlas_dir, voxel_mm)
    subject_records = {}
    for subject_id, subject in enumerate(subjects):
        truth = plant_subject(seed, subject_id, n_voxels, anatomy, features, spec)
        write_pycortex_db(dataset, subject, anatomy, truth.mask_zyx)
        advance(1)
        arrays = {"weights": truth.weights, "snr": truth.snr, "ar_rho": truth.ar_rho, "good": truth.good}
        noise_scale = np.sqrt(1.0 / (1.0 + truth.snr))
        for story_id, (story, feats) in enumerate(zip(stories, features)):
            rng = _rng(seed, 5, subject_id, story_id)
            clean = feats @ truth.weights.astype(np.float64)
            arrays[f"clean/{story.name}"] = clean.astype(np.float32)
            path = dataset.response_path(subject, story.name)
            if story.name != TEST_STORY:
                noise = _ar1_noise(rng, clean.shape[0], truth.ar_rho) * noise_scale
                _write_hf5(path, _zscore(clean + noise))
            else:
                repeats = np.stack(
                    [_zscore(clean + _ar1_noise(rng, clean.shape[0], truth.ar_rho) * noise_scale)
                     for _ in range(spec.n_repeats)]
                )
                _write_hf5(path, repeats.mean(0), repeats)
                arrays["oracle_r_repeat_mean"] = _corr_columns(clean, repeats.mean(0))
                arrays["oracle_r_single"] = np.mean([_corr_columns(clean, r) for r in repeats], axis=0)
            advance(1)
        with atomic_path(truth_dir / f"{subject}.safetensors") as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
        subject_records[subject] = {
            "n_voxels": n_voxels,
            "n_good": int(truth.good.sum()),
            "good_voxels": np.flatnonzero(truth.good).tolist(),
            "snr": _summary(truth.snr),
            "oracle_r_repeat_mean_good": _summary(arrays["oracle_r_repeat_mean"][truth.good]),
            "oracle_r_repeat_mean_other": _summary(arrays["oracle_r_repeat_mean"][~truth.good]),
            "oracle_r_single_good": _summary(arrays["oracle_r_single"][truth.good]),
        }

    word_arrays = {"word_vectors": vocab.vectors}
    for story in stories:
        word_arrays[f"{story.name}/word_times"] = story.word_times
        word_arrays[f"{story.name}/word_index"] = story.word_index
    with atomic_path(truth_dir / "words.safetensors") as tmp:
        save_file(word_arrays, str(tmp))
    write_json_atomic(
        truth_dir / "truth.json",
        {
            "format": 1,
            "seed": seed,
            "n_subjects": n_subjects,
            "n_stories": n_stories,
            "n_voxels": n_voxels,
            "spec": asdict(spec),
            "hrf": "h(t) = gamma_pdf(t; shape 6, scale 1 s) - gamma_pdf(t; shape 16, scale 1 s) / 6, word impulses at "
            "interval midpoints, evaluated at TR centres 2*(10+i) - 9 s from sound onset",
            "functional_voxel_mm": anatomy.voxel_mm,
            "test_story": TEST_STORY,
            "stories": {
                s.name: {"n_raw": s.n_raw, "n_words": int(s.word_index.size), "duration_s": s.duration_s}
                for s in stories
            },
            "vocabulary": [{"word": w, "category": c} for w, c in zip(vocab.words, vocab.categories)],
            "subjects": subject_records,
        },
    )
    return dataset
