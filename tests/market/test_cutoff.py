"""Tradable timing: comments from the session's close minus the cutoff count for the next session (through the
real panel build, half days included), the panel records its cutoff, and open prices reach the open_to_close target.

Expected sessions are written by hand from the published NYSE schedule (regular close 16:00 US/Eastern, 13:00 on
2023-07-03 and 2023-11-24; holidays 2023-07-04 and 2023-11-23); timestamps come from zoneinfo, not the calendar.
"""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.comments.calendar import session_of, sessions_of
from neurofin.market.panel.prices import read_prices
from neurofin.market.panel.store import PanelStore
from neurofin.market.panel.targets import TargetSpec, with_targets
from neurofin.market.selection.gate import session_frame

ET = ZoneInfo("America/New_York")
ROI = "roi_a"


def et(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """UTC epoch seconds of a US/Eastern wall-clock time."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=ET).timestamp())


# (ticker the comment mentions, what, US/Eastern wall clock, session with cutoff 30, session with cutoff 0)
CASES = [
    ("AAPL", "regular day, 1 min before close-30", (2023, 3, 14, 15, 29), date(2023, 3, 14), date(2023, 3, 14)),
    ("MSFT", "regular day, exactly close-30", (2023, 3, 14, 15, 30), date(2023, 3, 15), date(2023, 3, 14)),
    ("NVDA", "regular day, 1 min after close-30", (2023, 3, 14, 15, 31), date(2023, 3, 15), date(2023, 3, 14)),
    ("AMZN", "regular day, 15:59:59", (2023, 3, 14, 15, 59, 59), date(2023, 3, 15), date(2023, 3, 14)),
    ("GOOGL", "regular day, at the close", (2023, 3, 14, 16, 0), date(2023, 3, 15), date(2023, 3, 15)),
    ("TSLA", "Friday 15:45 -> Monday", (2023, 3, 17, 15, 45), date(2023, 3, 20), date(2023, 3, 17)),
    ("JPM", "Saturday -> Monday", (2023, 3, 18, 12, 0), date(2023, 3, 20), date(2023, 3, 20)),
    ("XOM", "July 3 half day, 12:29", (2023, 7, 3, 12, 29), date(2023, 7, 3), date(2023, 7, 3)),
    ("KO", "July 3 half day, 12:31 -> July 5", (2023, 7, 3, 12, 31), date(2023, 7, 5), date(2023, 7, 3)),
    ("PEP", "July 4 holiday -> July 5", (2023, 7, 4, 11, 0), date(2023, 7, 5), date(2023, 7, 5)),
    ("WMT", "Wednesday before Thanksgiving, 15:45 -> Friday", (2023, 11, 22, 15, 45), date(2023, 11, 24),
     date(2023, 11, 22)),
    ("DIS", "Thanksgiving -> Friday", (2023, 11, 23, 12, 0), date(2023, 11, 24), date(2023, 11, 24)),
    ("INTC", "Black Friday (13:00 close), 12:29", (2023, 11, 24, 12, 29), date(2023, 11, 24), date(2023, 11, 24)),
    ("AMD", "Black Friday, exactly 12:30 -> Monday", (2023, 11, 24, 12, 30), date(2023, 11, 27), date(2023, 11, 24)),
    ("NFLX", "Black Friday, 12:31 -> Monday", (2023, 11, 24, 12, 31), date(2023, 11, 27), date(2023, 11, 24)),
    ("ORCL", "Black Friday, 14:00 (before a regular close) -> Monday", (2023, 11, 24, 14, 0), date(2023, 11, 27),
     date(2023, 11, 27)),
]
IDS = [c[1] for c in CASES]


def comments_of(cases: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One comment per case mentioning its own ticker, and its ROI row (one subject, value = case number)."""
    comments = pd.DataFrame({
        "id": [f"c{k}" for k in range(len(cases))], "author": [f"user{k}" for k in range(len(cases))],
        "created_utc": [et(*c[2]) for c in cases], "body": [f"${c[0]} looks interesting" for c in cases],
    })
    roi = pd.DataFrame({"id": comments["id"], "subject": "UTS01", ROI: np.arange(len(cases), dtype=float)})
    return comments, roi


def panel_sessions(store: PanelStore) -> dict[str, date]:
    """Ticker -> the session its (single) comment was assigned to in the stored panel."""
    panel = store.load_panel()
    assert panel.groupby("ticker").size().eq(1).all()
    return dict(zip(panel["ticker"], pd.to_datetime(panel["session"]).dt.date, strict=True))


@pytest.mark.parametrize(("ticker", "what", "wall", "with_30", "with_0"), CASES, ids=IDS)
def test_session_of_applies_the_cutoff_before_the_actual_close(ticker, what, wall, with_30, with_0) -> None:
    assert session_of(et(*wall), cutoff_minutes=30) == with_30, what
    assert session_of(et(*wall), cutoff_minutes=0) == session_of(et(*wall)) == with_0, what


def test_the_cutoff_is_exact_to_the_millisecond() -> None:
    boundary = et(2023, 3, 14, 15, 30)
    days = sessions_of(np.array([boundary - 0.001, boundary, boundary + 0.001]), cutoff_minutes=30)
    assert [d.astype(object) for d in days] == [date(2023, 3, 14), date(2023, 3, 15), date(2023, 3, 15)]
    half_day = et(2023, 11, 24, 12, 30)
    days = sessions_of(np.array([half_day - 0.001, half_day]), cutoff_minutes=30)
    assert [d.astype(object) for d in days] == [date(2023, 11, 24), date(2023, 11, 27)]
    with pytest.raises(InputError, match="0 or more"):
        sessions_of(np.array([boundary]), cutoff_minutes=-1)


def test_panel_build_assigns_sessions_with_the_cutoff(tmp_path: Path) -> None:
    comments, roi = comments_of(CASES)
    store = PanelStore(tmp_path / "cut30.duckdb", cutoff_minutes=30)
    store.update(comments, roi)
    assert panel_sessions(store) == {c[0]: c[3] for c in CASES}
    legacy = PanelStore(tmp_path / "cut0.duckdb", cutoff_minutes=0)  # the behaviour before the cutoff
    legacy.update(comments, roi)
    assert panel_sessions(legacy) == {c[0]: c[4] for c in CASES}
    assert PanelStore(tmp_path / "default.duckdb").cutoff_minutes == MarketSettings().cutoff_minutes == 30


def test_a_comment_after_the_cutoff_feeds_the_next_sessions_features(tmp_path: Path) -> None:
    cases = [("AAPL", "before", (2023, 3, 14, 15, 29), None, None), ("MSFT", "after", (2023, 3, 14, 15, 31), None, None)]
    comments, roi = comments_of(cases)
    store = PanelStore(tmp_path / "panel.duckdb", cutoff_minutes=30)
    store.update(comments, roi)
    days = pd.to_datetime(["2023-03-13", "2023-03-14", "2023-03-15", "2023-03-16"])
    store.update_prices(pd.DataFrame({"date": days, "AAPL": [150.0, 151.0, 152.0, 153.0], "MSFT": [250.0, 251.0, 252.0, 253.0]}))
    frame = session_frame(store.load_panel(), store.load_prices(), [ROI], MarketSettings(session_span="prices"))
    values = frame.set_index(["ticker", "session"])[ROI]
    assert values[("AAPL", pd.Timestamp("2023-03-14"))] == 0.0  # 15:29 -> the 3/14 session's features
    assert np.isnan(values[("MSFT", pd.Timestamp("2023-03-14"))])  # 15:31 is not in the 3/14 features ...
    assert values[("MSFT", pd.Timestamp("2023-03-15"))] == 1.0  # ... but in the 3/15 ones


def test_a_panel_refuses_updates_under_another_cutoff(tmp_path: Path) -> None:
    comments, roi = comments_of(CASES[:3])
    path = tmp_path / "panel.duckdb"
    PanelStore(path, cutoff_minutes=30).update(comments, roi)
    before = PanelStore(path).load_panel()
    more, more_roi = comments_of(CASES[:5])
    with pytest.raises(InputError, match="built with comments up to 30 minutes.*market.cutoff_minutes = 30"):
        PanelStore(path, cutoff_minutes=0).update(more, more_roi)
    pd.testing.assert_frame_equal(PanelStore(path).load_panel(), before)  # nothing written
    PanelStore(path, cutoff_minutes=30).update(more, more_roi)
    assert len(PanelStore(path).load_panel()) == 5


def test_a_panel_written_before_the_cutoff_was_recorded_counts_as_cutoff_0(tmp_path: Path) -> None:
    comments, roi = comments_of(CASES[:3])
    path = tmp_path / "old.duckdb"
    PanelStore(path, cutoff_minutes=0).update(comments, roi)
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM meta WHERE key = 'cutoff_minutes'")
    with pytest.raises(InputError, match="up to 0 minutes"):
        PanelStore(path, cutoff_minutes=30).update(comments, roi)
    PanelStore(path, cutoff_minutes=0).update(comments, roi)


def test_the_backtest_reports_the_cutoff_its_panel_was_built_with(tmp_path: Path) -> None:
    comments, roi = comments_of(CASES[:3])
    path = tmp_path / "panel.duckdb"
    PanelStore(path, cutoff_minutes=45).update(comments, roi)
    assert PanelStore(path).recorded_cutoff() == 45  # whatever cutoff the reader was opened with
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM meta WHERE key = 'cutoff_minutes'")
    assert PanelStore(path).recorded_cutoff() == 0


# A single-ticker OHLCV file: the adjusted close halves after a 2-for-1 split on 3/16 (raw prices do not)
OHLCV = pd.DataFrame({
    "Date": ["2023-03-13", "2023-03-14", "2023-03-15", "2023-03-16", "2023-03-17"],
    "Open": [100.0, 103.0, 101.0, 49.0, 50.5],
    "High": [105.0, 106.0, 104.0, 52.0, 53.0],
    "Low": [99.0, 100.0, 97.0, 48.0, 49.0],
    "Close": [104.0, 102.0, 98.0, 51.0, 50.0],
    "Adj Close": [51.5, 50.6, 48.7, 50.8, 50.0],
    "Volume": [10, 11, 12, 13, 14],
})


def test_open_prices_survive_read_panel_and_load_with_the_adjustment(tmp_path: Path) -> None:
    csv = tmp_path / "tsla.csv"
    OHLCV.to_csv(csv, index=False)
    read = read_prices(csv)
    assert read.attrs["price_column"] == "Adj Close" and read.attrs["open_column"] == "Open x Adj Close / Close"
    store = PanelStore(tmp_path / "panel.duckdb")
    store.update_prices(read)
    loaded = store.load_prices(["TSLA"])
    expected_open = [o * a / c for o, a, c in zip(OHLCV["Open"], OHLCV["Adj Close"], OHLCV["Close"], strict=True)]
    np.testing.assert_allclose(loaded["open"].to_numpy(float), expected_open, rtol=1e-12)
    np.testing.assert_allclose(loaded["close"].to_numpy(float), OHLCV["Adj Close"].to_numpy(), rtol=1e-12)
    assert list(loaded.columns) == ["session", "ticker", "close", "log_return", "open"]


def test_a_prices_table_without_opens_loads_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:  # the prices schema before opens were stored
        con.execute("CREATE TABLE prices (session DATE, ticker VARCHAR, close DOUBLE, log_return DOUBLE, "
                    "PRIMARY KEY (session, ticker))")
        con.execute("INSERT INTO prices VALUES ('2023-03-10', 'TSLA', 100.0, NULL)")
    store = PanelStore(path)
    old = store.load_prices()
    assert list(old.columns) == ["session", "ticker", "close", "log_return", "open"] and old["open"].isna().all()
    store.update_prices(OHLCV.assign(Ticker="TSLA"))
    loaded = store.load_prices()
    assert loaded["open"].isna().tolist() == [True, False, False, False, False, False]
    np.testing.assert_allclose(loaded["log_return"].iloc[1], np.log(51.5 / 100.0), rtol=1e-12)  # 3/10 -> 3/13


def test_open_to_close_target_is_the_sessions_close_over_open_from_the_csv(tmp_path: Path) -> None:
    csv = tmp_path / "tsla.csv"
    OHLCV.to_csv(csv, index=False)
    store = PanelStore(tmp_path / "panel.duckdb")
    comments, roi = comments_of([("TSLA", "Monday noon", (2023, 3, 13, 12, 0), None, None)])
    store.update(comments, roi)
    store.update_prices(read_prices(csv))
    frame = session_frame(store.load_panel(), store.load_prices(), [ROI], MarketSettings(session_span="prices"))
    spec = TargetSpec("open_to_close", 1)
    target = with_targets(frame, [spec]).set_index("session")[spec.column]
    by_hand = {pd.Timestamp(d): float(np.log(c / o)) for d, o, c in zip(OHLCV["Date"], OHLCV["Open"], OHLCV["Close"],
                                                                         strict=True)}
    assert list(target.index) == list(by_hand)
    np.testing.assert_allclose(target.to_numpy(float), list(by_hand.values()), rtol=1e-12)
