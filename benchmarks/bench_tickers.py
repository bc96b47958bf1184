"""Ticker extraction on the hand-labelled corpus: precision and recall, now and at an earlier git revision.

Corpus: tests/market/data/comments_tickers.jsonl (text + the tickers a person reading it would name;
"note": "shouted" marks the all-caps lines added for issue 12). The earlier revision's tickers.py and its
shipped resources are read with `git show`, so both rule sets are scored on the same corpus in one run.

Example (the committed results/tickers_corpus.json):
    PYTHONPATH=src .venv/bin/python benchmarks/bench_tickers.py --before 3be9424
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

from neurofin.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "market" / "data" / "comments_tickers.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "tickers_corpus.json"


def git_show(rev: str, path: str) -> str:
    """A file's text at a git revision."""
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def module_at(rev: str) -> types.ModuleType:
    """neurofin.market.comments.tickers as it was at `rev`, reading that revision's shipped resources."""
    module = types.ModuleType(f"tickers_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(git_show(rev, "src/neurofin/market/comments/tickers.py"), f"tickers@{rev}", "exec"), module.__dict__)
    module._resource_text = lambda name: git_show(rev, f"src/neurofin/resources/market/{name}")
    return module


def score(rows: list[dict], extract) -> dict:
    """Micro-averaged precision and recall of `extract(text)` against the labels."""
    tp = fp = fn = 0
    for row in rows:
        got, expected = set(extract(row["text"])), set(row["expected"])
        tp, fp, fn = tp + len(got & expected), fp + len(got - expected), fn + len(expected - got)
    return {"comments": len(rows), "tp": tp, "fp": fp, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else float("nan"), "recall": tp / (tp + fn) if tp + fn else float("nan")}


def main() -> None:
    """Score the current rules and those of --before on the whole corpus and its shouted subset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from neurofin.market.comments import tickers as now

    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    subsets = {"all": rows, "shouted": [r for r in rows if r.get("note") == "shouted"],
               "original": [r for r in rows if r.get("note") != "shouted"]}
    record = {"command": " ".join(sys.argv), "corpus": str(CORPUS.relative_to(ROOT)), "before_rev": args.before}
    for label, module in (("before", module_at(args.before)), ("after", now)):
        universe = module.load_universe()
        record[label] = {name: score(subset, lambda text, u=universe, m=module: m.extract_tickers(text, u))
                         for name, subset in subsets.items()}
    write_json_atomic(args.out, record)
    for label in ("before", "after"):
        print(label, json.dumps({k: (v["precision"], v["recall"]) for k, v in record[label].items()}))


if __name__ == "__main__":
    main()
