"""The claim a verdict's headline may make (docs/backtest.md "The verdict").

A brain claim ("signal in roi") needs the primary model to beat the univariate model it nests (its own
tests, decided by the caller) AND, for a model built on ROI features, the ROI increment to hold over every
pre-declared control that ran (`increment_tests`: control+roi vs control, Holm over the controls). When the
primary model passes but an increment does not hold, the headline names the controls that explain its
forecasts instead; with no control to test against it makes no brain claim either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

BRAIN_MODELS = ("roi", "roi_known_future")  # primary models whose signal would be a brain claim


@dataclass(frozen=True)
class Headline:
    """The verdict's head: `claim` (signal, explained, untested or none), its text and the controls that explain it."""

    claim: Literal["signal", "explained", "untested", "none"]
    text: str
    explained_by: tuple[str, ...] = ()


def headline(primary: str, primary_holds: bool, increments: pd.DataFrame | None) -> Headline:
    """Decide the head from the primary model's test and the increments over the controls (columns base, holds)."""
    if not primary_holds:
        return Headline("none", "no signal")
    if primary not in BRAIN_MODELS:
        return Headline("signal", f"signal in {primary}")
    if increments is None or increments.empty:
        return Headline("untested", f"no brain signal: no control ran to test the {primary} forecasts against")
    failed = tuple(increments.loc[~increments["holds"].astype(bool), "base"])
    if not failed:
        return Headline("signal", f"signal in {primary}")
    named = failed[0] if len(failed) == 1 else f"{', '.join(failed[:-1])} and {failed[-1]}"
    verb = "explains" if len(failed) == 1 else "explain"
    return Headline("explained", f"no brain signal: {named} {verb} the {primary} forecasts", failed)
