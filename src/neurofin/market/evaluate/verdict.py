"""The verdict: the decision of the pre-declared primary model, its statistics, and the sentence rendered from them.

The primary model passes when the randomisation p of the mean per-session IC of its covariate contribution is
< SIGNIFICANCE (null.py: does the contribution rank the returns better than the same contribution reassigned?): one
test, exact at its level
(docs/backtest.md "Size of the tests"). Clark-West against the univariate model it nests is reported and does not
decide, nor does the sign of the mean IC: each extra condition made the test smaller than its level (requiring
Clark-West too: 0.7-1% instead of 5%) and cost power. The headline is
`claims.headline`: for an ROI primary model "signal in roi" also needs the increment over every control that ran
(increments.py) to hold, else it names the controls that explain the forecasts. The secondary models never change it.
A `Verdict` is a typed record: summary.json stores it, the report and the CLI read it, nobody parses the sentence.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict

from neurofin.market.evaluate.claims import headline

SIGNIFICANCE = 0.05  # the one threshold of every test the backtest decides on (verdict, increments, Holm)


def _missing_as_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


Statistic = Annotated[float | None, AfterValidator(_missing_as_none)]  # None: undefined (NaN), also in JSON


def _number(value: float | None) -> float:
    return float("nan") if value is None else value


class IncrementDecision(BaseModel):
    """One increment test of the primary target: does control+roi beat the control (Holm over the controls)?"""

    model_config = ConfigDict(frozen=True, extra="allow")

    base: str
    augmented: str
    p_holm: Statistic = None
    holds: bool


class Verdict(BaseModel):
    """The backtest's decision and the statistics it rests on; extra fields (e.g. a power figure) are kept."""

    model_config = ConfigDict(frozen=True, extra="allow")

    primary_model: str
    primary_target: str
    signal: bool  # the primary model passes its own test (mean IC against the randomisation null)
    claim: Literal["signal", "explained", "untested", "none"]  # what the headline claims (claims.headline)
    headline: str
    explained_by: list[str] = []  # the controls whose increment the ROI features fail to beat
    ic_mean: Statistic = None
    perm_p: Statistic = None
    cw_t: Statistic = None
    cw_p: Statistic = None
    cw_method: str = "t"  # "frb": cw_p is the fixed-regressor bootstrap's (cw_bootstrap.py); "t": the t(dof) p
    significance: float = SIGNIFICANCE
    increments: list[IncrementDecision] | None = None  # None: no increment was tested
    projection_note: str = ""  # where the primary model ranks among same-dimension projections (projections.py)

    @property
    def held(self) -> list[IncrementDecision]:
        """The increments over a control that hold."""
        return [i for i in self.increments or [] if i.holds]

    def sentence(self) -> str:
        """The plain-language verdict: the headline, the primary model's statistics, then which increment holds."""
        text = (f"Verdict: {self.headline} (primary model {self.primary_model}: mean IC {_number(self.ic_mean):.3f}, "
                f"permutation p={_number(self.perm_p):.3g}, one-sided, decides at {self.significance:g}; "
                f"Clark-West vs univariate t={_number(self.cw_t):.2f}, "
                f"{'bootstrap' if self.cw_method == 'frb' else 't'} p={_number(self.cw_p):.3g}, reported).")
        if not self.increments:
            return text + self.projection_note
        named = ", ".join(f"{i.base} (Holm p={_number(i.p_holm):.3g})" for i in self.held)
        tested = ", ".join(i.base for i in self.increments)
        return text + (f" ROI features add to: {named}." if named else
                       f" ROI features add to none of the controls ({tested}; permutation null of the ROI "
                       f"contribution, Holm over them, < {self.significance:g}).") + self.projection_note


def decide(
    metrics: pd.DataFrame, primary: str, primary_target: str, increments: pd.DataFrame | None = None,
    projection_note: str = "",
) -> Verdict:
    """The verdict of the primary model's row of `metrics` (and the primary target's `increments`, when given)."""
    row = metrics.set_index("model").loc[primary]
    found = bool(row["perm_p"] < SIGNIFICANCE)
    tested = None if increments is None else [
        IncrementDecision(base=b, augmented=a, p_holm=p, holds=bool(h))
        for b, a, p, h in increments[["base", "augmented", "p_holm", "holds"]].itertuples(index=False)]
    head = headline(primary, found, increments)
    return Verdict(primary_model=primary, primary_target=primary_target, signal=found, claim=head.claim,
                   headline=head.text, explained_by=list(head.explained_by), ic_mean=row["ic_mean"],
                   perm_p=row["perm_p"], cw_t=row["cw_t"], cw_p=row["cw_p"], cw_method=row.get("cw_method", "t"), increments=tested,
                   projection_note=projection_note)
