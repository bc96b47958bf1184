"""Feature selection inside one training window: ISC filter across subject models, encoding-quality gate, then the
selection rule (`market.selection_rule`): one ROI by its IC pooled across tickers (default), or per-ticker Granger + BH.

The panel and price tables follow neurofin.schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.panel.targets import INTRADAY, intraday_returns, market_returns
from neurofin.market.selection.granger import granger_table
from neurofin.market.selection.isc import POOLED, isc_table
from neurofin.schema import EMB_PREFIX, ENSEMBLE, LEX_PREFIX, PRICES_REQUIRED, SD_SUFFIX
from neurofin.schema import PANEL_KEY_COLUMNS as PANEL_REQUIRED
from neurofin.schema import PANEL_META_COLUMNS as META_COLUMNS


def roi_columns(panel: pd.DataFrame) -> list[str]:
    """ROI mean columns of a panel: numeric, not metadata, not `__sd` dispersion, not `lex_`/`emb_` controls."""
    return [
        c for c in panel.columns
        if c not in META_COLUMNS and not c.endswith(SD_SUFFIX) and not c.startswith((LEX_PREFIX, EMB_PREFIX))
        and pd.api.types.is_numeric_dtype(panel[c])
    ]


def sentiment_columns(panel: pd.DataFrame) -> list[str]:
    """Sentiment-control columns (`lex_*`: VADER, Loughran-McDonald and optional extras) of a panel."""
    return [c for c in panel.columns if c.startswith(LEX_PREFIX)]


def subject_ids(panel: pd.DataFrame) -> list[str]:
    """Subject models present in the panel (everything but the ensemble rows), sorted."""
    return sorted(str(s) for s in panel["subject"].unique() if s != ENSEMBLE)


def check_inputs(panel: pd.DataFrame, prices: pd.DataFrame) -> None:
    """Raise InputError naming the missing columns if panel or prices do not follow the schema."""
    for name, table, required in (("panel", panel, PANEL_REQUIRED), ("prices", prices, PRICES_REQUIRED)):
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise InputError(f"{name} table lacks columns {missing}: build it with `neurofin market panel`")
    if not roi_columns(panel):
        raise InputError("panel has no ROI feature columns: run inference on the comments before building the panel")


def ensemble_features(panel: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Per (session, ticker) feature values of the ensemble rows, or the subject mean when none exist."""
    ensemble = panel[panel["subject"] == ENSEMBLE]
    if ensemble.empty and not panel.empty:
        ensemble = panel.groupby(["session", "ticker"], as_index=False)[list(features)].mean()
    return ensemble[["session", "ticker", *features]].reset_index(drop=True)


def session_frame(
    panel: pd.DataFrame, prices: pd.DataFrame, features: Sequence[str], settings: MarketSettings | None = None
) -> pd.DataFrame:
    """One row per (ticker, exchange session): `target` = log return, features carried forward at most a few sessions.

    Sessions are the exchange calendar's (never the union of price dates), from the later of the first
    price and the first comment to the earlier of the last price and the last comment (`session_span`
    "comments", the default; "prices" spans all prices). With closes present the returns are recomputed
    between consecutive sessions only, so a missing close never yields a multi-session return. Cells with
    fewer than `min_comments` comments count as missing; a missing cell keeps the ticker's last value for
    at most `max_stale_sessions` sessions (causal), then is NaN. Also: `market` (the session's market log
    return, targets.market_returns), `intraday` (ln close/open, when the prices have opens) and the
    attention controls (controls.attention_features).
    """
    from neurofin.market.forecast.controls import attention_features

    settings = settings or MarketSettings()
    check_inputs(panel, prices)
    px, market = session_prices(prices, settings)
    tickers, sessions = frame_keys(panel, px, settings)
    grid = pd.MultiIndex.from_product([tickers, sessions], names=["ticker", "session"]).to_frame(index=False)
    counted = panel[panel["n_comments"] >= settings.min_comments] if "n_comments" in panel.columns else panel
    feats = ensemble_features(counted, features)
    feats = feats.assign(session=pd.to_datetime(feats["session"]))
    frame = grid.merge(px, on=["ticker", "session"], how="left").merge(feats, on=["ticker", "session"], how="left")
    frame = frame.merge(market.reset_index(), on="session", how="left")
    frame = frame.rename(columns={"log_return": "target"}).sort_values(["ticker", "session"], ignore_index=True)
    frame[list(features)] = frame.groupby("ticker")[list(features)].ffill(limit=settings.max_stale_sessions)
    if "n_comments" in panel.columns and "n_authors" in panel.columns:
        frame = attention_features(frame, panel, settings.attention_window)
    return frame


def session_prices(prices: pd.DataFrame, settings: MarketSettings) -> tuple[pd.DataFrame, pd.Series]:
    """The prices' part of `session_frame`: rows (ticker, session, log_return, intraday when the prices have opens;
    returns recomputed from closes between consecutive sessions) and the market's log return per session."""
    from neurofin.market.panel.prices import log_returns

    px = prices.assign(session=pd.to_datetime(prices["session"]))
    if "close" in px.columns:
        px = log_returns(px[[c for c in ("session", "ticker", "close", "open") if c in px.columns]], settings.exchange)
    intraday = intraday_returns(px)
    px = px.assign(**{INTRADAY: intraday}) if intraday is not None else px
    market = market_returns(px, index_returns(settings))
    return px[["ticker", "session", "log_return", *([INTRADAY] if intraday is not None else [])]], market


def frame_keys(panel: pd.DataFrame, px: pd.DataFrame, settings: MarketSettings) -> tuple[list[str], pd.DatetimeIndex]:
    """The tickers (with prices and panel rows) and exchange sessions of `session_frame` (see its span rule)."""
    from neurofin.market.comments.calendar import trading_sessions

    tickers = sorted(set(px["ticker"].unique()) & set(panel["ticker"].unique()))
    if not tickers:
        raise InputError("no ticker has both prices and panel rows: check that tickers are spelled the same")
    lo, hi = px["session"].min(), px["session"].max()
    if settings.session_span == "comments":
        panel_days = pd.to_datetime(panel["session"])
        lo, hi = max(lo, panel_days.min()), min(hi, panel_days.max())
    sessions = pd.DatetimeIndex(trading_sessions(lo.date(), hi.date(), settings.exchange)) if lo <= hi else []
    if len(sessions) == 0:
        raise InputError("the comment panel and the prices share no trading session: supply prices covering the "
                         "comments' dates (or set market.session_span = 'prices')")
    return tickers, pd.DatetimeIndex(sessions)


def index_returns(settings: MarketSettings) -> pd.DataFrame | None:
    """The market index's (session, log_return) from market.index_file (None: use the equal-weight universe)."""
    from neurofin.market.panel.prices import log_returns, read_prices

    if settings.index_file is None:
        return None
    index = read_prices(settings.index_file, ticker="INDEX", exchange=settings.exchange)
    if index["ticker"].nunique() != 1:
        raise InputError(f"market.index_file {settings.index_file} holds {index['ticker'].nunique()} series: "
                         "give one index price series (date and close columns)")
    return log_returns(index[["session", "ticker", "close"]], settings.exchange)


def load_roi_quality(path: str | Path) -> pd.DataFrame:
    """An ROI encoding-quality table (CSV/Parquet: roi, subject, validation_r), validated."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ROI quality file {path} not found: write roi,subject,validation_r rows per subject model")
    table = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    missing = {"roi", "validation_r"} - set(table.columns)
    if missing:
        raise InputError(f"ROI quality file {path} lacks {sorted(missing)}: columns roi, subject, validation_r")
    return table


def roi_validation_r(path: str | Path | None, rois: Sequence[str]) -> dict[str, float] | None:
    """Median validation r over subject models per ROI from market.roi_quality_file (None: no gate configured)."""
    if path is None:
        return None
    table = load_roi_quality(path)
    return {str(k): float(v) for k, v in table.groupby("roi")["validation_r"].median().items() if k in set(rois)}


@dataclass
class Selection:
    """Features kept for each ticker by the filters fitted on one training window."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    isc: pd.DataFrame
    rule_table: pd.DataFrame  # the selection rule's table: pooled ICs (pooled_ic_table) or Granger tests (granger_table)
    selected: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Screen:
    """The target-independent part of one window's selection: the ISC table and the (ROI, ticker) pairs that pass
    the ISC filter and the encoding-quality gate (the candidates for Granger)."""

    isc: pd.DataFrame
    candidates: list[tuple[str, str]]


def screen_features(
    panel: pd.DataFrame, frame: pd.DataFrame, train_start: pd.Timestamp, train_end: pd.Timestamp, settings: MarketSettings
) -> Screen:
    """ISC filter and encoding-quality gate on sessions [train_start, train_end] only."""
    rois = roi_columns(panel)
    quality = roi_validation_r(settings.roi_quality_file, rois)
    sessions = pd.to_datetime(panel["session"])
    window_panel = panel.loc[(sessions >= train_start) & (sessions <= train_end), ["ticker", "session", "subject", *rois]]
    window_frame = frame[(frame["session"] >= train_start) & (frame["session"] <= train_end)]
    tickers = sorted(window_frame["ticker"].unique())
    subjects = subject_ids(panel)
    if len(subjects) >= 2:
        isc = isc_table(
            window_panel, rois, subjects, scope=settings.isc_scope, n_null=settings.isc_null_shifts,
            null_quantile=settings.isc_null_quantile, min_shift=settings.isc_min_shift, seed=settings.seed,
            min_loo=settings.isc_min_loo,
        )
        passed = isc[isc["passed"].astype(bool)]
    else:  # a single subject model: agreement cannot be measured, every ROI goes on to Granger
        isc = pd.DataFrame(columns=["roi", "ticker", "loo_isc", "pairwise_isc", "loo_threshold", "p_value", "passed"])
        isc = isc.astype({"roi": object})
        passed = pd.DataFrame({"roi": rois, "ticker": POOLED})
    if quality is not None:  # encoding-quality gate: ROIs the subject models cannot predict never reach Granger
        isc = isc.assign(validation_r=isc["roi"].map(quality))
        passed = passed[passed["roi"].map(quality).fillna(-np.inf) >= settings.min_roi_validation_r]
    passing = set(zip(passed["roi"], passed["ticker"], strict=True))
    candidates = [
        (roi, ticker) for ticker in tickers for roi in rois if (roi, POOLED) in passing or (roi, ticker) in passing
    ]
    return Screen(isc, candidates)


def select_features(
    panel: pd.DataFrame, frame: pd.DataFrame, train_start: pd.Timestamp, train_end: pd.Timestamp,
    settings: MarketSettings, screen: Screen | None = None,
) -> Selection:
    """ISC filter, then the selection rule (pooled IC or BH-FDR robust Granger) on the frame's `target`, using only
    sessions in [train_start, train_end]; `screen` reuses the window's ISC result for another target."""
    return select_features_of(panel, frame, ["target"], train_start, train_end, settings, screen)[0]


def select_features_of(
    panel: pd.DataFrame, frame: pd.DataFrame, targets: Sequence[str], train_start: pd.Timestamp,
    train_end: pd.Timestamp, settings: MarketSettings, screen: Screen | None = None,
) -> list[Selection]:
    """`select_features` with each of the frame's `targets` columns as its target (a power grid's planted returns):
    the pooled-IC rule ranks the features once for all of them."""
    screen = screen or screen_features(panel, frame, train_start, train_end, settings)
    window_frame = frame[(frame["session"] >= train_start) & (frame["session"] <= train_end)]
    tickers = sorted(window_frame["ticker"].unique())
    if settings.selection_rule == "pooled_ic":
        tables = pooled_ic_tables(window_frame, screen.candidates, targets)
    else:
        tables = [granger_table(
            window_frame.assign(target=window_frame[target]), screen.candidates, max_lag=settings.granger_max_lag,
            lag_criterion=settings.granger_lag_criterion, fdr_alpha=settings.fdr_alpha,
        ) for target in targets]
    selections = []
    for table in tables:
        chosen = dict(tuple(table.loc[table["selected"].astype(bool), "feature"].groupby(table["ticker"])))
        selected = {t: sorted(chosen[t]) if t in chosen else [] for t in tickers}
        selections.append(Selection(pd.Timestamp(train_start), pd.Timestamp(train_end), screen.isc, table, selected))
    return selections


def pooled_ic_table(window_frame: pd.DataFrame, candidates: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """One row per candidate (feature, ticker): the feature's mean per-session cross-sectional Spearman IC of its
    previous-session value with `target` over the window, pooled across its candidate tickers, with its HAC t;
    `selected` for the one feature with the largest |t| (every ticker it is a candidate for; none if no t is finite).
    """
    return pooled_ic_tables(window_frame, candidates, ["target"])[0]


def pooled_ic_tables(
    window_frame: pd.DataFrame, candidates: Sequence[tuple[str, str]], targets: Sequence[str]
) -> list[pd.DataFrame]:
    """`pooled_ic_table` with each of the `targets` columns as the target; each feature's lag and ranks are computed
    once for all of them (`ic_by_date_columns`)."""
    from neurofin.market.evaluate.metrics import hac_mean_test, ic_by_date_columns

    pairs = pd.DataFrame(list(candidates), columns=["feature", "ticker"])
    features = sorted(pairs["feature"].unique())
    rows = window_frame[["ticker", "session", *targets, *features]].sort_values(["ticker", "session"])
    ticker, actuals = rows["ticker"].to_numpy(), rows[list(targets)].to_numpy(float)
    follows = np.r_[False, ticker[1:] == ticker[:-1]]  # the row before is the same ticker's previous session
    stats: list[dict[str, tuple[float, float, float, int]]] = [{} for _ in targets]
    for feature, tickers in pairs.groupby("feature", sort=True)["ticker"]:
        own = rows["ticker"].isin(set(tickers)).to_numpy()
        lagged = np.where(follows, np.r_[np.nan, rows[feature].to_numpy(float)[:-1]], np.nan)
        ics = ic_by_date_columns(rows["session"][own], lagged[own], actuals[own])
        for k, column in enumerate(ics.columns):
            test = hac_mean_test(ics[column].to_numpy())
            stats[k][feature] = (test.mean, test.t_stat, test.p_value, test.n)
    tables = []
    for found in stats:
        table = pairs.assign(ic_mean=pairs["feature"].map(lambda f, found=found: found[f][0]),
                             t_stat=pairs["feature"].map(lambda f, found=found: found[f][1]),
                             p_value=pairs["feature"].map(lambda f, found=found: found[f][2]),
                             sessions=pairs["feature"].map(lambda f, found=found: found[f][3]))
        strength = table["t_stat"].abs()
        best = table.loc[strength.idxmax(), "feature"] if strength.notna().any() else None
        tables.append(table.assign(selected=table["feature"] == best))
    return tables


def selection_frequencies(selections: Sequence[Selection], rois: Sequence[str], tickers: Sequence[str]) -> pd.DataFrame:
    """Share of walk-forward folds in which each ROI (rows) was selected for each ticker (columns)."""
    counts = pd.DataFrame(0.0, index=list(rois), columns=list(tickers))
    for selection in selections:
        for ticker, features in selection.selected.items():
            counts.loc[features, ticker] += 1.0
    return counts / max(len(selections), 1)


def selection_record(selection: Selection) -> dict[str, object]:
    """JSON-ready summary of one fold's selection (window, ISC table, the selection rule's table, selected features)."""
    return {
        "train_start": selection.train_start.date().isoformat(),
        "train_end": selection.train_end.date().isoformat(),
        "selected": selection.selected,
        "isc": selection.isc.replace({np.nan: None}).to_dict(orient="records"),
        "rule_table": selection.rule_table.replace({np.nan: None}).to_dict(orient="records"),
    }
