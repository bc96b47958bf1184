"""Cost of the sentiment control: ingest + panel on the demo dump with the published measures vs before, and the
scoring cost of each measure per 10k comments.

1. Ingest + panel wall time on the demo dump (`neurofin.market.demo.demo_dump`, seed 0): `ingest_dumps`, then
   `PanelStore.update` with an ROI table of the kept comments (random values, `--subjects` subjects plus the
   ensemble, `--rois` ROIs: the ROI model is not what is measured). "now" runs this checkout (VADER and
   Loughran-McDonald per comment); "before" runs the same code path from `--baseline` (a git commit before the
   change: the project's slang list), extracted with `git archive`. Each run is a fresh subprocess (imports
   included, as a CLI user pays them), alternating, `--repeats` times; medians and their ratio are reported.
2. Per 10k comments (scoring only, in this process, after a warm-up): VADER, Loughran-McDonald, the slang list,
   and the optional finance model. The finance model is a randomly initialised BERT-base (the architecture of
   ProsusAI/finbert: 12 layers, hidden 768, 110M parameters; the cost does not depend on the weights) with a
   word-level vocabulary of the texts, so a comment's tokens are its words and punctuation (FinBERT's WordPiece
   splits some words further: slightly more tokens); it runs on CPU in batches of 32 (`FinanceSentimentModel`)
   on `--model-comments` comments and is scaled to 10k. Texts: the demo dump's comments ("short") and four of
   them joined ("long", about Reddit's typical length).

Example: python benchmarks/bench_sentiment.py --baseline 86800ef --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "sentiment.json"
REPO = Path(__file__).resolve().parents[1]

PIPELINE = """
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd
start = time.perf_counter()
from neurofin.market.demo import demo_dump
from neurofin.market.comments.ingest import ingest_dumps
from neurofin.market.panel.store import PanelStore
out, subjects, rois = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
demo_dump(out / "RC_demo.jsonl", 0)
t0 = time.perf_counter()
ingest_dumps([out / "RC_demo.jsonl"], out / "comments.parquet", ["wallstreetbets", "stocks", "investing"])
comments = pd.read_parquet(out / "comments.parquet")
rng = np.random.default_rng(0)
names = [f"UTS{k:02d}" for k in range(1, subjects + 1)] + ["ensemble"]
roi = pd.DataFrame({"id": np.repeat(comments["id"].to_numpy(), len(names)), "subject": np.tile(names, len(comments)),
                    **{f"roi_{k:02d}": rng.standard_normal(len(comments) * len(names)) for k in range(rois)}})
update = PanelStore(out / "panel.duckdb").update(comments, roi)
print(json.dumps({"seconds": time.perf_counter() - t0, "with_imports": time.perf_counter() - start,
                  "comments": len(comments), "panel_rows": update.panel_rows_written}))
"""


def pipeline_run(src: Path, subjects: int, rois: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src)}
        out = subprocess.run([sys.executable, "-c", PIPELINE, tmp, str(subjects), str(rois)], env=env, check=True,
                             capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def baseline_source(commit: str, folder: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def per_10k(score, texts: list[str]) -> float:
    score(texts[:50])  # warm-up: lexicons and models loaded
    start = time.perf_counter()
    score(texts)
    return (time.perf_counter() - start) / len(texts) * 10_000


def tiny_vocab_bert_base(texts: list[str], folder: Path) -> Path:
    """A random BERT-base sequence classifier (positive/negative/neutral) with a word-level vocabulary of `texts`."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted({w.lower() for t in texts for w in re.findall(r"\w+|[^\w\s]", t)})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    labels = {0: "positive", 1: "negative", 2: "neutral"}
    config = BertConfig(vocab_size=len(words) + 5, num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="86800ef", help="git commit with the slang-list panel (before issue 25)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--rois", type=int, default=20)
    parser.add_argument("--model-comments", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the finance model")
    args = parser.parse_args()
    import torch

    from neurofin.market.demo import demo_dump
    from neurofin.market.panel.lexicon import lexicon_features, load_lexicon
    from neurofin.market.panel.sentiment import FinanceSentimentModel, loughran_mcdonald_scores, vader_scores

    load = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"before": baseline_source(args.baseline, Path(tmp)), "now": REPO / "src"}
        for _ in range(args.repeats):
            for name, src in sources.items():
                runs[name].append(pipeline_run(src, args.subjects, args.rois))
        demo_dump(Path(tmp) / "RC.jsonl", 0)
        bodies = [json.loads(line)["body"] for line in (Path(tmp) / "RC.jsonl").read_text().splitlines()[:-4]]
        short = (bodies * (10_000 // len(bodies) + 1))[:10_000]
        cycled = (bodies * (40_000 // len(bodies) + 1))[:40_000]
        long = [" ".join(cycled[i:i + 4]) for i in range(0, 40_000, 4)]
        torch.set_num_threads(args.threads)
        model = FinanceSentimentModel(str(tiny_vocab_bert_base(short, Path(tmp) / "bert")))
        slang = load_lexicon()
        cost = {}
        for label, texts in (("short", short), ("long", long)):
            cost[label] = {
                "mean_words": statistics.mean(len(t.split()) for t in texts),
                "vader_s": per_10k(vader_scores, texts), "loughran_mcdonald_s": per_10k(loughran_mcdonald_scores, texts),
                "slang_list_s": per_10k(lambda t: lexicon_features(t, slang), texts),
                "finance_model_bert_base_s": per_10k(model, texts[:args.model_comments]),
            }
    medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    with_imports = {name: statistics.median(r["with_imports"] for r in rs) for name, rs in runs.items()}
    record = {
        "benchmark": "sentiment", "command": "python benchmarks/bench_sentiment.py " + " ".join(sys.argv[1:]),
        "baseline_commit": args.baseline, "demo_comments": runs["now"][0]["comments"],
        "panel_rows": {name: rs[0]["panel_rows"] for name, rs in runs.items()},
        "ingest_panel_s": {**medians, "ratio_now_over_before": medians["now"] / medians["before"]},
        "ingest_panel_with_imports_s": {**with_imports,
                                        "ratio_now_over_before": with_imports["now"] / with_imports["before"]},
        "runs": runs, "seconds_per_10k_comments": cost, "finance_model_comments_timed": args.model_comments,
        "torch_threads": args.threads,
        "hardware": {"cores": os.cpu_count(), "load_avg_1m_at_start": round(load, 2), "python": platform.python_version(),
                     "platform": platform.platform(), "torch": torch.__version__},
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in ("ingest_panel_s", "ingest_panel_with_imports_s", "seconds_per_10k_comments")},
                     indent=2))


if __name__ == "__main__":
    main()
