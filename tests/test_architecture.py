"""The stage order holds in the imports, and nothing in the repository reads ../shared.

Data flows data -> features -> encoding -> infer <- atlas, and infer -> market -> report. A stage's
library modules import only the stages before it. The command layer composes stages and is exempt: each
stage's `cli.py`, and the top-level modules (cli, demo, pipeline, serve). Core modules (config, errors, io, timing, schema, device, progress) import no stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "neurofin"
STAGES = ("data", "features", "encoding", "atlas", "infer", "market", "report", "scale")
ALLOWED = {
    "data": set(),
    "features": {"data"},
    "encoding": {"data", "features"},
    "atlas": {"data"},
    "infer": {"data", "features", "encoding", "atlas"},
    "market": {"infer"},
    "report": {"data", "features", "encoding", "atlas", "infer", "market"},
    "scale": set(STAGES) - {"scale"},
}
CORE = ("config", "errors", "io", "timing", "schema", "device", "progress")


def imported_stages(path: Path) -> set[str]:
    """Stage packages a module imports (anywhere in it, including imports inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "neurofin" and len(parts) > 1 and parts[1] in STAGES:
                found.add(parts[1])
    return found


def stage_modules() -> list[tuple[str, Path]]:
    return [(stage, path) for stage in STAGES for path in sorted((PACKAGE / stage).rglob("*.py"))]


@pytest.mark.parametrize("stage, path", stage_modules(), ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else v)
def test_stage_imports_follow_the_data_flow(stage, path):
    allowed = set(STAGES) if path.name == "cli.py" else ALLOWED[stage] | {stage}
    wrong = imported_stages(path) - allowed
    assert not wrong, f"{path.relative_to(REPO)} ({stage}) imports {sorted(wrong)}; {stage} may import only {sorted(ALLOWED[stage])}"


@pytest.mark.parametrize("name", CORE)
def test_core_modules_import_no_stage(name):
    assert not imported_stages(PACKAGE / f"{name}.py")


def test_the_checker_sees_a_violation(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from neurofin.infer.predictor import Predictor\n    import neurofin.atlas.rois\n")
    assert imported_stages(module) == {"infer", "atlas"}


def test_nothing_in_the_repository_reads_the_shared_folder():
    offenders = []
    for folder in ("src", "tests", "benchmarks"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".toml", ".cfg", ".md") and path.is_file() and path != Path(__file__):
                text = path.read_text(encoding="utf-8", errors="replace")
                if "../shared" in text or '"shared" / "data"' in text or "'shared' / 'data'" in text:
                    offenders.append(str(path.relative_to(REPO)))
    for name in ("Makefile", ".ci/run", "pyproject.toml"):
        if "shared" in (REPO / name).read_text(encoding="utf-8"):
            offenders.append(name)
    assert not offenders, f"these files refer to ../shared, which a user's clone lacks: {offenders}"
