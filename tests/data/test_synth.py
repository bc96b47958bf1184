"""The synthetic ds003020 twin: exact layout, determinism, and a planted truth that independent code recovers."""

import json
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from praatio import textgrid
from safetensors.numpy import load_file
from scipy import stats

from neurofin.data.layout import find_dataset
from neurofin.data.synth import make_synthetic_dataset

TEST_STORY = "wheretheressmoke"
N_VOXELS = 500
NON_SPEECH = {"sentence_start", "sentence_end", "br", "lg", "ls", "ns", "sp", ""}


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    make_synthetic_dataset(out, n_subjects=2, n_stories=6, n_voxels=N_VOXELS, seed=0)
    return out


@pytest.fixture(scope="module")
def truth(synth):
    meta = json.loads((synth / "truth" / "truth.json").read_text())
    words = load_file(synth / "truth" / "words.safetensors")
    subjects = {s: load_file(synth / "truth" / f"{s}.safetensors") for s in meta["subjects"]}
    return meta, words, subjects


def _words_tier(path: Path) -> list[tuple[float, float, str]]:
    grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=True)
    assert list(grid.tierNames) == ["phones", "words"]
    return [(e.start, e.end, e.label) for e in grid.getTier("words").entries]


def _spoken(path: Path) -> list[tuple[float, float, str]]:
    """The words tier after the reference bad-word filter (written here independently of neurofin)."""
    return [e for e in _words_tier(path) if e[2].lower().strip("{}").strip() not in NON_SPEECH]


def _hrf_features(words_tier, vocab_words, word_vectors, n_raw):
    """Independent planted features: double-gamma HRF (scipy) x word vectors at row times 2*(10+i) - 9 s."""
    times = np.array([(a + b) / 2 for a, b, _ in words_tier])
    index = [vocab_words.index(lab.lower().strip(".,?!;:")) for _, _, lab in words_tier]
    rows = 2.0 * (10 + np.arange(n_raw - 20)) - 9.0
    lag = rows[:, None] - times[None, :]
    hrf = stats.gamma.pdf(lag, 6) - stats.gamma.pdf(lag, 16) / 6
    return hrf @ word_vectors[index].astype(np.float64)


def test_layout_matches_ds003020(synth):
    ds = find_dataset(synth)
    assert ds.root == (synth / "ds003020").resolve()
    respdict = json.loads((ds.derivative / "respdict.json").read_text())
    assert ds.subjects() == ["UTS01", "UTS02"]
    assert TEST_STORY in respdict and len(respdict) == 7
    for subject in ds.subjects():
        assert ds.stories(subject) == sorted(respdict)
        mask = ds.mask(subject)
        assert mask.sum() == N_VOXELS
        for story, n_raw in respdict.items():
            with h5py.File(ds.response_path(subject, story), "r") as fh:
                assert set(fh) == ({"data", "individual_repeats"} if story == TEST_STORY else {"data"})
                data = fh["data"][...]
                assert data.dtype == np.float32 and data.shape == (n_raw - 20, N_VOXELS)
                if story == TEST_STORY:
                    repeats = fh["individual_repeats"][...]
                    assert repeats.dtype == np.float64 and repeats.shape == (10, n_raw - 20, N_VOXELS)
                    np.testing.assert_allclose(data, repeats.mean(0), atol=1e-6)
                    np.testing.assert_allclose(repeats.std(1), 1.0, atol=1e-6)
                else:
                    np.testing.assert_allclose(data.mean(0), 0.0, atol=1e-5)
                    np.testing.assert_allclose(data.std(0), 1.0, atol=1e-4)
    for story in respdict:
        assert _spoken(ds.textgrid_path(story))


def test_pycortex_db_is_coherent_with_mni_and_schaefer(synth, real_atlas_dir):
    ds = find_dataset(synth)
    xfm_dir = ds.transform_dir("UTS01")
    assert xfm_dir.name == "UTS01_auto"
    reference = nib.load(xfm_dir / "reference.nii.gz")
    thick = nib.load(xfm_dir / "mask_thick.nii.gz")
    thin = nib.load(xfm_dir / "mask_thin.nii.gz")
    anat = nib.load(ds.pycortex_db / "UTS01" / "anatomicals" / "raw.nii.gz")
    assert anat.shape == (99, 117, 95) and np.allclose(anat.affine[:3, :3], 2 * np.eye(3))
    assert thick.shape == reference.shape and np.allclose(thick.affine, reference.affine)
    np.testing.assert_array_equal(np.asarray(thick.dataobj), np.asarray(thin.dataobj))
    xfm = json.loads((xfm_dir / "matrices.xfm").read_text())
    np.testing.assert_allclose(np.array(xfm["coord"]) @ reference.affine, np.eye(4), atol=1e-9)
    # every mask voxel is cortex in the Schaefer atlas: map its centre through world mm to the atlas grid
    atlas = nib.load(real_atlas_dir / "Schaefer2018_1000Parcels_7Networks_order_FSLMNI152_2mm.nii.gz")
    xyz = np.argwhere(np.asarray(thick.dataobj) > 0)
    world = reference.affine[:3, :3] @ xyz.T + reference.affine[:3, 3:]
    ijk = np.rint(np.linalg.inv(atlas.affine)[:3, :3] @ world + np.linalg.inv(atlas.affine)[:3, 3:]).astype(int)
    assert (np.asarray(atlas.dataobj)[tuple(ijk)] > 0).all()
    # subjects differ in their voxel selection but share the grid
    assert (ds.mask("UTS01") != ds.mask("UTS02")).any()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    def make(name, seed):
        ds = make_synthetic_dataset(tmp_path / name, n_subjects=1, n_stories=2, n_voxels=40, seed=seed)
        story = sorted(ds.respdict)[0]
        return (ds.respdict, ds.read_responses("UTS01", story), ds.textgrid_path(story).read_bytes(),
                (tmp_path / name / "truth" / "UTS01.safetensors").read_bytes())

    first, again, other = make("a", 3), make("b", 3), make("c", 4)
    assert first[0] == again[0] and first[2] == again[2] and first[3] == again[3]
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0] != other[0] and first[2] != other[2]


def test_textgrids_hold_markers_and_the_truth_word_events(synth, truth):
    meta, words, _ = truth
    ds = find_dataset(synth)
    labels = set()
    for story, record in meta["stories"].items():
        tier = _words_tier(ds.textgrid_path(story))
        labels |= {lab for _, _, lab in tier}
        spoken = _spoken(ds.textgrid_path(story))
        times = np.array([(a + b) / 2 for a, b, _ in spoken])
        np.testing.assert_allclose(times, words[f"{story}/word_times"], atol=1e-9)
        vocab = [v["word"] for v in meta["vocabulary"]]
        assert [vocab[i] for i in words[f"{story}/word_index"]] == [lab.lower().strip(".,?!;:") for *_, lab in spoken]
        rate = len(spoken) / (spoken[-1][1] - spoken[0][0])
        assert 2.0 <= rate <= 3.0, rate
        # the simulated TR grid (n_raw - 5 TRs from -10 s) covers the speech
        assert spoken[-1][1] <= 2.0 * (record["n_raw"] - 5) - 10.0
    assert {"sp", "{br}", "{lg}", "sentence_start", "sentence_end", ""} <= labels
    assert any(lab.endswith((".", ",", "?")) for lab in labels) and any("'" in lab for lab in labels)
    assert any(lab.isdigit() for lab in labels)


def test_clean_responses_are_hrf_convolved_semantic_features_times_weights(synth, truth):
    meta, words, subjects = truth
    ds = find_dataset(synth)
    vocab = [v["word"] for v in meta["vocabulary"]]
    weights = subjects["UTS01"]["weights"].astype(np.float64)
    for story, record in meta["stories"].items():
        feats = _hrf_features(_spoken(ds.textgrid_path(story)), vocab, words["word_vectors"], record["n_raw"])
        np.testing.assert_allclose(subjects["UTS01"][f"clean/{story}"], feats @ weights, rtol=1e-4, atol=1e-6)


def test_regression_on_true_features_recovers_planted_weights(synth, truth):
    meta, words, subjects = truth
    ds = find_dataset(synth)
    vocab = [v["word"] for v in meta["vocabulary"]]
    train = [s for s in meta["stories"] if s != TEST_STORY]
    feats = [_hrf_features(_spoken(ds.textgrid_path(s)), vocab, words["word_vectors"], meta["stories"][s]["n_raw"])
             for s in train]
    design = np.concatenate([f - f.mean(0) for f in feats])
    resp = np.concatenate([ds.read_responses("UTS01", s) for s in train]).astype(np.float64)
    recovered = np.linalg.lstsq(design, resp, rcond=None)[0]
    planted = subjects["UTS01"]["weights"].astype(np.float64)
    good = subjects["UTS01"]["good"].astype(bool)
    noise_only = subjects["UTS01"]["snr"] == 0
    weak = ~good & ~noise_only
    snr = subjects["UTS01"]["snr"]
    r = np.array([np.corrcoef(recovered[:, v], planted[:, v])[0, 1] if snr[v] > 0 else np.nan for v in range(N_VOXELS)])
    assert np.median(r[good]) > 0.65, np.median(r[good])
    best = good & (snr >= np.quantile(snr[good], 0.75))
    assert np.median(r[best]) > 0.8, np.median(r[best])  # recovery improves with SNR...
    assert np.median(r[weak]) < np.median(r[good]) - 0.3  # ...and weak voxels are weakly recovered
    # the data are z-scored with std ~1 by design, so the recovered weights have the planted scale
    scale = (recovered[:, good] * planted[:, good]).sum(0) / (planted[:, good] ** 2).sum(0)
    assert 0.7 < np.median(scale) < 1.4, np.median(scale)
    # held out: the fitted weights predict the test story's repeat mean on good voxels, not on pure-noise ones
    test = _hrf_features(_spoken(ds.textgrid_path(TEST_STORY)), vocab, words["word_vectors"],
                         meta["stories"][TEST_STORY]["n_raw"]) @ recovered
    observed = ds.read_responses("UTS01", TEST_STORY)
    r_test = np.array([np.corrcoef(test[:, v], observed[:, v])[0, 1] for v in range(N_VOXELS)])
    assert np.median(r_test[good]) > 0.5, np.median(r_test[good])
    assert abs(np.median(r_test[noise_only])) < 0.1, np.median(r_test[noise_only])


def test_oracle_r_is_recomputable_and_separates_good_voxels(synth, truth):
    meta, _, subjects = truth
    ds = find_dataset(synth)
    for subject, arrays in subjects.items():
        good = arrays["good"].astype(bool)
        assert good.sum() == meta["subjects"][subject]["n_good"] == round(0.15 * N_VOXELS)
        assert np.flatnonzero(good).tolist() == meta["subjects"][subject]["good_voxels"]
        assert (arrays["snr"] == 0).sum() == round(0.4 * N_VOXELS)
        clean = arrays[f"clean/{TEST_STORY}"].astype(np.float64)
        mean = ds.read_responses(subject, TEST_STORY).astype(np.float64)
        signal = arrays["snr"] > 0
        r = np.array([np.corrcoef(clean[:, v], mean[:, v])[0, 1] for v in np.flatnonzero(signal)])
        np.testing.assert_allclose(arrays["oracle_r_repeat_mean"][signal], r, atol=1e-5)
        np.testing.assert_array_equal(arrays["oracle_r_repeat_mean"][~signal], 0.0)
        assert np.median(arrays["oracle_r_repeat_mean"][good]) > 0.6
        assert np.median(arrays["oracle_r_repeat_mean"][~good]) < 0.3
        assert np.median(arrays["oracle_r_single"][good]) < np.median(arrays["oracle_r_repeat_mean"][good])


def test_repeat_noise_is_independent_and_autocorrelated(synth, truth):
    _, _, subjects = truth
    ds = find_dataset(synth)
    clean = subjects["UTS01"][f"clean/{TEST_STORY}"].astype(np.float64)
    repeats = ds.read_repeats("UTS01", TEST_STORY).astype(np.float64)
    residuals = []
    for rep in repeats:  # remove each voxel's best affine fit of the noise-free response
        centred = clean - clean.mean(0)
        gain = np.divide((centred * rep).sum(0), (centred**2).sum(0), out=np.zeros(clean.shape[1]),
                         where=(centred**2).sum(0) > 0)
        residuals.append(rep - rep.mean(0) - gain * centred)
    residuals = np.stack(residuals)
    z = (residuals - residuals.mean(1, keepdims=True)) / residuals.std(1, keepdims=True)
    cross = [np.mean((z[a] * z[b]).mean(0)) for a in range(10) for b in range(a + 1, 10)]
    assert abs(np.mean(cross)) < 0.02, np.mean(cross)
    lag1 = np.mean((z[:, 1:] * z[:, :-1]).mean(1))
    assert 0.25 < lag1 < 0.6, lag1
    good = subjects["UTS01"]["good"].astype(bool)
    between = np.mean([np.mean(((repeats[a] - repeats[a].mean(0)) * (repeats[b] - repeats[b].mean(0)))[:, good]
                               .mean(0) / (repeats[a].std(0) * repeats[b].std(0))[good]) for a, b in [(0, 1), (2, 3)]])
    assert between > 0.2, between
