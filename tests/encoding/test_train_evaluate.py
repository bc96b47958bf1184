"""End to end on a tiny planted dataset: train -> package -> evaluate recovers the planted signal."""

import json

import numpy as np
import pytest

from neurofin.config import Settings
from neurofin.encoding.design import downsampled_stories, split_stories, stack_design
from neurofin.encoding.evaluate import evaluate_package
from neurofin.encoding.metrics import noise_ceiling, voxel_correlation
from neurofin.encoding.package import EncodingModel
from neurofin.encoding.train import train_subject
from neurofin.testing.design import story_design


def _settings(**encoding):
    base = {"backend": "numpy", "validation_stories": 2, "cv_folds": 3, "alphas": [10.0**e for e in range(-1, 5)]}
    return Settings.model_validate({"encoding": base | encoding})  # (Settings.load skips None overrides)


def test_stacked_design_equals_reference_per_story_design(tiny):
    settings = Settings()
    stories = ["story00", "story01"]
    rows = downsampled_stories(tiny.features, tiny.dataset.respdict, stories, settings.timing)
    std = np.linspace(0.5, 2.0, rows["story00"].shape[1])
    design, story_ids = stack_design(rows, stories, settings.timing.delays, std)
    reference = []
    for s in stories:  # reference Lanczos rows, centred within the story, divided by the given std, delayed
        delayed = story_design(tiny.features[s].times, tiny.features[s].values.astype(np.float64), tiny.dataset.respdict[s])
        plain = delayed.reshape(delayed.shape[0], len(settings.timing.delays), -1)  # per-story z-scored
        own_std = rows[s].astype(np.float64).std(axis=0)
        reference.append((plain * own_std / std).reshape(delayed.shape))
    np.testing.assert_allclose(design, np.concatenate(reference), atol=1e-4)
    first_row_of_second = np.flatnonzero(story_ids == 1)[0]
    assert np.all(design[first_row_of_second] == 0)  # delays >= 1: nothing bleeds in from the previous story


@pytest.mark.parametrize("solver", ["ridge", "banded"])
def test_train_and_evaluate_recover_planted_signal(tiny, tmp_path, solver):
    settings = _settings(solver=solver, pca_components=None if solver == "ridge" else 12, banded_iterations=5)
    package = train_subject(tiny.dataset, tiny.subject, settings, tmp_path / "models", tiny.source)
    metrics = evaluate_package(package, tiny.dataset, tiny.source)
    model = EncodingModel.load(package)

    # oracle: the planted noise-free signal against the repeat mean of the test story
    repeats = tiny.dataset.read_repeats(tiny.subject, "wheretheressmoke")
    words = tiny.features["wheretheressmoke"]
    signal = story_design(words.times, words.values.astype(np.float64), tiny.dataset.respdict["wheretheressmoke"]) @ tiny.weights
    oracle_r = voxel_correlation(repeats.mean(axis=0), signal)
    test_r = model.scores["test_r"]
    assert np.mean(test_r) > 0.9 * np.mean(oracle_r)
    assert metrics["test_mean_r"] == pytest.approx(float(np.mean(test_r)))
    assert metrics["scored_against"] == {"wheretheressmoke": "repeat_mean"}
    ceiling = metrics["noise_ceiling/wheretheressmoke"]
    assert ceiling["mean_cc_max"] == pytest.approx(float(np.mean(noise_ceiling(repeats))))
    assert ceiling["selected"]["n_voxels"] == int((model.arrays["validation_r"] > model.record.voxel_selection.threshold).sum())
    # a single repeat is noisier than the mean of four: lower r
    assert ceiling["mean_r_single_repeat"] < metrics["test_mean_r"]
    assert (package / "evaluation.png").stat().st_size > 1000
    split = json.loads((package / "config.json").read_text())["split"]
    assert not set(split["train"]) & (set(split["validation"]) | set(split["test"]))


def test_split_keeps_test_story_out_and_is_seeded():
    stories = [f"s{i}" for i in range(10)] + ["wheretheressmoke"]
    a = split_stories(stories, ["wheretheressmoke"], 3, seed=1)
    assert a == split_stories(stories, ["wheretheressmoke"], 3, seed=1)
    assert "wheretheressmoke" not in a.train + a.validation
    assert len(a.validation) == 3 and len(a.train) == 7


def test_noise_ceiling_matches_planted_signal_to_noise():
    rng = np.random.default_rng(0)
    n_rep, n_trs, signal_sd = 5, 20000, np.array([0.5, 1.0, 2.0])
    signal = rng.standard_normal((n_trs, 3)) * signal_sd
    repeats = signal[None] + rng.standard_normal((n_rep, n_trs, 3))
    # the best possible prediction (the signal) correlates with the repeat mean at sqrt(S / (S + noise/N))
    expected = np.sqrt(signal_sd**2 / (signal_sd**2 + 1.0 / n_rep))
    np.testing.assert_allclose(noise_ceiling(repeats), expected, atol=0.01)
    np.testing.assert_allclose(voxel_correlation(repeats.mean(axis=0), signal), expected, atol=0.01)


def test_cli_trains_two_subjects_in_one_command_and_evaluates(tiny, tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    from neurofin import cli
    from neurofin.encoding import train as train_module

    subject_dir = tiny.dataset.responses_dir
    shutil.copytree(subject_dir / "UTS01", subject_dir / "UTS02")
    monkeypatch.setattr(train_module, "cached_feature_source", lambda dataset, settings: tiny.source)
    cli._register()
    config = tmp_path / "enc.toml"
    config.write_text('[encoding]\nbackend = "numpy"\nvalidation_stories = 2\ncv_folds = 3\npca_components = 8\n')
    runner = CliRunner()
    result = runner.invoke(cli.app, ["train", "--data-root", str(tiny.dataset.root), "--subjects", "UTS01,UTS02",
                                     "--config", str(config), "--out", str(tmp_path / "models"), "--n-targets-batch", "7"])
    assert result.exit_code == 0, result.output
    for subject in ("UTS01", "UTS02"):
        model = EncodingModel.load(tmp_path / "models" / subject)
        assert model.basis.shape == (12, 8) and model.weights.shape == (32, 40)
        assert model.record.settings.encoding.n_targets_batch == 7
    result = runner.invoke(cli.app, ["evaluate", str(tmp_path / "models"), "--data-root", str(tiny.dataset.root)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "models" / "UTS02" / "metrics.json").read_text())
    assert metrics["test_top_mean_r"] > 0.5
    # no registered atlas (the tiny dataset has no pycortex-db): the output says so, criteria table still printed
    assert "per-ROI scores unavailable" in result.output and "pycortex-db" in metrics["rois"]["unavailable"]
    assert "whole-brain mean r" in result.output and "not evaluated" in result.output


def test_package_carries_validation_r_and_speech_rate_and_metrics_match_independent_scores(tiny, tmp_path):
    settings = _settings(solver="ridge", pca_components=None)
    package = train_subject(tiny.dataset, tiny.subject, settings, tmp_path / "models", tiny.source)
    model = EncodingModel.load(package)
    split = model.record.split

    def reference_prediction(story):  # reference Lanczos rows, centred in the story, / the package's std, delayed, x weights
        from neurofin.timing import downsample_story, make_delayed

        words = tiny.features[story]
        values = words.values.astype(np.float64).reshape(len(words.times), -1)
        rows = downsample_story(words.times, values, tiny.dataset.respdict[story])
        return make_delayed((rows - rows.mean(axis=0)) / model.feature_std, settings.timing.delays) @ model.weights

    def pearson(a, b):
        return np.array([np.corrcoef(a[:, v], b[:, v])[0, 1] for v in range(a.shape[1])])

    def zscored(story):
        resp = tiny.dataset.read_responses(tiny.subject, story).astype(np.float64)
        return (resp - resp.mean(axis=0)) / resp.std(axis=0)

    # validation r is stored at train time, before any evaluation, and is r on the VALIDATION stories
    val_r = model.arrays["validation_r"]
    assert val_r.dtype == np.float32 and val_r.shape == (model.n_voxels,)
    expected_val_r = pearson(np.concatenate([zscored(s) for s in split.validation]),
                             np.concatenate([reference_prediction(s) for s in split.validation]))
    np.testing.assert_allclose(val_r, expected_val_r, atol=1e-4)

    # speech rate: median over TRAINING stories of words per second ((n - 1) / span of the word midpoints)
    rates = [(len(t) - 1) / (t[-1] - t[0]) for t in (tiny.features[s].times for s in split.train)]
    assert model.record.speech_rate_wps == pytest.approx(float(np.median(rates)), rel=1e-12)
    all_rates = [(len(w.times) - 1) / (w.times[-1] - w.times[0]) for w in tiny.features.values()]
    assert float(np.median(rates)) != pytest.approx(float(np.median(all_rates)), rel=1e-9)  # the story set matters

    # training mean word: every word of the TRAINING stories, flattened, weighted equally (the readout's reference)
    words = np.concatenate([tiny.features[s].values.reshape(len(tiny.features[s].times), -1) for s in split.train])
    np.testing.assert_allclose(model.word_mean, words.astype(np.float64).mean(axis=0), rtol=1e-6, atol=1e-6)

    metrics = evaluate_package(package, tiny.dataset, tiny.source)
    evaluated = EncodingModel.load(package)
    np.testing.assert_array_equal(evaluated.arrays["validation_r"], val_r)  # evaluation leaves the training arrays alone
    assert metrics["validation_mean_r"] == pytest.approx(float(val_r.mean()), abs=1e-6)  # and reproduces the score
    repeats = tiny.dataset.read_repeats(tiny.subject, "wheretheressmoke").astype(np.float64)
    test_r = pearson(repeats.mean(axis=0), reference_prediction("wheretheressmoke"))
    top = np.argsort(-expected_val_r)[: max(1, round(0.05 * model.n_voxels))]
    assert metrics["test_mean_r"] == pytest.approx(test_r.mean(), abs=1e-4)
    assert metrics["test_top_mean_r"] == pytest.approx(test_r[top].mean(), abs=1e-4)
    ceiling = metrics["noise_ceiling/wheretheressmoke"]
    assert ceiling["mean_r_repeat_mean"] == pytest.approx(test_r.mean(), abs=1e-4)
    cc = noise_ceiling(repeats)
    chosen = val_r > model.record.voxel_selection.threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = test_r[chosen] / cc[chosen]
    finite = np.isfinite(ratio)
    assert ceiling["selected"]["median_cc_norm"] == pytest.approx(float(np.median(ratio[finite])), abs=1e-4)
    assert ceiling["selected"]["n_ratio_not_finite"] == int((~finite).sum())
    assert ceiling["selected"]["ratio_of_means"] == pytest.approx(float(test_r[chosen].mean() / cc[chosen].mean()), abs=1e-4)
    assert metrics["per_story_mean_r"]["wheretheressmoke"] == pytest.approx(test_r.mean(), abs=1e-4)
    for story in split.validation:
        assert metrics["per_story_mean_r"][story] == pytest.approx(pearson(zscored(story), reference_prediction(story)).mean(), abs=1e-4)
    assert metrics["alpha_median"] == pytest.approx(float(np.median(model.arrays["alphas"])))
    assert sum(metrics["alpha_counts"].values()) == model.n_voxels
    assert set(model.record.fit.wall_s) == {"reduce", "design", "ridge"}


def test_every_real_test_story_stays_out_of_fitting_by_default(tiny):
    """ds003020's test stories (wheretheressmoke, and fromboyhoodtofatherhood for UTS01-03) never train or validate."""
    from neurofin.data.layout import Dataset
    from neurofin.encoding.train import fit_subject

    root = tiny.dataset.root
    respdict_path = root / "derivative" / "respdict.json"
    respdict = json.loads(respdict_path.read_text())
    respdict["fromboyhoodtofatherhood"] = respdict.pop("story00")
    respdict_path.write_text(json.dumps(respdict))
    folder = root / "derivative" / "preprocessed_data" / tiny.subject
    (folder / "story00.hf5").rename(folder / "fromboyhoodtofatherhood.hf5")
    features = dict(tiny.features)
    features["fromboyhoodtofatherhood"] = features.pop("story00")
    model = fit_subject(Dataset(root), tiny.subject, _settings(validation_stories=1), lambda s: {k: features[k] for k in s})
    split = model.record.split
    assert "fromboyhoodtofatherhood" not in split.train + split.validation + split.test
    assert "wheretheressmoke" not in split.train + split.validation
    assert len(split.train) + len(split.validation) == len(respdict) - 2


def test_ceiling_summaries_recover_a_planted_ceiling_without_test_selection():
    """Planted repeats: 300 signal voxels whose prediction correlates 0.6 with the true signal, 100 pure-noise
    voxels of which 20 pass validation selection. The summaries over the selected voxels recover 0.6; the old
    mean of per-voxel r/cc_max over the voxels with SP > 0 on the test repeats does not."""
    from neurofin.encoding.metrics import ceiling_summary, signal_power

    rng = np.random.default_rng(3)
    n_rep, n_trs, n_signal, n_noise, rho = 10, 300, 300, 100, 0.6
    signal = rng.standard_normal((n_trs, n_signal + n_noise)) * np.r_[rng.uniform(0.3, 1.5, n_signal), np.zeros(n_noise)]
    repeats = signal[None] + rng.standard_normal((n_rep, n_trs, n_signal + n_noise))
    unit = (signal - signal.mean(0)) / np.where(signal.std(0) > 0, signal.std(0), 1)
    pred = rho * unit + np.sqrt(1 - rho**2) * rng.standard_normal(signal.shape)  # corr(pred, true signal) = 0.6
    pred[:, n_signal:] = rng.standard_normal((n_trs, n_noise))
    selected = np.r_[np.ones(n_signal, bool), np.arange(n_noise) < 20]  # as chosen on validation stories
    r = voxel_correlation(repeats.mean(axis=0), pred)
    cc_max = noise_ceiling(repeats)
    summary = ceiling_summary(r, cc_max, selected)
    assert summary["median_cc_norm"] == pytest.approx(rho, abs=0.05)
    assert summary["ratio_of_means"] == pytest.approx(rho, abs=0.05)
    power, _ = signal_power(repeats)
    assert summary["n_voxels"] == 320 and summary["n_with_signal"] == int((power[selected] > 0).sum())
    assert n_signal <= summary["n_with_signal"] < 320
    assert np.isfinite(cc_max).all() and (cc_max[power <= 0] == 0).all()  # no voxel dropped by its test data
    # the summary before issue 11: mean of r/cc_max over the voxels with SP > 0 on the test repeats (dropping
    # voxels by their test data, mixing in noise voxels) misses the planted 0.6
    with np.errstate(divide="ignore", invalid="ignore"):
        old = np.where(power > 0, r / cc_max, np.nan)
    assert np.isnan(old).sum() > 20 and abs(np.nanmean(old) - rho) > 0.05


def test_alpha_grid_edges_warn_and_say_how_to_extend(tiny):
    from neurofin.encoding.evaluate import alpha_grid_check
    from neurofin.encoding.train import AlphaGridWarning, fit_subject

    grid = [10.0**e for e in range(0, 11)]
    alphas = np.r_[np.full(214, 1e10), np.full(141, 1.0), np.full(445, 1e4)]  # the demo's counts (issue 11)
    check = alpha_grid_check(alphas, grid, np.ones(800, bool))
    assert (check["n_at_top"], check["n_at_bottom"]) == (214, 141)
    assert "214 of 800" in check["warning"] and "141 of 800" in check["warning"] and "encoding.alphas" in check["warning"]
    quiet = alpha_grid_check(np.r_[np.full(40, 1e10), np.full(760, 1e4)], grid, np.ones(800, bool))  # exactly 5%
    assert quiet["warning"] is None and quiet["n_at_top"] == 40
    # a grid far too low for the planted noise: nearly every voxel sits at its top, and training says so
    with pytest.warns(AlphaGridWarning, match="top of the grid"):
        model = fit_subject(tiny.dataset, tiny.subject, _settings(alphas=[1e-6, 1e-5]), tiny.source)
    assert np.isclose(model.arrays["alphas"], 1e-5, rtol=1e-4).mean() > 0.05
    assert model.record.fit.design_eigenvalues is not None  # the top 1e-5 lies far inside the design's spectrum


def test_alpha_grid_counts_only_voxels_passing_the_rule_at_edges_that_can_move():
    """Issue 20.10: the demo warned "214 of 800 voxels (27%) chose the top of the grid", but those are mostly noise
    voxels (they take any alpha), and the demo's grid ends lie on the ridge plateaus of its design (eigenvalues of
    X'X 56 .. 3e5: above 10 x 3e5 predictions only scale, below 56 / 10 they are the least-squares ones), where a
    wider grid changes no prediction's correlation."""
    from neurofin.encoding.evaluate import alpha_grid_check

    grid = [10.0**e for e in range(0, 11)]
    alphas = np.r_[np.full(214, 1e10), np.full(141, 1.0), np.full(445, 1e4)]
    passing = np.r_[np.arange(214) < 10, np.arange(141) < 5, np.arange(445) < 285]  # 300 pass the rule
    check = alpha_grid_check(alphas, grid, passing)
    assert check["warning"] is None and (check["n_at_top"], check["n_at_bottom"], check["n_counted"]) == (10, 5, 300)
    noisy = np.r_[np.arange(214) < 100, np.arange(141) < 60, np.arange(445) < 140]  # many passing voxels at the edges
    assert "100 of 300 voxels passing" in alpha_grid_check(alphas, grid, noisy)["warning"]
    plateau = alpha_grid_check(alphas, grid, noisy, (56.0, 3e5))  # both ends lie on the plateaus: nothing can move
    assert plateau["warning"] is None and plateau["open_edges"] == []
    inside = alpha_grid_check(alphas, grid, noisy, (56.0, 3e9))  # the top lies inside the spectrum: it may move
    assert plateau["n_at_top"] == inside["n_at_top"] == 100
    assert "top of the grid" in inside["warning"] and "bottom" not in inside["warning"]


def test_train_refuses_nan_responses_with_exit_2_before_any_work(tiny, tmp_path):
    """Issue 20: 3 NaN TRs in one voxel made `train` die in himalaya (exit 1); now one line, exit 2, nothing done
    (no word features extracted into the cache, no package)."""
    import subprocess
    import sys

    import h5py

    path = tiny.dataset.response_path(tiny.subject, "story03")
    with h5py.File(path, "r+") as fh:
        resp = fh["data"][...]
        resp[[3, 7, 11], 5] = np.nan
        fh["data"][...] = resp
    config = tmp_path / "enc.toml"
    config.write_text(f'[features]\ncache_dir = "{tmp_path / "cache"}"\n'
                      '[encoding]\nbackend = "numpy"\nvalidation_stories = 2\ncv_folds = 3\npca_components = 8\n')
    proc = subprocess.run([sys.executable, "-m", "neurofin.cli", "train", "--data-root", str(tiny.dataset.root),
                           "--subjects", "UTS01", "--config", str(config), "--out", str(tmp_path / "models")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert str(path) in proc.stderr and "3 non-finite values (3 NaN, 0 inf) in 1 voxel column(s)" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "cache").exists() and not (tmp_path / "models" / "UTS01").exists()


def test_fit_refuses_nan_word_features_naming_the_story(tiny):
    from neurofin.encoding.train import fit_subject
    from neurofin.errors import DataError

    split = split_stories(tiny.dataset.stories(tiny.subject), _settings().data.test_stories, 2, _settings().encoding.seed,
                          _settings().data.held_out_stories)
    story = split.train[1]
    damaged = dict(tiny.features)
    values = damaged[story].values.copy()
    values[4, 1, 2] = np.inf
    damaged[story] = type(damaged[story])(damaged[story].times, values)
    with pytest.raises(DataError, match=rf"{story}: its word features hold 1 non-finite values \(0 NaN, 1 inf\)"):
        fit_subject(tiny.dataset, tiny.subject, _settings(), lambda stories: {s: damaged[s] for s in stories})


def test_ceiling_summary_counts_only_finite_ratios_and_says_how_many_were_not():
    """Issue 20: voxels without measurable signal (cc_max = 0) gave r/cc_max = +-inf and were counted in the median."""
    from neurofin.encoding.metrics import ceiling_summary

    r = np.array([0.30, 0.20, 0.25, 0.10, 0.40, 0.35, -0.05])
    cc_max = np.array([0.6, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0])  # 4 voxels without signal power on the test repeats
    summary = ceiling_summary(r, cc_max, np.ones(7, bool))
    assert summary["median_cc_norm"] == pytest.approx(0.5)  # median of 0.5, 0.4, 0.5 only
    assert summary["n_ratio_finite"] == 3 and summary["n_ratio_not_finite"] == 4


def test_training_and_inference_scale_features_by_the_same_package_std(tiny):
    """Issue 20.8: training z-scored each story by its own std while inference divides by the package's pooled std
    (story std / package std 0.8-1.27 on the demo twin). Now one convention: centre within the story, divide by
    the package's feature_std (the std of the story-centred training rows). Checked against a ridge solved here."""
    from neurofin.encoding.responses import read_story_responses
    from neurofin.encoding.train import fit_subject
    from neurofin.timing import make_delayed

    rng = np.random.default_rng(8)
    scaled = {s: type(w)(w.times, (w.values.astype(np.float32) * rng.uniform(0.6, 1.6)).astype(np.float16))
              for s, w in tiny.features.items()}  # stories with different feature scales
    settings = _settings(alphas=[30.0], pca_components=None)
    model = fit_subject(tiny.dataset, tiny.subject, settings, lambda stories: {s: scaled[s] for s in stories})
    split, delays = model.record.split, settings.timing.delays
    rows = downsampled_stories(scaled, tiny.dataset.respdict, split.train + split.validation, settings.timing)
    centred = {s: rows[s].astype(np.float64) - rows[s].astype(np.float64).mean(axis=0) for s in rows}
    std = np.concatenate([centred[s] for s in split.train]).std(axis=0)
    np.testing.assert_allclose(model.feature_std, std, rtol=1e-5)
    design = np.concatenate([make_delayed(centred[s] / std, delays) for s in split.train])
    resp = read_story_responses(tiny.dataset, tiny.subject, split.train)
    target = np.concatenate([resp[s] for s in split.train]).astype(np.float64)
    weights = np.linalg.solve(design.T @ design + 30.0 * np.eye(design.shape[1]), design.T @ target)
    np.testing.assert_allclose(model.weights, weights, rtol=2e-3, atol=2e-4)
    story = split.validation[0]  # inference-side prediction of a story: the same division
    np.testing.assert_allclose(model.predict_story(rows[story]), make_delayed(centred[story] / std, delays) @ weights,
                               rtol=2e-3, atol=2e-3)
