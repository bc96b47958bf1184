"""Issue 16.9: hostile dumps for `market ingest` (huge numbers, not zstd, all malformed, a folder)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import zstandard

from neurofin.errors import InputError
from neurofin.market.comments.filters import parse_created_utc
from neurofin.market.comments.ingest import ingest_dumps

T0 = 1611846000


def _record(cid: str, **fields) -> dict:
    return {"id": cid, "author": "u", "body": "GME up", "created_utc": T0, "subreddit": "wallstreetbets", "score": 1} | fields


@pytest.mark.parametrize("value", [1e300, -1e300, "1e300", 10**30, "9" * 400, 1e19])
def test_absurd_created_utc_is_a_malformed_line_not_a_lost_ingest(tmp_path, value):
    dump = tmp_path / "d.jsonl"
    dump.write_text("\n".join(json.dumps(r) for r in [_record("a"), _record("b", created_utc=value), _record("c")]))
    report = ingest_dumps([dump], tmp_path / "out.parquet")
    assert (report.kept, report.malformed) == (2, 1)
    assert pd.read_parquet(tmp_path / "out.parquet")["id"].tolist() == ["a", "c"]
    assert parse_created_utc(value) is None


def test_absurd_score_is_dropped_not_fatal(tmp_path):
    dump = tmp_path / "d.jsonl"
    dump.write_text(json.dumps(_record("a", score=1e300)) + "\n" + json.dumps(_record("b", score=-(10**40))))
    ingest_dumps([dump], tmp_path / "out.parquet")
    assert pd.read_parquet(tmp_path / "out.parquet")["score"].isna().all()


@pytest.mark.parametrize("content", [b'{"id": "a"}\n' * 50, b"", b"\x28\xb5\x2f"])
def test_a_file_that_is_not_zstd_is_named_as_such_before_any_work(tmp_path, content):
    good = tmp_path / "RC_good.zst"
    good.write_bytes(zstandard.ZstdCompressor().compress(json.dumps(_record("a")).encode() + b"\n"))
    bad = tmp_path / "RC_bad.zst"
    bad.write_bytes(content)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"earlier output")
    with pytest.raises(InputError, match="not a zstd") as info:
        ingest_dumps([good, bad], out)
    assert str(bad) in str(info.value)
    assert out.read_bytes() == b"earlier output"  # nothing already written is lost


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".zst"])
def test_a_file_of_only_malformed_lines_is_an_error(tmp_path, suffix):
    lines = [b"this is not json", b"[1, 2]", b'{"no": "id"}']
    data = b"\n".join(lines) + b"\n"
    if suffix == ".csv":
        data = b"foo,bar\n1,2\n3,4\n"
    if suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    dump = tmp_path / f"d{suffix}"
    dump.write_bytes(data)
    with pytest.raises(InputError, match="malformed") as info:
        ingest_dumps([dump], tmp_path / "out.parquet")
    assert str(dump) in str(info.value)
    assert not (tmp_path / "out.parquet").exists()


def test_a_folder_argument_is_named_as_a_folder(tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        ingest_dumps([folder], tmp_path / "out.parquet")
