"""Issue 12 points 6, 10, 14: edited comments, millisecond timestamps, bot rules, user files without subreddit."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from neurofin.market.comments.filters import DEFAULT_BOT_AUTHORS
from neurofin.market.comments.ingest import ingest_dumps

T0 = int(datetime(2021, 1, 28, 15, 0, tzinfo=UTC).timestamp())


def run_cli(*args):
    """The installed console behaviour (errors as one line, exit 2), in a subprocess with this checkout's sources."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "neurofin.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def _write(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def _run(tmp_path, records, **kwargs):
    out = tmp_path / "out.parquet"
    report = ingest_dumps([_write(tmp_path / "dump.jsonl", records)], out, **kwargs)
    return pd.read_parquet(out), report.to_record()


def _c(cid, **fields):
    return {"id": cid, "author": f"u{cid}", "body": f"$GME looks fine {cid}", "created_utc": T0,
            "subreddit": "wallstreetbets", **fields}


def test_edited_comments_are_dropped_by_default_and_retrieval_lag_is_recorded(tmp_path):
    records = [_c("a", retrieved_on=T0 + 3600), _c("b", edited=T0 + 7200),
               _c("c", body="EDIT: it dumped 10% today, told you $GME"), _c("d", edited=False)]
    table, report = _run(tmp_path, records, subreddits=["wallstreetbets"])
    assert table["id"].tolist() == ["a", "d"] and report["edited"] == 2
    assert table.loc[table["id"] == "a", "retrieval_lag_s"].item() == 3600
    assert table.loc[table["id"] == "d", "retrieval_lag_s"].isna().item()
    kept, report = _run(tmp_path, records, subreddits=["wallstreetbets"], keep_edited=True)
    assert kept["id"].tolist() == ["a", "b", "c", "d"] and report["edited"] == 0


def test_millisecond_timestamps_are_converted_and_impossible_ones_rejected(tmp_path):
    records = [_c("a", created_utc=T0 * 1000), _c("b", created_utc=str(T0 * 1000 + 999)),
               _c("c", created_utc=T0 * 1_000_000), _c("d", created_utc=12345)]
    table, report = _run(tmp_path, records)
    assert table["id"].tolist() == ["a", "b"] and table["created_utc"].tolist() == [T0, T0]
    assert report["millisecond_timestamps"] == 2 and report["bad_timestamp"] == 2


def test_bots_by_list_and_rules_with_an_allow_list(tmp_path):
    authors = ["Talbot", "Abbot", "AutoModerator", "RemindMeBot", "ticker_bot", "SomeTickerBot", "robot-bot", "alice"]
    table, report = _run(tmp_path, [_c(f"x{k}", author=a) for k, a in enumerate(authors)])
    assert sorted(table["author"]) == ["Abbot", "Talbot", "alice"] and report["bot"] == 5
    table, _ = _run(tmp_path, [_c(f"x{k}", author=a) for k, a in enumerate(authors)], allow_authors=["ticker_bot"],
                    bot_authors=DEFAULT_BOT_AUTHORS | {"alice"})
    assert sorted(table["author"]) == ["Abbot", "Talbot", "ticker_bot"]


def test_a_user_file_without_subreddit_keeps_its_comments_and_maps_columns(tmp_path):
    plain = [{"id": f"p{k}", "body": f"buying more $AAPL {k}", "created_utc": T0 + k} for k in range(4)]
    table, report = _run(tmp_path, plain, subreddits=["wallstreetbets", "stocks"])
    assert report["kept"] == 4 and report["wrong_subreddit"] == 0 and table["author"].eq("[deleted]").all()
    custom = [{"post": f"q{k}", "text": f"$TSLA {k}", "ts": f"2021-01-28T15:0{k}:00Z", "mood": k} for k in range(3)]
    table, report = _run(tmp_path, custom, text_column="text", time_column="ts", id_column="post",
                         extra_columns=["mood", "absent"])
    assert table["mood"].tolist() == ["0", "1", "2"] and table["absent"].isna().all()
    assert table["id"].tolist() == ["q0", "q1", "q2"] and table["body"].tolist() == ["$TSLA 0", "$TSLA 1", "$TSLA 2"]
    assert table["created_utc"].tolist() == [T0, T0 + 60, T0 + 120]


def test_cli_ingest_that_keeps_nothing_says_why_and_fails(tmp_path):
    dump = _write(tmp_path / "dump.jsonl", [_c("a", subreddit="pics"), _c("b", subreddit="cooking")])
    result = run_cli("market", "ingest", dump, "--out", tmp_path / "o.parquet")
    assert result.returncode == 2
    assert "kept 0 of 2" in result.stderr and "wrong_subreddit 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_keep_deleted_keeps_deleted_and_removed_comments_from_the_cli(tmp_path):
    """Issue 21.6: deletion happens after the session, so dropping deleted comments selects on the future."""
    records = [_c("a"), _c("b", body="[removed]"), _c("c", body=" [Deleted] ", author="[deleted]"),
               _c("d", body="$GME original text kept by the dump", author="[deleted]"),
               _c("e", body="[removed]", author="AutoModerator")]
    table, report = _run(tmp_path, records)
    assert table["id"].tolist() == ["a", "d"] and (report["deleted"], report["kept_deleted"]) == (3, 0)
    dump = _write(tmp_path / "cli.jsonl", records)
    result = run_cli("market", "ingest", dump, "--out", tmp_path / "kept.parquet", "--keep-deleted")
    assert result.returncode == 0, result.stderr
    kept = pd.read_parquet(tmp_path / "kept.parquet")
    assert kept["id"].tolist() == ["a", "b", "c", "d"]  # the bot's removed comment is still a bot's
    assert kept.set_index("id").loc[["b", "c"], "body"].tolist() == ["[removed]", "[Deleted]"]  # the dump's mark
    counts = json.loads(result.stdout)
    assert (counts["kept_deleted"], counts["deleted"], counts["bot"]) == (2, 0, 1)
