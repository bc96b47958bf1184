"""Writing a panel update inside one transaction: upsert comment-level rows, rebuild the touched panel rows.

Comment-level rows (`comments`, `mentions`, `comment_roi`, `comment_emb`) are upserted by comment id (and subject),
then every (session, ticker) the update touches is deleted from `panel` and recomputed from all stored comments, so
rerunning an update changes nothing and a session split across two dumps comes out whole once both are added.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neurofin.errors import InputError
from neurofin.market.panel.store_schema import meta, quote, table_names
from neurofin.schema import MODEL_DIGEST, SD_SUFFIX

DELETED_AUTHOR = "[deleted]"  # not counted in n_authors


@dataclass
class PanelUpdate:
    """What one panel update read and wrote."""

    comments_in: int
    comments_with_tickers: int
    comments_without_roi: int
    mentions: int
    session_tickers_touched: int
    panel_rows_written: int

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record of this update."""
        return asdict(self)


def one_model(con: Any, path: Path, model: str | None, replace: bool) -> None:
    """Record the model of the ROI rows; refuse another model's rows unless `replace` (then drop the stored ones)."""
    stored = meta(con, MODEL_DIGEST)
    if stored == model:
        return
    if con.execute("SELECT count(*) FROM comment_roi").fetchall()[0][0]:
        if not replace:
            raise InputError(
                f"the ROI rows come from model {model or '(not recorded)'}, {path} holds rows of model "
                f"{stored or '(not recorded)'}: pass --replace-rois to replace every stored ROI row, or use a new "
                "panel file"
            )
        tables = table_names(con)
        for table in ("comment_roi", "comment_emb", "panel"):
            if table in tables:
                con.execute(f"DELETE FROM {table}")
    con.execute("DELETE FROM meta WHERE key = ?", [MODEL_DIGEST])
    if model is not None:
        con.execute("INSERT INTO meta VALUES (?, ?)", [MODEL_DIGEST, model])


def apply_update(con: Any, rois: list[str], embedding: list[str], lex: list[str]) -> tuple[int, int]:
    """Upsert the registered new_* frames' rows, then rebuild the panel rows of every touched (session, ticker);
    return (session-tickers touched, panel rows written)."""
    con.execute(
        "CREATE TEMP TABLE touched AS "
        "SELECT DISTINCT c.session, m.ticker FROM new_comments c JOIN new_mentions m USING (id) "
        "UNION SELECT c.session, m.ticker FROM comments c JOIN mentions m USING (id) "
        "WHERE c.id IN (SELECT id FROM new_comments)"
    )
    con.execute("DELETE FROM comments WHERE id IN (SELECT id FROM new_comments)")
    con.execute("DELETE FROM mentions WHERE id IN (SELECT id FROM new_comments)")
    con.execute("DELETE FROM comment_roi r USING new_roi n WHERE r.id = n.id AND r.subject = n.subject")
    con.execute("INSERT INTO comments SELECT * FROM new_comments")
    con.execute("INSERT INTO mentions SELECT id, ticker FROM new_mentions")
    roi_list = ", ".join(quote(r) for r in rois)
    con.execute(f"INSERT INTO comment_roi SELECT id, subject, {roi_list} FROM new_roi")
    if embedding:  # panels made before emb_ columns existed have no comment_emb table
        con.execute("DELETE FROM comment_emb WHERE id IN (SELECT id FROM new_emb)")
        con.execute("INSERT INTO comment_emb SELECT * FROM new_emb")
    con.execute("DELETE FROM panel p USING touched t WHERE p.session = t.session AND p.ticker = t.ticker")
    _rebuild_touched(con, rois, embedding, lex)
    touched = con.execute("SELECT count(*) FROM touched").fetchall()[0][0]
    rows = con.execute(
        "SELECT count(*) FROM panel p JOIN touched t ON p.session = t.session AND p.ticker = t.ticker"
    ).fetchall()[0][0]
    con.execute("DROP TABLE touched")
    return int(touched), int(rows)


def _rebuild_touched(con: Any, rois: list[str], embedding: list[str], lex: list[str]) -> None:
    """Insert the panel rows of the `touched` (session, ticker) pairs from all stored comments."""
    stats = ", ".join(f"avg(r.{quote(x)}) AS {quote(x)}, stddev_pop(r.{quote(x)}) AS {quote(x + SD_SUFFIX)}" for x in rois)
    lex_avg = ", ".join(f"avg(c.{quote(c)}) AS {quote(c)}" for c in lex)
    lex_cols = ", ".join(f"l.{quote(c)}" for c in lex)
    stat_cols = ", ".join(f"s.{quote(x)}, s.{quote(x + SD_SUFFIX)}" for x in rois)
    emb_avg = ", ".join(f"avg(e.{quote(x)}) AS {quote(x)}" for x in embedding)
    emb_cte = (f", emb AS (SELECT c.session, c.ticker, {emb_avg} FROM scope c JOIN comment_emb e USING (id) "
               "GROUP BY c.session, c.ticker)") if embedding else ""
    emb_cols = "".join(f", e.{quote(x)}" for x in embedding)
    emb_join = "LEFT JOIN emb e USING (session, ticker)" if embedding else ""
    con.execute(
        f"""
        INSERT INTO panel
        WITH scope AS (
            SELECT c.id, c.session, c.author, m.ticker, {", ".join(f"c.{quote(c)}" for c in lex)}
            FROM comments c JOIN mentions m USING (id)
            JOIN touched t ON c.session = t.session AND m.ticker = t.ticker
        ),
        lex AS (SELECT session, ticker, {lex_avg} FROM scope c GROUP BY session, ticker),
        stats AS (
            SELECT c.session, c.ticker, r.subject, count(*)::INTEGER AS n_comments,
                   (count(DISTINCT c.author) FILTER (WHERE c.author <> '{DELETED_AUTHOR}'))::INTEGER AS n_authors,
                   {stats}
            FROM scope c JOIN comment_roi r USING (id)
            GROUP BY c.session, c.ticker, r.subject
        ){emb_cte}
        SELECT s.session, s.ticker, s.subject, s.n_comments, s.n_authors, {stat_cols}, {lex_cols}{emb_cols}
        FROM stats s JOIN lex l USING (session, ticker) {emb_join}
        """
    )
