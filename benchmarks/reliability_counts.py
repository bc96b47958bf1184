"""Count the hostile-input cases of issues 16 and 24 that were tried and that pass: the closing line of docs/reliability.md.

Runs the reliability test files (each test or parametrised case is one bad-input case; `-m "slow or not slow"`
includes the concurrency test unless --fast) and the Hypothesis suites' example counts per reader, then
writes benchmarks/results/reliability.json. A listed file that does not exist (yet) is skipped and named in
`missing_files`.

Example: PYTHONPATH=src .venv/bin/python benchmarks/reliability_counts.py            # about 8 minutes on 2 cores
         PYTHONPATH=src .venv/bin/python benchmarks/reliability_counts.py --fast     # without the slow concurrency test
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from neurofin.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reliability.json"
FILES = [  # the tests written for issue 16, one per hole plus the property and concurrency suites
    "tests/infer/test_run.py", "tests/data/test_download.py", "tests/infer/test_predictor.py",
    "tests/encoding/test_package.py", "tests/test_cli.py", "tests/test_filesystem_errors.py",
    "tests/encoding/test_fs_errors.py", "tests/infer/test_inputs.py", "tests/test_config.py",
    "tests/market/test_ingest_hostile.py", "tests/features/test_cache.py", "tests/test_io.py", "tests/data/test_check.py",
    "tests/test_properties.py", "tests/test_concurrency.py",
    # issue 24: serve, Unicode and --out, settings ranges (test_config.py above), report inputs and manifests
    "tests/scale/test_serve_hostile.py", "tests/test_no_overwrite.py", "tests/test_unicode.py",
    "tests/report/test_report_inputs.py", "tests/market/test_panel_provenance.py", "tests/scale/test_cluster.py",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="skip the slow concurrency test")
    args = parser.parse_args()
    present = [f for f in FILES if (ROOT / f).is_file()]
    missing = [f for f in FILES if f not in present]
    for name in missing:
        print(f"note: {name} does not exist (yet): not counted", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        marker = "not slow" if args.fast else "slow or not slow"
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-m", marker, f"--junitxml={junit}", *present],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        cases = ET.parse(junit).getroot().iter("testcase")
        per_file: dict[str, dict[str, int]] = {}
        for case in cases:
            name = case.get("classname", "").replace(".", "/") + ".py"
            entry = per_file.setdefault(name, {"tried": 0, "passed": 0})
            entry["tried"] += 1
            failed = any(child.tag in ("failure", "error") for child in case)
            skipped = any(child.tag == "skipped" for child in case)
            entry["passed"] += int(not failed and not skipped)
    examples: dict[str, int] = {}  # each Hypothesis suite prints its own counts
    for found in re.finditer(r"property examples per reader: (\{.*\})", proc.stdout):
        examples.update(json.loads(found.group(1)))
    record = {
        "command": "benchmarks/reliability_counts.py" + (" --fast" if args.fast else ""),
        "cases_tried": sum(e["tried"] for e in per_file.values()),
        "cases_passed": sum(e["passed"] for e in per_file.values()),
        "property_examples_per_reader": examples,
        "property_examples_total": sum(examples.values()),
        "per_file": per_file,
        "missing_files": missing,
        "pytest_exit_code": proc.returncode,
    }
    write_json_atomic(RESULTS, record)
    print(json.dumps({k: v for k, v in record.items() if k != "per_file"}, indent=2))


if __name__ == "__main__":
    main()
