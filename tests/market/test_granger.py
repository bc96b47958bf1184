"""Granger filter: agreement with statsmodels, HC3 robust errors, lag choice, Benjamini-Hochberg FDR."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.tsa.stattools import grangercausalitytests

from neurofin.market.selection.granger import choose_lag, granger_table, granger_test, lagged_design


def _lead_lag(n, lag, strength, rng):
    """x leads y by `lag` steps (y AR(1) plus strength * x_{t-lag} plus noise)."""
    x = rng.standard_normal(n)
    y = np.zeros(n)
    noise = rng.standard_normal(n)
    for t in range(n):
        y[t] = (0.2 * y[t - 1] if t else 0.0) + (strength * x[t - lag] if t >= lag else 0.0) + noise[t]
    return y, x


@pytest.mark.parametrize("lags", [1, 3])
def test_nonrobust_f_equals_statsmodels_grangercausalitytests(lags):
    y, x = _lead_lag(120, 1, 0.3, np.random.default_rng(lags))
    reference = grangercausalitytests(np.column_stack([y, x]), maxlag=[lags])[lags][0]["ssr_ftest"]
    ours = granger_test(y, x, lags, cov_type="nonrobust")
    assert ours.f_stat == pytest.approx(reference[0], rel=1e-9)
    assert ours.p_value == pytest.approx(reference[1], rel=1e-9)
    assert ours.n_obs == 120 - lags


def test_hc3_wald_f_matches_a_numpy_sandwich():
    y, x = _lead_lag(100, 1, 0.2, np.random.default_rng(7))
    lags = 2
    target, design = lagged_design(y, x, lags)
    bread = np.linalg.inv(design.T @ design)
    coef = bread @ design.T @ target
    resid = target - design @ coef
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    meat = design.T @ (design * (resid**2 / (1 - leverage) ** 2)[:, None])
    cov = bread @ meat @ bread
    picked = np.arange(1 + lags, 1 + 2 * lags)  # the x-lag coefficients
    b = coef[picked]
    f_expected = b @ np.linalg.solve(cov[np.ix_(picked, picked)], b) / lags
    p_expected = stats.f.sf(f_expected, lags, target.size - design.shape[1])
    ours = granger_test(y, x, lags)
    assert ours.f_stat == pytest.approx(f_expected, rel=1e-8)
    assert ours.p_value == pytest.approx(p_expected, rel=1e-8)


def test_robust_errors_hold_size_under_heteroskedasticity_where_plain_f_does_not():
    rng = np.random.default_rng(0)
    robust, plain = [], []
    for _ in range(200):  # no causality in the mean; the variance of y_t grows with |x_{t-1}|
        x = rng.standard_normal(150)
        y = np.r_[0.0, np.abs(x[:-1]) ** 1.5 * rng.standard_normal(149)]
        robust.append(granger_test(y, x, 1).p_value < 0.05)
        plain.append(granger_test(y, x, 1, cov_type="nonrobust").p_value < 0.05)
    assert np.mean(robust) <= 0.1
    assert np.mean(plain) >= np.mean(robust) + 0.1


def test_lag_is_chosen_from_the_return_autoregression_alone():
    rng = np.random.default_rng(2)
    noise = rng.standard_normal(600)
    y = noise.copy()
    for t in range(3, 600):  # AR(3) returns
        y[t] = 0.5 * y[t - 3] + noise[t]
    assert choose_lag(y, max_lag=5, criterion="bic") == 3
    x = rng.standard_normal(600)
    frame = pd.DataFrame({"ticker": "A", "session": np.arange(600), "target": y, "roi": x,
                          "snooped": np.r_[y[5:], np.zeros(5)]})  # x_{t-5} = y_t: leads by 5 sessions
    table = granger_table(frame, [("roi", "A"), ("snooped", "A")], max_lag=5, lag_criterion="bic")
    assert table["lag"].tolist() == [3, 3]  # the feature cannot pull the lag towards where it fits best
    assert granger_table(frame, [("roi", "A")], max_lag=4, lag_criterion="fixed")["lag"].item() == 4
    with pytest.raises(ValueError, match="criterion"):
        choose_lag(y, 3, criterion="hqic")


def test_constant_feature_gives_p_one_instead_of_failing():
    y, _ = _lead_lag(80, 1, 0.0, np.random.default_rng(3))
    result = granger_test(y, np.ones(80), 2)
    assert result.p_value == 1.0 and np.isnan(result.f_stat)


def _bh_reject(p, alpha):
    """Independent Benjamini-Hochberg step-up: reject the k smallest p with k = max{i: p_(i) <= i alpha / m}."""
    order = np.argsort(p)
    below = np.flatnonzero(p[order] <= alpha * np.arange(1, p.size + 1) / p.size)
    reject = np.zeros(p.size, bool)
    if below.size:
        reject[order[: below[-1] + 1]] = True
    return reject


def test_fdr_is_benjamini_hochberg_over_all_feature_ticker_pairs():
    rng = np.random.default_rng(5)
    parts, pairs = [], []
    for k, ticker in enumerate(["A", "B", "C", "D"]):
        y, lead = _lead_lag(200, 1, 0.25 * k, rng)  # A: no signal ... D: strong
        parts.append(pd.DataFrame({"ticker": ticker, "session": np.arange(200), "target": y, "lead": lead,
                                   "noise1": rng.standard_normal(200), "noise2": rng.standard_normal(200)}))
        pairs += [(f, ticker) for f in ("lead", "noise1", "noise2")]
    frame = pd.concat(parts, ignore_index=True)
    table = granger_table(frame, pairs, max_lag=1, lag_criterion="fixed", fdr_alpha=0.1)
    p = table["p_value"].to_numpy()
    ranks = stats.rankdata(p, method="ordinal")
    q_sorted = np.minimum.accumulate((p * p.size / ranks)[np.argsort(p)][::-1])[::-1]
    q_expected = np.empty_like(p)
    q_expected[np.argsort(p)] = np.minimum(q_sorted, 1.0)
    np.testing.assert_allclose(table["q_value"], q_expected, rtol=1e-12)
    np.testing.assert_array_equal(table["selected"], _bh_reject(p, 0.1))
    chosen = set(zip(table.loc[table["selected"], "feature"], table.loc[table["selected"], "ticker"]))
    assert {("lead", "C"), ("lead", "D")} <= chosen
    assert table["selected"].sum() < len(pairs)
