"""One-session-ahead log-return forecasts on a business-day grid, with pluggable forecasters.

Chronos-2 (`chronos-forecasting`) is the production forecaster: covariate columns of the context
frame are past covariates, those also given for the future steps are known-future covariates
(`Chronos2Pipeline.predict_df(..., freq="B")`). A ridge forecaster on the same covariates is the
transparent alternative (and the one that can show a planted covariate effect in tests). Zero and
historical-mean forecasters are the naive baselines.

Grid: every business day from the first to the last trading session. Exchange holidays that fall on
business days keep a row whose target is NaN (missing, not zero) and whose covariates are those of
the last session (staleness is capped upstream, in `selection.session_frame`); the forecast for the next session is the horizon-h step with h = business days from
the origin session to the next session (h = 2 across a weekday holiday).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from neurofin.device import resolve_device
from neurofin.errors import InputError, ModelLoadError

LAG_SUFFIX = "__lag1"
MIN_FIT_ROWS = 10


def quantile_column(level: float) -> str:
    """Column name of a quantile forecast, e.g. 'q0.1'."""
    return f"q{level:g}"


def business_day_frame(
    frame: pd.DataFrame, features: Sequence[str], targets: Sequence[str] = ("target",),
    lagged: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Reindex a session frame onto business days: NaN targets off-session, features of the last session, lag-1 copies.

    Input rows (ticker, session, targets..., features...); output rows (ticker, timestamp, is_session,
    targets..., features..., `<feature>__lag1` for each feature in `lagged` (default: all)), where the lag-1
    column at day t holds the feature of day t-1 and is therefore known at the close of t-1 (usable as a
    known-future covariate).
    """
    sessions = pd.DatetimeIndex(sorted(frame["session"].unique()))
    days = pd.bdate_range(sessions[0], sessions[-1], name="timestamp")
    off_grid = sessions.difference(days)
    if len(off_grid):
        raise InputError(f"sessions on weekends cannot sit on a business-day grid ({list(off_grid[:3])}): "
                         "drop weekend rows from the prices")
    on_session = days.isin(sessions)
    parts = []
    for ticker, rows in frame.groupby("ticker", sort=True):
        daily = rows.set_index("session")[[*targets, *features]].reindex(days)
        last_session = np.maximum.accumulate(np.where(on_session, np.arange(days.size), 0))
        carried = pd.DataFrame(daily[list(features)].to_numpy()[last_session], index=days,
                               columns=list(features))  # off-session days: the last session's features
        lags = carried[list(features if lagged is None else lagged)].shift(1).add_suffix(LAG_SUFFIX)
        keys = pd.DataFrame({"ticker": ticker, "is_session": on_session}, index=days)
        parts.append(pd.concat([keys, daily[list(targets)], carried, lags], axis=1).reset_index())
    return pd.concat(parts, ignore_index=True)


class Forecaster(Protocol):
    """Anything that turns a context frame (and known-future covariates) into a horizon-h forecast per ticker.

    `name`: how outputs name it; `identical`: model variant -> the variant it equals by construction for this
    forecaster (the backtest copies those instead of recomputing them; empty when none)."""

    name: str

    @property
    def identical(self) -> Mapping[str, str]:
        """Model variant -> the variant it equals by construction for this forecaster."""
        ...

    def forecast(
        self, context: pd.DataFrame, future: pd.DataFrame | None, horizon: int, quantile_levels: Sequence[float]
    ) -> pd.DataFrame:
        """Rows (ticker, mean, median, q<level>...) for step `horizon` (`mean` is what squared errors score).

        `context`: (ticker, timestamp, target, covariates...) up to the origin; `future`: (ticker,
        timestamp, known-future covariates) for the `horizon` steps after it, or None.
        """
        ...


def _covariates(context: pd.DataFrame, future: pd.DataFrame | None) -> tuple[list[str], list[str]]:
    """(past-only covariates, known-future covariates) of a forecast request."""
    known = [c for c in future.columns if c not in ("ticker", "timestamp")] if future is not None else []
    past = [c for c in context.columns if c not in ("ticker", "timestamp", "target", *known)]
    return past, known


class ZeroForecaster:
    """Forecasts a zero log return (the random-walk benchmark); no quantiles."""

    name = "zero"
    identical: Mapping[str, str] = {}

    def forecast(
        self, context: pd.DataFrame, future: pd.DataFrame | None, horizon: int, quantile_levels: Sequence[float]
    ) -> pd.DataFrame:
        """Zero mean and median, NaN quantiles for every ticker."""
        out = pd.DataFrame({"ticker": sorted(context["ticker"].unique()), "mean": 0.0, "median": 0.0})
        return out.assign(**{quantile_column(q): np.nan for q in quantile_levels})


class RidgeForecaster:
    """Per-ticker ridge regression of the return on covariates, fitted on the context only.

    Regressors for the return of day t: past covariates of day t-1 and known-future covariates of day t,
    standardised with context statistics; the intercept is unpenalised. Quantiles (and the median) =
    point forecast plus empirical quantiles of the OUT-OF-SAMPLE residuals: exact leave-one-out (PRESS)
    residuals e_i / (1 - h_ii) of the same ridge fit, which are not shrunk the way in-sample residuals
    are. With no covariates it is the historical mean with leave-one-out quantiles. Its univariate
    model is the historical mean and its past and lag-1 known-future covariates give the same design,
    so those model variants are identical by construction (`identical`).
    """

    identical = {"univariate": "hist_mean", "roi_known_future": "roi"}

    def __init__(self, alpha: float = 1.0, name: str = "ridge") -> None:
        self.alpha = alpha
        self.name = name

    def forecast(
        self, context: pd.DataFrame, future: pd.DataFrame | None, horizon: int, quantile_levels: Sequence[float]
    ) -> pd.DataFrame:
        """Ridge point forecast and residual-quantile band per ticker."""
        past, known = _covariates(context, future)
        codes, tickers = pd.factorize(context["ticker"], sort=True)
        order = np.lexsort((context["timestamp"].to_numpy(), codes))  # by ticker, then time
        starts = np.searchsorted(codes[order], np.arange(len(tickers)))
        ends = np.r_[starts[1:], len(context)]
        target = context["target"].to_numpy(float)[order]
        past_values = context[past].to_numpy(float)[order]
        known_values = context[known].to_numpy(float)[order]
        if known and future is not None:  # known-future covariates at step `horizon`: the last future row of each ticker
            future_codes = tickers.get_indexer(future["ticker"])
            last = np.lexsort((future["timestamp"].to_numpy(), future_codes))
            last = last[np.r_[future_codes[last][1:] != future_codes[last][:-1], True]]
            known_next = dict(zip(future_codes[last], future[known].to_numpy(float)[last]))
        levels = np.asarray(quantile_levels, dtype=float)
        means, medians, bands = [], [], []
        for code, (start, end) in enumerate(zip(starts, ends, strict=True)):
            lagged_past = np.vstack([np.full((1, len(past)), np.nan), past_values[start : end - 1]])
            regressors = np.hstack([lagged_past, known_values[start:end]])
            query = np.r_[past_values[end - 1], known_next[code] if known else []]
            mean, residuals = self._fit_predict(target[start:end], regressors, query)
            means.append(mean)
            medians.append(mean + np.median(residuals))
            bands.append(mean + np.quantile(residuals, levels))
        bands_array = np.asarray(bands).reshape(len(tickers), levels.size)
        return pd.DataFrame({"ticker": np.asarray(tickers, dtype=object), "mean": np.asarray(means, dtype=float),
                             "median": np.asarray(medians, dtype=float),
                             **{quantile_column(q): bands_array[:, j] for j, q in enumerate(quantile_levels)}})

    def _fit_predict(self, target: np.ndarray, regressors: np.ndarray, query: np.ndarray) -> tuple[float, np.ndarray]:
        """Ridge fit on complete rows and its leave-one-out residuals; the mean when covariates are missing or too few rows."""
        usable = np.isfinite(target) & np.all(np.isfinite(regressors), axis=1)
        if regressors.shape[1] == 0 or usable.sum() < MIN_FIT_ROWS or not np.all(np.isfinite(query)):
            observed = target[np.isfinite(target)]
            if observed.size < 2:
                return (float(observed.mean()) if observed.size else 0.0), np.zeros(1)
            mean = float(observed.mean())
            return mean, (observed - mean) / (1.0 - 1.0 / observed.size)
        y, x = target[usable], regressors[usable]
        centre, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (x - centre) / scale
        inverse = np.linalg.inv(z.T @ z + self.alpha * np.eye(z.shape[1]))
        coef = inverse @ (z.T @ (y - y.mean()))
        leverage = 1.0 / y.size + np.einsum("ij,jk,ik->i", z, inverse, z)
        residuals = (y - y.mean() - z @ coef) / (1.0 - leverage)
        return float(y.mean() + ((query - centre) / scale) @ coef), residuals


def load_chronos(model: str | Path, device: str = "auto"):  # -> chronos.Chronos2Pipeline
    """Load a Chronos-2 pipeline from a Hugging Face id (e.g. amazon/chronos-2) or a local directory."""
    from chronos import BaseChronosPipeline, Chronos2Pipeline

    local = Path(model).expanduser()
    if local.exists() and not (local / "config.json").is_file():
        raise ModelLoadError(f"{local} has no config.json: pass a Chronos-2 directory saved with save_pretrained")
    try:
        pipeline = BaseChronosPipeline.from_pretrained(str(local if local.exists() else model),
                                                       device_map=resolve_device(device))
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load Chronos-2 model {model!r} ({exc}); check the Hugging Face id and network access, "
            "or download it once and set market.chronos_model to the local directory"
        ) from None
    if not isinstance(pipeline, Chronos2Pipeline):
        raise ModelLoadError(f"{model!r} is a {type(pipeline).__name__}, not Chronos-2: use e.g. amazon/chronos-2")
    return pipeline


class ChronosForecaster:
    """Zero-shot Chronos-2 forecasts through `predict_df` on the business-day grid."""

    identical: Mapping[str, str] = {}

    def __init__(self, model: str | Path = "amazon/chronos-2", device: str = "auto", batch_size: int = 256) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.name = "chronos2"
        self._pipeline = None

    @property
    def pipeline(self):  # -> chronos.Chronos2Pipeline
        """The loaded pipeline (loaded on first use)."""
        if self._pipeline is None:
            self._pipeline = load_chronos(self.model, self.device)
        return self._pipeline

    def forecast(
        self, context: pd.DataFrame, future: pd.DataFrame | None, horizon: int, quantile_levels: Sequence[float]
    ) -> pd.DataFrame:
        """Chronos-2 median, quantiles and a mean integrated from the model's quantile grid, at step `horizon`.

        Chronos-2's point forecast ("predictions") is its median; `mean` = trapezoid integral of the
        quantile function over the model's own quantile levels (e.g. 0.01..0.99), divided by their span.
        """
        grid = [float(q) for q in self.pipeline.quantiles]
        levels = sorted({*map(float, quantile_levels), *grid})
        predictions = self.pipeline.predict_df(
            context, future_df=future, id_column="ticker", timestamp_column="timestamp", target="target",
            prediction_length=horizon, quantile_levels=levels, freq="B", batch_size=self.batch_size,
        )
        last = predictions.sort_values("timestamp").groupby("ticker", sort=True).tail(1).sort_values("ticker")
        values = last[[str(q) for q in grid]].to_numpy(float)
        mean = np.trapezoid(values, grid, axis=1) / (grid[-1] - grid[0])
        out = pd.DataFrame({"ticker": last["ticker"].to_numpy(), "mean": mean,
                            "median": last["predictions"].to_numpy(float)})
        for q in quantile_levels:
            out[quantile_column(q)] = last[str(float(q))].to_numpy(float)
        return out.reset_index(drop=True)


@dataclass(frozen=True)
class OriginView:
    """The grid rows a forecast made at `origin` may read: `context` (up to the origin, `target` = the chosen
    target, NaN where not yet realised) and `future` (after the origin up to the target session)."""

    context: pd.DataFrame
    future: pd.DataFrame
    horizon: int


def origin_view(
    grid: pd.DataFrame, origin: pd.Timestamp, target_session: pd.Timestamp, target_column: str = "target",
    known_through: pd.Timestamp | None = None,
) -> OriginView:
    """Split the grid at `origin`; context targets come from `target_column`, realised ones only (timestamp <=
    `known_through`, default the origin: a multi-session target is realised sessions after its row)."""
    stamps = grid["timestamp"].to_numpy()
    in_context = stamps <= np.datetime64(origin)
    in_future = ~in_context & (stamps <= np.datetime64(target_session))
    horizon = np.unique(stamps[in_future]).size
    if horizon < 1:
        raise ValueError(f"target session {target_session.date()} is not after origin {origin.date()}")
    context = grid.loc[in_context]
    limit = np.datetime64(known_through if known_through is not None else origin)
    target = np.where(context["timestamp"].to_numpy() <= limit, context[target_column].to_numpy(float), np.nan)
    return OriginView(context.assign(target=target).reset_index(drop=True),
                      grid.loc[in_future].reset_index(drop=True), horizon)


def forecast_view(
    forecaster: Forecaster,
    view: OriginView,
    covariates: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    quantile_levels: Sequence[float],
) -> pd.DataFrame:
    """Forecast the target session of `view` for each ticker of `covariates`.

    `covariates` maps ticker -> (past covariate columns, known-future covariate columns); tickers that
    share a covariate set are forecast together. Known-future columns are read from the future rows, so
    they must be columns known at the origin (the lag-1 copies).
    """
    context_tickers, future_tickers = view.context["ticker"].to_numpy(), view.future["ticker"].to_numpy()
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for ticker, (past, known) in covariates.items():
        groups.setdefault((tuple(past), tuple(known)), []).append(ticker)
    parts = []
    for (past, known), tickers in groups.items():
        columns = ["ticker", "timestamp", "target", *past, *known]
        if len(groups) == 1 and set(tickers) >= set(context_tickers):  # one covariate set for every ticker
            context, future = view.context[columns], view.future[["ticker", "timestamp", *known]] if known else None
        else:
            context = view.context.loc[np.isin(context_tickers, tickers), columns].reset_index(drop=True)
            future = (view.future.loc[np.isin(future_tickers, tickers), ["ticker", "timestamp", *known]].reset_index(drop=True)
                      if known else None)
        parts.append(forecaster.forecast(context, future, view.horizon, quantile_levels))
    return pd.concat(parts, ignore_index=True).sort_values("ticker", ignore_index=True)


def forecast_at_origin(
    forecaster: Forecaster,
    grid: pd.DataFrame,
    origin: pd.Timestamp,
    target_session: pd.Timestamp,
    covariates: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    quantile_levels: Sequence[float],
) -> pd.DataFrame:
    """Forecast the return of `target_session` for each ticker from grid rows up to `origin` only (`forecast_view`)."""
    return forecast_view(forecaster, origin_view(grid, origin, target_session), covariates, quantile_levels)
