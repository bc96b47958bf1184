"""Ingestion benchmark: stream generated Reddit comment dumps (zstd NDJSON) through `neurofin.market.ingest_dumps`.

For each size (default 250k and 1M comments) a dump shaped like a Pushshift/Arctic Shift `RC_*.zst` file is
generated first (not timed): the dump's fields plus the usual extra ones, several subreddits, created_utc as
int / float / string, deleted and removed bodies, bots, empty bodies, duplicate ids, a few comments outside
the month, and malformed lines (cut JSON, garbage bytes, non-object JSON). The generator knows how many lines
fall in each category; the run fails unless the ingestion report counts exactly those.

Each ingestion runs (`--repeats` times, median time reported) in a fresh subprocess that reports wall time and
peak resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) after its imports (baseline) and after
ingestion.
Memory should stay flat across sizes: only the dedupe index grows, by 8 bytes per kept comment.

Example: .venv/bin/python benchmarks/bench_ingest.py --sizes 250000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from neurofin.market.comments.ingest import DEFAULT_CHUNK_ROWS

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
MONTH_START = datetime(2021, 1, 1, tzinfo=UTC)
MONTH_END = datetime(2021, 2, 1, tzinfo=UTC)
KEEP_SUBREDDITS = ("wallstreetbets", "stocks", "investing")
OTHER_SUBREDDITS = ("AskReddit", "pics", "gaming", "worldnews", "soccer", "personalfinance", "Bitcoin")
# category -> share of lines; the rest are valid comments in KEEP_SUBREDDITS
SHARES = {"wrong_subreddit": 0.45, "out_of_range": 0.01, "deleted": 0.04, "bot": 0.015, "empty": 0.003,
          "duplicate": 0.005, "malformed": 0.002}  # fmt: skip
WORDS = ["the", "to", "and", "a", "of", "is", "in", "it", "that", "for", "on", "this", "be", "with", "you", "just", "buy", "sell", "calls", "puts", "moon", "tendies", "hold", "market", "price", "earnings", "week", "today", "tomorrow", "squeeze", "short", "shares", "bought", "sold", "dip", "rally", "red", "green", "going", "up", "down", "guys", "think", "long", "strike", "expiry", "volume", "gap", "options", "premium", "retard", "ape", "diamond", "hands", "rocket", "bears", "bulls", "fed", "rates", "inflation", "cpi", "print", "money", "loss", "gain", "yolo", "portfolio", "account", "margin"]
TICKERS = ("GME", "$GME", "AMC", "$AMC", "TSLA", "$TSLA", "PLTR", "NOK", "BB", "AAPL", "SPY", "Tesla")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
    return out or "0"


def _body(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(3, 60))
    for _ in range(rng.randint(0, 2)):
        words.insert(rng.randrange(len(words)), rng.choice(TICKERS))
    return " ".join(words)


def _created(rng: random.Random, lo: float, hi: float) -> int | float | str:
    stamp = rng.uniform(lo, hi)
    kind = rng.random()
    if kind < 0.7:
        return int(stamp)
    if kind < 0.85:
        return round(stamp, 3)
    return str(int(stamp))


def generate_dump(path: Path, n_lines: int, seed: int = 0, level: int = 3) -> dict[str, int]:
    """Write an RC-style zstd NDJSON dump of n_lines lines; return the expected ingestion counts."""
    import zstandard

    rng = random.Random(seed)
    lo, hi = MONTH_START.timestamp(), MONTH_END.timestamp() - 1
    expected = {name: 0 for name in SHARES} | {"kept": 0}
    kept_records: list[dict] = []
    categories, weights = list(SHARES), list(SHARES.values())
    uncompressed = 0
    with path.open("wb") as raw, zstandard.ZstdCompressor(level=level).stream_writer(raw) as out:
        for index in range(n_lines):
            pick = rng.random()
            category, edge = "kept", 0.0
            for name, share in zip(categories, weights, strict=True):
                edge += share
                if pick < edge:
                    category = name
                    break
            if category == "duplicate" and not kept_records:
                category = "kept"
            if category == "duplicate":
                record = dict(rng.choice(kept_records[-1000:]), score=rng.randint(-5, 500))  # re-fetched copy
            else:
                record = {
                    "id": _base36(10**9 + index * 37 + rng.randrange(37)),
                    "author": f"u_{rng.randrange(200_000)}",
                    "body": _body(rng),
                    "created_utc": _created(rng, lo, hi),
                    "subreddit": rng.choice(KEEP_SUBREDDITS),
                    "subreddit_id": "t5_2th52",
                    "score": rng.randint(-20, 2000),
                    "link_id": f"t3_{_base36(rng.randrange(36**6))}",
                    "parent_id": f"t1_{_base36(rng.randrange(36**6))}",
                    "controversiality": 0, "gilded": 0, "stickied": False, "is_submitter": rng.random() < 0.1,
                    "distinguished": None, "edited": False, "author_flair_text": rng.choice([None, "Ape", "Bull"]),
                    "retrieved_on": int(hi) + 86_400 * 30, "permalink": "/r/x/comments/abc/title/def/",
                }  # fmt: skip
            if category == "wrong_subreddit":
                record["subreddit"] = rng.choice(OTHER_SUBREDDITS)
            elif category == "out_of_range":
                record["created_utc"] = int(lo) - rng.randint(1, 3 * 86_400)
            elif category == "deleted":
                record["body"], record["author"] = rng.choice(["[deleted]", "[removed]"]), "[deleted]"
            elif category == "bot":
                record["author"] = rng.choice(["AutoModerator", "VisualMod", "ticker_summary_bot"])
            elif category == "empty":
                record["body"] = " "
            line = json.dumps(record).encode()
            if category == "malformed":
                line = rng.choice([line[: len(line) // 2], b"\xff\xfe\x00garbage", b'["not", "an", "object"]'])
            elif category == "kept":
                kept_records.append(record)
                if len(kept_records) > 5000:
                    del kept_records[:1000]
            expected[category] += 1
            out.write(line + b"\n")
            uncompressed += len(line) + 1
    expected["lines"] = n_lines
    expected["uncompressed_bytes"] = uncompressed
    return expected


def measure(dump: str, out: str, chunk_rows: int) -> None:
    """Child process: ingest one dump, print JSON with seconds and peak RSS before/after."""
    import pyarrow.parquet  # noqa: F401 - imported before the baseline so it counts as baseline
    import zstandard  # noqa: F401

    from neurofin.market.comments.ingest import ingest_dumps

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    report = ingest_dumps(
        [dump], out, subreddits=KEEP_SUBREDDITS, start=date(2021, 1, 1), end=date(2021, 1, 31),
        chunk_rows=chunk_rows,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "baseline_rss_kb": baseline_kb, "peak_rss_kb": peak_kb,
                      "report": report.to_record()}))  # fmt: skip


def ingest_once(dump: Path, out: Path, chunk_rows: int, expected: dict[str, int]) -> dict:
    """One measured ingestion in a fresh subprocess; fails unless its counts equal the generated ones."""
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(dump), str(out), str(chunk_rows)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(child.stdout.strip().splitlines()[-1])
    mismatched = {k: (result["report"][k], v) for k, v in expected.items() if result["report"].get(k, v) != v}
    if mismatched:
        raise SystemExit(f"ingestion counts differ from the generated ones (got, expected): {mismatched}")
    out.unlink()
    return result


def run_size(n_lines: int, workdir: Path, seed: int, chunk_rows: int, repeats: int) -> dict:
    """Generate one dump, ingest it `repeats` times, return the figures (median time, largest peak RSS)."""
    dump = workdir / f"RC_bench_{n_lines}.zst"
    began = time.perf_counter()
    expected = generate_dump(dump, n_lines, seed=seed)
    generate_s = time.perf_counter() - began
    results = [ingest_once(dump, workdir / "out.parquet", chunk_rows, expected) for _ in range(repeats)]
    seconds = statistics.median(r["seconds"] for r in results)
    peak_kb = max(r["peak_rss_kb"] for r in results)
    baseline_kb = max(r["baseline_rss_kb"] for r in results)
    report = results[0]["report"]
    mb = 1024 * 1024
    figures = {
        "comments_in_dump": n_lines,
        "dump_mb_compressed": round(dump.stat().st_size / mb, 1),
        "dump_mb_uncompressed": round(expected["uncompressed_bytes"] / mb, 1),
        "generate_s (not timed)": round(generate_s, 1),
        "repeats": repeats,
        "ingest_s_each": [round(r["seconds"], 2) for r in results],
        "ingest_s_median": round(seconds, 2),
        "comments_per_s": round(n_lines / seconds),
        "kept_per_s": round(report["kept"] / seconds),
        "uncompressed_mb_per_s": round(expected["uncompressed_bytes"] / mb / seconds, 1),
        "baseline_rss_mb": round(baseline_kb / 1024, 1),
        "peak_rss_mb_each": [round(r["peak_rss_kb"] / 1024, 1) for r in results],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "ingest_rss_mb": round((peak_kb - baseline_kb) / 1024, 1),
        "dedupe_index_mb": round(8 * report["kept"] / mb, 1),
        "counts_match_generated": True,
        "report": {k: v for k, v in report.items() if k not in ("files", "seconds")},
    }
    dump.unlink()
    return figures


def hardware() -> dict:
    """The machine the figures come from."""
    import pyarrow
    import zstandard

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "zstandard": zstandard.__version__, "pyarrow": pyarrow.__version__,
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,1000000", help="comma-separated dump sizes (lines)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where dumps are generated (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--repeats", type=int, default=3, help="measured ingestions per size (median time)")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="comments per Parquet row group")
    parser.add_argument("--measure", nargs=3, metavar=("DUMP", "OUT", "CHUNK_ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1], int(args.measure[2]))
        return

    from neurofin.io import write_json_atomic

    sizes = [int(s) for s in args.sizes.split(",")]
    machine = hardware()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        runs = [run_size(n, Path(tmp), args.seed, args.chunk_rows, args.repeats) for n in sizes]
    smallest, largest = runs[0], runs[-1]
    summary = {
        "size_ratio": round(largest["comments_in_dump"] / smallest["comments_in_dump"], 2),
        "peak_rss_ratio": round(largest["peak_rss_mb"] / smallest["peak_rss_mb"], 3),
        "peak_rss_growth_mb": round(largest["peak_rss_mb"] - smallest["peak_rss_mb"], 1),
        "dedupe_index_growth_mb": round(largest["dedupe_index_mb"] - smallest["dedupe_index_mb"], 1),
    }
    command = "python benchmarks/bench_ingest.py " + " ".join(
        f"--{name} {getattr(args, name.replace('-', '_'))}" for name in ("sizes", "chunk-rows", "repeats", "seed")
    )
    result = {"benchmark": "ingest", "command": command, "chunk_rows": args.chunk_rows,
              "filters": {"subreddits": list(KEEP_SUBREDDITS), "start": "2021-01-01", "end": "2021-01-31"},
              "line_shares": SHARES, "hardware": machine, "runs": runs, "memory": summary}  # fmt: skip
    write_json_atomic(args.out, result)
    print(f"{'comments':>10} {'MB zst':>7} {'MB raw':>7} {'median s':>8} {'comments/s':>11} {'peak RSS MB':>12} "
          f"{'ingest RSS MB':>14} {'dedupe MB':>10}")  # fmt: skip
    for run in runs:
        print(f"{run['comments_in_dump']:>10,} {run['dump_mb_compressed']:>7} {run['dump_mb_uncompressed']:>7} "
              f"{run['ingest_s_median']:>8} {run['comments_per_s']:>11,} {run['peak_rss_mb']:>12} "
              f"{run['ingest_rss_mb']:>14} {run['dedupe_index_mb']:>10}")  # fmt: skip
    print(f"{summary['size_ratio']}x the comments -> {summary['peak_rss_ratio']}x the peak RSS "
          f"(+{summary['peak_rss_growth_mb']} MB, of which dedupe index +{summary['dedupe_index_growth_mb']} MB)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
