"""Controls and nested increments: an ROI signal that only mirrors a control must not count as an increment over it."""

import numpy as np
import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.forecast_loop import model_covariates
from neurofin.market.evaluate.increments import increment_tests
from neurofin.market.evaluate.projections import projection_rank
from neurofin.market.evaluate.walk_forward import prepare_data
from neurofin.market.forecast.controls import ATTENTION, fit_embedding_pca, random_projections
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.schema import ENSEMBLE
from neurofin.testing.planted_market import planted_panel

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
SIGNAL = {"AAA": "Limbic_OFC", "BBB": "Limbic_OFC", "CCC": "Limbic_OFC"}
SETTINGS = MarketSettings(train_sessions=120, step_sessions=25, isc_null_shifts=50, granger_max_lag=2,
                          forecaster="linear", quantile_levels=[0.1, 0.5, 0.9], null_draws=200, targets=["raw"],
                          horizons=[1])


def _increments(confound, signal, seed=0):
    panel, prices = planted_panel(n_sessions=220, tickers=TICKERS, signal=signal, strength=0.5, n_subjects=3,
                                  seed=seed, embedding_dims=4, confound=confound)
    result = run_backtest(panel, prices, SETTINGS, RidgeForecaster(name="linear"))
    return result, result.increments.set_index("base")


@pytest.mark.parametrize("confound", ["sentiment", "attention", "embedding"])
def test_an_roi_that_mirrors_a_control_is_explained_by_that_control_not_claimed_as_a_brain_signal(confound):
    result, increments = _increments(confound, SIGNAL)
    metrics = result.metrics.set_index("model")
    assert metrics.loc["roi", "perm_p"] < 0.05 and metrics.loc["roi", "cw_p"] < 0.05  # alone, the ROI looks predictive ...
    assert metrics.loc[confound, "cw_p"] < 0.01  # ... because the control it mirrors is
    assert result.verdict.sentence().startswith(f"Verdict: no brain signal: {confound} explains the roi forecasts")
    assert not increments.loc[confound, "holds"] and increments.loc[confound, "p_holm"] > 0.05
    others = [c for c in ("sentiment", "attention", "embedding") if c != confound]
    assert increments.loc[others, "holds"].all()  # over the controls it does not mirror, it adds
    assert {i.base for i in result.verdict.held} == set(others)
    assert f"{confound} (Holm" not in result.verdict.sentence() and all(f"{c} (Holm" in result.verdict.sentence() for c in others)


def test_a_genuine_roi_signal_adds_to_every_control_and_none_under_the_null():
    result, increments = _increments(None, SIGNAL)
    assert increments["holds"].all() and (increments["cw_t"] > 3).all()
    assert result.verdict.headline == "signal in roi"
    assert "ROI features add to: sentiment" in result.verdict.sentence()
    ranking = result.projections  # the brain-shaped projection beats every random projection of the same words
    assert ranking["rank"] == 1 and ranking["of"] == SETTINGS.projection_draws + 1 and ranking["ic"] > max(ranking["random_ic"])
    assert f"roi (mean IC {ranking['ic']:.3f}) ranks 1 of 10 against 9 random projections" in result.verdict.sentence()
    assert not result.forecasts["model"].str.startswith("projection_").any()  # reported by rank, not as models
    null, null_increments = _increments(None, {}, seed=3)
    assert not null_increments["holds"].any()
    assert not null.verdict.held and "add to none of the controls" in null.verdict.sentence()


def test_increments_are_one_permutation_test_each_holm_adjusted_over_the_controls():
    rng = np.random.default_rng(0)
    sessions = np.repeat(pd.bdate_range("2022-01-03", periods=80), 8)
    actual = rng.standard_normal(sessions.size)
    base = rng.standard_normal(sessions.size)
    rows = []
    for control, lead in (("sentiment", 0.5), ("attention", 0.0), ("embedding", 0.02)):
        rows.append(pd.DataFrame({"session": sessions, "ticker": np.tile(list("ABCDEFGH"), 80), "model": control,
                                  "mean": base, "actual": actual}))
        rows.append(rows[-1].assign(model=f"{control}+roi", mean=base + lead * actual + 0.3 * rng.standard_normal(actual.size)))
    table = increment_tests(pd.concat(rows, ignore_index=True), {}, draws=200, seed=0).set_index("base")
    p = table["perm_p"]  # Clark-West is reported (cw_p) and does not decide
    np.testing.assert_allclose(table["p"], p)
    assert table["cw_p"].notna().all()
    order = np.argsort(p.to_numpy())  # Holm by hand
    expected = np.maximum.accumulate(np.minimum(1, p.to_numpy()[order] * (3 - np.arange(3))))
    np.testing.assert_allclose(table["p_holm"].to_numpy()[order], expected)
    assert table.loc["sentiment", "holds"] and not table.loc["attention", "holds"]


def test_attention_features_count_silence_as_zero_and_change_against_the_trailing_mean():
    panel, prices = planted_panel(n_sessions=80, tickers=("AAA", "BBB"), n_subjects=2, missing_fraction=0.2, seed=5)
    settings = MarketSettings(attention_window=10)
    frame = prepare_data(panel, prices, settings).frame
    counts = panel[panel["subject"] == ENSEMBLE].assign(session=lambda d: pd.to_datetime(d["session"]))
    for ticker, rows in frame.groupby("ticker"):
        n = rows[["session"]].merge(counts[counts["ticker"] == ticker], on="session", how="left")["n_comments"]
        level = np.log1p(n.fillna(0).to_numpy())
        assert (level == 0).any()  # sessions without comments: attention 0, never missing
        np.testing.assert_allclose(rows["att_comments"], level)
        for i in (30, 55, 79):
            np.testing.assert_allclose(rows["att_comments_change"].iloc[i], level[i] - level[i - 10 : i].mean())
    assert set(ATTENTION) <= set(frame.columns)


def test_the_embedding_pca_reads_only_its_training_window():
    panel, prices = planted_panel(n_sessions=150, tickers=("AAA", "BBB", "CCC"), n_subjects=2, embedding_dims=6, seed=2)
    data = prepare_data(panel, prices, MarketSettings())
    columns = data.embedding
    start, end = data.sessions[0], data.sessions[99]
    before = fit_embedding_pca(data.frame, columns, start, end, 4)
    late = data.frame["session"] > end
    changed = data.frame.copy()
    changed.loc[late, columns] = 100.0 * np.random.default_rng(0).standard_normal((late.sum(), len(columns)))
    after = fit_embedding_pca(changed, columns, start, end, 4)
    np.testing.assert_allclose(before.components, after.components)
    np.testing.assert_allclose(before.mean, after.mean)
    moved = fit_embedding_pca(changed, columns, start, data.sessions[-1], 4)
    assert not np.allclose(np.abs(moved.components), np.abs(before.components), atol=1e-3)
    scores = before.transform(data.frame)
    assert scores.shape[1] == 4 and np.isfinite(scores.to_numpy()).mean() > 0.9


def test_projection_models_read_as_many_dimensions_as_the_roi_model_and_are_ranked_by_mean_ic():
    selected = {"AAA": ["Limbic_OFC"], "BBB": [], "CCC": ["Limbic_OFC", "Cont_PFCl"]}
    controls = {"projection_2": ["proj2_1", "proj2_2", "proj2_3"]}
    assert model_covariates("projection_2", selected, controls) == {
        "AAA": (["proj2_1"], []), "BBB": ([], []), "CCC": (["proj2_1", "proj2_2"], [])}
    rng = np.random.default_rng(1)
    sessions = np.repeat(pd.bdate_range("2022-01-03", periods=60), 10)
    actual = rng.standard_normal(sessions.size)
    rows = pd.concat([pd.DataFrame({"session": sessions, "ticker": np.tile(list("ABCDEFGHIJ"), 60), "model": model,
                                    "mean": lead * actual + rng.standard_normal(actual.size), "actual": actual})
                      for model, lead in (("roi", 0.3), ("projection_pca", 0.0), ("projection_1", 0.6),
                                          ("projection_2", 0.0), ("projection_3", 0.0))], ignore_index=True)
    ranking = projection_rank(rows, "roi")
    ic = {model: m.ic_by_date(group).mean() for model, group in rows.groupby("model")}
    assert ranking.random_ic == pytest.approx((ic["projection_1"], ic["projection_2"], ic["projection_3"]))
    assert ranking.rank == 2 and ranking.of == 4 and ranking.pca_ic == pytest.approx(ic["projection_pca"])


def test_random_projections_are_orthonormal_reproducible_and_centred_like_the_pca():
    panel, prices = planted_panel(n_sessions=120, tickers=("AAA", "BBB", "CCC"), n_subjects=2, embedding_dims=6, seed=2)
    data = prepare_data(panel, prices, MarketSettings())
    pca = fit_embedding_pca(data.frame, data.embedding, data.sessions[0], data.sessions[80], 4)
    first, again = random_projections(pca, 3, seed=5), random_projections(pca, 3, seed=5)
    assert list(first) == ["projection_1", "projection_2", "projection_3"]
    for name, projection in first.items():
        np.testing.assert_allclose(projection.components @ projection.components.T, np.eye(4), atol=1e-12)
        np.testing.assert_array_equal(projection.components, again[name].components)
        np.testing.assert_array_equal(projection.mean, pca.mean)
    assert not np.allclose(first["projection_1"].components, first["projection_2"].components)
    assert first["projection_2"].names == ["proj2_1", "proj2_2", "proj2_3", "proj2_4"]


def test_holm_equals_statsmodels_multipletests_with_ties_nans_and_the_cap_at_one():
    from statsmodels.stats.multitest import multipletests

    from neurofin.market.evaluate.increments import holm

    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 7, 20):
        p = rng.choice([0.001, 0.01, 0.03, 0.2, 0.5, 0.9], size) * rng.uniform(0.5, 1.0, size)
        p[rng.random(size) < 0.3] = 0.01  # ties
        with_nan = np.append(p, np.nan)
        np.testing.assert_allclose(holm(with_nan)[:-1], multipletests(p, method="holm")[1], rtol=0, atol=1e-15)
        assert np.isnan(holm(with_nan)[-1])
    assert np.isnan(holm(np.array([np.nan, np.nan]))).all()
