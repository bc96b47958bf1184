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

Incremental and idempotent (store_update): comment-level rows are upserted by comment id (and subject), then
every (session, ticker) that the update touches is recomputed from all stored comments. An update with another cutoff, or other sentiment measures or library versions, than the panel records is
refused (it would mix session rules or scores).
n_authors counts distinct authors other than "[deleted]".

ROI input is the table `neurofin infer` writes (validated in store_inputs; `emb_*` kept per comment in
`comment_emb`); comments left without any ROI row count as `comments_without_roi`. A panel keeps the ROI and
embedding columns it was created with. This module owns the PanelStore: opening the file, the update's checks and
inputs, and every read; the table definitions are store_schema, the update's SQL store_update.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.io import atomic_path
from neurofin.market.comments.calendar import EXCHANGE, sessions_of
from neurofin.market.comments.tickers import TickerUniverse, load_universe
from neurofin.market.forecast.controls import embedding_columns
from neurofin.market.panel.prices import log_returns, to_long
from neurofin.market.panel.sentiment import SentimentMeasures
from neurofin.market.panel.store_inputs import comment_embeddings, comment_mentions, roi_columns_of, roi_error_rows
from neurofin.market.panel.store_schema import (
    DEFAULT_CUTOFF_MINUTES,
    PRICE_COLUMNS,
    create_prices,
    create_tables,
    stored_cutoff,
    stored_embedding_columns,
    stored_roi_columns,
    stored_sentiment,
    table_names,
)
from neurofin.market.panel.store_update import PanelUpdate, apply_update, one_model
from neurofin.schema import MODEL_DIGEST

__all__ = ["PanelStore", "PanelUpdate", "roi_columns_of"]


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

    def recorded_cutoff(self) -> int:
        """The cutoff (minutes before the close) the stored panel's sessions were assigned with."""
        with self._connect(read_only=True) as con:
            return stored_cutoff(con)

    def sentiment_record(self) -> dict[str, Any]:
        """The sentiment measures the stored panel was scored with: lex_ columns, library versions, finance model."""
        with self._connect(read_only=True) as con:
            return stored_sentiment(con)

    def _check_rules(self, con: Any, rois: list[str], embedding: list[str], record: dict[str, Any]) -> None:
        """Create the panel, or refuse an update whose ROI or emb_ columns, cutoff or sentiment differ from it."""
        stored = stored_roi_columns(con)
        if stored is None:
            create_tables(con, rois, embedding, record, self.exchange, self.cutoff_minutes)
        elif stored != rois:
            raise InputError(f"ROI columns {rois} differ from those in {self.path} ({stored}): use a new panel file")
        elif (made := stored_embedding_columns(con)) != embedding:
            raise InputError(
                f"the ROI features have {len(embedding)} emb_ columns, {self.path} was made with {len(made)} "
                "(infer.embedding_dims): use a new panel file"
            )
        cutoff = stored_cutoff(con)
        if cutoff != self.cutoff_minutes:
            raise InputError(
                f"{self.path} was built with comments up to {cutoff} minutes before the close, this update uses "
                f"{self.cutoff_minutes} (market.cutoff_minutes): set market.cutoff_minutes = {cutoff} to extend it, "
                "or build a new panel file from all the comments"
            )
        sentiment = stored_sentiment(con)
        if sentiment != record:
            raise InputError(
                f"{self.path} was scored with sentiment {sentiment}, this update with {record}: build a new panel file "
                "from all the comments (or set market.sentiment_extras and the libraries as they were)"
            )

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
            self._check_rules(con, rois, embedding, record)
            con.register("new_comments", new_comments)
            con.register("new_mentions", mentions)
            con.register("new_roi", roi)
            con.register("new_emb", embeddings)
            con.execute("BEGIN TRANSACTION")
            try:
                one_model(con, self.path, roi_df.attrs.get(MODEL_DIGEST), replace_rois)
                written = apply_update(con, rois, embedding, record["columns"])
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

    def roi_columns(self) -> list[str]:
        """The ROI names of this panel, in column order."""
        with self._connect(read_only=True) as con:
            rois = stored_roi_columns(con)
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
            panel.attrs["sentiment"] = stored_sentiment(con)  # provenance of the lex_ columns, for the backtest
            panel.attrs["cutoff_minutes"] = stored_cutoff(con)
        return panel

    def update_prices(self, prices: pd.DataFrame) -> int:
        """Upsert daily closes (and opens, when given; wide or long frame) and recompute log returns of the
        touched tickers.

        Returns link consecutive exchange sessions only (`prices.log_returns`): a missing close leaves NaN.
        """
        long = to_long(prices, exchange=self.exchange)
        new_prices = long.reindex(columns=["session", "ticker", "close", "open"])
        with self._connect() as con:
            create_prices(con)
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
        if "prices" not in table_names(con):
            raise InputError(f"{self.path} holds no prices: run `neurofin market panel --prices FILE` or --demo-prices")

    def export_parquet(self, out_dir: str | Path) -> list[Path]:
        """Write panel.parquet and prices.parquet (those that exist) atomically into out_dir."""
        out_dir = Path(out_dir)
        written = []
        with self._connect(read_only=True) as con:
            present = table_names(con)
            for table, order in (("panel", "session, ticker, subject"), ("prices", "ticker, session")):
                if table not in present:
                    continue
                final = out_dir / f"{table}.parquet"
                with atomic_path(final) as tmp:
                    target = str(tmp).replace("'", "''")
                    con.execute(f"COPY (SELECT * FROM {table} ORDER BY {order}) TO '{target}' (FORMAT parquet)")
                written.append(final)
        return written

