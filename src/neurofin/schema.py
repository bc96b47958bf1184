"""Column layout of the tables passed between stages (one definition each; every stage imports these).

ROI-feature table (`neurofin infer` -> `neurofin market panel`): one row per (comment id, subject), subject a
subject id or ENSEMBLE (the mean over the subjects covering each region); ROI_META_COLUMNS (words used,
truncated, error: None when valid, else the ROI values are NaN), then one float column per region, then
`emb_<k>` (EMB_PREFIX; the text embedding of the no-brain control, filled in the ENSEMBLE rows only). Its
MODEL_DIGEST metadata names the package set and readout settings that made it (`neurofin market panel` compares).

Panel (`neurofin market panel` -> selection, forecasting, backtest): one row per (session, ticker, subject);
PANEL_COUNT_COLUMNS, then per ROI `<roi>` (mean over the session's comments) and `<roi>__sd` (their
dispersion), then `lex_<measure>` sentiment control (VADER, Loughran-McDonald), then `emb_<k>` LM-feature controls (EMB_PREFIX; the same in every
subject row of a session/ticker, also carried by the ensemble rows of the ROI-feature table). Prices: session, ticker, close, log_return[, open].
"""

from collections.abc import Iterable

ENSEMBLE = "ensemble"

ROI_KEY_COLUMNS = ("id", "subject")
ROI_META_COLUMNS = ("n_words", "truncated", "error")
MODEL_DIGEST = "model_digest"  # ROI table metadata (pandas attrs, kept in the Parquet file): the model that made the rows

PANEL_KEY_COLUMNS = ("session", "ticker", "subject")
PANEL_COUNT_COLUMNS = ("n_comments", "n_authors")
PANEL_META_COLUMNS = PANEL_KEY_COLUMNS + PANEL_COUNT_COLUMNS
SD_SUFFIX = "__sd"
LEX_PREFIX = "lex_"
EMB_PREFIX = "emb_"  # no-brain control: the LM features the encoding models read, reduced (infer.embedding_dims)
PRICES_REQUIRED = ("session", "ticker", "log_return")


def region_columns(columns: Iterable[object]) -> list[str]:
    """The region columns of an infer output: all but the keys, the metadata and the `emb_*` control columns."""
    return [str(c) for c in columns
            if c not in (*ROI_KEY_COLUMNS, *ROI_META_COLUMNS) and not str(c).startswith(EMB_PREFIX)]
