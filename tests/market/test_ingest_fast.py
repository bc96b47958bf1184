"""Issue 22.3: the msgspec reading path gives exactly what the standard library's json gives, on hostile dumps.

The golden files in data/ingest_hostile/ were written by the stdlib-json ingester of commit 37988fc from
`RC_hostile.zst` (hostile_dump.hostile_lines(2000, seed=0)); the line-by-line test recomputes its reference with
`json.loads` here, independently of the product's decoder.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from msgspec import UNSET
from msgspec.structs import astuple

from neurofin.market.comments.dumps import json_values
from neurofin.market.comments.filters import Fields, RecordLayout
from neurofin.market.comments.ingest import ingest_dumps

from .hostile_dump import hostile_lines

DATA = Path(__file__).parent / "data" / "ingest_hostile"
CONFIGS = {
    "filtered": {"subreddits": ["wallstreetbets", "stocks"], "start": date(2021, 1, 1), "end": date(2021, 2, 28),
                 "extra_columns": ["controversiality", "author_flair_text"]},
    "open": {"keep_edited": True, "chunk_rows": 97},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_output_and_counts_equal_the_stdlib_readers_on_the_hostile_dump(tmp_path, name):
    out = tmp_path / "out.parquet"
    report = ingest_dumps([DATA / "RC_hostile.zst"], out, **CONFIGS[name]).to_record()
    expected = json.loads((DATA / "expected_reports.json").read_text())[name]
    assert {key: report[key] for key in expected} == expected
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(DATA / f"expected_{name}.parquet"))


def _stdlib_values(line: bytes, names: tuple[str, ...]) -> tuple | str | None:
    """What the standard library reads from a line: the named fields, None for a non-object, "blank" for blank."""
    if not line.strip():
        return "blank"
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return tuple(record.get(name, UNSET) for name in names) if isinstance(record, dict) else None


def _fields(record: object) -> tuple | None:
    """The field values of a decoded `Record` in the layout's order (None stays None)."""
    return None if record is None else astuple(record)


LAYOUTS = [
    RecordLayout(),
    RecordLayout(Fields("subreddit", "author_flair_text", "retrieved_on"), ("media", "edited", "controversiality")),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("layout", LAYOUTS, ids=["standard", "overlapping-fields"])
def test_each_line_decodes_to_the_stdlib_values(seed, layout):
    lines = hostile_lines(1500, seed=seed)
    lines += [b'{"id": "a", "score": ' + b"9" * 5000 + b"}", b'{"id": "b", "created_utc": 1e999}',
              b'{"id": "c", "subreddit": "\\ud83d"}', b'{"id": "d", "subreddit": "p\\u0069cs", "id": "e"}']
    got = [repr(_fields(values)) for line in lines for values in json_values([line], layout)]
    expected = [repr(values) for line in lines if (values := _stdlib_values(line, layout.names)) != "blank"]
    assert got == expected  # repr: types count (1 vs 1.0 vs True), NaN equals NaN
    assert sum(value.startswith("(") for value in got) > len(lines) // 2  # most lines are objects


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("layout", LAYOUTS, ids=["standard", "overlapping-fields"])
def test_a_whole_batch_decodes_to_the_stdlib_values_in_line_order(seed, layout):
    """One `json_values` call over lines where refused and blank ones (first, last, in runs) sit among good ones:
    the C-level pass resumes after each refused line without losing or shifting a record."""
    lines = [b"", b"{bad", *hostile_lines(1500, seed=seed), b"   ", b"", b"[1]", b'{"id": "z", "created_utc": 1}', b"\xff"]
    lines[700:700] = [b"", b"", b"nope", b"", b"{}"]
    got = [repr(_fields(values)) for values in json_values(lines, layout)]
    expected = [repr(values) for line in lines if (values := _stdlib_values(line, layout.names)) != "blank"]
    assert got == expected
    assert expected.count("None") > 40  # many refused lines, each at its place
