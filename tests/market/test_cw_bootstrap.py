"""The product's Clark-West fixed-regressor bootstrap (cw_bootstrap.py): its statistic is the reported one, its
p-values are near uniform on null panels where the t(dof) p's are not, and a planted lead gets a small p."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from neurofin.config import MarketSettings
from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.sizing import null_design, product_clark_west
from neurofin.market.forecast.batched_ridge import Design, _historical_means, column_means, ridge_fitted
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.testing.planted_market import planted_panel

DRAWS = 99


def _cw(design, seed: int = 0):
    """(bootstrap test, t(dof) p) of the backtest's bootstrap on a null table (`sizing.product_clark_west`)."""
    test = product_clark_west(design, DRAWS, seed)
    return test, float(stats.t.sf(test.t_stat, m.ewc_dof(design.test_sessions, design.horizon - 1)))


def _null(seed: int, horizon: int = 1):
    return _cw(null_design(6, horizon, n_sessions=200, test_sessions=100, seed=seed), seed)


def test_bootstrap_statistic_is_the_reported_clark_west_t():
    design = null_design(5, 3, n_sessions=150, test_sessions=60, seed=3)
    test, _ = _cw(replace(design, present=np.ones_like(design.present)))
    n_sessions = design.x.shape[0]
    x, y = design.x, design.target
    rows = []
    for t in range(n_sessions - 60, n_sessions):
        for i in range(x.shape[1]):
            past = slice(1, t - 3 + 1)  # rows s = 1 .. t - h: ROI of s - 1, target of s
            lead, target = x[:-1][past.start - 1 : past.stop - 1, i], y[past, i]
            z = (lead - lead.mean()) / lead.std()
            slope = (z @ (target - target.mean())) / (z @ z + 1.0) / lead.std()
            rows.append({"session": t, "ticker": i, "actual": y[t, i], "univariate": y[: t - 3 + 1, i].mean(),
                         "roi": target.mean() + slope * (x[t - 1, i] - lead.mean())})
    expected = m.clark_west(pd.DataFrame(rows), "roi", "univariate", 2)
    assert np.isclose(test.t_stat, expected.t_stat)


def test_bootstrap_p_is_near_uniform_under_the_null_where_the_t_p_is_not():
    p = np.array([(test.p_value, t_p) for test, t_p in (_null(seed) for seed in range(200))])
    frb, t = p[:, 0], p[:, 1]
    band = 2.6 * np.sqrt(1 / 12 / len(frb))  # 2.6 standard errors of the mean of 200 uniform p's
    assert abs(frb.mean() - 0.5) < band
    assert t.mean() > 0.5 + band
    gap = t - frb
    assert gap.mean() / (gap.std(ddof=1) / np.sqrt(len(gap))) > 3


def test_a_planted_lead_gets_a_small_bootstrap_p():
    design = null_design(6, 1, n_sessions=200, test_sessions=100, seed=7)
    lead = np.vstack([design.x[:1], design.x[:-1]])
    test, _ = _cw(replace(design, target=design.target + 0.4 * lead, present=np.ones_like(design.present)))
    assert test.p_value == 1 / (1 + DRAWS)


def test_the_backtest_reports_the_bootstrap_p_for_the_linear_forecaster_and_the_t_p_when_off():
    panel, prices = planted_panel(n_sessions=130, tickers=("AAA", "BBB", "CCC"), signal={"AAA": "Limbic_OFC"},
                                  strength=0.0, n_subjects=2, seed=1)
    base = dict(train_sessions=60, step_sessions=15, embargo_sessions=2, isc_null_shifts=30, granger_max_lag=2,
                quantile_levels=[0.1, 0.5, 0.9], targets=["raw"], horizons=[1, 3], forecaster="linear")
    on, off = (run_backtest(panel, prices, MarketSettings(**base, cw_bootstrap=on, cw_bootstrap_draws=DRAWS),
                            RidgeForecaster()) for on in (True, False))
    rows = [result.results.query("model == 'roi' and metric in ('cw_t', 'cw_p')").set_index(["horizon", "metric"])
            ["value"] for result in (on, off)]
    assert np.allclose(rows[0].xs("cw_t", level="metric"), rows[1].xs("cw_t", level="metric"))  # the same statistic
    on_p, t_p = rows[0].xs("cw_p", level="metric").to_numpy(), rows[1].xs("cw_p", level="metric").to_numpy()
    assert not np.allclose(on_p, t_p)
    assert np.allclose(on_p * (1 + DRAWS), np.round(on_p * (1 + DRAWS)))  # ranks among the draws
    assert on.metrics.set_index("model").loc["roi", "cw_method"] == "frb"
    assert off.metrics.set_index("model").loc["roi", "cw_method"] == "t"
    assert "bootstrap p=" in on.verdict.sentence() and "t p=" in off.verdict.sentence()
    assert on.verdict.cw_method == "frb" and off.verdict.cw_method == "t"


def test_the_draw_count_is_enough_for_a_five_percent_p_and_bounded():
    with pytest.raises(ValidationError):
        MarketSettings(cw_bootstrap_draws=10)  # no p could fall below 0.05
    with pytest.raises(ValidationError):
        MarketSettings(cw_bootstrap_draws=10**9)  # tickers x days x draws floats
    assert MarketSettings(cw_bootstrap_draws=20).cw_bootstrap_draws == 20


def test_full_sample_fit_is_the_standardised_ridge_of_each_ticker():
    rng = np.random.default_rng(2)
    source = rng.standard_normal((2, 2, 60))
    target = rng.standard_normal((2, 60))
    target[0, 10] = np.nan
    fitted = ridge_fitted(Design(source, np.ones((2, 2), bool), np.array([2, 2])), target, 1.5)
    for t in range(2):
        x, y = source[t][:, :-1].T, target[t, 1:]  # row d reads day d - 1
        ok = np.isfinite(y)
        centre, scale = x[ok].mean(axis=0), x[ok].std(axis=0)
        z = (x[ok] - centre) / scale
        coef = np.linalg.solve(z.T @ z + 1.5 * np.eye(2), z.T @ (y[ok] - y[ok].mean())) / scale
        expected = np.where(ok, y[ok].mean() + (x - centre) @ coef, np.nan)
        assert np.allclose(fitted[t, 1:], expected, equal_nan=True) and np.isnan(fitted[t, 0])


def test_column_means_are_each_columns_historical_means():
    rng = np.random.default_rng(4)
    targets = rng.standard_normal((3, 40, 4))
    targets[rng.random((3, 40)) < 0.2] = np.nan
    targets[2, :30] = np.nan  # no realised target in the first windows: 0
    known_day = np.array([20, 25, 31, 39])
    expected = np.stack([_historical_means(targets[..., k], known_day)[0] for k in range(4)], axis=-1)
    assert np.allclose(column_means(targets, known_day), expected)


def test_draws_fitted_in_blocks_give_the_same_terms_in_a_fraction_of_the_memory(monkeypatch):
    """The draws go through `ridge_means` in blocks (cw_bootstrap.BLOCK_ELEMENTS target cells): the same bits as
    one block, while the traced peak stays below one tickers x days x draws array (one block held it several times)."""
    import tracemalloc

    from neurofin.market.evaluate import cw_bootstrap
    from neurofin.market.forecast.engine import GridCube, OriginRequest

    rng = np.random.default_rng(5)
    n_tickers, n_days = 30, 300
    days = pd.bdate_range("2020-01-01", periods=n_days)
    values = rng.standard_normal((n_tickers, 3, n_days))
    values[:, 0][rng.random((n_tickers, n_days)) < 0.05] = np.nan
    cube = GridCube(np.array([f"T{i:02d}" for i in range(n_tickers)], dtype=object), days,
                    {"target": 0, "a": 1, "b": 2}, values)
    covariates = {t: (["a", "b"][: 1 + i % 2], []) for i, t in enumerate(cube.tickers)}
    requests = [OriginRequest(days[t - 1], days[t], "target", days[t - 2]) for t in range(n_days - 20, n_days)]

    def terms(block_elements: int) -> tuple[np.ndarray, int]:
        monkeypatch.setattr(cw_bootstrap, "BLOCK_ELEMENTS", block_elements)
        tracemalloc.start()
        out = cw_bootstrap.fold_terms(cube, covariates, requests, 1.0, 200, 2, 0).terms
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out, peak

    whole, whole_peak = terms(10**9)
    blocked, blocked_peak = terms(n_tickers * n_days * 7)  # 7 columns a block: 29 blocks
    one_array = n_tickers * n_days * 201 * 8
    assert whole.shape == (20, 201) and np.isfinite(whole).all()
    assert np.array_equal(blocked, whole)
    assert blocked_peak < one_array < whole_peak
