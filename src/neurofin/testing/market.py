"""Market helpers for tests: the metrics table alone, a ticker universe cut to some symbols."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from neurofin.market.comments.tickers import TickerUniverse
from neurofin.market.evaluate.evaluation import evaluate_with_null


def evaluate(
    forecasts: pd.DataFrame, quantile_levels: Sequence[float], primary: str = "roi",
    identical: dict[str, str] | None = None, null_draws: int = 500, seed: int = 0,
) -> pd.DataFrame:
    """The metrics table of `evaluate_with_null` (one row per model)."""
    return evaluate_with_null(forecasts, quantile_levels, primary, identical, null_draws, seed)[0]


def restricted_universe(universe: TickerUniverse, symbols: set[str] | frozenset[str]) -> TickerUniverse:
    """`universe` limited to the given symbols (e.g. those with prices)."""
    keep = universe.symbols & {s.upper() for s in symbols}
    renames = {old: r for old, r in universe.renames.items() if r[0] in keep}
    return TickerUniverse(keep | set(renames), universe.blacklist, {a: s for a, s in universe.aliases.items() if s in keep},
                          universe.common_words, renames)
