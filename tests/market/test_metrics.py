"""Forecast metrics against independent computations (rank correlations, sign counts, loops, Newey-West by hand)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neurofin.market.evaluate import metrics as m


def _ranks(values):
    """Ranks 1..n (no ties in these tests)."""
    ranks = np.empty(values.size)
    ranks[np.argsort(values)] = np.arange(1, values.size + 1)
    return ranks


def _forecast_rows(n_dates=40, n_tickers=6, seed=0):
    rng = np.random.default_rng(seed)
    sessions = np.repeat(pd.bdate_range("2022-01-03", periods=n_dates), n_tickers)
    actual = rng.standard_normal(n_dates * n_tickers)
    return pd.DataFrame({"session": sessions, "ticker": np.tile([f"T{k}" for k in range(n_tickers)], n_dates),
                         "actual": actual, "mean": 0.3 * actual + rng.standard_normal(actual.size),
                         "ref": rng.standard_normal(actual.size)})


def test_spearman_is_pearson_of_ranks_on_finite_pairs():
    rng = np.random.default_rng(1)
    pred, actual = rng.standard_normal(50), rng.standard_normal(50)
    pred[3], actual[10] = np.nan, np.inf
    ok = np.isfinite(pred) & np.isfinite(actual)
    expected = np.corrcoef(_ranks(pred[ok]), _ranks(actual[ok]))[0, 1]
    assert m.spearman(pred, actual) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(m.spearman(np.ones(5), np.arange(5.0)))  # constant forecasts have no rank correlation


def test_ic_per_date_and_pooled():
    rows = _forecast_rows()
    per_date = m.ic_by_date(rows)
    for session, group in rows.groupby("session"):
        expected = np.corrcoef(_ranks(group["mean"].to_numpy()), _ranks(group["actual"].to_numpy()))[0, 1]
        assert per_date[session] == pytest.approx(expected, rel=1e-12)
    pooled = np.corrcoef(_ranks(rows["mean"].to_numpy()), _ranks(rows["actual"].to_numpy()))[0, 1]
    assert m.spearman(rows["mean"].to_numpy(), rows["actual"].to_numpy()) == pytest.approx(pooled, rel=1e-12)


def test_hit_rate_counts_matching_signs_and_base_rate_is_majority_direction():
    pred = np.array([1.0, -1.0, 2.0, 0.0, -0.5, 1.0, np.nan, 3.0])
    actual = np.array([0.5, 0.2, 1.0, 1.0, -0.1, 0.0, 1.0, 2.0])
    hits, base = m.hit_rate(pred, actual)
    # usable rows: actual != 0, pred finite and != 0 -> indices 0, 1, 2, 4, 7; signs match at 0, 2, 4, 7
    assert hits == pytest.approx(4 / 5)
    # base rate over rows with a finite pred and non-zero actual: 0,1,2,3,4,7 -> 5 up of 6
    assert base == pytest.approx(5 / 6)


def test_oos_r2_against_a_benchmark():
    rng = np.random.default_rng(2)
    actual, pred, bench = rng.standard_normal((3, 30))
    expected = 1 - sum((a - p) ** 2 for a, p in zip(actual, pred)) / sum((a - b) ** 2 for a, b in zip(actual, bench))
    assert m.oos_r2(pred, actual, bench) == pytest.approx(expected, rel=1e-12)
    assert m.oos_r2(actual, actual, bench) == 1.0


def test_pinball_loss_by_loops():
    rng = np.random.default_rng(3)
    levels = [0.1, 0.5, 0.9]
    quantiles = np.sort(rng.standard_normal((20, 3)), axis=1)
    actual = rng.standard_normal(20)
    total = 0.0
    for i in range(20):
        for j, tau in enumerate(levels):
            u = actual[i] - quantiles[i, j]
            total += tau * u if u >= 0 else (tau - 1) * u
    assert m.pinball_loss(quantiles, actual, levels) == pytest.approx(total / 60, rel=1e-12)
    # the median level is half the absolute error
    assert m.pinball_loss(quantiles[:, 1:2], actual, [0.5]) == pytest.approx(np.mean(np.abs(actual - quantiles[:, 1])) / 2)


def test_hac_mean_test_is_the_ewc_t_with_student_t_critical_values():
    # the cosine projections by scipy's orthonormal DCT-II (independent of the product's cosine matrix)
    from scipy.fft import dct

    rng = np.random.default_rng(4)
    e = rng.standard_normal(201)
    series = 0.2 + e[1:] + 0.6 * e[:-1]  # MA(1): autocorrelated
    result = m.hac_mean_test(series)
    dof = int(0.4 * 200 ** (2 / 3))  # 13
    projections = dct(series, type=2, norm="ortho")[1 : dof + 1]
    assert result.dof == dof == 13
    assert result.t_stat == pytest.approx(np.sqrt(200) * series.mean() / np.sqrt(np.mean(projections**2)), rel=1e-10)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(result.t_stat), dof), rel=1e-12)
    assert m.hac_mean_test(series, overlap=4).dof == 13 and m.hac_mean_test(series, overlap=9).dof == 10  # 200 / 20


def test_vectorised_ic_by_date_equals_spearman_per_session_with_ties_gaps_and_constants():
    rng = np.random.default_rng(3)
    sessions = np.repeat(pd.bdate_range("2022-01-03", periods=40), 7)
    rows = pd.DataFrame({"session": sessions, "ticker": np.tile(list("ABCDEFG"), 40),
                         "mean": rng.integers(0, 4, sessions.size).astype(float),  # many ties
                         "actual": rng.standard_normal(sessions.size)})
    rows.loc[rng.random(len(rows)) < 0.15, "actual"] = np.nan
    rows.loc[rows["session"] == sessions[0], "mean"] = 1.0  # constant forecasts: undefined IC
    rows.loc[(rows["session"] == sessions[7]) & (rows["ticker"] > "B"), "mean"] = np.nan  # two usable rows
    per_date = m.ic_by_date(rows)
    expected = {s: m.spearman(g["mean"].to_numpy(float), g["actual"].to_numpy(float)) for s, g in rows.groupby("session")}
    np.testing.assert_allclose(per_date.to_numpy(), pd.Series(expected).sort_index().to_numpy(), rtol=1e-10, equal_nan=True)
    assert np.isnan(per_date.iloc[0]) and np.isnan(per_date.iloc[1]) and per_date.notna().sum() >= 35
