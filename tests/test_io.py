"""Issue 16.11: files written through atomic_path get the permissions the user's umask gives, not mkstemp's 0600."""

from __future__ import annotations

import subprocess
import sys

import pytest

WRITER = """
import os, sys
os.umask(int(sys.argv[2], 8))
import pandas as pd
from neurofin.io import write_bytes_atomic, write_json_atomic, write_table_atomic
folder = sys.argv[1]
write_bytes_atomic(folder + "/a.bin", b"x")
write_json_atomic(folder + "/b.json", {"k": 1})
write_table_atomic(folder + "/c.parquet", pd.DataFrame({"x": [1]}))
write_bytes_atomic(folder + "/a.bin", b"replaced")
"""


@pytest.mark.parametrize(("umask", "mode"), [("022", 0o644), ("027", 0o640), ("002", 0o664), ("077", 0o600)])
def test_atomic_files_follow_the_umask(tmp_path, umask, mode):
    subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), umask], check=True)
    got = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert got == {"a.bin": mode, "b.json": mode, "c.parquet": mode}
