"""Issue 12 points 12 and 8: sessions clipped to the comment panel's span; stale features capped."""

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.market.chain import run_selection, with_log_returns
from neurofin.market.comments.calendar import trading_sessions
from neurofin.market.evaluate.walk_forward import prepare_data
from neurofin.market.selection.gate import session_frame
from neurofin.testing.planted_market import planted_panel

TICKERS = ("AAA", "BBB", "CCC")


def _long_prices_short_panel():
    """Prices from 2015, comments only in the last ~140 sessions (the quick tour's shape)."""
    panel, prices = planted_panel(n_sessions=700, tickers=TICKERS, n_subjects=3, seed=4)
    sessions = sorted(pd.to_datetime(panel["session"]).unique())
    return panel[pd.to_datetime(panel["session"]) >= sessions[-140]], prices


def test_selection_on_a_panel_shorter_than_the_prices_does_not_crash_and_starts_at_the_comments():
    panel, prices = _long_prices_short_panel()
    settings = MarketSettings(train_sessions=60, step_sessions=40, isc_null_shifts=30, granger_max_lag=2)
    selections, _ = run_selection(panel, prices, settings)
    first_comment = pd.to_datetime(panel["session"]).min()
    assert selections[0].train_start == first_comment
    assert len(selections) == 2  # 140 sessions: 60 training + embargo 1, then two test blocks of up to 40


def test_the_prices_span_is_a_setting_and_windows_without_comments_select_nothing():
    panel, prices = _long_prices_short_panel()
    settings = MarketSettings(train_sessions=60, step_sessions=200, isc_null_shifts=30, granger_max_lag=2,
                              session_span="prices")
    selections, _ = run_selection(panel, prices, settings)
    assert selections[0].train_start == pd.to_datetime(prices["session"]).min()
    assert all(not feats for feats in selections[0].selected.values())  # its window holds no comment


def test_a_single_mention_feeds_the_model_for_at_most_the_staleness_cap():
    sessions = pd.DatetimeIndex(trading_sessions("2021-03-01", "2021-04-30"))
    prices = with_log_returns(pd.DataFrame({"session": sessions, "ticker": "AAA", "close": 100.0 + np.arange(sessions.size)}))
    panel = pd.DataFrame({"session": sessions[[0, 2]], "ticker": "AAA", "subject": "ensemble", "n_comments": [3, 1],
                          "n_authors": 1, "roi": [1.0, 2.0]})
    frame = session_frame(panel, prices, ["roi"], settings=MarketSettings(max_stale_sessions=5, min_comments=2, session_span="prices"))
    values = frame.set_index("session")["roi"]
    assert values.iloc[:6].tolist() == [1.0] * 6  # the mention plus five sessions; the 1-comment cell does not count
    assert values.iloc[6:].isna().all()
    data = prepare_data(panel, prices, MarketSettings(max_stale_sessions=5, min_comments=2, session_span="prices"))
    grid = data.grid.set_index("timestamp")["roi"]
    assert grid.loc["2021-04-01"] != grid.loc["2021-04-01"]  # NaN: stale, and the Good Friday row stays NaN too
    assert np.isnan(grid.loc["2021-04-02"])
