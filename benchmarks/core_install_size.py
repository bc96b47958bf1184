"""Core install size: the installed size of neurofin's core dependencies (no extras), this tree against a baseline.

Resolves each pyproject's `dependencies` through the installed distributions' metadata (Requires-Dist, markers
evaluated without extras) and sums the files each distribution installed. Reads the current environment only:
nothing is downloaded, so every dependency must be installed (`make install` installs all of them).

    python benchmarks/core_install_size.py [--baseline 37988fc]

Writes benchmarks/results/core_install_size.json and prints the totals and what left the core.
"""

from __future__ import annotations

import argparse
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "core_install_size.json"


def closure(requirements: list[str]) -> set[str]:
    """Canonical names of the distributions `requirements` pull in, recursively (with the extras they ask for)."""
    seen: set[tuple[str, str]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for text in metadata.distribution(name).requires or []:
                sub = Requirement(text)
                if (sub.marker is None and extra == "") or (sub.marker is not None and sub.marker.evaluate({"extra": extra})):
                    todo.append(sub)
    return {name for name, _ in seen}


def installed_bytes(name: str) -> int:
    """Bytes of the files distribution `name` installed (its RECORD)."""
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def core_requirements(pyproject_text: str) -> list[str]:
    return tomllib.loads(pyproject_text)["project"]["dependencies"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="37988fc", help="commit to compare with (default: main before issue 23)")
    args = parser.parse_args()
    from neurofin.io import write_json_atomic

    before_text = subprocess.run(["git", "-C", str(REPO), "show", f"{args.baseline}:pyproject.toml"],
                                 check=True, capture_output=True, text=True).stdout
    trees = {"baseline": closure(core_requirements(before_text)),
             "this tree": closure(core_requirements((REPO / "pyproject.toml").read_text()))}
    sizes = {name: installed_bytes(name) for name in set().union(*trees.values())}
    totals = {label: sum(sizes[n] for n in names) for label, names in trees.items()}
    left = sorted(trees["baseline"] - trees["this tree"], key=lambda n: -sizes[n])
    added = sorted(trees["this tree"] - trees["baseline"])
    for label, total in totals.items():
        print(f"{label:10s} core install: {len(trees[label])} distributions, {total / 1e6:.0f} MB")
    print("left the core:", ", ".join(f"{n} {sizes[n] / 1e6:.1f} MB" for n in left))
    print("added to the core:", ", ".join(f"{n} {sizes[n] / 1e6:.2f} MB" for n in added))
    write_json_atomic(RESULT, {
        "baseline": args.baseline,
        "core_mb": {label: round(total / 1e6, 1) for label, total in totals.items()},
        "distributions": {label: len(names) for label, names in trees.items()},
        "left_the_core_mb": {n: round(sizes[n] / 1e6, 2) for n in left},
        "added_to_the_core_mb": {n: round(sizes[n] / 1e6, 2) for n in added},
    })
    print(f"-> {RESULT}")


if __name__ == "__main__":
    main()
