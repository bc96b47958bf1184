"""The panel file's layout: the DuckDB tables' definitions and the `meta` table the panel records its rules in.

`meta` keys: roi_columns, embedding_columns, exchange, cutoff_minutes (a panel without the key was built with 0),
sentiment (JSON: the lex_ columns, the sentiment libraries' versions and the finance model; absent in panels built
with the old slang-list columns) and the ROI model's digest (store_update.one_model).
"""

from __future__ import annotations

import json
from typing import Any

from neurofin.config import MarketSettings
from neurofin.schema import SD_SUFFIX

DEFAULT_CUTOFF_MINUTES = MarketSettings().cutoff_minutes
LEGACY_CUTOFF_MINUTES = 0  # panels written before the cutoff was recorded assigned sessions at the close
LEGACY_SENTIMENT = {"columns": ["lex_polarity", "lex_intensity"]}  # panels written before the published measures
PRICE_COLUMNS = ("session", "ticker", "close", "log_return", "open")


def quote(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def table_names(con: Any) -> set[str]:
    """The tables of the panel file."""
    return {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def meta(con: Any, key: str) -> str | None:
    """A value of the `meta` table (None when the table or the key is absent)."""
    if "meta" not in table_names(con):
        return None
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def _meta_list(con: Any, key: str) -> list[str] | None:
    value = meta(con, key)
    return json.loads(value) if value is not None else None


def stored_roi_columns(con: Any) -> list[str] | None:
    """The ROI columns the panel was created with (None: no panel yet)."""
    return _meta_list(con, "roi_columns")


def stored_embedding_columns(con: Any) -> list[str]:
    """The `emb_*` columns this panel was created with (none for panels made before they existed)."""
    return _meta_list(con, "embedding_columns") or []


def stored_cutoff(con: Any) -> int:
    """The cutoff (minutes before the close) the panel's sessions were assigned with."""
    value = meta(con, "cutoff_minutes")
    return int(value) if value is not None else LEGACY_CUTOFF_MINUTES


def stored_sentiment(con: Any) -> dict[str, Any]:
    """The sentiment record the panel's comments were scored with."""
    value = meta(con, "sentiment")
    return json.loads(value) if value is not None else LEGACY_SENTIMENT


def create_tables(con: Any, rois: list[str], embedding: list[str], sentiment: dict[str, Any], exchange: str,
                  cutoff_minutes: int) -> None:  # fmt: skip
    """Create `meta`, the comment-level tables, `panel` and `prices` of a new panel file."""
    roi_defs = ", ".join(f"{quote(r)} DOUBLE" for r in rois)
    stat_defs = ", ".join(f"{quote(r)} DOUBLE, {quote(r + SD_SUFFIX)} DOUBLE" for r in rois)
    lex_defs = ", ".join(f"{quote(c)} DOUBLE" for c in sentiment["columns"])
    emb_defs = "".join(f", {quote(c)} DOUBLE" for c in embedding)
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT INTO meta VALUES ('roi_columns', ?), ('exchange', ?), ('cutoff_minutes', ?), ('embedding_columns', ?), "
        "('sentiment', ?)",
        [json.dumps(rois), exchange, str(cutoff_minutes), json.dumps(embedding), json.dumps(sentiment)],
    )
    con.execute(
        "CREATE TABLE comments (id VARCHAR PRIMARY KEY, session DATE, author VARCHAR, created_utc BIGINT, "
        f"{lex_defs})"
    )
    con.execute("CREATE TABLE mentions (id VARCHAR, ticker VARCHAR, PRIMARY KEY (id, ticker))")
    con.execute(f"CREATE TABLE comment_roi (id VARCHAR, subject VARCHAR, {roi_defs}, PRIMARY KEY (id, subject))")
    con.execute(f"CREATE TABLE comment_emb (id VARCHAR PRIMARY KEY{emb_defs})")
    con.execute(
        "CREATE TABLE panel (session DATE, ticker VARCHAR, subject VARCHAR, n_comments INTEGER, "
        f"n_authors INTEGER, {stat_defs}, {lex_defs}{emb_defs}, PRIMARY KEY (session, ticker, subject))"
    )
    create_prices(con)


def create_prices(con: Any) -> None:
    """Create the prices table, or add the `open` column to one written before it existed."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS prices (session DATE, ticker VARCHAR, close DOUBLE, log_return DOUBLE, "
        "open DOUBLE, PRIMARY KEY (session, ticker))"
    )
    con.execute("ALTER TABLE prices ADD COLUMN IF NOT EXISTS open DOUBLE")
