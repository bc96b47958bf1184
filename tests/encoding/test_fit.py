"""himalaya fitting: agreement with closed-form ridge, alpha selection vs noise, story-level CV folds."""

import numpy as np
import pytest

from neurofin.config import EncodingSettings
from neurofin.encoding.design import story_folds
from neurofin.encoding.fit import delayed_band_groups, fit_ridge


def _problem(n_samples=120, n_features=10, n_voxels=6, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    design = rng.standard_normal((n_samples, n_features))
    weights = rng.standard_normal((n_features, n_voxels))
    resp = design @ weights + noise * rng.standard_normal((n_samples, n_voxels))
    story_ids = np.repeat(np.arange(6), n_samples // 6)
    return design, resp, story_ids


@pytest.mark.parametrize("solver,n_features", [("ridge", 10), ("kernel", 10), ("kernel", 200), ("banded", 10)])
def test_single_alpha_matches_closed_form_ridge(solver, n_features):
    design, resp, story_ids = _problem(n_features=n_features)
    alpha = 7.5
    settings = EncodingSettings(solver=solver, alphas=[alpha], backend="numpy", pca_components=None, banded_iterations=1)
    groups = np.zeros(n_features, dtype=int) if solver == "banded" else None
    fit = fit_ridge(design, resp, story_folds(story_ids, 3), settings, band_groups=groups)
    expected = np.linalg.solve(design.T @ design + alpha * np.eye(n_features), design.T @ resp)
    if solver == "banded":  # one band with scaling 1 and alpha: the same ridge problem
        assert np.allclose(fit.alphas, alpha)
    np.testing.assert_allclose(fit.primal_weights(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fit.predict(design), design @ expected, rtol=1e-4, atol=1e-4)


def test_banded_weights_come_back_in_design_column_order():
    design, resp, story_ids = _problem(n_features=8, noise=0.05)
    groups = np.array([1, 0, 1, 0, 1, 0, 1, 0])  # interleaved bands: himalaya reorders coefficients by band
    settings = EncodingSettings(solver="banded", alphas=[1e-3], backend="numpy", banded_iterations=3)
    fit = fit_ridge(design, resp, story_folds(story_ids, 3), settings, band_groups=groups)
    np.testing.assert_allclose(design @ fit.primal_weights(), fit.predict(design), rtol=1e-5, atol=1e-5)


def test_alpha_selection_picks_larger_penalty_with_more_noise():
    grid = [10.0**e for e in range(-2, 7)]
    settings = EncodingSettings(solver="ridge", alphas=grid, backend="numpy")
    medians = []
    for noise in (0.1, 30.0):
        design, resp, story_ids = _problem(n_samples=240, n_features=30, n_voxels=40, noise=noise, seed=1)
        fit = fit_ridge(design, resp, story_folds(story_ids, 3), settings)
        medians.append(np.median(fit.alphas))
    assert medians[1] >= 100 * medians[0]


def test_story_folds_never_split_a_story():
    rng = np.random.default_rng(3)
    story_ids = np.repeat(np.arange(11), rng.integers(20, 60, 11))
    cv = story_folds(story_ids, 4)
    seen_in_test: dict[int, int] = {}
    for fold, (train, test) in enumerate(cv.split(story_ids)):
        assert not set(story_ids[train]) & set(story_ids[test])
        for story in set(story_ids[test]):
            assert story not in seen_in_test
            seen_in_test[story] = fold
    assert sorted(seen_in_test) == list(range(11))


def test_delayed_band_groups_follow_delay_major_layout():
    groups = delayed_band_groups([slice(0, 2), slice(2, 5)], n_reduced=5, n_delays=2)
    assert groups.tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 1, 1]


def test_pca_basis_keeps_component_variances():
    from neurofin.encoding.reduce import fit_pca_basis

    rng = np.random.default_rng(4)
    scales = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    rows = rng.standard_normal((4000, 6)) * scales
    basis = fit_pca_basis(rows, 4)
    np.testing.assert_allclose(basis.T @ basis, np.eye(4), atol=1e-5)  # orthonormal: no rescaling
    np.testing.assert_allclose((rows @ basis).std(axis=0), scales[:4], rtol=0.05)  # variances kept, not whitened


def _pearson(a, b):
    return np.array([np.corrcoef(a[:, v], b[:, v])[0, 1] for v in range(a.shape[1])])


@pytest.mark.parametrize("solver", ["ridge", "kernel"])
def test_per_voxel_alphas_and_weights_match_independent_leave_stories_out_cv(solver):
    rng = np.random.default_rng(5)
    n_samples, n_features, n_voxels = 180, 12, 10
    design = rng.standard_normal((n_samples, n_features))
    noise_sd = np.logspace(-1, 1.5, n_voxels)  # quiet to noisy voxels: the best penalty differs between them
    resp = design @ rng.standard_normal((n_features, n_voxels)) + noise_sd * rng.standard_normal((n_samples, n_voxels))
    story_ids = np.repeat(np.arange(6), n_samples // 6)
    grid = [1e-1, 1e1, 1e3, 1e5]
    cv = story_folds(story_ids, 3)
    fit = fit_ridge(design, resp, cv, EncodingSettings(solver=solver, alphas=grid, backend="numpy"))

    def closed_form(rows, alpha):
        return np.linalg.solve(design[rows].T @ design[rows] + alpha * np.eye(n_features), design[rows].T @ resp[rows])

    scores = np.zeros((len(grid), n_voxels))  # mean held-out-story Pearson r per alpha and voxel
    for train, test in cv.split(design):
        for i, alpha in enumerate(grid):
            scores[i] += _pearson(resp[test], design[test] @ closed_form(train, alpha)) / cv.get_n_splits()
    expected_alphas = np.asarray(grid)[scores.argmax(axis=0)]
    assert len(np.unique(expected_alphas)) >= 2  # the check is about per-voxel choice, not one shared alpha
    np.testing.assert_allclose(fit.alphas, expected_alphas, rtol=1e-5)
    np.testing.assert_allclose(fit.cv_scores, scores.max(axis=0), atol=1e-6)
    everything = np.arange(n_samples)
    refit = np.stack([closed_form(everything, a)[:, v] for v, a in enumerate(expected_alphas)], axis=1)
    np.testing.assert_allclose(fit.primal_weights(), refit, rtol=1e-4, atol=1e-5)
