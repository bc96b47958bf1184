"""The stage order holds in the imports, no module imports itself back, and nothing in the repository reads ../shared.

Data flows data -> features -> encoding -> infer <- atlas, and infer -> market -> report. A stage's
library modules import only the stages before it, and so does its `cli.py`, which may also hand its own work to
the scale-out runner (`scale`, for --workers / --ray-address); the exceptions are listed with their reason in
CLI_EXCEPTIONS. The top-level modules (cli, demo, pipeline, serve) compose stages: the report wiring of a command
lives there (e.g. `neurofin market backtest` writing report.html). Core modules (config, errors, io, timing, schema,
device, progress) import no stage. No cycle among neurofin's modules, lazy imports included.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
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
CLI_RUNNER = "scale"  # a stage's command may run its own work scaled out
CLI_EXCEPTIONS = {  # (stage, imported stage): why that stage's cli.py imports it
    ("atlas", "encoding"): "`atlas register --packages` stores the voxel map in the encoding packages",
    ("atlas", "infer"): "`atlas register --packages` then calibrates those packages (neurofin calibrate)",
}


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
    allowed = ALLOWED[stage] | {stage}
    if path.name == "cli.py":
        allowed |= {CLI_RUNNER} | {imported for (owner, imported) in CLI_EXCEPTIONS if owner == stage}
    wrong = imported_stages(path) - allowed
    assert not wrong, f"{path.relative_to(REPO)} ({stage}) imports {sorted(wrong)}; {stage} may import only {sorted(ALLOWED[stage])}"


@pytest.mark.parametrize("name", CORE)
def test_core_modules_import_no_stage(name):
    assert not imported_stages(PACKAGE / f"{name}.py")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """neurofin module -> the neurofin modules it imports (anywhere in it; `from p import m` counts m when m is a
    module; a name resolves to the closest module that holds it)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def test_no_import_cycle_among_modules():
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle (a lazy import hides it at run time, not from a reader): {' -> '.join(exc.args[1])}")


def test_the_report_is_imported_only_by_the_command_layer():
    graph = import_graph()
    importers = sorted(m for m, targets in graph.items() if any(t.startswith("neurofin.report") for t in targets)
                       and not m.startswith("neurofin.report"))
    assert importers == ["neurofin.cli", "neurofin.demo"], importers


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
