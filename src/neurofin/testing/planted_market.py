"""Synthetic market panel with a planted lead-lag signal, for tests, the null benchmark and demos.

Each (ticker, ROI) has a text-driven common series (AR(1)) shared by all subject models plus
independent subject noise, so subject models agree as they would when reading the same comments;
ROIs listed in `incoherent_rois` have no common part (subjects disagree). For each ticker in
`signal`, the return of session t+1 loads on the ensemble value of the planted ROI at session t with
correlation `strength`; every other return is noise (i.i.d. normal, or GARCH(1,1) with
`volatility_clustering`, like real daily returns). Sessions are the NYSE sessions from `start` (so
exchange holidays are real) and some ticker-days have no comments (no panel row).

Controls: `embedding_dims` > 0 adds `emb_*` columns (an AR(1) text vector per ticker-session) and the
prices get an `open` (overnight gap noise, so open-to-close returns keep the session's signal).
The sentiment control's columns (the panel's `lex_*` names, market/panel/sentiment.py) are AR(1) series per ticker.
`confound` plants a signal that the ROI only reflects: "attention" (the comment count varies and the
planted ROI's common part and the lead are its standardised log count), "embedding" (both are a fixed
direction of the text vector) or "sentiment" (both are the VADER compound column); the return then loads on
the confound itself, so an ROI model finds a signal that adds nothing to the matching control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from neurofin.market.comments.calendar import trading_sessions
from neurofin.market.panel.sentiment import SentimentMeasures
from neurofin.schema import ENSEMBLE

DEFAULT_ROIS = ("Default_Temp", "Limbic_OFC", "Cont_PFCl", "SalVentAttn_FrOper")


def planted_panel(
    n_sessions: int = 400,
    tickers: Sequence[str] = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF"),
    rois: Sequence[str] = DEFAULT_ROIS,
    signal: Mapping[str, str] | None = None,
    strength: float = 0.4,
    incoherent_rois: Sequence[str] = (),
    n_subjects: int = 8,
    subject_noise: float = 0.7,
    start: str = "2018-01-02",
    missing_fraction: float = 0.03,
    return_scale: float = 0.01,
    volatility_clustering: bool = False,
    embedding_dims: int = 0,
    confound: Literal["attention", "embedding", "sentiment"] | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(panel, prices) in the market schema; `signal` maps ticker -> ROI that leads its return by one session."""
    rng = np.random.default_rng(seed)
    signal = dict(signal or {})
    sessions = pd.DatetimeIndex(trading_sessions(start, pd.Timestamp(start) + pd.Timedelta(days=2 * n_sessions)))
    sessions = sessions[:n_sessions]
    subjects = [f"UTS{k:02d}" for k in range(1, n_subjects + 1)]
    panel_parts, price_parts = [], []
    if confound == "embedding" and embedding_dims < 1:
        raise ValueError("confound='embedding' needs embedding_dims >= 1")
    direction = rng.standard_normal(max(embedding_dims, 1))
    direction /= np.linalg.norm(direction)
    sentiment_columns = SentimentMeasures().columns
    for ticker in tickers:
        text = np.column_stack([_ar1(n_sessions, 0.3, rng) for _ in range(embedding_dims)]) if embedding_dims else None
        activity = _ar1(n_sessions, 0.5, rng)
        sentiment = {column: _ar1(n_sessions, 0.3, rng) for column in sentiment_columns}
        n_comments = rng.poisson(20 * np.exp(0.5 * activity) if confound == "attention" else 20, n_sessions) + 1
        confounder = {"attention": _standardise(np.log1p(n_comments)),
                      "embedding": _standardise(text @ direction) if text is not None else None,
                      "sentiment": _standardise(sentiment[sentiment_columns[0]])}.get(confound or "")
        common = {roi: _ar1(n_sessions, 0.3, rng) * (0.0 if roi in incoherent_rois else 1.0) for roi in rois}
        if confounder is not None and ticker in signal:
            common[signal[ticker]] = confounder
        by_subject = {roi: common[roi][:, None] + subject_noise * rng.standard_normal((n_sessions, n_subjects))
                      for roi in rois}
        present = rng.random(n_sessions) >= missing_fraction
        present[0] = True
        ensemble = {roi: by_subject[roi].mean(axis=1) for roi in rois}
        noise = _garch11(n_sessions, rng) if volatility_clustering else rng.standard_normal(n_sessions)
        returns = return_scale * noise
        if ticker in signal:
            source = confounder if confounder is not None else ensemble[signal[ticker]]
            observed = pd.Series(np.where(present, source, np.nan)).ffill().to_numpy()
            lead = (observed - observed.mean()) / observed.std()
            returns[1:] = return_scale * (strength * lead[:-1] + np.sqrt(1 - strength**2) * noise[1:])
        close = 100.0 * np.exp(np.cumsum(returns))
        prices = pd.DataFrame({"session": sessions.date, "ticker": ticker, "close": close,
                               "log_return": np.r_[np.nan, np.diff(np.log(close))]})
        if embedding_dims:  # the open sits an overnight gap after the previous close
            gap = 0.5 * return_scale * rng.standard_normal(n_sessions)
            prices["open"] = np.r_[close[0], close[:-1]] * np.exp(gap)
        price_parts.append(prices)
        embedding = {f"emb_{k:03d}": text[:, k] for k in range(embedding_dims)} if text is not None else {}
        for index, subject in enumerate([*subjects, ENSEMBLE]):
            values = {roi: (ensemble[roi] if subject == ENSEMBLE else by_subject[roi][:, index]) for roi in rois}
            part = pd.DataFrame({"session": sessions.date, "ticker": ticker, "subject": subject,
                                 "n_comments": n_comments, "n_authors": np.maximum(1, n_comments // 2),
                                 **values, **{f"{roi}__sd": np.abs(rng.normal(1, 0.1, n_sessions)) for roi in rois},
                                 **sentiment, **embedding})
            panel_parts.append(part[present])
    return pd.concat(panel_parts, ignore_index=True), pd.concat(price_parts, ignore_index=True)


def _standardise(values: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance."""
    return (values - values.mean()) / values.std()


def _ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance AR(1) series of length n."""
    noise = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    out = np.empty(n)
    out[0] = rng.standard_normal()
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def _garch11(n: int, rng: np.random.Generator, alpha: float = 0.1, beta: float = 0.85) -> np.ndarray:
    """Unit-variance GARCH(1,1) innovations: volatility clusters as in daily stock returns."""
    omega = 1.0 - alpha - beta
    out, variance = np.empty(n), 1.0
    for t in range(n):
        out[t] = np.sqrt(variance) * rng.standard_normal()
        variance = omega + alpha * out[t] ** 2 + beta * variance
    return out
