"""Ingestion benchmark: stream generated Reddit comment dumps (zstd NDJSON) through `neurofin.market.ingest_dumps`.

Before/after in one run (issue 22.3): each size is ingested by the product and by the whole `neurofin` package of
earlier commits (`--before`, default 49601f1, the batched reader with per-record Python rules, and 37988fc, the
stdlib-json ingester; extracted with `git archive`), interleaved; every output must be the same table. Lines per CPU second are CPU
time of the ingest call (`time.process_time`, all threads); pandas, which pyarrow imports on its first conversion
of Python objects, is imported before the clock like pyarrow itself (`pandas_import_cpu_s`: once per process).
Beside them, the same decompressed lines through the reference parsers alone (stdlib json, orjson, msgspec to dicts,
the product's msgspec struct of the fields read, pyarrow.json on the lines stdlib parses as objects, created_utc cast
to int; polars and orjson when installed), and
`--workers` concurrent ingest processes, one per copy of the dump, as `neurofin.scale.ingest_parallel` runs them
(CPU per line should stay flat as workers grow; the wall-time speed-up needs idle cores, which a shared machine
does not have). `--instructions N` adds instructions per line counted by valgrind, which other jobs on a shared
machine do not move.

For each size (default 250k and 1M comments) a dump shaped like a Pushshift/Arctic Shift `RC_*.zst` file is
generated first (not timed): the dump's fields plus the usual extra ones, several subreddits, created_utc as
int / float / string, deleted and removed bodies, bots, empty bodies, duplicate ids, a few comments outside
the month, and malformed lines (cut JSON, garbage bytes, non-object JSON). The generator knows how many lines
fall in each category; the run fails unless the ingestion report counts exactly those.

Each ingestion runs (`--repeats` times, median time reported) in a fresh subprocess that reports wall time and
peak resident memory (VmHWM of /proc/self/status, which, unlike ru_maxrss, a child does not inherit from this
process) after its imports (baseline) and after ingestion.
Memory should stay flat across sizes: only the dedupe index grows, by 8 bytes per kept comment.

Example: .venv/bin/python benchmarks/bench_ingest.py --sizes 300000 --repeats 3 --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
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


def _peak_rss_kb() -> int:
    """This process's peak resident memory in KiB since it started (exec'd)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def measure(dump: str, out: str, chunk_rows: int) -> None:
    """Child process: ingest one dump, print JSON with wall and CPU seconds and peak RSS before/after."""
    import pyarrow.parquet  # noqa: F401 - imported before the baseline so it counts as baseline
    import zstandard  # noqa: F401

    from neurofin.market.comments.ingest import ingest_dumps  # the product, or an earlier commit's (PYTHONPATH)

    began_cpu = time.process_time()
    import pandas  # noqa: F401 - what pyarrow's first pa.array() would import inside the timed call

    pandas_cpu_s = time.process_time() - began_cpu
    baseline_kb = _peak_rss_kb()
    began, began_cpu = time.perf_counter(), time.process_time()
    report = ingest_dumps(
        [dump], out, subreddits=KEEP_SUBREDDITS, start=date(2021, 1, 1), end=date(2021, 1, 31),
        chunk_rows=chunk_rows,
    )  # fmt: skip
    seconds, cpu_s = time.perf_counter() - began, time.process_time() - began_cpu
    peak_kb = _peak_rss_kb()
    print(json.dumps({"seconds": seconds, "cpu_s": cpu_s, "baseline_rss_kb": baseline_kb, "peak_rss_kb": peak_kb,
                      "pandas_import_cpu_s": pandas_cpu_s, "report": report.to_record()}))  # fmt: skip


def _child(args: list[str], source: str | None) -> list[str] | dict:
    """Command and environment of a measuring child: the product, or the package extracted at `source`."""
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    return {"args": [sys.executable, __file__, "--measure", *args], "env": env}


def ingest_once(dump: Path, out: Path, chunk_rows: int, expected: dict[str, int], source: str | None = None) -> dict:
    """One measured ingestion in a fresh subprocess; fails unless its counts equal the generated ones."""
    child = subprocess.run(**_child([str(dump), str(out), str(chunk_rows)], source), check=True, capture_output=True,
                           text=True)  # fmt: skip
    result = json.loads(child.stdout.strip().splitlines()[-1])
    mismatched = {k: (result["report"][k], v) for k, v in expected.items() if result["report"].get(k, v) != v}
    if mismatched:
        raise SystemExit(f"ingestion counts differ from the generated ones (got, expected): {mismatched}")
    return result


def _figures(results: list[dict], n_lines: int) -> dict:
    """Median wall and CPU time of repeated ingestions and the rates they give."""
    seconds = statistics.median(r["seconds"] for r in results)
    cpu_s = statistics.median(r["cpu_s"] for r in results)
    return {"ingest_s_each": [round(r["seconds"], 2) for r in results], "ingest_s_median": round(seconds, 2),
            "cpu_s_each": [round(r["cpu_s"], 2) for r in results], "cpu_s_median": round(cpu_s, 2),
            "lines_per_cpu_s": round(n_lines / cpu_s), "comments_per_s": round(n_lines / seconds),
            "peak_rss_mb": round(max(r["peak_rss_kb"] for r in results) / 1024, 1),
            "pandas_import_cpu_s (outside the clock)": round(statistics.median(r["pandas_import_cpu_s"] for r in results), 2)}  # fmt: skip


def run_size(n_lines: int, workdir: Path, seed: int, chunk_rows: int, repeats: int, before: dict[str, str],
             workers: list[int]) -> dict:  # fmt: skip
    """Generate one dump, ingest it `repeats` times (product and earlier commits interleaved), run the parsers
    and workers."""
    import pandas as pd

    dump = workdir / f"RC_bench_{n_lines}.zst"
    began = time.perf_counter()
    expected = generate_dump(dump, n_lines, seed=seed)
    generate_s = time.perf_counter() - began
    results: list[dict] = []
    results_before: dict[str, list[dict]] = {commit: [] for commit in before}
    for _ in range(repeats):
        results.append(ingest_once(dump, workdir / "out.parquet", chunk_rows, expected))
        for commit, source in before.items():
            results_before[commit].append(
                ingest_once(dump, workdir / f"before_{commit}.parquet", chunk_rows, expected, source))
    for commit in before:
        if not pd.read_parquet(workdir / "out.parquet").equals(pd.read_parquet(workdir / f"before_{commit}.parquet")):
            raise SystemExit(f"the product's output differs from commit {commit}'s")
    report = results[0]["report"]
    seconds = statistics.median(r["seconds"] for r in results)
    peak_kb = max(r["peak_rss_kb"] for r in results)
    baseline_kb = max(r["baseline_rss_kb"] for r in results)
    mb = 1024 * 1024
    figures = {
        "comments_in_dump": n_lines,
        "dump_mb_compressed": round(dump.stat().st_size / mb, 1),
        "dump_mb_uncompressed": round(expected["uncompressed_bytes"] / mb, 1),
        "generate_s (not timed)": round(generate_s, 1),
        "repeats": repeats,
        **_figures(results, n_lines),
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
    figures["before"] = {commit: _figures(runs, n_lines) | {"identical_output": True} for commit, runs in results_before.items()}
    figures["after_over_before_lines_per_cpu_s"] = {
        commit: round(figures["lines_per_cpu_s"] / runs["lines_per_cpu_s"], 2) for commit, runs in figures["before"].items()}
    figures["parsers_lines_per_cpu_s"] = parsers(dump)
    figures["workers"] = {str(k): workers_run(dump, workdir, k, n_lines, chunk_rows) for k in workers}
    dump.unlink()
    return figures


def parsers(dump: Path) -> dict:
    """Lines per CPU second of the reference parsers alone on the dump's decompressed lines (and of decompression)."""
    import msgspec

    from neurofin.market.comments.dumps import struct_decoder, zst_blocks
    from neurofin.market.comments.filters import RecordLayout

    def rate(name: str, parse, items) -> None:
        began = time.process_time()
        for item in items:
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to every timed line
                parse(item)
            except Exception:
                pass
        rates[name] = round(len(lines) / (time.process_time() - began))

    rates: dict = {}
    began = time.process_time()
    with dump.open("rb") as raw:
        lines = [line for block in zst_blocks(raw, dump) for line in block]
    rates["zstd_decompress_and_split"] = round(len(lines) / (time.process_time() - began))
    rate("stdlib_json", json.loads, lines)
    try:
        import orjson

        rate("orjson", orjson.loads, lines)
    except ImportError:
        rates["orjson"] = "not installed (pip install '.[bench]')"
    rate("msgspec_dict", msgspec.json.Decoder().decode, lines)
    rate("msgspec_struct_of_fields_read (product)", struct_decoder(RecordLayout()), lines)
    clean = b"\n".join(_cleaned(line) for line in lines if _is_object(line)) + b"\n"
    import pyarrow as pa
    import pyarrow.json as pj

    began = time.process_time()
    table = pj.read_json(pa.BufferReader(clean), parse_options=pj.ParseOptions(unexpected_field_behavior="infer"))
    rates["pyarrow_json_on_clean_lines"] = round(table.num_rows / (time.process_time() - began))
    try:
        import polars as pl

        began = time.process_time()
        frame = pl.read_ndjson(clean, infer_schema_length=None)
        rates["polars_ndjson_on_clean_lines"] = round(frame.height / (time.process_time() - began))
    except ImportError:
        rates["polars_ndjson_on_clean_lines"] = "not installed"
    except Exception as exc:
        rates["polars_ndjson_on_clean_lines"] = f"failed: {type(exc).__name__}"
    return rates


def _cleaned(line: bytes) -> bytes:
    """A line with created_utc as int seconds (the batch readers refuse a column of mixed int/float/string)."""
    from neurofin.market.comments.filters import parse_created_utc

    record = json.loads(line)
    return json.dumps(record | {"created_utc": parse_created_utc(record.get("created_utc"))}).encode()


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def workers_run(dump: Path, workdir: Path, workers: int, n_lines: int, chunk_rows: int) -> dict:
    """`workers` ingest processes at once, each on its own copy of the dump (how `ingest_parallel` splits the work,
    before its merge): CPU per line of each, and lines per wall second of all together."""
    copies = [workdir / f"RC_copy_{k}.zst" for k in range(workers)]
    for copy in copies:
        os.link(dump, copy)
    children = [subprocess.Popen(**_child([str(copy), str(copy.with_suffix(".parquet")), str(chunk_rows)], None),
                                 stdout=subprocess.PIPE, text=True) for copy in copies]  # fmt: skip
    results = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    for copy in copies:
        copy.unlink()
        copy.with_suffix(".parquet").unlink()
    wall = max(r["seconds"] for r in results)
    return {"processes": workers, "lines_each": n_lines,
            "lines_per_cpu_s_each": [round(n_lines / r["cpu_s"]) for r in results],
            "wall_s_each": [round(r["seconds"], 2) for r in results],
            "lines_per_wall_s_all": round(n_lines * workers / wall)}  # fmt: skip


def _extract(commit: str, folder: Path) -> str:
    """The src/ folder of `commit` (git archive) under `folder`, for a child's PYTHONPATH."""
    folder.mkdir()
    archive = subprocess.run(["git", "archive", commit, "src"], check=True, capture_output=True,
                             cwd=Path(__file__).resolve().parents[1]).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return str(folder / "src")


def instructions(n_lines: int, workdir: Path, seed: int, chunk_rows: int, before: dict[str, str]) -> dict:
    """Instructions per dump line of the product and the earlier commits, counted by valgrind (callgrind): not
    moved by other jobs on the machine, unlike CPU seconds. Per line = (count on n lines - count on n/10 lines) /
    (n - n/10), so imports and start-up cancel out."""
    big, small = workdir / "RC_instructions_big.zst", workdir / "RC_instructions_small.zst"
    generate_dump(big, n_lines, seed=seed)
    generate_dump(small, n_lines // 10, seed=seed)

    def count(dump: Path, source: str | None) -> int:
        child = _child([str(dump), str(workdir / "instructions.parquet"), str(chunk_rows)], source)
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/callgrind.out",
                              *child["args"]], env=child["env"], check=True, capture_output=True, text=True)  # fmt: skip
        return int(re.search(r"Collected : (\d+)", run.stderr).group(1))

    per_line = {name: round((count(big, source) - count(small, source)) / (n_lines - n_lines // 10))
                for name, source in {"product": None, **before}.items()}  # fmt: skip
    return {"lines": n_lines, "per_line": per_line,
            "product_over_commit": {k: round(v / per_line["product"], 2) for k, v in per_line.items() if k != "product"}}  # fmt: skip


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
    parser.add_argument("--before", default="49601f1,37988fc",
                        help="comma-separated commits whose ingesters are timed beside the product ('' skips)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for ingest_parallel")
    parser.add_argument("--instructions", type=int, default=0,
                        help="also count instructions per line with valgrind on a dump of this many lines (0: skip)")
    parser.add_argument("--measure", nargs=3, metavar=("DUMP", "OUT", "CHUNK_ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1], int(args.measure[2]))
        return

    from neurofin.io import write_json_atomic

    sizes = [int(s) for s in args.sizes.split(",")]
    machine = hardware()
    workers = [int(k) for k in args.workers.split(",") if k]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        before = {commit: _extract(commit, Path(tmp) / commit) for commit in args.before.split(",") if commit}
        runs = [run_size(n, Path(tmp), args.seed, args.chunk_rows, args.repeats, before, workers) for n in sizes]
        counted = instructions(args.instructions, Path(tmp), args.seed, args.chunk_rows, before) if args.instructions else None
    smallest, largest = runs[0], runs[-1]
    summary = {
        "size_ratio": round(largest["comments_in_dump"] / smallest["comments_in_dump"], 2),
        "peak_rss_ratio": round(largest["peak_rss_mb"] / smallest["peak_rss_mb"], 3),
        "peak_rss_growth_mb": round(largest["peak_rss_mb"] - smallest["peak_rss_mb"], 1),
        "dedupe_index_growth_mb": round(largest["dedupe_index_mb"] - smallest["dedupe_index_mb"], 1),
    }
    command = "python benchmarks/bench_ingest.py " + " ".join(
        f"--{name} {getattr(args, name.replace('-', '_'))}"
        for name in ("sizes", "chunk-rows", "repeats", "seed", "before", "workers", "instructions")
    )
    result = {"benchmark": "ingest", "command": command, "chunk_rows": args.chunk_rows,
              "filters": {"subreddits": list(KEEP_SUBREDDITS), "start": "2021-01-01", "end": "2021-01-31"},
              "line_shares": SHARES, "hardware": machine, "runs": runs, "memory": summary,
              "instructions (valgrind)": counted}  # fmt: skip
    write_json_atomic(args.out, result)
    print(f"{'comments':>10} {'MB zst':>7} {'MB raw':>7} {'median s':>8} {'comments/s':>11} {'peak RSS MB':>12} "
          f"{'ingest RSS MB':>14} {'dedupe MB':>10}")  # fmt: skip
    for run in runs:
        print(f"{run['comments_in_dump']:>10,} {run['dump_mb_compressed']:>7} {run['dump_mb_uncompressed']:>7} "
              f"{run['ingest_s_median']:>8} {run['comments_per_s']:>11,} {run['peak_rss_mb']:>12} "
              f"{run['ingest_rss_mb']:>14} {run['dedupe_index_mb']:>10}")  # fmt: skip
    print(f"{summary['size_ratio']}x the comments -> {summary['peak_rss_ratio']}x the peak RSS "
          f"(+{summary['peak_rss_growth_mb']} MB, of which dedupe index +{summary['dedupe_index_growth_mb']} MB)")
    for run in runs:
        for commit, figures in run["before"].items():
            print(f"{run['comments_in_dump']:,} lines: {run['lines_per_cpu_s']:,} lines per CPU s, {commit} "
                  f"{figures['lines_per_cpu_s']:,} ({run['after_over_before_lines_per_cpu_s'][commit]}x)")
        print(f"parsers alone (lines per CPU s): {run['parsers_lines_per_cpu_s']}")
        print(f"workers: {run['workers']}")
    if counted:
        print(f"instructions per line (valgrind): {counted['per_line']} -> {counted['product_over_commit']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
