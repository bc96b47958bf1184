"""Issue 22.3: the batch ingester (msgspec, column-wise rules) against a slow per-line reference on hostile dumps.

The reference below reads each line with the standard library's `json.loads` and applies the drop rules of
`ingest_dumps`'s docstring one record at a time, in their order; it shares only the unchanged casts with the
product (`parse_created_utc`, `is_bot`, `id_key`, `repair`). Output tables and every count must be equal.
"""

from __future__ import annotations

import functools
import json
import math
import random
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import zstandard

from neurofin.market.comments.dedupe import id_key
from neurofin.market.comments.filters import (
    DEFAULT_ALLOWED_AUTHORS,
    DEFAULT_BOT_AUTHORS,
    DELETED_BODIES,
    EDIT_MARK,
    is_bot,
    parse_created_utc,
    utc_bounds,
)
from neurofin.market.comments.ingest import comment_schema, ingest_dumps
from neurofin.unicode import repair

from .hostile_dump import T0, hostile_lines

MISSING = object()

# Lines where the subreddit is spelled in a way a byte-level test would misread: escaped letters in the key or the
# value, spaces around the colon, the key repeated (the last one counts), nested in another object, quoted in a body.
SPELLINGS = [
    b'{"id": "s1", "created_utc": %d, "subreddit": "w\\u0061llstreetbets", "body": "x"}',
    b'{"id": "s2", "created_utc": %d, "sub\\u0072eddit": "pics", "body": "x"}',
    b'{"id": "s3", "created_utc": %d, "subreddit"  :"pics"  , "body": "x"}',
    b'{"id": "s4", "created_utc": %d, "subreddit": "pics", "body": "x", "subreddit": "stocks"}',
    b'{"id": "s5", "created_utc": %d, "subreddit": "stocks", "body": "x", "subreddit": "pics"}',
    b'{"id": "s6", "created_utc": %d, "media": {"subreddit": "stocks"}, "subreddit": "pics", "body": "x"}',
    b'{"id": "s7", "created_utc": %d, "body": "\\"subreddit\\": \\"stocks\\"", "subreddit": "pics"}',
    b'{"id": "s8", "created_utc": %d, "subreddit": "\\u0050ICS", "body": "x"}',
    b'{"id": "s9", "created_utc": %d, "subreddit": "WALLSTREETBETS", "body": "x"}',
    b'{"id": "s10", "created_utc": %d, "body": "no subreddit field at all"}',
    b'{"id": "s11", "created_utc": %d, "subreddit": null, "body": "x"}',
    b'{"id": "s12", "created_utc": %d, "subreddit": "stocks", "body": "x", "edited": 1611846001.5}',
]


def corpus(seed: int) -> list[bytes]:
    """A hostile dump's lines plus the subreddit spellings (escapes in keys and values, spacing, repeats)."""
    return hostile_lines(1500, seed=seed) + [line % T0 for line in SPELLINGS]


def _field(record: dict[str, Any], name: str) -> Any:
    return record.get(name, MISSING)


def _text(value: Any) -> str | None:
    return None if value is None or value is MISSING or value == "" else str(value)


def _score(value: Any) -> int | None:
    if value is None or value is MISSING or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if type(value) is int and abs(value) <= 2**53:
        return value
    return int(number) if math.isfinite(number) and abs(number) < 2**63 else None


def reference_ingest(lines: list[bytes], options: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The kept comments and the counts, one line at a time with json.loads."""
    wanted = {name.lower() for name in options.get("subreddits", ())} or None
    lo, hi = utc_bounds(options.get("start"), options.get("end"))
    bots = frozenset(a.lower() for a in options.get("bot_authors", DEFAULT_BOT_AUTHORS))
    allowed = frozenset(a.lower() for a in DEFAULT_ALLOWED_AUTHORS)
    id_name, text_name, time_name = (options.get(k, d) for k, d in
                                     [("id_column", "id"), ("text_column", "body"), ("time_column", "created_utc")])  # fmt: skip
    extra = [name for name in options.get("extra_columns", ()) if name not in comment_schema().names]
    counts = dict.fromkeys(["lines", "malformed", "bad_timestamp", "wrong_subreddit", "out_of_range", "deleted",
                            "edited", "bot", "empty", "duplicate", "kept", "kept_deleted", "repaired_text",
                            "millisecond_timestamps"], 0)  # fmt: skip
    rows, seen = [], set()

    def drop(reason: str) -> None:
        counts[reason] += 1

    for line in lines:
        if not line.strip():
            continue
        counts["lines"] += 1
        try:
            record = json.loads(line)
        except ValueError:
            drop("malformed")
            continue
        if not isinstance(record, dict):
            drop("malformed")
            continue
        get = functools.partial(_field, record)
        raw_id = get(id_name)
        comment_id = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
        raw_time = get(time_name)
        created = parse_created_utc(None if raw_time is MISSING else raw_time)
        if not comment_id or created is None:
            drop("malformed")
            continue
        milliseconds = created > 100_000_000_000
        created = created // 1000 if milliseconds else created
        if not 1_117_584_000 <= created <= 4_102_444_800:
            drop("bad_timestamp")
            continue
        counts["millisecond_timestamps"] += milliseconds
        subreddit = get("subreddit")
        if wanted is not None and subreddit is not MISSING and str(subreddit or "").lower() not in wanted:
            drop("wrong_subreddit")
            continue
        if (lo is not None and created < lo) or (hi is not None and created >= hi):
            drop("out_of_range")
            continue
        body = get(text_name)
        body = body.strip() if isinstance(body, str) else ""
        deleted = body.lower() in DELETED_BODIES
        if deleted and not options.get("keep_deleted"):
            drop("deleted")
            continue
        edited = get("edited")
        if not options.get("keep_edited") and (
            edited not in (MISSING, None, False, 0, "", "false", "False") or EDIT_MARK.search(body)
        ):
            drop("edited")
            continue
        author = get("author")
        author = str((None if author is MISSING else author) or "[deleted]")
        if is_bot(author, bots, allowed):
            drop("bot")
            continue
        if not body:
            drop("empty")
            continue
        counts["kept_deleted"] += deleted
        retrieved = get("retrieved_on")
        retrieved = get("retrieved_utc") if retrieved is MISSING else retrieved
        retrieved = parse_created_utc(None if retrieved is MISSING else retrieved)
        row = [comment_id, author, created, "" if subreddit is MISSING else str(subreddit or ""), body,
               _text(get("link_id")), _text(get("parent_id")), _score(get("score")), retrieved,
               None if retrieved is None else retrieved - created, *(_text(get(name)) for name in extra)]  # fmt: skip
        repaired = [repair(value) for value in row]
        counts["repaired_text"] += any(hit for _, hit in repaired)
        row = [value for value, _ in repaired]
        if id_key(row[0]) in seen:
            drop("duplicate")
            continue
        seen.add(id_key(row[0]))
        counts["kept"] += 1
        rows.append(row)
    schema = comment_schema(tuple(extra))
    table = pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in rows], schema=schema)
    return table.to_pandas(), counts


def ingest_equals_reference(folder: Path, name: str, lines: list[bytes], options: dict[str, Any]) -> dict[str, Any]:
    """Ingest `lines` as the dump `name` (zstd-compressed for a .zst name) and assert that the counts and the table
    equal the per-line reference's; the ingest report."""
    data = b"\n".join(lines) + b"\n"
    dump = folder / name
    dump.write_bytes(zstandard.ZstdCompressor().compress(data) if name.endswith(".zst") else data)
    report = ingest_dumps([dump], folder / "out.parquet", **options).to_record()
    expected_table, expected_counts = reference_ingest(lines, options)
    assert {key: report[key] for key in expected_counts} == expected_counts
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "out.parquet"), expected_table)
    return report


CONFIGS = {
    "filtered": {"subreddits": ["wallstreetbets", "stocks"], "start": date(2021, 1, 1), "end": date(2021, 2, 28),
                 "extra_columns": ["controversiality", "author_flair_text", "media"]},
    "open": {"keep_edited": True, "chunk_rows": 97},
    "deleted_kept": {"keep_deleted": True, "subreddits": ["WallStreetBets"], "bot_authors": ["u2"], "chunk_rows": 1},
    "renamed_fields": {"id_column": "id", "text_column": "author_flair_text", "time_column": "retrieved_on",
                       "extra_columns": ["controversiality", "body"], "keep_deleted": True},
}  # fmt: skip


@pytest.mark.parametrize("suffix", [".jsonl", ".zst"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seed", [1, 2])
def test_batch_ingest_equals_the_per_line_stdlib_reference(tmp_path: Path, name: str, seed: int, suffix: str) -> None:
    report = ingest_equals_reference(tmp_path, f"RC_hostile{suffix}", corpus(seed), CONFIGS[name])
    assert report["kept"] > 20 and report["malformed"] > 20  # the corpus exercises both sides


def test_subreddit_spellings_are_read_as_json_reads_them(tmp_path: Path) -> None:
    dump = tmp_path / "RC_spellings.jsonl"
    dump.write_bytes(b"\n".join(line % T0 for line in SPELLINGS))
    ingest_dumps([dump], tmp_path / "out.parquet", subreddits=["wallstreetbets", "stocks"])
    kept = pd.read_parquet(tmp_path / "out.parquet")
    assert kept["id"].tolist() == ["s1", "s4", "s9", "s10"]  # s12 is edited; s11 has a (null) subreddit
    assert kept["subreddit"].tolist() == ["wallstreetbets", "stocks", "WALLSTREETBETS", ""]


def plain_lines(n_lines: int, seed: int) -> list[bytes]:
    """Lines whose fields all have their plain type (str ids, texts and names; int times, scores and retrieval
    times), so a batch of them takes the filter's column fast paths; the rules still drop many of them."""
    rng = random.Random(seed)
    lines = []
    for index in range(n_lines):
        record = {
            "id": f"p{index % (n_lines - 7):x}",  # a few duplicates
            "created_utc": rng.choice([T0, T0 + index, T0 - 86_400 * 60, T0 * 1000 + 5, 12345]),
            "subreddit": rng.choice(["wallstreetbets", "WallStreetBets", "stocks", "pics", "AskReddit"]),
            "body": rng.choice(["GME to the moon", "  $AMC  ", "[removed]", " [Deleted] ", "EDIT: sold", "a: b", "   ",
                                "ümlauts 🚀", "plain words"]),
            "author": rng.choice(["u1", "AutoModerator", "ticker_bot", "Talbot", "SomeTickerBot", "u2"]),
            "edited": rng.choice([False, False, False, T0 + 5]),
            "score": rng.randint(-20, 2000), "link_id": "t3_a", "parent_id": "t1_b", "retrieved_on": T0 + 3600,
        }  # fmt: skip
        lines.append(json.dumps(record, ensure_ascii=rng.random() < 0.5).encode())
    return lines


# One value (MISSING: no such field) planted in a kept line among plain lines: each makes its column leave the fast
# path, or tests the fast path's bounds.
PLANTED = [
    ("created_utc", 2**62 - 1), ("created_utc", 2**62), ("created_utc", 2**63), ("created_utc", -(2**63) - 1),
    ("created_utc", -(2**62)), ("created_utc", "1611846000"), ("created_utc", 1611846000.9), ("created_utc", None),
    ("score", 2**53 + 1), ("score", -(2**53) - 1), ("score", 10**40), ("score", "7"), ("score", None),
    ("retrieved_on", 2**62), ("retrieved_on", 10**30), ("retrieved_on", None), ("retrieved_on", "1611849600"),
    ("subreddit", None), ("subreddit", 7), ("subreddit", ""), ("subreddit", "w\ud83dsb"),
    ("edited", [1]), ("edited", {"a": 1}), ("edited", 1.0), ("edited", 0.0), ("edited", True), ("edited", "true"),
    ("author", ""), ("author", None), ("author", 5), ("body", 42), ("body", None), ("body", "half \ud83d"),
    ("link_id", ""), ("link_id", 5), ("parent_id", None), ("id", 7), ("id", ""), ("id", True),
    *((name, MISSING) for name in ("created_utc", "score", "retrieved_on", "subreddit", "edited", "author", "body",
                                   "link_id", "id")),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), PLANTED, ids=[f"{f}={'missing' if v is MISSING else repr(v)}"[:40] for f, v in PLANTED])
def test_a_planted_odd_value_among_plain_lines_equals_the_reference(tmp_path: Path, field: str, value: Any) -> None:
    lines = plain_lines(300, seed=3)
    kept = {"id": "q1", "created_utc": T0, "subreddit": "stocks", "body": "kept", "author": "u9", "edited": False,
            "score": 3, "link_id": "t3_a", "parent_id": "t1_b", "retrieved_on": T0 + 60}  # fmt: skip
    planted = {k: v for k, v in (kept | {field: value}).items() if v is not MISSING}
    lines[150] = json.dumps(planted).encode("utf-8", "surrogatepass")
    ingest_equals_reference(tmp_path, "RC_planted.jsonl", lines, CONFIGS["filtered"])


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_plain_lines_take_the_fast_paths_and_equal_the_reference(tmp_path: Path, name: str) -> None:
    lines = plain_lines(3000, seed=4)  # about three batches of plain values only
    report = ingest_equals_reference(tmp_path, "RC_plain.zst", lines, CONFIGS[name])
    assert report["kept"] > 100 or name == "renamed_fields"  # (no text field there: all empty)


# A batch whose created_utc values all have one type is cast in one pass for that type (strings of ASCII digits by
# int(), floats in numpy); each value here, planted among them, has the batch's type but not the pass's plain form.
ONE_TYPE = [
    (str, " 1611846000 "), (str, ""), (str, "1611846000000"), (str, "9" * 18), (str, "9" * 19), (str, "+1611846000"),
    (str, "1_611_846_000"), (str, "\u0661\u0666\u0661\u0661\u0668\u0664\u0666\u0660\u0660\u0660"), (str, "-5"),
    (str, "16118460\u00b2"), (str, "2021-01-28T16:00:00Z"), (str, "1611846000.9"), (str, "1611846000"),
    (float, 1611846000.9), (float, -0.5), (float, 1e300), (float, 2.0**62), (float, 2.0**62 - 1024), (float, -(2.0**62)),
    (float, 1611846000000.5), (float, 1611846000.0),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "value"), ONE_TYPE, ids=[f"{k.__name__}={v!r}"[:40] for k, v in ONE_TYPE])
def test_created_utc_of_one_type_per_batch_equals_the_reference(tmp_path: Path, kind: type, value: Any) -> None:
    records = [json.loads(line) for line in plain_lines(300, seed=5)]
    for index, record in enumerate(records):
        record["created_utc"] = kind(record["created_utc"]) + (kind(index % 7) / 8 if kind is float else "")
    records[150] |= {"created_utc": value, "subreddit": "stocks", "body": "kept", "author": "u9", "edited": False}
    lines = [json.dumps(record).encode() for record in records]
    assert ingest_equals_reference(tmp_path, "RC_one_type.jsonl", lines, CONFIGS["filtered"])["kept"] > 10


# A batch whose created_utc values mix ints, floats and strings is cast by int() in one pass; each value here, planted
# among them, must come out as `parse_created_utc` reads it (int() refuses some: the batch then goes type by type).
MIXED_TYPES = [value for _, value in ONE_TYPE] + [2**62 - 1, 2**62, 2**63, -(2**63) - 1, 1e19, -1e19, True, None]


@pytest.mark.parametrize("value", MIXED_TYPES, ids=[repr(v)[:40] for v in MIXED_TYPES])
def test_created_utc_of_mixed_types_per_batch_equals_the_reference(tmp_path: Path, value: Any) -> None:
    records = [json.loads(line) for line in plain_lines(300, seed=6)]
    for index, record in enumerate(records):
        record["created_utc"] = (int, float, str)[index % 3](record["created_utc"])
    records[150] |= {"created_utc": value, "subreddit": "stocks", "body": "kept", "author": "u9", "edited": False}
    lines = [json.dumps(record).encode() for record in records]
    assert ingest_equals_reference(tmp_path, "RC_mixed_types.jsonl", lines, CONFIGS["filtered"])["kept"] > 10
