"""The tradable universe of a walk-forward fold, from its training window only.

A ticker enters a fold's universe when it has a panel row with at least `min_comments` comments in the
training window [train_start, train_end]: whether a ticker is discussed at all is itself information, so a
ticker first mentioned after the window cannot be forecast or traded in that fold.
"""

from __future__ import annotations

import pandas as pd


def fold_universe(panel: pd.DataFrame, train_start: pd.Timestamp, train_end: pd.Timestamp, min_comments: int = 1) -> set[str]:
    """Tickers with a panel row of at least `min_comments` comments in sessions [train_start, train_end]."""
    sessions = pd.to_datetime(panel["session"])
    inside = (sessions >= train_start) & (sessions <= train_end)
    if "n_comments" in panel.columns:
        inside &= panel["n_comments"] >= min_comments
    return set(panel.loc[inside, "ticker"].unique())
