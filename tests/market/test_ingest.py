"""Streaming ingestion of Reddit dumps: formats, malformed lines, filters, created_utc casting, dedupe."""

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zstandard

from neurofin.errors import InputError
from neurofin.market.comments.dedupe import SeenIds, id_key, id_keys
from neurofin.market.comments.filters import parse_created_utc
from neurofin.market.comments.ingest import COMMENT_COLUMNS, ingest_dumps

T0 = int(datetime(2021, 1, 28, 15, 0, tzinfo=UTC).timestamp())  # 2021-01-28 15:00 UTC


def comment(cid: str, **fields: object) -> dict:
    """A valid dump record; keyword arguments override fields."""
    record = {
        "id": cid, "author": f"user_{cid}", "body": f"GME to the moon {cid}", "created_utc": T0,
        "subreddit": "wallstreetbets", "score": 3, "link_id": "t3_abc", "parent_id": "t3_abc",
    }  # fmt: skip
    record.update(fields)
    return record


# Records covering every drop reason once (plus the malformed lines added per format below).
KEPT = ["k1", "k2", "k3", "k4", "k5", "k6"]
RECORDS = [
    comment("k1"),
    comment("k2", created_utc=float(T0) + 0.75),  # float
    comment("k3", created_utc=str(T0 + 60)),  # numeric string
    comment("k4", created_utc="2021-01-28T16:00:00Z"),  # ISO string
    comment("k5", subreddit="WallStreetBets", score=None),  # subreddit match is case-insensitive
    comment("k6", subreddit="stocks", created_utc=T0 + 86_400 * 2),  # last day of the range
    comment("k1", body="a later duplicate of k1"),  # duplicate id
    comment("d1", body="[deleted]"),
    comment("d2", body="[removed]"),
    comment("b1", author="AutoModerator"),
    comment("b2", author="SomeTickerBot"),  # *bot names
    comment("e1", body="   "),
    comment("s1", subreddit="pics"),
    comment("o1", created_utc=T0 - 86_400 * 30),  # before start
    comment("o2", created_utc=T0 + 86_400 * 3),  # after end (end day inclusive)
]
EXPECTED_DROPS = {"duplicate": 1, "deleted": 2, "bot": 2, "empty": 1, "wrong_subreddit": 1, "out_of_range": 2}
MALFORMED_JSON_LINES = [
    b'{"id": "m1", "body": "cut in the mid',  # truncated JSON
    b"[1, 2, 3]",  # JSON, but not an object
    b"\xff\xfe not utf-8 \xff",  # undecodable bytes
    json.dumps({"body": "no id", "created_utc": T0, "subreddit": "wallstreetbets"}).encode(),
    json.dumps(comment("m5", created_utc="yesterday")).encode(),  # uncastable created_utc
    json.dumps(comment("m6", created_utc=None)).encode(),
]


def ndjson_bytes(records: list[dict], malformed: list[bytes]) -> bytes:
    """Records as NDJSON with malformed lines interleaved and a blank line."""
    lines = [json.dumps(r).encode() for r in records]
    for i, bad in enumerate(malformed):
        lines.insert(1 + 2 * i, bad)
    lines.insert(3, b"")
    return b"\n".join(lines) + b"\n"


def ingest(paths: list[Path], tmp_path: Path, **kwargs: object) -> tuple[pd.DataFrame, dict]:
    """Run ingestion over the standard filters; return the output table and the report record."""
    options = {
        "subreddits": ["r/WallStreetBets", "stocks"], "start": date(2021, 1, 28), "end": date(2021, 1, 30),
        "chunk_rows": 4,
    }  # fmt: skip
    options.update(kwargs)
    out = tmp_path / "comments.parquet"
    report = ingest_dumps(paths, out, **options)
    return pd.read_parquet(out), report.to_record()


def check_standard_result(table: pd.DataFrame, report: dict, n_malformed: int) -> None:
    assert list(table.columns) == list(COMMENT_COLUMNS)
    assert table["id"].tolist() == KEPT
    assert table["created_utc"].tolist() == [T0, T0, T0 + 60, T0 + 3600, T0, T0 + 2 * 86_400]
    assert table.loc[table["id"] == "k1", "body"].item() == "GME to the moon k1"  # first occurrence kept
    assert table.loc[table["id"] == "k5", "score"].isna().item()
    assert report["kept"] == len(KEPT)
    assert report["malformed"] == n_malformed
    for reason, count in EXPECTED_DROPS.items():
        assert report[reason] == count, reason
    assert report["lines"] == len(RECORDS) + n_malformed


def test_jsonl_dump_filters_casts_dedupes_and_counts_malformed_lines(tmp_path: Path) -> None:
    dump = tmp_path / "RC_2021-01.jsonl"
    dump.write_bytes(ndjson_bytes(RECORDS, MALFORMED_JSON_LINES))
    table, report = ingest([dump], tmp_path)
    check_standard_result(table, report, n_malformed=len(MALFORMED_JSON_LINES))
    assert report["bytes_read"] == dump.stat().st_size and report["truncated_files"] == []


def test_zst_dump_streams_across_frames_and_small_reads(tmp_path: Path) -> None:
    payload = ndjson_bytes(RECORDS, MALFORMED_JSON_LINES)
    half = payload.index(b"\n", len(payload) // 2) - 10  # cut a line in the middle between two frames
    dump = tmp_path / "RC_2021-01.zst"
    compressor = zstandard.ZstdCompressor(level=3)
    dump.write_bytes(compressor.compress(payload[:half]) + compressor.compress(payload[half:]))
    table, report = ingest([dump], tmp_path)
    check_standard_result(table, report, n_malformed=len(MALFORMED_JSON_LINES))


def test_truncated_zst_keeps_complete_lines_and_reports_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz ", dtype=np.uint8)
    bodies = [rng.choice(letters, size=1000).tobytes().decode() for _ in range(1000)]  # ~1 MB: many zstd blocks
    records = [comment(f"t{i}", body=body) for i, body in enumerate(bodies)]
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    full = zstandard.ZstdCompressor(level=1).compress(payload)
    dump = tmp_path / "RC_2021-01.zst"
    dump.write_bytes(full[: len(full) // 2])
    table, report = ingest([dump], tmp_path, subreddits=None, start=None, end=None)
    assert report["truncated_files"] == [str(dump)]
    assert 0 < report["kept"] < len(records)
    assert table["id"].tolist() == [f"t{i}" for i in range(report["kept"])]  # a prefix, in order
    assert report["malformed"] <= 1  # at most the one line cut by the damage


def test_csv_dump_with_malformed_rows(tmp_path: Path) -> None:
    dump = tmp_path / "comments.csv"
    with dump.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COMMENT_COLUMNS))
        writer.writeheader()
        for i, record in enumerate(RECORDS):
            writer.writerow({k: ("" if record.get(k) is None else record[k]) for k in COMMENT_COLUMNS})
            if i == 2:
                handle.write("x1,someone,1611846000,wallstreetbets,too,many,fields,here,9,9,9,9\n")
            if i == 4:
                writer.writerow({**comment("x2"), "created_utc": "not a time"})
    table, report = ingest([dump], tmp_path)
    check_standard_result(table, report, n_malformed=2)


def test_dedupe_across_files_and_chunks(tmp_path: Path) -> None:
    first, second = tmp_path / "RC_a.jsonl", tmp_path / "RC_b.jsonl"
    first.write_bytes(ndjson_bytes([comment(f"a{i}") for i in range(10)], []))
    second.write_bytes(ndjson_bytes([comment(f"a{i}") for i in range(5, 15)], []))
    table, report = ingest([first, second], tmp_path, chunk_rows=3)
    assert table["id"].tolist() == [f"a{i}" for i in range(15)]
    assert report["duplicate"] == 5 and report["kept"] == 15


def test_seen_ids_matches_a_python_set_on_random_keys() -> None:
    rng = np.random.default_rng(0)
    seen, reference = SeenIds(), set()
    for _ in range(60):
        keys = rng.integers(0, 5_000, size=int(rng.integers(0, 300)), dtype=np.int64)
        expected = []
        for key in keys.tolist():
            expected.append(key not in reference)
            reference.add(key)
        assert seen.keep_new(keys).tolist() == expected
    assert len(seen) == len(reference) and seen.nbytes() == 8 * len(reference)


def test_id_key_is_base36_with_hash_fallback() -> None:
    assert id_key("gz1abc") == int("gz1abc", 36) == id_key("t1_gz1abc")
    assert id_key("not-base36!") == id_key("not-base36!") != id_key("not-base36?")


@pytest.mark.parametrize(
    "odd",
    ["t1_gz1abc", "zzzzzzzzzzzzz", "\u0661\u0662", "a b", "a_b", "", "+12", "1_0", "GZ1ABC\u00e9"],
)
def test_id_keys_of_a_batch_equal_id_key_of_each(odd) -> None:
    """The one-pass read of a batch of bare base-36 ids, and any batch with one other id in it, give `id_key`."""
    plain = ["gz1abc", "GZ1ABC", "0", "zzzzzzzzzzzz", "1"]  # 12 z's: the largest 12-character id, below 2**63
    for ids in (plain, [*plain, odd], [odd]):
        assert id_keys(ids).tolist() == [id_key(i) for i in ids]
    assert id_keys([]).tolist() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1611846000, 1611846000),
        (1611846000.9, 1611846000),
        ("1611846000", 1611846000),
        (" 1611846000.0 ", 1611846000),
        ("2021-01-28T15:00:00Z", 1611846000),
        ("2021-01-28T10:00:00-05:00", 1611846000),
        ("2021-01-28 15:00:00", 1611846000),  # naive ISO is read as UTC
        (None, None),
        (True, None),
        ("nan", None),
        (float("inf"), None),
        ("soon", None),
        ([1611846000], None),
    ],
)
def test_parse_created_utc(value: object, expected: int | None) -> None:
    assert parse_created_utc(value) == expected


def test_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no dump files"):
        ingest_dumps([], tmp_path / "out.parquet")
    with pytest.raises(InputError, match="not found"):
        ingest_dumps([tmp_path / "missing.zst"], tmp_path / "out.parquet")
    wrong = tmp_path / "dump.txt"
    wrong.write_text("{}\n")
    with pytest.raises(InputError, match=r"\.zst"):
        ingest_dumps([wrong], tmp_path / "out.parquet")
    dump = tmp_path / "RC.jsonl"
    dump.write_bytes(ndjson_bytes([comment("a")], []))
    with pytest.raises(InputError, match="after end"):
        ingest_dumps([dump], tmp_path / "out.parquet", start=date(2021, 2, 1), end=date(2021, 1, 1))
    assert not (tmp_path / "out.parquet").exists()


def test_nothing_kept_still_writes_an_empty_table(tmp_path: Path) -> None:
    dump = tmp_path / "RC.jsonl"
    dump.write_bytes(ndjson_bytes([comment("a", body="[deleted]")], [b"garbage"]))
    table, report = ingest([dump], tmp_path)
    assert table.empty and list(table.columns) == list(COMMENT_COLUMNS)
    assert report["deleted"] == 1 and report["malformed"] == 1 and report["kept"] == 0
