"""Clark-West's fixed-regressor bootstrap (Clark and McCracken 2012, JBES) for the linear forecaster's backtest.

Under recursive estimation the Clark-West t of nested models is not normal under the null and its t(dof) p-value is
undersized (docs/backtest.md "Size of the tests"). With the ridge forecaster (fixed alpha) a model's mean forecast
is linear in the target once its usable rows are fixed, so the bootstrap costs one design pass per fold and target
(`batched_ridge.ridge_means`, all draws as columns). Per fold the regressors stay fixed (the fold's selected
columns); each draw's targets are the restricted (univariate: each ticker's mean target) full-sample fit plus the
unrestricted (primary model's ridge) full-sample residuals times a wild weight: one N(0, 1) per grid day shared by
the tickers, summed over the h days a target spans and divided by sqrt(h) (as `sizing.frb_clark_west`). Both
models' recursive forecasts are rerun on every draw, the per-session Clark-West terms of all folds pooled and the
HAR t recomputed; p = (1 + #{t* >= t}) / (1 + draws). Each fold draws its own weights (seed + fold index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurofin.market.evaluate import metrics as m
from neurofin.market.forecast.batched_ridge import Design, column_means, ridge_fitted, ridge_means
from neurofin.market.forecast.engine import Covariates, GridCube, OriginRequest

BLOCK_ELEMENTS = 20_000_000  # draws are fitted in blocks of about this many target cells (tickers x days x draws)


@dataclass(frozen=True)
class FoldTerms:
    """Per test session of one fold (`sessions`), the mean Clark-West term over tickers of the actual targets
    (column 0) and of each bootstrap draw (columns 1..)."""

    sessions: np.ndarray
    terms: np.ndarray


@dataclass(frozen=True)
class BootstrapTest:
    """Clark-West t of the actual targets and its fixed-regressor bootstrap p-value (one-sided, big model better)."""

    t_stat: float
    p_value: float
    draws: int


def wild_weights(days: int, horizon: int, draws: int, seed: int) -> np.ndarray:
    """(days, draws) wild weights: one N(0, 1) per day and draw, summed over the `horizon` days a target spans and
    divided by sqrt(horizon) (the MA(h-1) overlap of h-day targets)."""
    eta = np.random.default_rng(seed).standard_normal((days + horizon - 1, draws))
    return np.lib.stride_tricks.sliding_window_view(eta, horizon, axis=0).sum(axis=-1) / np.sqrt(horizon)


def bootstrap_p(t: np.ndarray) -> float:
    """One-sided p of t[0] among the draws t[1:]: (1 + #{t* >= t}) / (1 + draws)."""
    return float((1 + np.sum(t[1:] >= t[0])) / t.size)


def fold_terms(
    cube: GridCube, covariates: Covariates, requests: list[OriginRequest], alpha: float, draws: int, horizon: int,
    seed: int,
) -> FoldTerms:
    """The Clark-West terms (`FoldTerms`) of the ridge model with `covariates` against the univariate one on one
    fold's requests (one target column), for the actual targets and `draws` bootstrap targets (module docstring)."""
    requests = sorted(requests, key=lambda r: r.session)
    tickers = np.array(sorted(covariates), dtype=object)
    rows = np.searchsorted(cube.tickers, tickers)
    design = cube.design(rows, [covariates[t] for t in tickers])
    origin_day, target_day, known_day = (cube.day([getattr(r, a) for r in requests])
                                         for a in ("origin", "session", "known_through"))
    days = int(target_day.max()) + 1
    target = cube.by_column[rows, cube.columns[requests[0].column], :days]
    finite = np.isfinite(target)
    with np.errstate(invalid="ignore", divide="ignore"):
        restricted = np.where(finite, target, 0.0).sum(axis=1) / finite.sum(axis=1)
    fitted = ridge_fitted(Design(design.source[..., :days], design.past, design.width), target, alpha)
    residual = target - np.where(np.isfinite(fitted), fitted, restricted[:, None])
    weight = wild_weights(days, horizon, draws, seed)

    def block_terms(columns: range) -> np.ndarray:
        """(O, len(columns)) mean terms over tickers of some columns: 0 the actual targets, k >= 1 draw k."""
        draw = restricted[:, None, None] + residual[..., None] * weight[:, max(columns.start, 1) - 1 : columns.stop - 1]
        targets = np.concatenate([target[..., None], draw], axis=-1) if columns.start == 0 else draw
        big = ridge_means(design, targets, origin_day, target_day, known_day, alpha)
        small = column_means(targets, known_day)
        term = 2.0 * (targets[:, target_day] - small) * (big - small)  # (y - small)^2 - [(y - big)^2 - (small - big)^2]
        present = np.isfinite(term)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(present, term, 0.0).sum(axis=0) / present.sum(axis=0)

    per_block = max(1, BLOCK_ELEMENTS // target.size)  # the draws in blocks: memory stays flat in tickers x days
    blocks = [range(start, min(start + per_block, draws + 1)) for start in range(0, draws + 1, per_block)]
    terms = np.concatenate([block_terms(columns) for columns in blocks], axis=1)
    return FoldTerms(np.array([r.session for r in requests], dtype="datetime64[ns]"), terms)


def bootstrap_test(folds: list[FoldTerms], overlap: int) -> BootstrapTest | None:
    """The pooled Clark-West HAR t (`metrics.ewc_t`, as `metrics.clark_west`) of every fold's sessions and its
    bootstrap p-value; None when fewer than 3 sessions have a term."""
    sessions = np.concatenate([f.sessions for f in folds])
    terms = np.concatenate([f.terms for f in folds])[np.argsort(sessions, kind="stable")]
    terms = terms[np.isfinite(terms[:, 0])]
    if terms.shape[0] < 3 or np.allclose(terms[:, 0], terms[0, 0]):
        return None
    t = m.ewc_t(terms, m.ewc_dof(terms.shape[0], overlap))
    return BootstrapTest(float(t[0]), bootstrap_p(t), terms.shape[1] - 1)
