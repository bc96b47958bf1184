"""Long/short portfolio: a hand-computed book, ties and flat sessions, a planted signal's Sharpe CI above 0, the
null's CI around 0, the cost sweep and per-ticker IC against independent computations."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neurofin.config import MarketSettings
from neurofin.market.evaluate.portfolio import book_weights, max_drawdown, portfolio_tables

SETTINGS = MarketSettings(portfolio_quantiles=2, cost_bps=10, cost_sweep_bps=[0, 10, 50], bootstrap_draws=400)


def _rows(forecasts, realized, model="m", target="raw"):
    """Forecast rows from {session: {ticker: value}} dicts."""
    records = [{"model": model, "target": target, "horizon": 1, "session": pd.Timestamp(s), "ticker": t,
                "mean": f, "realized": realized[s][t], "actual": realized[s][t]}
               for s, day in forecasts.items() for t, f in day.items()]
    return pd.DataFrame.from_records(records)


def test_a_small_book_by_hand():
    forecasts = {"2024-01-02": {"A": 3.0, "B": 1.0, "C": 2.0, "D": 0.0},
                 "2024-01-03": {"A": 3.0, "B": 2.0, "C": 1.0, "D": 0.0},
                 "2024-01-04": {"A": 0.0, "B": 1.0, "C": 2.0, "D": 3.0}}
    realized = {"2024-01-02": {"A": 0.02, "B": -0.01, "C": 0.01, "D": -0.03},
                "2024-01-03": {"A": 0.00, "B": 0.01, "C": -0.02, "D": 0.01},
                "2024-01-04": {"A": -0.01, "B": 0.02, "C": 0.03, "D": 0.00}}
    tables = portfolio_tables(_rows(forecasts, realized), SETTINGS)
    daily = tables["portfolio_daily"].set_index("session")
    simple = {s: {t: np.exp(r) - 1 for t, r in day.items()} for s, day in realized.items()}
    # day 1: long A, C (1/2 each), short B, D; day 2: long A, B, short C, D; day 3: long C, D, short A, B
    gross = [(simple["2024-01-02"]["A"] + simple["2024-01-02"]["C"] - simple["2024-01-02"]["B"] - simple["2024-01-02"]["D"]) / 2,
             (simple["2024-01-03"]["A"] + simple["2024-01-03"]["B"] - simple["2024-01-03"]["C"] - simple["2024-01-03"]["D"]) / 2,
             (simple["2024-01-04"]["C"] + simple["2024-01-04"]["D"] - simple["2024-01-04"]["A"] - simple["2024-01-04"]["B"]) / 2]
    turnover = [2.0, 2.0, 4.0]  # open both legs; B and C swap sides (1 each); every name swaps (4 x 1)
    np.testing.assert_allclose(daily["gross"], gross)
    np.testing.assert_allclose(daily["turnover"], turnover)
    net = np.array(gross) - 10e-4 * np.array(turnover)
    np.testing.assert_allclose(daily["net"], net)
    np.testing.assert_allclose(daily["cum_net"], np.cumprod(1 + net) - 1)
    metrics = tables["portfolio_metrics"].iloc[0]
    assert metrics["sharpe"] == pytest.approx(net.mean() / net.std(ddof=1) * np.sqrt(252))
    assert metrics["turnover"] == pytest.approx(8 / 3) and metrics["n_sessions"] == 3
    wealth = np.r_[1.0, np.cumprod(1 + net)]
    assert metrics["max_drawdown"] == pytest.approx(max(1 - w / wealth[: i + 1].max() for i, w in enumerate(wealth)))


def test_a_ticker_without_a_return_stays_in_the_book_and_earns_zero():
    forecasts = {"2024-01-02": {"A": 3.0, "B": 2.0, "C": 1.0, "D": 0.0}}
    realized = {"2024-01-02": {"A": np.nan, "B": 0.05, "C": 0.01, "D": -0.02}}  # A's price is missing that day
    daily = portfolio_tables(_rows(forecasts, realized), SETTINGS)["portfolio_daily"]
    expected = (0.0 + np.expm1(0.05) - np.expm1(0.01) - np.expm1(-0.02)) / 2  # A, B long; C, D short
    assert daily["gross"].iloc[0] == pytest.approx(expected)  # dropping A would have made B the only long


def test_an_intraday_book_opens_and_closes_every_session():
    day = {"A": 1.0, "B": 0.0}
    forecasts = {"2024-01-02": day, "2024-01-03": day}
    realized = {s: {"A": 0.01, "B": 0.0} for s in forecasts}
    close_to_close = portfolio_tables(_rows(forecasts, realized), SETTINGS)["portfolio_daily"]
    intraday = portfolio_tables(_rows(forecasts, realized, target="open_to_close"), SETTINGS)["portfolio_daily"]
    np.testing.assert_allclose(close_to_close["turnover"], [2.0, 0.0])  # held overnight: no trade on day 2
    np.testing.assert_allclose(intraday["turnover"], [4.0, 4.0])  # in at the open, out at the close


def test_ties_at_the_cut_and_small_or_constant_sessions_hold_nothing_fake():
    day = pd.DataFrame({"session": "2024-01-02", "ticker": list("ABCD"), "mean": [1.0, 2.0, 2.0, 3.0]})
    weights = book_weights(day, 2)
    assert weights.tolist() == [-1.0, 0.0, 0.0, 1.0]  # the tied pair straddles the cut
    assert not book_weights(day.assign(mean=0.5), 2).any()  # constant forecasts (e.g. `zero`) do not rank
    assert not book_weights(day.head(3), 5).any()  # fewer tickers than buckets
    two_days = pd.concat([day, day.assign(session="2024-01-03", mean=[4.0, 3.0, 2.0, 1.0])], ignore_index=True)
    assert book_weights(two_days, 4).tolist() == [-1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0]  # ranked per session
    flat = portfolio_tables(_rows({"2024-01-02": {"A": 0.0, "B": 0.0, "C": 0.0}},
                                  {"2024-01-02": {"A": 0.05, "B": -0.05, "C": 0.0}}), SETTINGS)
    metrics = flat["portfolio_metrics"].iloc[0]
    assert metrics["active_sessions"] == 0 and metrics["turnover"] == 0 and np.isnan(metrics["sharpe"])


def _panel_rows(strength, seed, n_sessions=400, n_tickers=10):
    rng = np.random.default_rng(seed)
    sessions = np.repeat(pd.bdate_range("2021-01-04", periods=n_sessions), n_tickers)
    actual = 0.01 * rng.standard_normal(sessions.size)
    forecast = strength * actual + 0.01 * rng.standard_normal(sessions.size)
    return pd.DataFrame({"model": "m", "target": "raw", "horizon": 1, "session": sessions,
                         "ticker": np.tile([f"T{i}" for i in range(n_tickers)], n_sessions),
                         "mean": forecast, "actual": actual, "realized": actual})


def test_a_planted_signal_has_a_sharpe_ci_above_zero_and_the_null_one_around_zero():
    settings = SETTINGS.model_copy(update={"portfolio_quantiles": 5, "cost_bps": 0})
    planted = portfolio_tables(_panel_rows(0.3, seed=1), settings)["portfolio_metrics"].iloc[0]
    assert planted["sharpe_low"] > 0 and planted["sharpe"] > planted["sharpe_low"]
    null = portfolio_tables(_panel_rows(0.0, seed=2), settings)["portfolio_metrics"].iloc[0]
    assert null["sharpe_low"] < 0 < null["sharpe_high"]
    assert null["sharpe_low"] < null["sharpe"] < null["sharpe_high"]


def test_costs_lower_the_net_return_in_proportion_to_turnover():
    tables = portfolio_tables(_panel_rows(0.3, seed=1), SETTINGS)
    sweep = tables["cost_sweep"].set_index("cost_bps")
    assert list(sweep.index) == [0, 10, 50]
    turnover = tables["portfolio_metrics"]["turnover"].iloc[0]
    gross = tables["portfolio_metrics"]["ann_return_gross"].iloc[0]
    np.testing.assert_allclose(sweep["ann_return_net"], gross - sweep.index.to_numpy() / 1e4 * turnover * 252)
    assert sweep["sharpe"].is_monotonic_decreasing and sweep.loc[0, "sharpe"] > sweep.loc[50, "sharpe"]
    at_cost = tables["portfolio_metrics"].iloc[0]
    assert sweep.loc[10, "sharpe_low"] == pytest.approx(at_cost["sharpe_low"])  # one resample serves both


def test_per_ticker_ic_is_the_time_series_spearman_correlation():
    rows = _panel_rows(0.3, seed=4, n_sessions=30, n_tickers=3)
    table = portfolio_tables(rows, SETTINGS)["ticker_ic"].set_index("ticker")
    for ticker, group in rows.groupby("ticker"):
        assert table.loc[ticker, "ic"] == pytest.approx(stats.spearmanr(group["mean"], group["actual"]).statistic)
        assert table.loc[ticker, "n"] == 30


def test_max_drawdown_of_a_known_path():
    assert max_drawdown(np.array([0.1, -0.5, 0.2])) == pytest.approx(0.5)  # peak 1.1, trough 0.55
    assert max_drawdown(np.array([0.01, 0.02])) == 0
