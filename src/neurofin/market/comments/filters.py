"""Row filtering of ingestion: which dump records become comment rows, and the count of why the others did not.

Owns the drop rules (malformed, timestamps, subreddit, date range, deleted, edited, bots, empty), the casts of
created_utc and scores, and the ingestion report. A record reaches the filter as a tuple of field values in the
order of `RecordLayout.names` (UNSET where the record lacks the field), whatever the dump's format.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from msgspec import UNSET

from neurofin.errors import InputError

DEFAULT_BOT_AUTHORS: frozenset[str] = frozenset(
    {"automoderator", "visualmod", "wsbvotebot", "remindmebot", "sneakpeekbot", "tickerbot"}
)
# Rule for bots not on the list: a "bot" suffix after a separator or a CamelCase hump ("ticker_bot",
# "SomeTickerBot"); a lower-case ending ("Talbot", "Abbot") is a human name. The allow-list wins over both.
BOT_CAMEL = re.compile(r"(?<=[a-z0-9])Bot$")
DEFAULT_ALLOWED_AUTHORS: frozenset[str] = frozenset({"talbot", "abbot", "cabot", "hubot", "ribot"})
EDIT_MARK = re.compile(r"\bedit(?:ed)?\s*\d*\s*:", re.IGNORECASE)  # "EDIT:", "Edit 2:" in the text
MS_THRESHOLD = 100_000_000_000  # created_utc above this (year 5138 in seconds) is in milliseconds
EPOCH_RANGE = (1_117_584_000, 4_102_444_800)  # 2005-06-01 (Reddit's launch) .. 2100-01-01, in seconds
DELETED_BODIES: frozenset[str] = frozenset({"[deleted]", "[removed]", "[ removed by reddit ]", "[unavailable]"})
_LONGEST_DELETED = max(map(len, DELETED_BODIES))
NOT_EDITED = (None, False, 0, "", "false", "False")
DROP_REASONS: tuple[str, ...] = (
    "malformed", "bad_timestamp", "wrong_subreddit", "out_of_range", "deleted", "edited", "bot", "empty", "duplicate",
)  # fmt: skip


@dataclass
class IngestReport:
    """What an ingestion run read, kept and dropped (and why)."""

    files: list[str] = field(default_factory=list)
    bytes_read: int = 0
    lines: int = 0
    kept: int = 0
    malformed: int = 0
    wrong_subreddit: int = 0
    out_of_range: int = 0
    deleted: int = 0
    edited: int = 0
    bot: int = 0
    millisecond_timestamps: int = 0
    bad_timestamp: int = 0
    empty: int = 0
    duplicate: int = 0
    repaired_text: int = 0  # rows whose fields held lone surrogates (half an emoji), replaced by U+FFFD
    kept_deleted: int = 0  # deleted/removed comments that keep_deleted let through the filters (text: the dump's mark)
    truncated_files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record of this report."""
        return asdict(self)


def parse_created_utc(value: Any) -> int | None:
    """Cast a dump's created_utc (int, float, numeric string or ISO-8601 string) to int UTC seconds."""
    if type(value) is int:  # the common case first
        return _epoch(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return _epoch(int(text))
    except ValueError:
        pass
    try:
        return _epoch(float(text))
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp())


def _epoch(number: float) -> int | None:
    """Whole seconds (or milliseconds, converted later), or None for NaN, infinities and values no int64 holds
    with room to spare (|n| >= 2**62); the plausibility of the time itself is judged afterwards (2005..2100)."""
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return int(number) if -(2**62) < number < 2**62 else None


def _as_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _as_score(value: Any) -> int | None:
    if type(value) is int and -(2**53) <= value <= 2**53:  # exact through the float cast below
        return value
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) and abs(number) < 2**63 else None


def is_bot(author: str, bots: frozenset[str], allowed: frozenset[str]) -> bool:
    """Explicit bot list (lower case) or the bot-name rule, unless the author is on the allow-list."""
    lowered = author.lower()
    if lowered in allowed:
        return False
    if lowered in bots:
        return True
    return lowered.endswith("bot") and (lowered.endswith(("_bot", "-bot")) or bool(BOT_CAMEL.search(author)))


def is_deleted(body: str) -> bool:
    """The text is a deletion mark ("[deleted]", "[removed]", ...; `body` already stripped)."""
    return len(body) <= _LONGEST_DELETED and body.lower() in DELETED_BODIES


def epoch_seconds(created: int, report: IngestReport) -> int | None:
    """created_utc in seconds: milliseconds converted (counted); outside 2005..2100 rejected (counted)."""
    milliseconds = created > MS_THRESHOLD
    seconds = created // 1000 if milliseconds else created
    if not EPOCH_RANGE[0] <= seconds <= EPOCH_RANGE[1]:
        report.bad_timestamp += 1
        return None
    report.millisecond_timestamps += milliseconds
    return seconds


def utc_bounds(start: date | None, end: date | None) -> tuple[int | None, int | None]:
    """[start 00:00 UTC, (end + 1 day) 00:00 UTC) as epoch seconds; None leaves a side open."""

    def epoch(day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())

    lo = epoch(start) if start is not None else None
    hi = epoch(end + timedelta(days=1)) if end is not None else None
    if lo is not None and hi is not None and hi <= lo:
        raise InputError(f"start {start} is after end {end}: give an increasing date range")
    return lo, hi


@dataclass(frozen=True)
class Fields:
    """Which record fields hold the comment id, text and time (user files may name them differently)."""

    id: str = "id"
    text: str = "body"
    time: str = "created_utc"


class RecordLayout:
    """The record fields the filter reads, once each, in a fixed order (`names`), and where each role sits."""

    def __init__(self, fields: Fields = Fields(), extra: tuple[str, ...] = ()) -> None:
        roles = (fields.id, fields.time, "subreddit", fields.text, "edited", "author", "link_id", "parent_id", "score",
                 "retrieved_on", "retrieved_utc", *extra)  # fmt: skip
        self.names: tuple[str, ...] = tuple(dict.fromkeys(roles))
        self.at: tuple[int, ...] = tuple(self.names.index(name) for name in roles)

    def values(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """The layout's values of a decoded record (UNSET where it lacks the field)."""
        return tuple(record.get(name, UNSET) for name in self.names)


class RowFilter:
    """Decides for one record: keep it (returns the row) or count why it was dropped."""

    def __init__(
        self, report: IngestReport, layout: RecordLayout, subreddits: set[str] | None, lo: int | None, hi: int | None,
        bots: frozenset[str], allowed: frozenset[str] = DEFAULT_ALLOWED_AUTHORS, keep_edited: bool = False,
        keep_deleted: bool = False,
    ) -> None:
        self.report, self.layout, self.subreddits, self.lo, self.hi = report, layout, subreddits, lo, hi
        self.bots, self.allowed, self.keep_edited, self.keep_deleted = bots, allowed, keep_edited, keep_deleted

    def row(self, values: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """The output row of a record's layout values (None: a malformed line), or None (with the reason counted)
        if it is dropped."""
        report = self.report
        if values is None:
            report.malformed += 1
            return None
        at = self.layout.at
        comment_id = values[at[0]]
        comment_id = str(comment_id) if isinstance(comment_id, (str, int)) and not isinstance(comment_id, bool) else None
        created = parse_created_utc(_got(values[at[1]]))
        if not comment_id or created is None:
            report.malformed += 1
            return None
        created = epoch_seconds(created, report)
        if created is None:
            return None
        subreddit = values[at[2]]
        has_subreddit = subreddit is not UNSET
        subreddit = str(subreddit or "") if has_subreddit else ""
        if self.subreddits is not None and has_subreddit and subreddit.lower() not in self.subreddits:
            report.wrong_subreddit += 1
            return None
        if (self.lo is not None and created < self.lo) or (self.hi is not None and created >= self.hi):
            report.out_of_range += 1
            return None
        body = values[at[3]]
        body = body.strip() if isinstance(body, str) else ""
        deleted = is_deleted(body)
        if deleted and not self.keep_deleted:
            report.deleted += 1
            return None
        edited = _got(values[at[4]])
        if not self.keep_edited and (edited not in NOT_EDITED or (":" in body and EDIT_MARK.search(body))):
            report.edited += 1
            return None
        author = str(_got(values[at[5]]) or "[deleted]")
        if is_bot(author, self.bots, self.allowed):
            report.bot += 1
            return None
        if not body:
            report.empty += 1
            return None
        report.kept_deleted += deleted
        retrieved = values[at[9]]
        retrieved = parse_created_utc(_got(values[at[10]]) if retrieved is UNSET else retrieved)
        lag = retrieved - created if retrieved is not None else None
        row = (comment_id, author, created, subreddit, body, _as_str(_got(values[at[6]])), _as_str(_got(values[at[7]])),
               _as_score(_got(values[at[8]])), retrieved, lag)
        return (*row, *(_as_str(_got(values[i])) for i in at[11:])) if len(at) > 11 else row


def _got(value: Any) -> Any:
    """A field's value, None where the record lacks it (as dict.get)."""
    return None if value is UNSET else value
