"""The panel's `emb_*` columns (the no-brain control): per ticker-session means of the ensemble rows' text
embedding, the same in every subject row; panels without them keep working and the backtest skips the control."""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.forecast.models import RidgeForecaster
from neurofin.market.panel.store import PanelStore, roi_columns_of
from neurofin.market.selection.gate import roi_columns
from neurofin.schema import ENSEMBLE
from neurofin.testing.planted_market import planted_panel

ET = ZoneInfo("America/New_York")
ROIS = ["roi_a", "roi_b"]
EMB = ["emb_000", "emb_001", "emb_002"]
SUBJECTS = ["UTS01", "UTS02", ENSEMBLE]

# id, author, day of March 2023 (midday US/Eastern, inside the session), body, hand-listed tickers
COMMENTS = [
    ("c1", "alice", 13, "$TSLA is going up", ["TSLA"]),
    ("c2", "bob", 13, "$TSLA and $GME both", ["TSLA", "GME"]),
    ("c3", "carol", 14, "$GME again", ["GME"]),
    ("c4", "dave", 14, "$GME $TSLA pair trade", ["GME", "TSLA"]),
    ("c5", "erin", 14, "$TSLA failed in inference", ["TSLA"]),  # error row: no ROI, no embedding
    ("c6", "frank", 15, "$GME squeeze", ["GME"]),
]


def comments_frame(ids: list[str] | None = None) -> pd.DataFrame:
    rows = [c for c in COMMENTS if ids is None or c[0] in ids]
    return pd.DataFrame({"id": [c[0] for c in rows], "author": [c[1] for c in rows],
                         "created_utc": [int(datetime(2023, 3, c[2], 12, tzinfo=ET).timestamp()) for c in rows],
                         "body": [c[3] for c in rows]})


def roi_frame(ids: list[str] | None = None, emb: list[str] = EMB) -> pd.DataFrame:
    """The long table `neurofin infer` writes: ROIs in every row, `emb_*` in the ensemble rows only (NaN elsewhere)."""
    rows = []
    for index, (cid, *_) in enumerate(COMMENTS):
        if ids is not None and cid not in ids:
            continue
        failed = cid == "c5"
        for k, subject in enumerate(SUBJECTS):
            rng = np.random.default_rng([index, k])
            rois = np.full(len(ROIS), np.nan) if failed else rng.normal(size=len(ROIS))
            text = rng.normal(size=len(emb)) if subject == ENSEMBLE and not failed else np.full(len(emb), np.nan)
            rows.append({"id": cid, "subject": subject, "n_words": 3, "truncated": False,
                         "error": "feature extraction failed" if failed else None,
                         **dict(zip(ROIS, rois, strict=True)), **dict(zip(emb, text, strict=True))})
    return pd.DataFrame(rows)


def expected_embedding(roi: pd.DataFrame) -> pd.DataFrame:
    """Per (session, ticker) mean of the valid ensemble rows' embedding, by pandas from the hand-listed tickers."""
    mentions = pd.DataFrame([(cid, date(2023, 3, day), t) for cid, _, day, _, tickers in COMMENTS for t in tickers],
                            columns=["id", "session", "ticker"])
    ensemble = roi[(roi["subject"] == ENSEMBLE) & roi["error"].isna()][["id", *EMB]]
    return mentions.merge(ensemble, on="id").groupby(["session", "ticker"], as_index=False)[EMB].mean()


def test_embedding_means_equal_a_pandas_groupby_in_every_subject_row(tmp_path: Path) -> None:
    roi = roi_frame()
    assert roi_columns_of(roi) == ROIS  # emb_ columns are neither ROIs nor refused
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi)
    panel = store.load_panel()
    assert store.roi_columns() == ROIS and roi_columns(panel) == ROIS
    assert list(panel.columns[-len(EMB):]) == EMB
    panel["session"] = pd.to_datetime(panel["session"]).dt.date
    merged = panel.merge(expected_embedding(roi), on=["session", "ticker"], suffixes=("", "_expected"), validate="m:1")
    assert len(merged) == len(panel) == 3 * 5  # (13 TSLA, 13 GME, 14 GME, 14 TSLA, 15 GME) x 3 subjects
    assert set(merged["subject"]) == set(SUBJECTS)
    for column in EMB:
        np.testing.assert_allclose(merged[column], merged[f"{column}_expected"], rtol=0, atol=1e-12)
    tsla_14 = merged[(merged["ticker"] == "TSLA") & (merged["session"] == date(2023, 3, 14))]
    assert set(tsla_14["n_comments"]) == {1}  # c5 (an error row) counts nowhere, its NaN never reaches the mean


def test_incremental_updates_give_the_same_embedding_means(tmp_path: Path) -> None:
    whole = PanelStore(tmp_path / "whole.duckdb")
    whole.update(comments_frame(), roi_frame())
    parts = PanelStore(tmp_path / "parts.duckdb")
    for ids in (["c1", "c3", "c5"], ["c2", "c4", "c6"], ["c4"]):  # c4 twice: an upsert, not a second comment
        parts.update(comments_frame(ids), roi_frame(ids))
    pd.testing.assert_frame_equal(parts.load_panel(), whole.load_panel(), check_exact=False, atol=1e-12)


def test_a_panel_without_embedding_columns_loads_unchanged(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi_frame().drop(columns=EMB))
    panel = store.load_panel()
    assert not [c for c in panel.columns if c.startswith("emb_")] and roi_columns(panel) == ROIS
    with pytest.raises(InputError, match="new panel file"):  # emb_ columns later would leave earlier sessions without
        store.update(comments_frame(["c6"]), roi_frame(["c6"]))


def test_embedding_dims_must_match_the_panel(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(["c1"]), roi_frame(["c1"]))
    with pytest.raises(InputError, match="2 emb_ columns.*made with 3"):
        store.update(comments_frame(["c2"]), roi_frame(["c2"], emb=EMB[:2]))
    with pytest.raises(InputError, match="0 emb_ columns.*made with 3"):
        store.update(comments_frame(["c2"]), roi_frame(["c2"]).drop(columns=EMB))


def test_bad_embedding_columns_are_refused_with_the_fix(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    holey = roi_frame()
    holey.loc[(holey["id"] == "c1") & (holey["subject"] == ENSEMBLE), "emb_001"] = np.nan
    with pytest.raises(InputError, match="NaN/inf"):
        store.update(comments_frame(), holey)
    with pytest.raises(InputError, match="no 'ensemble' rows"):
        store.update(comments_frame(), roi_frame()[lambda f: f["subject"] != ENSEMBLE])
    with pytest.raises(InputError, match="not numeric"):
        store.update(comments_frame(), roi_frame().assign(emb_000="x"))


def test_a_panel_without_embedding_backtests_and_skips_the_control_with_a_note() -> None:
    panel, prices = planted_panel(n_sessions=160, tickers=("AAA", "BBB", "CCC", "DDD"), signal={}, n_subjects=3,
                                  seed=1, embedding_dims=0)
    settings = MarketSettings(train_sessions=100, step_sessions=30, isc_null_shifts=20, granger_max_lag=2,
                              forecaster="linear", quantile_levels=[0.1, 0.5, 0.9], null_draws=200, targets=["raw"],
                              horizons=[1])
    result = run_backtest(panel, prices, settings, RidgeForecaster(name="linear"))
    assert any(note.startswith("embedding control skipped") for note in result.notes)
    models = set(result.metrics["model"])
    assert {"sentiment", "attention", "roi"} <= models and not {"embedding", "embedding+roi"} & models
    assert "embedding" not in set(result.increments["base"])
