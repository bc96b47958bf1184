"""summary.json of a backtest as a typed record: the verdict, what ran, its statistics and plain notes.

`BacktestSummary` is what the chain writes (`backtest_summary`) and what the report and the CLI read back; the
verdict sentence is rendered from its `Verdict` record (also stored as `verdict_text` for readers of the file).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, computed_field

from neurofin.market.evaluate.backtest import BacktestResult
from neurofin.market.evaluate.increments import HOLM_FAMILIES
from neurofin.market.evaluate.verdict import Statistic, Verdict
from neurofin.market.panel.sentiment import sentiment_label
from neurofin.schema import LEX_PREFIX


class PermutationNull(BaseModel):
    """The primary model's permutation null (neurofin.market.evaluate.null.PermutationResult.to_record)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    model: str
    reference: str
    observed: Statistic
    p_value: Statistic
    values: list[Statistic]


class RunSettings(BaseModel):
    """The market settings the backtest ran with (MarketSettings as JSON), typed where readers rely on a field."""

    model_config = ConfigDict(frozen=True, extra="allow")

    quantile_levels: list[float] = []
    cost_bps: float | None = None


class BacktestSummary(BaseModel):
    """summary.json of `neurofin market backtest`."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # verdict_text is rendered, never read back

    verdict: Verdict
    forecaster: str  # the registered name (or the object's own name) of the forecaster that ran
    forecaster_name: str
    model: str | None = None  # the Chronos-2 model, for the chronos forecaster
    n_folds: int
    primary_model: str
    primary_target: str
    targets: list[str]
    settings: RunSettings
    permutation_null: PermutationNull | None = None
    metrics: list[dict[str, Any]] = []
    increments: list[dict[str, Any]] = []
    holm_families: dict[str, str] = HOLM_FAMILIES  # what each Holm adjustment runs over (increments.py)
    selection_frequency: dict[str, dict[str, float]] = {}
    sentiment: dict[str, Any] = {}
    controls: dict[str, str] = {}  # control -> how the report names it
    notes: list[str] = []
    files: dict[str, str] = {}
    projections: dict[str, Any] = {}  # where the primary model ranks among same-dimension projections (projections.py)
    power: dict[str, Any] | None = None  # power.json of `neurofin market power` in the same folder, if any

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict_text(self) -> str:
        """The verdict as one plain sentence."""
        return self.verdict.sentence()


def backtest_summary(
    result: BacktestResult, forecaster_name: str, sentiment: dict[str, Any], files: dict[str, str],
    power: dict[str, Any] | None = None,
) -> BacktestSummary:
    """The summary of a backtest run (`sentiment`: the panel's sentiment record, `files`: name -> file name,
    `power`: the folder's power record)."""
    s = result.settings
    return BacktestSummary(
        verdict=result.verdict, forecaster=str(s["forecaster"]), forecaster_name=forecaster_name,
        model=str(s["chronos_model"]) if s["forecaster"] == "chronos" else None, n_folds=len(result.folds),
        primary_model=str(s["primary_model"]), primary_target=str(s["primary_target"]),
        targets=sorted({f"{k}:{h}" for k, h in zip(result.forecasts["target"], result.forecasts["horizon"])}),
        permutation_null=PermutationNull.model_validate(result.null) if result.null else None,
        metrics=result.metrics.replace({np.nan: None}).to_dict(orient="records"),
        increments=result.increments.replace({np.nan: None}).to_dict(orient="records"),
        selection_frequency=result.frequencies.to_dict(), settings=RunSettings.model_validate(s), sentiment=sentiment,
        controls=control_names(sentiment["columns"]), notes=backtest_notes(result, forecaster_name, sentiment["columns"]),
        files=files, projections=result.projections, power=power,
    )


def control_names(sentiment: list[str]) -> dict[str, str]:
    """Each control as the report names it, the sentiment control by its published measures."""
    return {"sentiment": f"sentiment ({sentiment_label(sentiment)})", "attention": "attention (comment and author counts)",
            "embedding": "embedding (LM features, PCA)"}


def backtest_notes(result: BacktestResult, forecaster_name: str, sentiment: list[str]) -> list[str]:
    """Plain sentences describing how the backtest was run (summary.json `notes`, shown by the report);
    `sentiment`: the sentiment control's panel columns."""
    s = result.settings
    test_sessions = sum(len(f.test_sessions) for f in result.folds)
    return [
        f"Forecaster: {forecaster_name}. {len(result.folds)} walk-forward folds ({s['window']} window, "
        f"{s['train_sessions']} training sessions, embargo {s['embargo_sessions']}, {s['step_sessions']} test "
        f"sessions per fold), {test_sessions} forecast sessions in all, each from data up to the previous session.",
        f"Selection inside each training window: ISC ({s['isc_scope']}, mean leave-one-out ISC above the "
        f"{s['isc_null_quantile']:g} quantile of a circular time-shift null and at least {s['isc_min_loo']:g}), "
        + (f"the encoding-quality gate (median validation r >= {s['min_roi_validation_r']:g} from "
           f"{s['roi_quality_file']}), " if s["roi_quality_file"] else "no encoding-quality gate (no market.roi_quality_file), ")
        + ("then one ROI for every ticker: the candidate whose training-window mean per-session IC, pooled across "
           "tickers, has the largest |HAC t|. " if s["selection_rule"] == "pooled_ic" else
           f"then HC3-robust Granger tests (lag {s['granger_lag_criterion']} up to {s['granger_max_lag']}) with "
           f"Benjamini-Hochberg FDR {s['fdr_alpha']:g} over ROIs x tickers. ")
        + f"Features: the ticker's last value carried "
        f"at most {s['max_stale_sessions']} sessions; cells with fewer than {s['min_comments']} comments count as missing.",
        f"Targets: {', '.join(sorted(set(result.forecasts['target'])))} at horizons "
        f"{', '.join(str(h) for h in sorted(set(result.forecasts['horizon'])))} sessions (an h-session target is "
        "fitted only on windows realised at the origin; Hansen-Hodrick HAC with h-1 lags); the verdict reads the primary "
        f"target ({s['primary_target']}, 1 session). Market-adjusted: minus "
        + (f"the index in {s['index_file']}" if s["index_file"] else "the equal-weight mean of every priced ticker")
        + f". Features use comments up to {s['cutoff_minutes']} minutes before each session's close.",
        "Controls: attention (log comment and author counts and their change against the previous "
        f"{s['attention_window']} sessions; no comments = 0), sentiment ({sentiment_label(sentiment)}: session means of "
        f"{', '.join(c.removeprefix(LEX_PREFIX) for c in sentiment)} per comment), and the embedding (the LM features "
        "the encoding models read, PCA fitted in each training window to as many components as ROIs). Increments: "
        "control+ROI vs control, the permutation null of the ROI contribution, Holm-adjusted over the controls "
        "(Clark-West reported).",
        f"Portfolio (directional targets, 1 session): long the top and short the bottom of {s['portfolio_quantiles']} "
        f"forecast buckets each session, equal weights; net of {s['cost_bps']:g} bps per unit of turnover; Sharpe "
        f"annualised (252) with a studentised block-bootstrap 95% CI ({s['bootstrap_draws']} draws).",
        *result.notes,
        "IC: Spearman rank correlation of forecasts (their mean) with realised log returns across tickers per "
        "session (mean and Newey-West t) and pooled. OOS R2 against the zero and historical-mean forecasts; "
        "coverage_80: share of returns inside the 10%-90% forecast band.",
        f"Verdict: decided by the pre-declared primary model ({s['primary_model']}): the mean per-session IC of its "
        f"covariate contribution (its forecast minus the univariate model's) must beat a randomisation null "
        f"({s['null_draws']} draws; the contribution permuted across tickers within each session, or within blocks "
        "of 10 (h-1) sessions for overlapping targets), one test at 5% "
        "one-sided; Clark-West against the univariate model it nests (HAC errors) is reported and does not decide; "
        "an ROI model's headline claims a signal only when its increment over every control holds. Other covariate "
        "models: Clark-West with Holm "
        "correction, not part of the verdict. Models identical by construction (same_as) are computed and tested once.",
    ]
