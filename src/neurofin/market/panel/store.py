"""The daily ticker x ROI panel and the price table, kept in an embedded DuckDB file.

Tables (the forecasting stage relies on these exact schemas):
- `panel`: session DATE, ticker VARCHAR, subject VARCHAR, n_comments INTEGER, n_authors INTEGER, then per
  ROI `<roi>` DOUBLE (mean over the session's comments mentioning the ticker) and `<roi>__sd` DOUBLE
  (population standard deviation over the same comments; 0 for a single comment), then the sentiment control
  `lex_*` DOUBLE (mean over the same comments of each published measure, market/panel/sentiment.py: VADER compound,
  pos, neg and Loughran-McDonald positive, negative, uncertainty, plus the optional extras; the same for every
  subject row of a session/ticker), then
  `emb_*` DOUBLE when the ROI input has them (the no-brain control: the mean over the session's comments of
  the ensemble rows' text embedding, infer/embedding.py; the same for every subject row of a session/ticker).
- `prices`: session DATE, ticker VARCHAR, close DOUBLE, log_return DOUBLE (ln close_t / close_prev, with
  close_prev the ticker's previous exchange session; NULL otherwise), open DOUBLE (NULL without opens; added
  to panels written before it existed on their next price update).
- `meta`: roi_columns, exchange and cutoff_minutes (comments from the session's close minus this many
  minutes count for the next session; a panel without the key was built with 0), model_digest (the
  ROI table's MODEL_DIGEST: rows of another model are refused unless replacing every ROI row), and `sentiment`
  (JSON: the lex_ columns, the sentiment libraries' versions and the finance model; absent in panels built with
  the old slang-list columns lex_polarity and lex_intensity).

Incremental and idempotent: comment-level rows (`comments`, `mentions`, `comment_roi`) are upserted by
comment id (and subject), then every (session, ticker) that the update touches is deleted from `panel`
and recomputed from all stored comments. Rerunning an update changes nothing; a session split across
two dumps (comments after the cutoff on the last day of a month) comes out whole once both are added.
An update with another cutoff, or other sentiment measures or library versions, than the panel records is
refused (it would mix session rules or scores).
n_authors counts distinct authors other than "[deleted]".

ROI input is the table `neurofin infer` writes (neurofin.schema): id, subject (or "ensemble"), one
float column per ROI, plus metadata columns (n_words, truncated, error) that are not ROIs, plus optional
`emb_*` columns (read from the ensemble rows only; kept per comment in `comment_emb`). Rows with a
non-null `error` carry NaN ROIs and are dropped; comments left without any ROI row count as
`comments_without_roi`. A panel keeps the ROI and embedding columns it was created with.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.io import atomic_path
from neurofin.market.comments.calendar import EXCHANGE, sessions_of
from neurofin.market.comments.tickers import TickerUniverse, extract_tickers, load_universe
from neurofin.market.forecast.controls import embedding_columns
from neurofin.market.panel.prices import log_returns, to_long
from neurofin.market.panel.sentiment import SentimentMeasures
from neurofin.schema import ENSEMBLE, LEX_PREFIX, MODEL_DIGEST, ROI_KEY_COLUMNS, SD_SUFFIX, region_columns
from neurofin.schema import PANEL_COUNT_COLUMNS as COUNT_COLUMNS
from neurofin.schema import PANEL_KEY_COLUMNS as KEY_COLUMNS

DELETED_AUTHOR = "[deleted]"
DEFAULT_CUTOFF_MINUTES = MarketSettings().cutoff_minutes
LEGACY_CUTOFF_MINUTES = 0  # panels written before the cutoff was recorded assigned sessions at the close
LEGACY_SENTIMENT = {"columns": ["lex_polarity", "lex_intensity"]}  # panels written before the published measures
PRICE_COLUMNS = ("session", "ticker", "close", "log_return", "open")


def _q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


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


def roi_error_rows(roi_df: pd.DataFrame) -> np.ndarray:
    """Boolean mask of ROI-table rows the inference stage marked failed (`error` not null; their ROIs are NaN)."""
    if "error" not in roi_df.columns:
        return np.zeros(len(roi_df), dtype=bool)
    return roi_df["error"].notna().to_numpy(dtype=bool)


def roi_columns_of(roi_df: pd.DataFrame) -> list[str]:
    """The ROI feature columns of an ROI-feature table (all but id, subject, inference metadata and `emb_*`), validated.

    An ROI that some subject's model does not cover (NaN in all of that subject's valid rows: no selected voxel
    in the region, e.g. the NAcc sphere in cortical-only data) is left out, so every ROI kept has every subject.
    """
    missing = set(ROI_KEY_COLUMNS) - set(roi_df.columns)
    if missing:
        raise InputError(f"ROI features lack column(s) {sorted(missing)}: expected id, subject, one column per ROI")
    rois = region_columns(roi_df.columns)
    if not rois:
        raise InputError("ROI features have no ROI columns: expected id, subject, then one float column per ROI")
    reserved = set(KEY_COLUMNS) | set(COUNT_COLUMNS)
    for roi in rois:
        if roi in reserved or roi.endswith(SD_SUFFIX) or roi.startswith(LEX_PREFIX):
            raise InputError(f"ROI column {roi!r} clashes with panel columns: rename it")
        if not pd.api.types.is_numeric_dtype(roi_df[roi]) or pd.api.types.is_bool_dtype(roi_df[roi]):
            raise InputError(f"ROI column {roi!r} is not numeric: ROI features must be floats")
    valid = roi_df.loc[~roi_error_rows(roi_df), [*ROI_KEY_COLUMNS, *rois]]
    rois = [roi for roi in rois if not _uncovered(valid, roi)]
    if not rois:
        raise InputError("every ROI column is empty (NaN): the models' voxels cover none of the ROIs; check the ROI file")
    if not np.isfinite(valid[rois].to_numpy(dtype=np.float64)).all():
        raise InputError("ROI features contain NaN/inf in rows without an error: recompute them or drop those comments")
    return rois


def comment_embeddings(roi_df: pd.DataFrame) -> pd.DataFrame:
    """id and `emb_*` of the valid ensemble rows of an ROI-feature table (no columns but id when it has no `emb_*`), validated."""
    columns = embedding_columns(roi_df)
    ensemble = (roi_df["subject"] == ENSEMBLE).to_numpy(dtype=bool)
    rows = roi_df.loc[~roi_error_rows(roi_df) & ensemble, ["id", *columns]].astype({"id": str})
    if not columns:
        return rows
    for column in columns:
        if not pd.api.types.is_numeric_dtype(roi_df[column]) or pd.api.types.is_bool_dtype(roi_df[column]):
            raise InputError(f"embedding column {column!r} is not numeric: emb_ columns must be floats")
    if len(roi_df) and not ensemble.any():
        raise InputError(f"the ROI features have emb_ columns but no {ENSEMBLE!r} rows, which carry them: "
                         "pass the long table `neurofin infer` writes")
    if not np.isfinite(rows[columns].to_numpy(dtype=np.float64)).all():
        raise InputError(f"emb_ columns contain NaN/inf in {ENSEMBLE} rows without an error: recompute them or drop those comments")
    return rows


def _uncovered(valid: pd.DataFrame, roi: str) -> bool:
    """True when whole subjects lack `roi`; NaN in only some of a subject's rows is an error."""
    nan = valid[roi].isna()
    if not nan.any():
        return False
    per_subject = nan.groupby(valid["subject"]).agg(["any", "all"])
    if (per_subject["any"] & ~per_subject["all"]).any():
        raise InputError(f"ROI column {roi!r} is NaN in some rows without an error: recompute them or drop those comments")
    return True


def comment_mentions(comments: pd.DataFrame, universe: TickerUniverse) -> pd.DataFrame:
    """(id, ticker) rows: every ticker each comment mentions (renames resolved on the comment's UTC day)."""
    days = pd.to_datetime(comments["created_utc"].to_numpy(dtype=np.int64), unit="s").date
    rows = [(cid, t) for cid, body, day in zip(comments["id"], comments["body"], days, strict=True)
            for t in extract_tickers(body, universe, day)]
    return pd.DataFrame(rows, columns=["id", "ticker"], dtype=str)


class PanelStore:
    """A DuckDB file holding comment-level features, the daily `panel` and the `prices` table.

    `cutoff_minutes` (market.cutoff_minutes) assigns sessions in `update` (calendar.sessions_of) and is
    recorded in the file's metadata.
    """

    def __init__(self, path: str | Path, exchange: str = EXCHANGE, cutoff_minutes: int = DEFAULT_CUTOFF_MINUTES) -> None:
        self.path = Path(path)
        self.exchange = exchange
        self.cutoff_minutes = cutoff_minutes

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[Any]:
        import duckdb

        if read_only and not self.path.is_file():
            raise InputError(f"panel database {self.path} not found: run `neurofin market panel` first")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.path), read_only=read_only)
        except (OSError, duckdb.Error) as exc:
            raise InputError(
                f"cannot open {self.path} as a DuckDB panel ({exc}): give the --db file written by "
                "`neurofin market panel`, or a new path in a writable folder"
            ) from None
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _meta(con: Any, key: str) -> str | None:
        """A value of the `meta` table (None when the table or the key is absent)."""
        exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchall()[0][0]
        if not exists:
            return None
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def _meta_list(self, con: Any, key: str) -> list[str] | None:
        value = self._meta(con, key)
        return json.loads(value) if value is not None else None

    def _roi_columns(self, con: Any) -> list[str] | None:
        return self._meta_list(con, "roi_columns")

    def _embedding_columns(self, con: Any) -> list[str]:
        """The `emb_*` columns this panel was created with (none for panels made before they existed)."""
        return self._meta_list(con, "embedding_columns") or []

    def _stored_cutoff(self, con: Any) -> int:
        value = self._meta(con, "cutoff_minutes")
        return int(value) if value is not None else LEGACY_CUTOFF_MINUTES

    def recorded_cutoff(self) -> int:
        """The cutoff (minutes before the close) the stored panel's sessions were assigned with."""
        with self._connect(read_only=True) as con:
            return self._stored_cutoff(con)

    def _check_cutoff(self, con: Any) -> None:
        """Refuse to add comments under another cutoff than the one the stored panel was built with."""
        stored = self._stored_cutoff(con)
        if stored != self.cutoff_minutes:
            raise InputError(
                f"{self.path} was built with comments up to {stored} minutes before the close, this update uses "
                f"{self.cutoff_minutes} (market.cutoff_minutes): set market.cutoff_minutes = {stored} to extend it, "
                "or build a new panel file from all the comments"
            )

    def _stored_sentiment(self, con: Any) -> dict[str, Any]:
        value = self._meta(con, "sentiment")
        return json.loads(value) if value is not None else LEGACY_SENTIMENT

    def sentiment_record(self) -> dict[str, Any]:
        """The sentiment measures the stored panel was scored with: lex_ columns, library versions, finance model."""
        with self._connect(read_only=True) as con:
            return self._stored_sentiment(con)

    def _check_sentiment(self, con: Any, record: dict[str, Any]) -> None:
        """Refuse to add comments scored with other measures or library versions than the stored ones."""
        stored = self._stored_sentiment(con)
        if stored != record:
            raise InputError(
                f"{self.path} was scored with sentiment {stored}, this update with {record}: build a new panel file "
                "from all the comments (or set market.sentiment_extras and the libraries as they were)"
            )

    def _create(self, con: Any, rois: list[str], embedding: list[str], sentiment: dict[str, Any]) -> None:
        roi_defs = ", ".join(f"{_q(r)} DOUBLE" for r in rois)
        stat_defs = ", ".join(f"{_q(r)} DOUBLE, {_q(r + SD_SUFFIX)} DOUBLE" for r in rois)
        lex_defs = ", ".join(f"{_q(c)} DOUBLE" for c in sentiment["columns"])
        emb_defs = "".join(f", {_q(c)} DOUBLE" for c in embedding)
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(
            "INSERT INTO meta VALUES ('roi_columns', ?), ('exchange', ?), ('cutoff_minutes', ?), ('embedding_columns', ?), "
            "('sentiment', ?)",
            [json.dumps(rois), self.exchange, str(self.cutoff_minutes), json.dumps(embedding), json.dumps(sentiment)],
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
        self._create_prices(con)

    @staticmethod
    def _create_prices(con: Any) -> None:
        """Create the prices table, or add the `open` column to one written before it existed."""
        con.execute(
            "CREATE TABLE IF NOT EXISTS prices (session DATE, ticker VARCHAR, close DOUBLE, log_return DOUBLE, "
            "open DOUBLE, PRIMARY KEY (session, ticker))"
        )
        con.execute("ALTER TABLE prices ADD COLUMN IF NOT EXISTS open DOUBLE")

    def update(
        self,
        comments_df: pd.DataFrame,
        roi_df: pd.DataFrame,
        universe: TickerUniverse | None = None,
        sentiment: SentimentMeasures | None = None,
        replace_rois: bool = False,
    ) -> PanelUpdate:
        """Add comments (id, author, created_utc, body) and their ROI features; recompute touched panel rows.

        `sentiment`: the measures scoring each comment (default VADER and Loughran-McDonald). ROI rows of another
        model (MODEL_DIGEST of `roi_df.attrs`) than the stored ones are refused unless `replace_rois`, which first
        drops every stored ROI row and panel row.
        """
        missing = {"id", "author", "created_utc", "body"} - set(comments_df.columns)
        if missing:
            raise InputError(f"comments lack column(s) {sorted(missing)}: pass the table `neurofin market ingest` writes")
        rois = roi_columns_of(roi_df)
        embeddings = comment_embeddings(roi_df)
        embedding = embedding_columns(embeddings)
        universe = universe or load_universe()
        comments = comments_df.drop_duplicates("id")[["id", "author", "created_utc", "body"]].astype(
            {"id": str, "author": str, "body": str}
        )
        mentions = comment_mentions(comments, universe)
        with_tickers = comments[comments["id"].isin(mentions["id"])]
        roi = roi_df.loc[~roi_error_rows(roi_df), ["id", "subject", *rois]].astype({"id": str, "subject": str})
        roi = roi[roi["id"].isin(with_tickers["id"])].drop_duplicates(["id", "subject"], keep="last")
        kept = with_tickers[with_tickers["id"].isin(roi["id"])].copy()
        mentions = mentions[mentions["id"].isin(kept["id"])]
        embeddings = embeddings[embeddings["id"].isin(kept["id"])].drop_duplicates("id", keep="last")
        kept["session"] = sessions_of(kept["created_utc"].to_numpy(), self.exchange, self.cutoff_minutes)
        sentiment = sentiment or SentimentMeasures()
        record = sentiment.record()
        for column, values in sentiment.score(kept["body"].tolist()).items():
            kept[column] = values
        new_comments = kept[["id", "session", "author", "created_utc", *record["columns"]]]

        with self._connect() as con:
            stored = self._roi_columns(con)
            if stored is None:
                self._create(con, rois, embedding, record)
            elif stored != rois:
                raise InputError(
                    f"ROI columns {rois} differ from those in {self.path} ({stored}): use a new panel file"
                )
            elif (made := self._embedding_columns(con)) != embedding:
                raise InputError(
                    f"the ROI features have {len(embedding)} emb_ columns, {self.path} was made with {len(made)} "
                    "(infer.embedding_dims): use a new panel file"
                )
            self._check_cutoff(con)
            self._check_sentiment(con, record)
            con.register("new_comments", new_comments)
            con.register("new_mentions", mentions)
            con.register("new_roi", roi)
            con.register("new_emb", embeddings)
            con.execute("BEGIN TRANSACTION")
            try:
                self._one_model(con, roi_df.attrs.get(MODEL_DIGEST), replace_rois)
                written = self._apply(con, rois, embedding, record["columns"])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return PanelUpdate(
            comments_in=len(comments),
            comments_with_tickers=len(with_tickers),
            comments_without_roi=len(with_tickers) - len(kept),
            mentions=len(mentions),
            session_tickers_touched=written[0],
            panel_rows_written=written[1],
        )

    def _one_model(self, con: Any, model: str | None, replace: bool) -> None:
        """Record the model of the ROI rows; refuse another model's rows unless `replace` (then drop the stored ones)."""
        stored = self._meta(con, MODEL_DIGEST)
        if stored == model:
            return
        if con.execute("SELECT count(*) FROM comment_roi").fetchall()[0][0]:
            if not replace:
                raise InputError(
                    f"the ROI rows come from model {model or '(not recorded)'}, {self.path} holds rows of model "
                    f"{stored or '(not recorded)'}: pass --replace-rois to replace every stored ROI row, or use a new "
                    "panel file"
                )
            tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            for table in ("comment_roi", "comment_emb", "panel"):
                if table in tables:
                    con.execute(f"DELETE FROM {table}")
        con.execute("DELETE FROM meta WHERE key = ?", [MODEL_DIGEST])
        if model is not None:
            con.execute("INSERT INTO meta VALUES (?, ?)", [MODEL_DIGEST, model])

    def _apply(self, con: Any, rois: list[str], embedding: list[str], lex: list[str]) -> tuple[int, int]:
        """Upsert comment-level rows, then rebuild the panel rows of every touched (session, ticker)."""
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
        roi_list = ", ".join(_q(r) for r in rois)
        con.execute(f"INSERT INTO comment_roi SELECT id, subject, {roi_list} FROM new_roi")
        if embedding:  # panels made before emb_ columns existed have no comment_emb table
            con.execute("DELETE FROM comment_emb WHERE id IN (SELECT id FROM new_emb)")
            con.execute("INSERT INTO comment_emb SELECT * FROM new_emb")
        con.execute("DELETE FROM panel p USING touched t WHERE p.session = t.session AND p.ticker = t.ticker")
        stats = ", ".join(f"avg(r.{_q(x)}) AS {_q(x)}, stddev_pop(r.{_q(x)}) AS {_q(x + SD_SUFFIX)}" for x in rois)
        lex_avg = ", ".join(f"avg(c.{_q(c)}) AS {_q(c)}" for c in lex)
        lex_cols = ", ".join(f"l.{_q(c)}" for c in lex)
        stat_cols = ", ".join(f"s.{_q(x)}, s.{_q(x + SD_SUFFIX)}" for x in rois)
        emb_avg = ", ".join(f"avg(e.{_q(x)}) AS {_q(x)}" for x in embedding)
        emb_cte = (f", emb AS (SELECT c.session, c.ticker, {emb_avg} FROM scope c JOIN comment_emb e USING (id) "
                   "GROUP BY c.session, c.ticker)") if embedding else ""
        emb_cols = "".join(f", e.{_q(x)}" for x in embedding)
        emb_join = "LEFT JOIN emb e USING (session, ticker)" if embedding else ""
        con.execute(
            f"""
            INSERT INTO panel
            WITH scope AS (
                SELECT c.id, c.session, c.author, m.ticker, {", ".join(f"c.{_q(c)}" for c in lex)}
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
        touched = con.execute("SELECT count(*) FROM touched").fetchall()[0][0]
        rows = con.execute(
            "SELECT count(*) FROM panel p JOIN touched t ON p.session = t.session AND p.ticker = t.ticker"
        ).fetchall()[0][0]
        con.execute("DROP TABLE touched")
        return int(touched), int(rows)

    def roi_columns(self) -> list[str]:
        """The ROI names of this panel, in column order."""
        with self._connect(read_only=True) as con:
            rois = self._roi_columns(con)
        if rois is None:
            raise InputError(f"{self.path} holds no panel yet: run an update with comments and ROI features first")
        return rois

    def load_panel(self, subject: str | None = None, tickers: list[str] | None = None) -> pd.DataFrame:
        """The panel (optionally one subject / some tickers), ordered by session, ticker, subject; `attrs["sentiment"]`
        is the sentiment record (`sentiment_record`), `attrs["cutoff_minutes"]` the cutoff its sessions were assigned with."""
        self.roi_columns()
        where, params = [], []
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if tickers:
            where.append(f"ticker IN ({', '.join('?' for _ in tickers)})")
            params.extend(t.upper() for t in tickers)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._connect(read_only=True) as con:
            panel = con.execute(f"SELECT * FROM panel {clause} ORDER BY session, ticker, subject", params).df()
            panel.attrs["sentiment"] = self._stored_sentiment(con)  # provenance of the lex_ columns, for the backtest
            panel.attrs["cutoff_minutes"] = self._stored_cutoff(con)
        return panel

    def update_prices(self, prices: pd.DataFrame) -> int:
        """Upsert daily closes (and opens, when given; wide or long frame) and recompute log returns of the
        touched tickers.

        Returns link consecutive exchange sessions only (`prices.log_returns`): a missing close leaves NaN.
        """
        long = to_long(prices, exchange=self.exchange)
        new_prices = long.reindex(columns=["session", "ticker", "close", "open"])
        with self._connect() as con:
            self._create_prices(con)
            con.register("new_prices", new_prices.astype({"open": np.float64}))
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM prices p USING new_prices n WHERE p.session = n.session AND p.ticker = n.ticker")
                con.execute(
                    f"INSERT INTO prices ({', '.join(PRICE_COLUMNS)}) SELECT session, ticker, close, NULL, open FROM new_prices"
                )
                touched = con.execute(
                    "SELECT session, ticker, close FROM prices WHERE ticker IN (SELECT DISTINCT ticker FROM new_prices)"
                ).df()
                con.register("new_returns", log_returns(touched.assign(session=pd.to_datetime(touched["session"])),
                                                        self.exchange))
                con.execute(
                    "UPDATE prices SET log_return = r.log_return FROM new_returns r "
                    "WHERE prices.session = r.session::DATE AND prices.ticker = r.ticker"
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(long)

    def load_prices(self, tickers: list[str] | None = None) -> pd.DataFrame:
        """The prices table (session, ticker, close, log_return, open), ordered by ticker then session; open is
        NaN where no open was given (everywhere in a panel written before opens were stored)."""
        with self._connect(read_only=True) as con:
            self._require_prices(con)
            stored = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'prices'").fetchall()}
            columns = ", ".join(c if c in stored else f"NULL::DOUBLE AS {c}" for c in PRICE_COLUMNS)
            where = f"WHERE ticker IN ({', '.join('?' for _ in tickers)})" if tickers else ""
            query = f"SELECT {columns} FROM prices {where} ORDER BY ticker, session"
            return con.execute(query, [t.upper() for t in tickers or []]).df()

    def _require_prices(self, con: Any) -> None:
        count = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'prices'").fetchall()[0][0]
        if not count:
            raise InputError(f"{self.path} holds no prices: run `neurofin market panel --prices FILE` or --demo-prices")

    def export_parquet(self, out_dir: str | Path) -> list[Path]:
        """Write panel.parquet and prices.parquet (those that exist) atomically into out_dir."""
        out_dir = Path(out_dir)
        written = []
        with self._connect(read_only=True) as con:
            present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            for table, order in (("panel", "session, ticker, subject"), ("prices", "ticker, session")):
                if table not in present:
                    continue
                final = out_dir / f"{table}.parquet"
                with atomic_path(final) as tmp:
                    target = str(tmp).replace("'", "''")
                    con.execute(f"COPY (SELECT * FROM {table} ORDER BY {order}) TO '{target}' (FORMAT parquet)")
                written.append(final)
        return written

