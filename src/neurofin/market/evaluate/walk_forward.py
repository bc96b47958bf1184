"""Walk-forward folds: the panel and prices aligned for the backtest, the folds, each fold's selection and controls.

Folds: the training window ends at session index e (expanding from the first session, or rolling over the last
`train_sessions`); `embargo_sessions` sessions are skipped; the next `step_sessions` sessions are forecast. ISC and
Granger filters are fitted on the training window of each fold (ISC once, Granger per target kind on its 1-session
target), and so is the embedding control's PCA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate.projections import PCA_MODEL
from neurofin.market.evaluate.variants import MODELS
from neurofin.market.forecast.controls import ATTENTION, embedding_columns, fit_embedding_pca, random_projections
from neurofin.market.forecast.models import business_day_frame
from neurofin.market.panel.targets import INTRADAY, TargetSpec, target_specs, with_targets
from neurofin.market.selection.gate import (
    Screen,
    Selection,
    frame_keys,
    roi_columns,
    screen_features,
    select_features,
    select_features_of,
    sentiment_columns,
    session_frame,
    session_prices,
)


@dataclass(frozen=True)
class Fold:
    """One walk-forward split: training sessions [train_start, train_end], then the test sessions."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_sessions: tuple[pd.Timestamp, ...]


def walk_forward_folds(
    sessions: Sequence[pd.Timestamp], train_sessions: int, step: int, embargo: int, window: str = "expanding"
) -> list[Fold]:
    """Expanding or rolling training windows, each followed by an embargo gap and `step` test sessions."""
    if window not in ("expanding", "rolling"):
        raise ValueError(f"window must be 'expanding' or 'rolling', got {window!r}")
    if train_sessions < 2 or step < 1 or embargo < 0:
        raise InputError("need train_sessions >= 2, step_sessions >= 1 and embargo_sessions >= 0")
    sessions = list(sessions)
    folds: list[Fold] = []
    end = train_sessions - 1
    while end + 1 + embargo < len(sessions):
        start = 0 if window == "expanding" else end - train_sessions + 1
        test = tuple(sessions[end + 1 + embargo : end + 1 + embargo + step])
        folds.append(Fold(len(folds), sessions[start], sessions[end], test))
        end += step
    return folds


@dataclass
class MarketData:
    """Panel and prices aligned for the chain: session frame (with every target), business-day grid, column roles."""

    panel: pd.DataFrame
    frame: pd.DataFrame
    grid: pd.DataFrame
    sessions: list[pd.Timestamp]
    rois: list[str]
    sentiment: list[str]
    attention: list[str] = field(default_factory=list)
    embedding: list[str] = field(default_factory=list)
    specs: list[TargetSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prepare_data(panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings | None = None) -> MarketData:
    """Session frame (targets + carried-forward features, see `session_frame`; one column per target) and its
    business-day grid. The primary target at horizon 1 is always included."""
    settings = settings or MarketSettings()
    rois, sentiment, embedding = roi_columns(panel), sentiment_columns(panel), embedding_columns(panel)
    frame = session_frame(panel, prices, [*rois, *sentiment, *embedding], settings)
    attention = [c for c in ATTENTION if c in frame.columns]
    frame, specs, notes = _with_target_columns(frame, settings)
    grid = business_day_frame(frame, [*rois, *sentiment, *attention, *embedding], targets=target_columns(specs), lagged=rois)
    sessions = list(pd.DatetimeIndex(sorted(frame["session"].unique())))
    return MarketData(panel, frame, grid, sessions, rois, sentiment, attention, embedding, specs,
                      [*notes, *_embedding_notes(embedding)])


def _embedding_notes(embedding: Sequence[str]) -> list[str]:
    """The note that the embedding control is skipped, when the panel has no embedding columns."""
    return [] if embedding else ["embedding control skipped: the panel has no emb_ columns (set "
                                 "infer.embedding_dims > 0 and re-run infer and the panel)"]


def _with_target_columns(frame: pd.DataFrame, settings: MarketSettings) -> tuple[pd.DataFrame, list[TargetSpec], list[str]]:
    """The session frame plus one column per target that its prices allow (`with_targets`), those targets, and
    notes on the ones left out."""
    has_open = INTRADAY in frame.columns and bool(frame[INTRADAY].notna().any())
    if settings.primary_target == "open_to_close" and not has_open:
        raise InputError("market.primary_target = 'open_to_close' needs open prices: give prices with an open column")
    specs, notes = target_specs([settings.primary_target, *settings.targets], [1, *settings.horizons], has_open)
    return with_targets(frame, specs), specs, notes


def target_columns(specs: Sequence[TargetSpec]) -> list[str]:
    """The grid's target columns: the session return, then one per target."""
    return ["target", *(spec.column for spec in specs)]


def with_prices(data: MarketData, prices: pd.DataFrame, settings: MarketSettings) -> MarketData:
    """`prepare_data(data.panel, prices, settings)` rebuilding only what the prices set (a power grid's planted
    returns): the frame's return, market, intraday and target columns and the grid's targets; the features, the
    attention controls and the rest of the grid are `data`'s. Prices on other tickers or sessions: prepared whole."""
    px, market = session_prices(prices, settings)
    tickers, sessions = frame_keys(data.panel, px, settings)
    if tickers != sorted(data.frame["ticker"].unique()) or list(sessions) != data.sessions:
        return prepare_data(data.panel, prices, settings)
    keys = pd.MultiIndex.from_frame(data.frame[["ticker", "session"]])
    rows = px.set_index(["ticker", "session"])
    frame = data.frame.drop(columns=[c for c in (INTRADAY, *target_columns(data.specs)[1:]) if c in data.frame.columns])
    frame = frame.assign(target=rows["log_return"].reindex(keys).to_numpy(float),
                         market=frame["session"].map(market).to_numpy(float),
                         **{c: rows[c].reindex(keys).to_numpy(float) for c in (INTRADAY,) if c in rows.columns})
    frame, specs, notes = _with_target_columns(frame, settings)
    at = pd.MultiIndex.from_frame(data.grid[["ticker", "timestamp"]]).get_indexer(keys)
    if (at < 0).any():
        raise ValueError("every (ticker, session) of the frame needs its grid row")
    targets = np.full((len(data.grid), len(target_columns(specs))), np.nan)
    targets[at] = frame[target_columns(specs)].to_numpy(float)
    keep = data.grid.drop(columns=target_columns(data.specs))
    grid = pd.concat([keep.iloc[:, :3], pd.DataFrame(targets, columns=target_columns(specs), index=keep.index),
                      keep.iloc[:, 3:]], axis=1)  # timestamp, ticker, is_session, targets, features (business_day_frame)
    return replace(data, frame=frame, grid=grid, specs=specs, notes=[*notes, *_embedding_notes(data.embedding)])


def make_folds(data: MarketData, settings: MarketSettings) -> list[Fold]:
    """The walk-forward folds of the data's sessions (an InputError when none fits)."""
    folds = walk_forward_folds(data.sessions, settings.train_sessions, settings.step_sessions,
                               settings.embargo_sessions, settings.window)
    if not folds:
        raise InputError(
            f"{len(data.sessions)} sessions leave no test session after {settings.train_sessions} training sessions "
            "and the embargo: lower market.train_sessions or supply a longer panel"
        )
    return folds


def fold_screens(data: MarketData, folds: Sequence[Fold], settings: MarketSettings) -> list[Screen]:
    """Each fold's ISC screen: it reads the panel's ROI values in the window, never the returns."""
    return [screen_features(data.panel, data.frame, f.train_start, f.train_end, settings) for f in folds]


def select_per_fold(
    data: MarketData, folds: Sequence[Fold], settings: MarketSettings, kinds: Sequence[str],
    screens: Sequence[Screen] | None = None,
) -> dict[str, list[Selection]]:
    """Target kind -> the selection of every fold: ISC once per window (`screens`, when already computed on this
    panel: a power grid's planted returns reuse them), Granger on the kind's 1-session target."""
    screens = fold_screens(data, folds, settings) if screens is None else screens
    if len(screens) != len(folds):
        raise ValueError("give one screen per fold")
    out = {}
    for kind in dict.fromkeys(kinds):
        framed = data.frame.assign(target=data.frame[TargetSpec(kind, 1).column])
        out[kind] = [select_features(data.panel, framed, f.train_start, f.train_end, settings, screen)
                     for f, screen in zip(folds, screens, strict=True)]
    return out


def select_planted(
    panels: Sequence[MarketData], folds: Sequence[Fold], settings: MarketSettings, kind: str, screens: Sequence[Screen]
) -> list[dict[str, list[Selection]]]:
    """`select_per_fold(panel, folds, settings, [kind], screens)` of each planted panel (the user's data with other
    prices: `with_prices`), the selection rule reading every panel's target at once (`select_features_of`)."""
    column = TargetSpec(kind, 1).column
    keys = panels[0].frame[["ticker", "session"]]
    if any(not p.frame[["ticker", "session"]].equals(keys) for p in panels):
        raise ValueError("planted panels share the user's frame rows (with_prices)")
    targets = [f"target@{k}" for k in range(len(panels))]
    framed = panels[0].frame.assign(**{t: p.frame[column].to_numpy() for t, p in zip(targets, panels, strict=True)})
    per_fold = [select_features_of(panels[0].panel, framed, targets, f.train_start, f.train_end, settings, screen)
                for f, screen in zip(folds, screens, strict=True)]
    return [{kind: [fold[k] for fold in per_fold]} for k in range(len(panels))]


def walk_forward_selection(data: MarketData, settings: MarketSettings) -> tuple[list[Fold], list[Selection]]:
    """The walk-forward folds and the ISC + Granger selection (primary target) fitted on each fold's training window."""
    folds = make_folds(data, settings)
    return folds, select_per_fold(data, folds, settings, [settings.primary_target])[settings.primary_target]


def fold_grid(
    data: MarketData, start: pd.Timestamp, end: pd.Timestamp, settings: MarketSettings
) -> tuple[pd.DataFrame, list[str], dict[str, list[str]]]:
    """The grid plus the embedding control's components, PCA fitted on sessions [start, end], their names, and
    the projection models' columns (projection_pca: those components; projection_<j>: random projections; none
    with market.projection_draws = 0)."""
    pca = fit_embedding_pca(data.frame, data.embedding, start, end, len(data.rois), settings.seed) if data.embedding else None
    grid = data.grid.drop(columns=data.embedding)  # the models read the components, never the raw columns
    if pca is None:
        return grid, [], {}
    randoms = random_projections(pca, settings.projection_draws, settings.seed)
    scores = [pca.transform(data.grid), *(projection.transform(data.grid) for projection in randoms.values())]
    projections = {PCA_MODEL: pca.names, **{name: projection.names for name, projection in randoms.items()}} if randoms else {}
    return pd.concat([grid, *scores], axis=1), pca.names, projections


def control_columns(data: MarketData, embedding: Sequence[str]) -> dict[str, list[str]]:
    """Each control's covariate columns (the embedding's are this fold's PCA components)."""
    return {"sentiment": data.sentiment, "attention": data.attention, "embedding": list(embedding)}


def available_models(data: MarketData, embedding: Sequence[str]) -> list[str]:
    """The models this data can feed (a control without columns is left out with its `+roi` model)."""
    missing = {c for c, cols in control_columns(data, embedding).items() if not cols}
    return [model for model in MODELS if model not in missing and model.removesuffix("+roi") not in missing]
