"""Granger filter: does an ROI feature help predict the next session's log return?

statsmodels' `grangercausalitytests` has no robust errors, so the test is written from statsmodels
pieces: the unrestricted regression y_t ~ 1 + y_{t-1..t-p} + x_{t-1..t-p} is fitted by OLS with
HC3 heteroskedasticity-robust covariance, and a Wald F test asks whether all x-lag coefficients are 0.
With x = ROI activity of session t and y = log return of session t, lag 1 means "ROI on session t
predicts the return of session t+1". The lag p is fixed or chosen by AIC/BIC on the data it is given
(call it on a training window only), from the autoregression of the return WITHOUT the feature: choosing
p on the unrestricted model picks the lag where the feature happens to fit best and then tests it on
the same data, which inflates false selections (about 36% of p < 0.01 among tests where BIC chose p > 1
in the null benchmark). P-values of all feature x ticker tests are corrected together
with Benjamini-Hochberg (`multipletests(..., method="fdr_bh")`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GrangerResult:
    """Robust Granger test of one feature for one ticker."""

    lag: int
    f_stat: float
    p_value: float
    n_obs: int


def lagged_design(y: np.ndarray, x: np.ndarray, lags: int, first_row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Target y_t and design [1, y_{t-1..t-lags}, x_{t-1..t-lags}] over rows from `first_row` (default `lags`) with no NaN."""
    start = lags if first_row is None else first_row
    n = y.size
    cols = [np.ones(n - start)]
    cols += [y[start - k : n - k] for k in range(1, lags + 1)]
    cols += [x[start - k : n - k] for k in range(1, lags + 1)]
    design = np.column_stack(cols)
    target = y[start:]
    ok = np.isfinite(target) & np.all(np.isfinite(design), axis=1)
    return target[ok], design[ok]


def choose_lag(y: np.ndarray, max_lag: int, criterion: str = "bic") -> int:
    """Lag (1..max_lag) of the autoregression of y with the lowest AIC or BIC on a common sample."""
    import statsmodels.api as sm

    if criterion not in ("aic", "bic"):
        raise ValueError(f"lag criterion must be 'aic' or 'bic', got {criterion!r}")
    scores = []
    for lags in range(1, max_lag + 1):
        target, design = lagged_design(y, np.zeros_like(y), lags, first_row=max_lag)
        scores.append(getattr(sm.OLS(target, design[:, : 1 + lags]).fit(), criterion))
    return int(np.argmin(scores)) + 1


def granger_test(y: np.ndarray, x: np.ndarray, lags: int, cov_type: str = "HC3") -> GrangerResult:
    """Wald F test that x_{t-1..t-lags} add nothing to an AR(lags) model of y_t.

    cov_type "HC3" (default) is heteroskedasticity-robust; "nonrobust" reproduces the ssr F test of
    statsmodels' `grangercausalitytests`.
    """
    import statsmodels.api as sm

    target, design = lagged_design(np.asarray(y, float), np.asarray(x, float), lags)
    n_params = design.shape[1]
    if target.size <= n_params + 2 or np.ptp(design[:, -lags:], axis=0).min() == 0:
        return GrangerResult(lags, float("nan"), 1.0, int(target.size))
    fit = sm.OLS(target, design).fit(cov_type=cov_type)
    restriction = np.zeros((lags, n_params))
    restriction[np.arange(lags), 1 + lags + np.arange(lags)] = 1.0
    wald = fit.f_test(restriction)
    return GrangerResult(lags, float(np.squeeze(wald.fvalue)), float(np.squeeze(wald.pvalue)), int(target.size))


def granger_table(
    frame: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    max_lag: int = 1,
    lag_criterion: str = "fixed",
    fdr_alpha: float = 0.1,
) -> pd.DataFrame:
    """Robust Granger tests of the given (feature, ticker) pairs with one BH-FDR selection over all of them.

    `frame` holds one row per (ticker, session) with columns `ticker`, `session`, `target` (log
    return) and the feature columns. lag_criterion "fixed" uses `max_lag`; "aic"/"bic" choose
    1..max_lag per ticker from its return autoregression. Columns: feature, ticker, lag, f_stat, p_value, n_obs, q_value, selected.
    """
    from statsmodels.stats.multitest import multipletests

    by_ticker = {t: rows.sort_values("session") for t, rows in frame.groupby("ticker", sort=False)}
    returns = {t: rows["target"].to_numpy(float) for t, rows in by_ticker.items()}
    tickers = {ticker for _, ticker in pairs}
    lag_of = {t: max_lag if lag_criterion == "fixed" else choose_lag(returns[t], max_lag, lag_criterion) for t in tickers}
    records = []
    for feature, ticker in pairs:
        result = granger_test(returns[ticker], by_ticker[ticker][feature].to_numpy(float), lag_of[ticker])
        records.append(
            {"feature": feature, "ticker": ticker, "lag": result.lag, "f_stat": result.f_stat,
             "p_value": result.p_value, "n_obs": result.n_obs}
        )
    table = pd.DataFrame.from_records(records, columns=["feature", "ticker", "lag", "f_stat", "p_value", "n_obs"])
    if table.empty:
        return table.assign(q_value=pd.Series(dtype=float), selected=pd.Series(dtype=bool))
    selected, q_values, _, _ = multipletests(table["p_value"].to_numpy(float), alpha=fdr_alpha, method="fdr_bh")
    return table.assign(q_value=q_values, selected=selected)
