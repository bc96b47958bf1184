"""A generated hostile Reddit dump: every kind of line the ingest reliability rules name, mixed at random.

Malformed JSON, BOM, raw NUL and control bytes, lone surrogates (escaped and raw), bots, edited and deleted
comments, off-subreddit lines (also with the subreddit escaped, repeated, nested, non-string or inside a body),
odd timestamps, ids and scores. Used by test_ingest_fast.py; `ingest_hostile.jsonl` in data/ is its seed-0 output.
"""

from __future__ import annotations

import json
import random

T0 = 1611846000  # 2021-01-28 15:00 UTC
SUBREDDITS = ["wallstreetbets", "WallStreetBets", "stocks", "pics", "AskReddit", "r/wallstreetbets", "", None, 7]
AUTHORS = ["u1", "u2", "AutoModerator", "SomeTickerBot", "ticker_bot", "Talbot", "[deleted]", "", None, "Abbot", "x-bot"]
BODIES = ["GME to the moon", "  $AMC   ", "[deleted]", "[removed]", " [Removed] ", "[ removed by reddit ]", "[unavailable]",
          "EDIT: sold at the top", "edited 2: nope", "credit: my wife", "", "   ", "half an emoji \ud83d here",
          "emoji 🚀🚀 and ümlauts", 'quote "subreddit": "pics" inside', 'tab\tand\\backslash', "nul \u0000 escaped",
          "ends with a backslash \\", None, 42]
CREATED = [T0, T0 + 0.75, str(T0 + 60), "2021-01-28T16:00:00Z", "2021-01-28 16:00:00", T0 * 1000, str(T0 * 1000),
           12345, T0 - 86_400 * 40, T0 + 86_400 * 40, None, True, "yesterday", 1e300, 10**30, -5, " 1611846000 "]
EDITED = [False, True, 0, 1, T0 + 5, "false", "False", "", None, "true"]
SCORES = [1, -3, None, "7", 2.5, 10**40, 1e300, True, "", "x", 2**60 + 1]


def _record(rng: random.Random, index: int) -> dict:
    def pick(options: list) -> object:  # the first, plain value most of the time
        return options[0] if rng.random() < 0.6 else rng.choice(options)

    record: dict = {"id": pick([f"c{index:x}", f"t1_c{index:x}", index, f"c{index // 3:x}", f"c{index // 3:x}\ud83d", True,
                                 None, ""])}
    optional = {
        "author": lambda: pick(AUTHORS), "body": lambda: pick(BODIES),
        "created_utc": lambda: pick(CREATED), "subreddit": lambda: pick(SUBREDDITS),
        "edited": lambda: pick(EDITED), "score": lambda: pick(SCORES),
        "link_id": lambda: rng.choice(["t3_a", None, "", 5]), "parent_id": lambda: rng.choice(["t1_b", None]),
        "retrieved_on": lambda: rng.choice([T0 + 3600, None, "1611849600", "soon"]),
        "retrieved_utc": lambda: T0 + 7200, "controversiality": lambda: rng.choice([0, 1, None, "x"]),
        "author_flair_text": lambda: rng.choice([None, "Ape", {"nested": "subreddit"}, [1, 2]]),
    }  # fmt: skip
    for name, value in optional.items():
        if rng.random() < 0.9 or name in ("created_utc", "body", "subreddit"):
            record[name] = value()
    if rng.random() < 0.05:
        record["media"] = {"subreddit": "pics", "id": "nested"}
    return record


def _line(rng: random.Random, record: dict) -> bytes:
    line = json.dumps(record, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")  # raw lone surrogates
    kind = rng.random()
    if kind < 0.03:
        return line[: rng.randrange(1, len(line))]  # cut JSON
    if kind < 0.05:
        return rng.choice([b"\xff\xfe\x00garbage", b"[1, 2]", b'"a string"', b"null", b"", b"   ", b"\x0c", b"{}",
                           b'{"id": "nan", "created_utc": NaN}', b'{"id": "inf", "created_utc": 1e400}'])
    if kind < 0.07:
        return b"\xef\xbb\xbf" + line  # byte-order mark
    if kind < 0.09:
        return line.replace(b"GME", b"G\x00ME")  # raw NUL (only changes lines that hold GME)
    if kind < 0.12:
        return line.replace(b'"subreddit": "w', b'"subreddit" :  "\\u0077', 1)  # escaped first letter, odd spacing
    if kind < 0.14 and "subreddit" in record:
        return line[:-1] + b', "subreddit": "stocks"}'  # a repeated key: the last one counts
    if kind < 0.16:
        return line + b"\r"  # CRLF line ending
    if kind < 0.18:
        return b" \t" + line + b"  "
    if kind < 0.20:
        return line.replace(b"1611846000", b"1611846000.000000000000000000001", 1)
    return line


def hostile_lines(n_lines: int, seed: int = 0) -> list[bytes]:
    """n_lines lines of a hostile NDJSON dump (no newlines inside a line)."""
    rng = random.Random(seed)
    return [_line(rng, _record(rng, index)) for index in range(n_lines)]
