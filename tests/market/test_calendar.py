"""Session assignment of comment times, checked against NYSE sessions written out by hand.

The expected sessions below come from the published NYSE holiday and early-close schedule (2021-2024),
not from exchange_calendars; the timestamps are built with zoneinfo in US/Eastern local time.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from neurofin.errors import InputError
from neurofin.market.comments.calendar import is_session, session_of, sessions_of, trading_sessions

ET = ZoneInfo("America/New_York")


def et(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    """UTC epoch seconds of a US/Eastern wall-clock time."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=ET).timestamp())


# (what, US/Eastern wall clock, expected session)
CASES = [
    ("regular day, pre-open", (2023, 3, 14, 4, 0), date(2023, 3, 14)),
    ("regular day, midnight", (2023, 3, 14, 0, 0), date(2023, 3, 14)),
    ("regular day, 15:59:59", (2023, 3, 14, 15, 59, 59), date(2023, 3, 14)),
    ("regular day, 16:00:00 close -> next", (2023, 3, 14, 16, 0, 0), date(2023, 3, 15)),
    ("regular day, evening -> next", (2023, 3, 14, 21, 30), date(2023, 3, 15)),
    ("Friday after close -> Monday", (2023, 3, 17, 16, 30), date(2023, 3, 20)),
    ("Saturday -> Monday", (2023, 3, 18, 12, 0), date(2023, 3, 20)),
    ("Sunday night -> Monday", (2023, 3, 19, 23, 59), date(2023, 3, 20)),
    # Independence Day 2023 (Tuesday); Monday July 3 closes early at 13:00
    ("July 3 early close, 12:59", (2023, 7, 3, 12, 59), date(2023, 7, 3)),
    ("July 3 early close, 13:00 -> July 5", (2023, 7, 3, 13, 0), date(2023, 7, 5)),
    ("July 3, 14:30 (before normal close) -> July 5", (2023, 7, 3, 14, 30), date(2023, 7, 5)),
    ("July 4 holiday -> July 5", (2023, 7, 4, 11, 0), date(2023, 7, 5)),
    # July 4 2021 fell on a Sunday: observed Monday July 5
    ("Sunday July 4 2021 -> Tuesday July 6", (2021, 7, 4, 10, 0), date(2021, 7, 6)),
    ("Friday July 2 2021 after close -> July 6", (2021, 7, 2, 17, 0), date(2021, 7, 6)),
    # Good Friday 2023 (April 7): no early close on Thursday
    ("Thursday before Good Friday, 15:00", (2023, 4, 6, 15, 0), date(2023, 4, 6)),
    ("Thursday before Good Friday, after close -> Monday", (2023, 4, 6, 16, 0), date(2023, 4, 10)),
    ("Good Friday -> Monday", (2023, 4, 7, 10, 0), date(2023, 4, 10)),
    # Thanksgiving 2023 (Thursday Nov 23); Friday Nov 24 closes at 13:00
    ("Wednesday before Thanksgiving, after close -> Friday", (2023, 11, 22, 17, 0), date(2023, 11, 24)),
    ("Thanksgiving -> Friday", (2023, 11, 23, 12, 0), date(2023, 11, 24)),
    ("Black Friday 12:59:59", (2023, 11, 24, 12, 59, 59), date(2023, 11, 24)),
    ("Black Friday 13:00 early close -> Monday", (2023, 11, 24, 13, 0), date(2023, 11, 27)),
    # Christmas 2022 on Sunday, observed Monday Dec 26
    ("Christmas observed Monday -> Tuesday", (2022, 12, 26, 9, 0), date(2022, 12, 27)),
    # New Year 2024 (Monday Jan 1)
    ("Friday Dec 29 2023 after close -> Jan 2 2024", (2023, 12, 29, 18, 0), date(2024, 1, 2)),
    # Juneteenth 2023 (Monday June 19), Martin Luther King Day 2024 (Jan 15)
    ("Juneteenth -> next day", (2023, 6, 19, 10, 0), date(2023, 6, 20)),
    ("MLK day -> next day", (2024, 1, 15, 10, 0), date(2024, 1, 16)),
    # Daylight-saving changes: spring forward Sunday 2023-03-12, fall back Sunday 2023-11-05
    ("DST spring-forward Sunday 03:30 EDT -> Monday", (2023, 3, 12, 3, 30), date(2023, 3, 13)),
    ("Monday after spring forward, 15:30 EDT", (2023, 3, 13, 15, 30), date(2023, 3, 13)),
    ("Monday after spring forward, 16:30 EDT -> Tuesday", (2023, 3, 13, 16, 30), date(2023, 3, 14)),
    ("Friday before spring forward, 15:30 EST", (2023, 3, 10, 15, 30), date(2023, 3, 10)),
    ("Monday after fall back, 15:30 EST", (2023, 11, 6, 15, 30), date(2023, 11, 6)),
    ("Monday after fall back, 16:00 EST -> Tuesday", (2023, 11, 6, 16, 0), date(2023, 11, 7)),
    ("fall-back Sunday 01:30 (ambiguous hour) -> Monday", (2023, 11, 5, 1, 30), date(2023, 11, 6)),
]


@pytest.mark.parametrize(("what", "wall", "expected"), CASES, ids=[c[0] for c in CASES])
def test_session_of_matches_hand_written_nyse_schedule(what: str, wall: tuple[int, ...], expected: date) -> None:
    assert session_of(et(*wall)) == expected, what


def test_vectorised_sessions_agree_with_scalar_and_dst_offset_is_real() -> None:
    stamps = np.array([et(*wall) for _, wall, _ in CASES])
    days = sessions_of(stamps)
    assert [d.astype(object) for d in days] == [expected for _, _, expected in CASES]
    # the same 15:30 wall clock is 20:30 UTC in winter and 19:30 UTC in summer: a naive fixed offset fails
    winter, summer = et(2023, 3, 10, 15, 30), et(2023, 3, 13, 15, 30)
    assert (winter % 86_400) // 3600 == 20 and (summer % 86_400) // 3600 == 19
    # 20:30 UTC on the Monday after spring forward is 16:30 EDT: after the close
    assert session_of(int(datetime(2023, 3, 13, 20, 30, tzinfo=ZoneInfo("UTC")).timestamp())) == date(2023, 3, 14)


def test_trading_sessions_and_is_session_follow_the_holiday_list() -> None:
    november = [d.astype(object) for d in trading_sessions("2023-11-20", "2023-11-28")]
    assert november == [date(2023, 11, d) for d in (20, 21, 22, 24, 27, 28)]
    assert not is_session("2023-07-04") and not is_session("2023-04-07") and not is_session("2023-03-18")
    assert is_session("2023-07-03") and is_session("2023-11-24")


def test_timestamps_outside_the_calendar_raise_a_user_error() -> None:
    with pytest.raises(InputError, match="created_utc is in seconds"):
        sessions_of(np.array([et(2023, 3, 14, 12) * 1000]))  # milliseconds by mistake
    with pytest.raises(InputError, match="unknown exchange calendar"):
        sessions_of(np.array([et(2023, 3, 14, 12)]), exchange="NOPE")
