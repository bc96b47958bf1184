"""Issue 12 point 11: the ISC filter can fail: an absolute agreement threshold and an encoding-quality gate."""

import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.selection.gate import load_roi_quality, select_features, session_frame
from neurofin.market.selection.isc import isc_table
from neurofin.testing.planted_market import DEFAULT_ROIS, planted_panel


def test_weak_but_non_null_agreement_fails_the_absolute_threshold():
    panel, _ = planted_panel(n_sessions=250, tickers=("AAA", "BBB"), n_subjects=8, subject_noise=3.0, seed=3)
    subjects = [f"UTS{k:02d}" for k in range(1, 9)]
    table = isc_table(panel, list(DEFAULT_ROIS), subjects, n_null=200, min_loo=0.0).set_index("roi")
    assert (table["p_value"] < 0.01).all() and table["passed"].all()  # the shift null alone passes everything
    assert table["loo_isc"].between(0.1, 0.3).all()  # ~1/sqrt((1 + 9)(1 + 9/7)) = 0.21
    strict = isc_table(panel, list(DEFAULT_ROIS), subjects, n_null=200, min_loo=0.3)
    assert not strict["passed"].any()


def test_an_roi_the_encoding_models_cannot_predict_is_rejected(tmp_path):
    panel, prices = planted_panel(n_sessions=150, tickers=("AAA", "BBB"), signal={"AAA": "Limbic_OFC"},
                                  strength=0.6, n_subjects=3, seed=2)
    quality = tmp_path / "roi_quality.csv"
    rows = [(roi, f"UTS{k:02d}", 0.01 if roi == "Limbic_OFC" else 0.2) for roi in DEFAULT_ROIS for k in (1, 2, 3)]
    pd.DataFrame(rows, columns=["roi", "subject", "validation_r"]).to_csv(quality, index=False)
    rois = list(DEFAULT_ROIS)
    frame = session_frame(panel, prices, rois)
    start, end = frame["session"].min(), frame["session"].max()
    base = dict(isc_null_shifts=50, granger_max_lag=2, selection_rule="granger")  # per ticker: 2 tickers only
    open_gate = select_features(panel, frame, start, end, MarketSettings(**base))
    assert open_gate.selected["AAA"] == ["Limbic_OFC"]
    gated = select_features(panel, frame, start, end, MarketSettings(**base, roi_quality_file=quality))
    assert gated.selected["AAA"] == [] and "Limbic_OFC" not in set(gated.rule_table["feature"])
    assert gated.isc.set_index("roi").loc["Limbic_OFC", "validation_r"] == pytest.approx(0.01)
    bad = tmp_path / "bad.csv"
    bad.write_text("roi,r\nx,1\n")
    with pytest.raises(InputError, match="validation_r"):
        load_roi_quality(bad)
