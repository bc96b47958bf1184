"""Row filtering of ingestion: which dump records become comment rows, and the count of why the others did not.

Owns the drop rules (malformed, timestamps, subreddit, date range, deleted, edited, bots, empty), the casts of
created_utc and scores, and the ingestion report. A record reaches the filter as a `RecordLayout.Record` of the
fields it reads (UNSET where the record lacks the field), whatever the dump's format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from operator import contains, is_not, itemgetter
from typing import Any

import msgspec
import numpy as np
from msgspec import UNSET
from msgspec.structs import astuple

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
    """The record fields the filter reads, once each, in a fixed order (`names`): a record is a `Record` struct of
    them (attribute f<i> holds field names[i], UNSET where the record lacks it); `at` is each role's position."""

    def __init__(self, fields: Fields = Fields(), extra: tuple[str, ...] = ()) -> None:
        roles = (fields.id, fields.time, "subreddit", fields.text, "edited", "author", "link_id", "parent_id", "score",
                 "retrieved_on", "retrieved_utc", *extra)  # fmt: skip
        self.names: tuple[str, ...] = tuple(dict.fromkeys(roles))
        attributes = [(f"f{index}", Any, UNSET) for index in range(len(self.names))]
        rename = {f"f{index}": name for index, name in enumerate(self.names)}
        self.Record: Any = msgspec.defstruct("Record", attributes, rename=rename, gc=False)
        self.at: tuple[int, ...] = tuple(self.names.index(name) for name in roles)

    def values(self, record: dict[str, Any]) -> Any:
        """The layout's `Record` of a decoded record."""
        return self.Record(*(record.get(name, UNSET) for name in self.names))


class RowFilter:
    """Decides for a batch of records which become comment rows, and counts why the others were dropped.

    The rules run column by column over the whole batch (numpy masks) in the order of `DROP_REASONS`: a record is
    counted under the first rule it fails. A column whose values all have the plain type of the field (str ids,
    texts and names, int timestamps and scores) is handled by C-level passes (`map`, numpy, a dict of the distinct
    values); a column with any other value goes through the general cast (`parse_created_utc`, `_as_str`,
    `_as_score`) value by value, so the result does not depend on the path.
    """

    def __init__(
        self, report: IngestReport, layout: RecordLayout, subreddits: set[str] | None, lo: int | None, hi: int | None,
        bots: frozenset[str], allowed: frozenset[str] = DEFAULT_ALLOWED_AUTHORS, keep_edited: bool = False,
        keep_deleted: bool = False,
    ) -> None:
        self.report, self.layout, self.subreddits, self.lo, self.hi = report, layout, subreddits, lo, hi
        self.bots, self.allowed, self.keep_edited, self.keep_deleted = bots, allowed, keep_edited, keep_deleted

    def columns(self, records: list[Any]) -> list[Any]:
        """The output columns (`COMMENT_COLUMNS` order, then the extra fields; lists, or int64 arrays where no value
        is missing) of the kept records among a batch of `Record`s (None: a malformed line); the others are
        counted in the report by reason."""
        report, at = self.report, self.layout.at
        values = list(filter(None, records))  # a Record is true
        report.malformed += len(records) - len(values)
        fields = list(zip(*map(astuple, values))) or [()] * len(self.layout.names)  # columns, in one C-level pass
        ids: Any = fields[at[0]]
        named: Any = True  # every record has an id
        if not _only(ids, str) or "" in ids:
            ids = [v if type(v) is str else _as_id(v) for v in ids]
            named = np.fromiter(map(bool, ids), bool, len(ids))
        created = _timestamps(fields[at[1]])
        alive = named & (created != _NO_TIME)
        report.malformed += int(alive.size - alive.sum())
        milliseconds = created > MS_THRESHOLD
        created = np.where(milliseconds, created // 1000, created)
        in_epoch = (created >= EPOCH_RANGE[0]) & (created <= EPOCH_RANGE[1])
        alive = _drop(report, "bad_timestamp", alive, ~in_epoch)
        report.millisecond_timestamps += int((alive & milliseconds).sum())
        subreddits = fields[at[2]]
        if self.subreddits is not None:
            alive = _drop(report, "wrong_subreddit", alive, ~self._subreddit_kept(subreddits))
        out_of_range = np.zeros(alive.size, bool)
        if self.lo is not None:
            out_of_range |= created < self.lo
        if self.hi is not None:
            out_of_range |= created >= self.hi
        alive = _drop(report, "out_of_range", alive, out_of_range)

        rows = np.flatnonzero(alive).tolist()  # the rules below read the texts: only of the records still in
        survivor = _picker(rows)
        bodies = survivor(fields[at[3]])
        try:
            bodies = list(map(str.strip, bodies))
        except TypeError:  # a text that is not a string
            bodies = [v.strip() if isinstance(v, str) else "" for v in bodies]
        lengths = np.fromiter(map(len, bodies), np.int64, len(bodies))
        deleted = _test_where(lengths <= _LONGEST_DELETED, bodies, lambda body: body.lower() in DELETED_BODIES)
        alive = np.ones(len(rows), bool)
        if not self.keep_deleted:
            alive = _drop(report, "deleted", alive, deleted)
        if not self.keep_edited:
            alive = _drop(report, "edited", alive, _edit_flags(survivor(fields[at[4]])) | _edit_marks(bodies))
        authors = survivor(fields[at[5]])
        if not _only(authors, str) or "" in authors:
            authors = [(v or "[deleted]") if type(v) is str else str(_got(v) or "[deleted]") for v in authors]
        alive = _drop(report, "bot", alive, self._bots(authors))
        alive = _drop(report, "empty", alive, lengths == 0)
        report.kept_deleted += int((alive & deleted).sum())

        kept = np.flatnonzero(alive).tolist()
        kept_survivor = _picker(kept)
        kept_rows = kept_survivor(rows)  # positions among `values`
        out = _picker(kept_rows)
        seconds = created[kept_rows]
        retrieved: Any = _ints(out(fields[at[9]]), _INT62)
        if retrieved is not None:
            lags: Any = retrieved - seconds
        else:
            retrieved = [r if type(r) is int and -_INT62 < r < _INT62 else _retrieved(r, u)
                         for r, u in zip(out(fields[at[9]]), out(fields[at[10]]), strict=True)]  # fmt: skip
            lags = [r - c if r is not None else None for r, c in zip(retrieved, seconds.tolist(), strict=True)]
        scores: Any = _ints(out(fields[at[8]]), 2**53 + 1)  # exact through the float cast of `_as_score`
        if scores is None:
            scores = [v if type(v) is int and -(2**53) <= v <= 2**53 else _as_score(_got(v)) for v in out(fields[at[8]])]
        names = out(subreddits)
        if not _only(names, str):
            names = [v if type(v) is str else _as_subreddit(v) for v in names]
        return [out(ids), kept_survivor(authors), seconds, names, kept_survivor(bodies),
                *(_strings(out(fields[i])) for i in at[6:8]), scores, retrieved, lags,
                *(_strings(out(fields[i])) for i in at[11:])]  # fmt: skip

    def _subreddit_kept(self, values: Sequence[Any]) -> np.ndarray:
        """Records the subreddit rule keeps: those without a subreddit field and those of a wanted subreddit."""
        assert self.subreddits is not None
        try:  # decide once per distinct name
            kept = {v: v is UNSET or v.lower() in self.subreddits for v in set(values)}
            return np.fromiter(map(kept.__getitem__, values), bool, len(values))
        except (AttributeError, TypeError):  # a name that is not a string (an unhashable one: TypeError)
            pass
        names = [v if type(v) is str else _as_subreddit(v) for v in values]
        wanted = {name: name.lower() in self.subreddits for name in set(names)}
        has = np.fromiter(map(is_not, values, repeat(UNSET)), bool, len(values))
        return ~has | np.fromiter(map(wanted.__getitem__, names), bool, len(names))

    def _bots(self, authors: list[str]) -> np.ndarray:
        """`is_bot` of each author, called only for the names that can be bots (listed, or ending in "bot")."""
        lowered = list(map(str.lower, authors))
        maybe = np.fromiter(map(str.endswith, lowered, repeat("bot")), bool, len(lowered))
        maybe |= np.fromiter(map(self.bots.__contains__, lowered), bool, len(lowered))
        return _test_where(maybe, authors, lambda author: is_bot(author, self.bots, self.allowed))


_INT62 = 2**62  # |created_utc| from here on is no time (`_epoch`)
_NO_TIME = -(2**62)  # stands for "no created_utc" in the int64 column; never a parse result


def _only(column: Sequence[Any], *kinds: type) -> bool:
    """Whether every value of a column has one of these exact types."""
    return set(map(type, column)) <= set(kinds)


def _ints(values: list[Any], bound: int) -> np.ndarray | None:
    """The values as an int64 array when all are ints of magnitude below `bound`; None otherwise."""
    if not _only(values, int):
        return None
    try:
        array = np.fromiter(values, np.int64, len(values))
    except OverflowError:
        return None
    return array if array.size == 0 or (-bound < array.min() and array.max() < bound) else None


def _timestamps(values: Sequence[Any]) -> np.ndarray:
    """created_utc values as int64 (milliseconds not yet converted), _NO_TIME where a value is no time: a batch of
    ints, floats and strings int() reads in one pass, else cast by `_times` once per type present in the batch."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        return _times(kinds.pop(), values)
    if kinds <= {int, float, str}:  # int() truncates floats as numpy does and reads the strings `_epoch` accepts
        try:
            return _in_time_range(np.fromiter(map(int, values), np.int64, len(values)))
        except (ValueError, OverflowError):  # NaN, infinities, beyond int64, strings int() refuses: per type below
            pass
    types = list(map(type, values))
    code = {kind: index for index, kind in enumerate(kinds)}
    codes = np.fromiter(map(code.__getitem__, types), np.int64, len(types))
    created = np.empty(len(values), np.int64)
    for kind, index in code.items():
        rows = np.flatnonzero(codes == index)
        created[rows] = _times(kind, _picker(rows.tolist())(values))
    return created


def _times(kind: type, values: Sequence[Any]) -> np.ndarray:
    """`_timestamps` of values all of type `kind`: ints and floats in numpy (a float truncated as int() does, NaN and
    infinities failing the range), strings of 1 to 18 ASCII digits by int() in one pass (always below 2**62); other
    values, and ints beyond int64, by `parse_created_utc` one by one."""
    if kind is int:
        try:
            plain = np.fromiter(values, np.int64, len(values))
        except OverflowError:  # beyond int64: cast one by one below
            pass
        else:
            return _in_time_range(plain)
    elif kind is float:
        floats = np.fromiter(values, np.float64, len(values))
        timed = (floats > -_INT62) & (floats < _INT62)
        return np.where(timed, np.where(timed, floats, 0.0).astype(np.int64), _NO_TIME)
    elif kind is str:
        joined, lengths = "".join(values), list(map(len, values))
        if joined.isascii() and joined.isdigit() and min(lengths, default=1) > 0 and max(lengths, default=0) < 19:
            return np.fromiter(map(int, values), np.int64, len(values))
    return np.fromiter(map(_stamp, values), np.int64, len(values))


def _in_time_range(seconds: np.ndarray) -> np.ndarray:
    """_NO_TIME where |value| >= 2**62 (no time, as `_epoch` says)."""
    return np.where((seconds <= -_INT62) | (seconds >= _INT62), _NO_TIME, seconds)


def _edit_flags(values: list[Any]) -> np.ndarray:
    """Records whose `edited` field says edited (decided once per distinct value where all are hashable)."""
    try:
        flags = {v: v is not UNSET and v not in NOT_EDITED for v in set(values)}  # equal values: same answer
    except TypeError:  # a list or an object
        return np.array([v is not UNSET and v not in NOT_EDITED for v in values], bool)
    return np.fromiter(map(flags.__getitem__, values), bool, len(values))


def _edit_marks(bodies: list[str]) -> np.ndarray:
    """Texts with an edit mark ("EDIT:"); the regex runs only on the texts holding a colon."""
    colons = np.fromiter(map(contains, bodies, repeat(":")), bool, len(bodies))
    return _test_where(colons, bodies, lambda body: EDIT_MARK.search(body) is not None)


def _test_where(maybe: np.ndarray, values: list[Any], test: Callable[[Any], bool]) -> np.ndarray:
    """`test` of the values where `maybe` holds (the cheap pre-check), False elsewhere."""
    flags = np.zeros(len(values), bool)
    rows = np.flatnonzero(maybe).tolist()
    flags[rows] = [test(values[i]) for i in rows]
    return flags


def _drop(report: IngestReport, reason: str, alive: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """Count the records still in that fail a rule under `reason`; the records still in after it."""
    setattr(report, reason, getattr(report, reason) + int((alive & failed).sum()))
    return alive & ~failed


def _picker(rows: list[int]) -> Callable[[Sequence[Any]], list[Any]]:
    """A function of a column (list or tuple) giving column[rows] as a list, in one C-level pass."""
    if len(rows) > 1:
        get = itemgetter(*rows)
        return lambda column: list(get(column))
    return lambda column: [column[i] for i in rows]


def _as_id(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _stamp(value: Any) -> int:
    seconds = parse_created_utc(_got(value))
    return _NO_TIME if seconds is None else seconds


def _as_subreddit(value: Any) -> str:
    return "" if value is UNSET else str(value or "")


def _retrieved(on: Any, utc: Any) -> int | None:
    """retrieved_on, else (where the record lacks it) retrieved_utc, as int seconds."""
    return parse_created_utc(_got(utc) if on is UNSET else on)


def _strings(values: list[Any]) -> list[str | None]:
    if _only(values, str) and "" not in values:
        return values
    return [(v or None) if type(v) is str else _as_str(_got(v)) for v in values]


def _got(value: Any) -> Any:
    """A field's value, None where the record lacks it (as dict.get)."""
    return None if value is UNSET else value
