"""Issue 24.2: lone surrogates (half an emoji, as in real Pushshift dumps) and a UTF-8 BOM are never fatal.

`market ingest`, `infer` and `explain` repair a lone surrogate to U+FFFD and count the rows they changed;
a byte-order mark at the start of a JSONL, JSON or CSV file is read like any other file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent / "infer"))

from planted import make_planted, planted_explain_cli, text_of

from neurofin.infer.inputs import read_texts
from neurofin.unicode import repair, repair_text

T0 = 1611846000
HALF = "\ud83d"  # the first half of 😀 (U+1F600) without its second half
BOM = b"\xef\xbb\xbf"


def run_cli(*args: object) -> subprocess.CompletedProcess:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "neurofin.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=180)


def test_repair_replaces_lone_surrogates_and_joins_pairs():
    assert repair_text(f"GME {HALF} up") == "GME \ufffd up"
    assert repair_text("\ud83d\ude00") == "😀"  # an escaped pair read as two code points is one emoji
    assert repair_text("\ude00x\ud800") == "\ufffdx\ufffd"
    same = "plain 😀"
    assert repair_text(same) is same
    fixed, changed = repair({"a": [f"x{HALF}", 1], HALF: None})
    assert changed and fixed == {"a": ["x\ufffd", 1], "\ufffd": None}
    assert repair(["ok", 2]) == (["ok", 2], False)
    assert repair(np.array(["ok", f"T{HALF}"], dtype=object)) == (["ok", "T\ufffd"], True)  # a Parquet list cell


def _comment(cid: str, body: str, **fields) -> dict:
    return {"id": cid, "author": "u", "body": body, "created_utc": T0, "subreddit": "wallstreetbets", "score": 1} | fields


def test_market_ingest_repairs_and_counts_lone_surrogates(tmp_path):
    dump = tmp_path / "RC.jsonl"
    rows = [_comment("a", f"GME to the moon {HALF}"), _comment("b", "GME fine"),
            _comment(f"c{HALF}", "AMC", author=f"bob{HALF}", flair=f"diamond {HALF}"),
            _comment("d", "TSLA \ud83d\ude80")]  # an escaped pair: one rocket, nothing to repair
    dump.write_text("\n".join(json.dumps(r) for r in rows) + "\n")  # json.dumps writes "\ud83d" escapes
    out = tmp_path / "comments.parquet"
    result = run_cli("market", "ingest", dump, "--out", out, "--extra-columns", "flair")
    assert result.returncode == 0, result.stderr  # was a UnicodeEncodeError traceback and no output
    assert json.loads(result.stdout[: result.stdout.rindex("}") + 1])["repaired_text"] == 2
    table = pd.read_parquet(out).set_index("id")
    assert table.loc["a", "body"] == "GME to the moon \ufffd"
    assert table.loc["c\ufffd", "author"] == "bob\ufffd" and table.loc["c\ufffd", "flair"] == "diamond \ufffd"
    assert table.loc["d", "body"] == "TSLA 🚀"


def test_market_ingest_reads_a_csv_with_a_byte_order_mark(tmp_path):
    dump = tmp_path / "RC.csv"
    dump.write_bytes(BOM + b"id,author,body,created_utc,subreddit\nb1,u,GME up,1611846000,wallstreetbets\n")
    out = tmp_path / "comments.parquet"
    result = run_cli("market", "ingest", dump, "--out", out)
    assert result.returncode == 0, result.stderr  # was: all 1 lines are malformed (the id column was "\ufeffid")
    assert pd.read_parquet(out)["id"].tolist() == ["b1"]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_infer_reads_a_file_with_a_byte_order_mark_like_one_without(tmp_path, suffix, caplog):
    rows = [{"id": "a", "body": "first line"}, {"id": "b", "body": "second"}]
    plain = tmp_path / f"plain{suffix}"
    if suffix == ".jsonl":
        plain.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif suffix == ".json":
        plain.write_text(json.dumps(rows), encoding="utf-8")
    else:
        pd.DataFrame(rows).to_csv(plain, index=False)
    marked = tmp_path / f"marked{suffix}"
    marked.write_bytes(BOM + plain.read_bytes())
    pd.testing.assert_frame_equal(read_texts(marked), read_texts(plain))
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == []  # was: the first JSONL line dropped as malformed; .json unreadable


def test_read_texts_repairs_texts_ids_and_kept_columns_and_names_the_rows(tmp_path, caplog):
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "body": f"w1 {HALF}", "ticker": "GME"}, {"id": "b", "body": "fine", "ticker": "AMC"},
            {"id": f"c{HALF}", "body": "x", "ticker": f"T{HALF}"}, {"id": "d", "body": "y", "other": HALF}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    texts = read_texts(path, keep_columns=["ticker"])
    warnings = [record.getMessage() for record in caplog.records]
    assert texts["id"].tolist() == ["a", "b", "c\ufffd", "d"]
    assert texts["text"].tolist() == ["w1 \ufffd", "fine", "x", "y"]
    assert texts["ticker"].tolist() == ["GME", "AMC", "T\ufffd", None]
    assert len(warnings) == 1 and "2 rows" in warnings[0] and "rows 1, 3" in warnings[0]  # row 4's surrogate is unused


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return make_planted(tmp_path_factory.mktemp("planted") / "ds003020")


def test_infer_cli_scores_texts_and_ids_with_lone_surrogates(planted, monkeypatch, tmp_path):
    app, package = planted_explain_cli(planted, monkeypatch, tmp_path)
    words = text_of(planted.held_out[:4])
    rows = [{"id": "a", "body": f"{words} {HALF}"}, {"id": f"b{HALF}", "body": words}, {"id": "c", "body": words}]
    comments = tmp_path / "c.jsonl"
    comments.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "rois.parquet"
    result = CliRunner().invoke(app, ["infer", "--packages", str(package), "--input", str(comments), "--out", str(out)])
    assert result.exit_code == 0, result.output  # was UnicodeEncodeError while hashing the run key, nothing scored
    assert "2 rows" in result.output and "U+FFFD" in result.output
    frame = pd.read_parquet(out)
    ensemble = frame[frame["subject"] == "ensemble"].set_index("id")
    assert ensemble.index.tolist() == ["a", "b\ufffd", "c"] and ensemble["error"].isna().all()
    # the replacement character is not a word: the repaired text scores like the same words without it
    pd.testing.assert_series_equal(ensemble.loc["a", ["class_region", "mixed", "other"]],
                                   ensemble.loc["c", ["class_region", "mixed", "other"]], check_names=False)


def test_explain_cli_accepts_a_text_with_a_lone_surrogate(planted, monkeypatch, tmp_path):
    app, package = planted_explain_cli(planted, monkeypatch, tmp_path)
    html = tmp_path / "x.html"
    text = text_of(planted.held_out[:3]) + f" to{HALF}the moon {HALF}"  # one surrogate inside a word, one alone
    result = CliRunner().invoke(app, ["explain", text, "--packages", str(package), "--html", str(html)])
    assert result.exit_code == 0, result.output  # was UnicodeEncodeError printing the table (the word "to\ud83dthe")
    assert "U+FFFD" in result.output and "to\ufffdthe" in result.output
    assert html.read_text(encoding="utf-8").count("<span") == 5 * 3  # five words, three regions


def test_toml_settings_and_roi_files_with_a_byte_order_mark_are_read(tmp_path):
    config = tmp_path / "run.toml"
    config.write_bytes(BOM + b"[infer]\nbatch_size = 7\n")
    result = run_cli("config", "--config", config)
    assert result.returncode == 0, result.stderr  # was: not valid TOML (Invalid statement at line 1, column 1)
    assert json.loads(result.stdout)["infer"]["batch_size"] == 7
    shipped = run_cli("atlas", "rois", "--show-file")
    rois = tmp_path / "rois.toml"
    rois.write_bytes(BOM + shipped.stdout.encode("utf-8"))
    result = run_cli("atlas", "rois", "--roi-file", rois)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == run_cli("atlas", "rois").stdout.splitlines()[1:]  # all but the source line


def test_a_symbols_file_with_a_byte_order_mark_keeps_its_first_symbol(tmp_path):
    from neurofin.market.comments.tickers import load_universe

    symbols = tmp_path / "symbols.csv"
    symbols.write_bytes(BOM + b"GME\nAMC\n")
    assert {"GME", "AMC"} <= load_universe(symbols).symbols  # was: '\ufeffGME' is not a ticker symbol
