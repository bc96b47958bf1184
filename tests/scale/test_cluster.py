"""A Ray address where no cluster answers fails fast, with one line, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurofin.errors import InputError

pytest.importorskip("ray")

SRC = Path(__file__).resolve().parents[2] / "src"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_ingest_with_a_dead_ray_address_fails_within_30_s_with_one_line(tmp_path, address):
    """Today: `ray.init` retries the GCS for minutes (> 45 s measured) before anything is said."""
    dump = tmp_path / "RC.jsonl"
    dump.write_text('{"id": "a", "body": "calls on $GME", "created_utc": 1610000000, "subreddit": "wallstreetbets"}\n')
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "neurofin.cli", "market", "ingest", str(dump), str(dump),
                             "--out", str(tmp_path / "out.parquet"), "--ray-address", address],
                            env=ENV, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "127.0.0.1:1" in lines[0], result.stderr


@pytest.mark.parametrize(("address", "message"), [
    ("no-such-host.invalid:6379", "no-such-host.invalid"), ("127.0.0.1:99999", "99999"), ("127.0.0.1:x", "host:port"),
    ("ray://:10001", "host:port"),
])
def test_unusable_addresses_are_named(address, message):
    from neurofin.scale.cluster import connect

    start = time.monotonic()
    with pytest.raises(InputError, match=message):
        connect(address)
    assert time.monotonic() - start < 30
