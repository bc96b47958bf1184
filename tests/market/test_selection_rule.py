"""Issue 21 point 3: the default selection picks one ROI by its training-window IC pooled across tickers; the
per-ticker Granger + BH gate (which wasted power: benchmarks/results/selection_gate.json) stays selectable."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neurofin.config import MarketSettings
from neurofin.market.selection.gate import roi_columns, select_features, selection_record, session_frame
from neurofin.market.selection.granger import granger_table
from neurofin.testing.planted_market import planted_panel

TICKERS = tuple(f"T{k:02d}" for k in range(10))
SETTINGS = dict(isc_null_shifts=50, granger_max_lag=2)


def _window(strength: float, seed: int):
    panel, prices = planted_panel(n_sessions=260, tickers=TICKERS, signal={t: "Limbic_OFC" for t in TICKERS},
                                  strength=strength, n_subjects=3, volatility_clustering=True, seed=seed)
    frame = session_frame(panel, prices, roi_columns(panel))
    sessions = sorted(frame["session"].unique())
    return panel, frame, sessions[0], sessions[249]


def test_pooled_ic_matches_a_hand_computation_and_selects_the_planted_roi_for_every_ticker():
    panel, frame, start, end = _window(0.12, seed=4)
    chosen = select_features(panel, frame, start, end, MarketSettings(**SETTINGS))
    assert chosen.selected == {t: ["Limbic_OFC"] for t in TICKERS}
    window = frame[(frame["session"] >= start) & (frame["session"] <= end)].sort_values(["ticker", "session"])
    lead = window.pivot(index="session", columns="ticker", values="Limbic_OFC").shift(1)
    target = window.pivot(index="session", columns="ticker", values="target")
    by_hand = []
    for session in target.index[1:]:
        ok = lead.loc[session].notna() & target.loc[session].notna()
        by_hand.append(stats.spearmanr(lead.loc[session, ok], target.loc[session, ok]).statistic)
    row = chosen.rule_table.set_index(["feature", "ticker"]).loc[("Limbic_OFC", "T00")]
    assert row["ic_mean"] == pytest.approx(np.mean(by_hand), abs=1e-12)
    assert row["sessions"] == len(by_hand)
    assert (chosen.rule_table["selected"] == (chosen.rule_table["feature"] == "Limbic_OFC")).all()
    record = selection_record(chosen)  # selections.json names the table after no rule: it holds whichever ran
    assert "granger" not in record and [r["feature"] for r in record["rule_table"]] == list(chosen.rule_table["feature"])


def test_the_granger_rule_stays_selectable_and_misses_what_the_pooled_rule_finds():
    # a weak lead (correlation 0.09, about a realistic IC) in every ticker: the pooled IC finds it, the per-ticker
    # Granger + BH gate on the same window selects it for one ticker of ten
    panel, frame, start, end = _window(0.09, seed=10_003)
    settings = MarketSettings(**SETTINGS, selection_rule="granger")
    gate = select_features(panel, frame, start, end, settings)
    window = frame[(frame["session"] >= start) & (frame["session"] <= end)]
    expected = granger_table(window, [(r, t) for t in TICKERS for r in roi_columns(panel)], max_lag=2,
                             lag_criterion="bic", fdr_alpha=0.1)
    pd.testing.assert_frame_equal(gate.rule_table, expected)
    assert sum(bool(rois) for rois in gate.selected.values()) <= 1
    pooled = select_features(panel, frame, start, end, MarketSettings(**SETTINGS))
    assert pooled.selected == {t: ["Limbic_OFC"] for t in TICKERS}
