"""Parallel ingest of monthly dumps == the sequential ingest: same table, same counts (planted ids too)."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import zstandard

from neurofin.errors import InputError
from neurofin.market.comments.ingest import ingest_dumps
from neurofin.scale.ingest import ingest_parallel

OPTIONS = {"subreddits": ["wallstreetbets", "stocks"], "start": date(2021, 1, 1), "end": date(2021, 4, 30), "chunk_rows": 50}


def write_months(folder: Path, seed: int = 0) -> tuple[list[Path], list[str]]:
    """Four monthly dumps (.jsonl and .zst, one truncated) with drops of every kind and ids repeated across months.

    Returns the paths and the ids a correct ingest keeps, in order (first occurrence of each kept id).
    """
    rng = random.Random(seed)
    kept: list[str] = []
    seen: set[str] = set()
    paths = []
    all_ids: list[str] = []
    for month in range(1, 5):
        lines: list[bytes] = []
        t0 = int(datetime(2021, month, 3, tzinfo=UTC).timestamp())
        for i in range(300):
            cid = f"m{month}c{i}"
            if all_ids and rng.random() < 0.05:
                cid = rng.choice(all_ids)  # repeated id, possibly from an earlier month
            kind = rng.choices(["ok", "sub", "deleted", "bot", "old", "bad"], [70, 10, 5, 5, 5, 5])[0]
            record = {"id": cid, "author": f"u{i}", "body": f"GME {cid} {i}", "created_utc": t0 + i,
                      "subreddit": "wallstreetbets" if i % 2 else "stocks", "score": i}
            if kind == "sub":
                record["subreddit"] = "pics"
            elif kind == "deleted":
                record["body"] = "[deleted]"
            elif kind == "bot":
                record["author"] = "AutoModerator"
            elif kind == "old":
                record["created_utc"] = t0 - 86_400 * 400
            lines.append(b'{"id": "cut' if kind == "bad" else json.dumps(record).encode())
            all_ids.append(cid)
            if kind == "ok" and cid not in seen:
                seen.add(cid)
                kept.append(cid)
        data = b"\n".join(lines) + b"\n"
        if month % 2:
            path = folder / f"RC_2021-0{month}.jsonl"
            path.write_bytes(data)
        else:
            path = folder / f"RC_2021-0{month}.zst"
            path.write_bytes(zstandard.ZstdCompressor().compress(data))
        paths.append(path)
    return paths, kept


def test_parallel_ingest_equals_sequential_and_planted_ids(tmp_path):
    dumps, kept = write_months(tmp_path)
    sequential = ingest_dumps(dumps, tmp_path / "seq.parquet", **OPTIONS)
    parallel = ingest_parallel(dumps, tmp_path / "par.parquet", workers=2, **OPTIONS)
    seq, par = pd.read_parquet(tmp_path / "seq.parquet"), pd.read_parquet(tmp_path / "par.parquet")
    assert seq["id"].tolist() == kept  # planted truth: first occurrence of each valid id, in dump order
    pd.testing.assert_frame_equal(par, seq)
    s, p = sequential.to_record(), parallel.to_record()
    assert p["duplicate"] > 0 and p["malformed"] > 0
    assert {k: v for k, v in p.items() if k != "seconds"} == {k: v for k, v in s.items() if k != "seconds"}
    assert not (tmp_path / "par.parquet.parts").exists()


def test_truncated_month_is_reported_like_the_sequential_ingest(tmp_path):
    dumps, _ = write_months(tmp_path)
    raw = dumps[1].read_bytes()
    dumps[1].write_bytes(raw[: len(raw) // 2])
    sequential = ingest_dumps(dumps, tmp_path / "seq.parquet", **OPTIONS)
    parallel = ingest_parallel(dumps, tmp_path / "par.parquet", workers=2, **OPTIONS)
    assert parallel.truncated_files == sequential.truncated_files == [str(dumps[1])]
    assert parallel.kept == sequential.kept
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "par.parquet"), pd.read_parquet(tmp_path / "seq.parquet"))


def test_missing_dump_is_a_user_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        ingest_parallel([tmp_path / "RC_missing.zst"], tmp_path / "out.parquet", workers=2)


def test_cli_workers_flag_gives_the_sequential_table(tmp_path):
    from typer.testing import CliRunner

    from neurofin import cli

    dumps, kept = write_months(tmp_path)
    cli._register()
    args = ["market", "ingest", *map(str, dumps), "--subreddits", "wallstreetbets,stocks", "--start", "2021-01-01",
            "--end", "2021-04-30"]
    for name, extra in (("seq", []), ("par", ["--workers", "2"])):
        result = CliRunner().invoke(cli.app, [*args, "--out", str(tmp_path / f"{name}.parquet"), *extra])
        assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "par.parquet"), pd.read_parquet(tmp_path / "seq.parquet"))
    assert pd.read_parquet(tmp_path / "par.parquet")["id"].tolist() == kept
