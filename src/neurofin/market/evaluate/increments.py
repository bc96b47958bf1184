"""What the ROI features add over each control, and Holm's adjustment with its families stated once.

Holm runs within one family at a time, as HOLM_FAMILIES states (summary.json records the statement and the report
quotes it): the increments over the controls within each target and horizon, and the secondary covariate models'
Clark-West tests within each target and horizon. No test is adjusted across targets or horizons.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from neurofin.market.evaluate import metrics as m
from neurofin.market.evaluate.null import PermutationResult, permutation_ic_tests
from neurofin.market.evaluate.variants import INCREMENTS, REFERENCE_MODEL
from neurofin.market.evaluate.verdict import SIGNIFICANCE

HOLM_FAMILIES = {
    "increments": "the controls' increments (control+roi vs control) within each target and horizon",
    "secondary": "the distinct secondary covariate models' Clark-West tests within each target and horizon",
}


def increment_pairs(forecasts: pd.DataFrame) -> list[tuple[str, str]]:
    """The (control, control+roi) pairs whose two models the forecast rows hold."""
    present = set(forecasts["model"].unique())
    return [(base, augmented) for base, augmented in INCREMENTS if {base, augmented} <= present]


def verdict_nulls(
    forecasts: pd.DataFrame, primary: str, draws: int, seed: int, min_lags: int = 0
) -> tuple[PermutationResult, list[PermutationResult]]:
    """The permutation nulls the verdict reads, drawn together: the primary model's over the reference model
    (`evaluate_with_null`'s) and each increment's (`increment_tests`'); those on the same cells share the
    permutations (the same p-values as drawn apart: each test seeds its generator with `seed`)."""
    pairs = [(primary, REFERENCE_MODEL), *((augmented, base) for base, augmented in increment_pairs(forecasts))]
    nulls = permutation_ic_tests(forecasts, pairs, draws, seed, horizon=min_lags + 1)
    return nulls[0], nulls[1:]


def increment_tests(
    forecasts: pd.DataFrame, identical: dict[str, str], draws: int, seed: int, min_lags: int = 0,
    nulls: Sequence[PermutationResult] | None = None, wide: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Does adding the selected ROIs to a control help? Per (control, control+roi): the randomisation null of the
    ROI contribution (the difference of the two forecasts; null.py), p = its one-sided p-value, Holm over the
    controls; `holds` when that is < SIGNIFICANCE (one test per control, like the verdict). Clark-West of the
    nested pair is reported beside it. `nulls`: the pairs' nulls when already drawn (`verdict_nulls`); `wide`: the
    forecasts' `metrics.wide_means` when already built."""
    wide = m.wide_means(forecasts) if wide is None else wide
    pairs = increment_pairs(forecasts)
    if nulls is None:  # the pairs on the same cells share the permutations
        nulls = permutation_ic_tests(forecasts, [(augmented, base) for base, augmented in pairs], draws, seed,
                                     horizon=min_lags + 1)
    records = []
    for (base, augmented), null in zip(pairs, nulls, strict=True):
        cw = m.clark_west(wide, augmented, base, min_lags)
        records.append({"base": base, "augmented": augmented, "cw_t": cw.t_stat, "cw_p": cw.p_value,
                        "ic_base": float(m.ic_by_date(forecasts[forecasts["model"] == base]).mean()),
                        "ic_augmented": float(m.ic_by_date(forecasts[forecasts["model"] == augmented]).mean()),
                        "perm_p": null.p_value, "p": null.p_value})
    table = pd.DataFrame.from_records(records, columns=["base", "augmented", "cw_t", "cw_p", "ic_base", "ic_augmented",
                                                        "perm_p", "p"])
    return table.assign(p_holm=holm(table["p"].to_numpy(float)),
                        holds=lambda t: t["p_holm"] < SIGNIFICANCE)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values over the finite entries (NaN stays NaN): the k-th smallest of m times (m - k + 1),
    made non-decreasing in that order, at most 1 (statsmodels' multipletests "holm" values, without the garbage
    collection it runs on every call, 0.2 s with a backtest's tables in memory)."""
    adjusted = np.full(p_values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p_values))
    order = finite[np.argsort(p_values[finite], kind="stable")]
    adjusted[order] = np.minimum(np.maximum.accumulate(p_values[order] * np.arange(order.size, 0, -1)), 1.0)
    return adjusted
