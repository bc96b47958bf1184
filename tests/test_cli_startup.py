"""`neurofin --help` and `--version` start fast: no stage library (numpy, pandas, torch, ...) is imported for them."""

import subprocess
import sys

import pytest

# what made `neurofin --help` take seconds (issue 23): each one is needed only inside a command
HEAVY = {"numpy", "pandas", "scipy", "torch", "transformers", "arch", "duckdb", "ray", "fastapi", "pydantic",
         "matplotlib", "sklearn", "statsmodels", "nilearn", "ants", "skfolio", "boto3", "rich"}

PROBE = """
import sys
from neurofin.cli import main
sys.argv = ["neurofin", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(",".join(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_no_heavy_library(flag):
    proc = subprocess.run([sys.executable, "-c", PROBE, flag], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "neurofin" in proc.stdout
    loaded = set(proc.stderr.strip().splitlines()[-1].split(","))
    assert not HEAVY & loaded, f"`neurofin {flag}` imports {sorted(HEAVY & loaded)}"


def test_stage_packages_still_export_their_api_lazily():
    """The stage packages load their names on first use: the public API is unchanged."""
    code = ("import sys, neurofin.market as m, neurofin.atlas as a; assert 'arch' not in sys.modules; "
            "assert callable(m.run_chain) and callable(a.load_atlas) and 'arch' in sys.modules; "
            "assert set(m.__all__) <= set(dir(m))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
