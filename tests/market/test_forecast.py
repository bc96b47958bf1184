"""Forecasters: business-day grid, ridge against scikit-learn, and Chronos-2 with a tiny random model built offline."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from neurofin.config import MarketSettings
from neurofin.errors import InputError, ModelLoadError
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.variants import MODELS
from neurofin.market.forecast.models import (
    ChronosForecaster,
    RidgeForecaster,
    business_day_frame,
    forecast_at_origin,
    load_chronos,
)
from neurofin.testing.chronos import save_random_chronos2
from neurofin.testing.planted_market import planted_panel

LEVELS = [0.1, 0.5, 0.9]


def _frame(n=40, tickers=("A", "B"), holiday=None, seed=0):
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2021-03-01", periods=n)
    if holiday is not None:
        sessions = sessions.delete(holiday)
    return pd.concat([pd.DataFrame({"ticker": t, "session": sessions, "target": rng.standard_normal(sessions.size),
                                    "roi": rng.standard_normal(sessions.size)}) for t in tickers], ignore_index=True)


def test_business_day_grid_keeps_holidays_as_missing_targets_with_known_lagged_covariates():
    frame = _frame(n=10, tickers=("A",), holiday=4)
    grid = business_day_frame(frame, ["roi"])
    assert len(grid) == 10 and grid["timestamp"].diff().dropna().dt.days.isin([1, 3]).all()
    holiday = grid.iloc[4]
    assert not holiday["is_session"] and np.isnan(holiday["target"])
    assert holiday["roi"] == grid.iloc[3]["roi"]  # carried forward, not invented
    np.testing.assert_array_equal(grid["roi__lag1"].to_numpy()[1:], grid["roi"].to_numpy()[:-1])
    # across the holiday the next session is two business days ahead of its origin
    sessions = pd.DatetimeIndex(frame["session"])
    out = forecast_at_origin(RidgeForecaster(), grid, sessions[3], sessions[4], {"A": ([], [])}, LEVELS)
    assert out["ticker"].tolist() == ["A"]
    weekend = frame.assign(session=frame["session"] + pd.Timedelta(days=1))
    with pytest.raises(InputError, match="weekend"):
        business_day_frame(weekend, ["roi"])


def test_ridge_forecaster_matches_sklearn_on_standardised_lagged_covariates():
    frame = _frame(n=80, tickers=("A",), seed=1)
    grid = business_day_frame(frame, ["roi"])
    context = grid[["ticker", "timestamp", "target", "roi"]]
    out = RidgeForecaster(alpha=3.0).forecast(context, None, 1, LEVELS)
    x, y = context["roi"].to_numpy()[:-1], context["target"].to_numpy()[1:]  # roi of day t-1 -> return of day t
    centre, scale = x.mean(), x.std()
    model = Ridge(alpha=3.0).fit(((x - centre) / scale)[:, None], y)
    expected = model.predict(np.array([[(context["roi"].to_numpy()[-1] - centre) / scale]]))[0]
    assert out["mean"].item() == pytest.approx(expected, rel=1e-9)
    z = ((x - centre) / scale)[:, None]  # bands from leave-one-out residuals: refit without each row
    loo = np.array([y[i] - Ridge(alpha=3.0).fit(np.delete(z, i, 0), np.delete(y, i)).predict(z[[i]])[0]
                    for i in range(y.size)])
    np.testing.assert_allclose(out[["q0.1", "q0.5", "q0.9"]].to_numpy()[0], expected + np.quantile(loo, LEVELS))
    assert out["median"].item() == pytest.approx(expected + np.median(loo))
    in_sample = y - model.predict(z)
    assert np.ptp(np.quantile(loo, [0.1, 0.9])) > np.ptp(np.quantile(in_sample, [0.1, 0.9]))  # wider: honest
    # no covariates: the historical mean of the context
    plain = RidgeForecaster().forecast(context[["ticker", "timestamp", "target"]], None, 1, LEVELS)
    assert plain["mean"].item() == pytest.approx(np.nanmean(context["target"]))


@pytest.fixture(scope="module")
def tiny_chronos(tmp_path_factory):
    """A randomly initialised Chronos-2 with ~25k parameters, saved like a downloaded checkpoint."""
    return save_random_chronos2(tmp_path_factory.mktemp("chronos") / "tiny-chronos2")


def test_chronos_forecasts_with_past_and_known_future_covariates(tiny_chronos, tmp_path):
    from chronos import Chronos2Pipeline

    with pytest.raises(ModelLoadError, match="config.json"):
        load_chronos(tmp_path, device="cpu")
    forecaster = ChronosForecaster(tiny_chronos, device="cpu")
    assert isinstance(forecaster.pipeline, Chronos2Pipeline)
    calls = []
    original = forecaster.pipeline.predict_df

    def spy(df, future_df=None, **kwargs):
        calls.append((list(df.columns), None if future_df is None else future_df.copy(), kwargs))
        return original(df, future_df=future_df, **kwargs)

    forecaster.pipeline.predict_df = spy
    frame = _frame(n=60, tickers=("A", "B", "C"), holiday=50, seed=2)
    grid = business_day_frame(frame, ["roi"])

    sessions = pd.DatetimeIndex(frame["session"].unique())
    origin, target = sessions[49], sessions[50]  # across the holiday: horizon 2
    covariates = {"A": (["roi"], []), "B": ([], ["roi__lag1"]), "C": ([], [])}
    out = forecast_at_origin(forecaster, grid, origin, target, covariates, LEVELS)

    assert out["ticker"].tolist() == ["A", "B", "C"]
    assert list(out.columns) == ["ticker", "mean", "median", "q0.1", "q0.5", "q0.9"]
    assert np.isfinite(out[["mean", "median", "q0.1", "q0.5", "q0.9"]].to_numpy()).all()
    np.testing.assert_allclose(out["median"], out["q0.5"])  # Chronos-2's point forecast is its median ...
    levels = forecaster.pipeline.quantiles  # ... and the mean integrates its quantile function
    context_c = grid[(grid["ticker"] == "C") & (grid["timestamp"] <= origin)][["ticker", "timestamp", "target"]]
    raw = original(context_c.reset_index(drop=True), prediction_length=2, quantile_levels=levels, freq="B",
                   id_column="ticker", timestamp_column="timestamp", target="target")
    last = raw.sort_values("timestamp").groupby("ticker").tail(1).set_index("ticker").loc["C"]
    q = np.array([last[str(level)] for level in levels])
    expected_mean = sum((q[k] + q[k + 1]) / 2 * (levels[k + 1] - levels[k])
                        for k in range(len(levels) - 1)) / (levels[-1] - levels[0])
    assert out.set_index("ticker").loc["C", "mean"] == pytest.approx(expected_mean, rel=1e-5)
    by_columns = {tuple(c): (f, k) for c, f, k in calls}
    assert set(by_columns) == {("ticker", "timestamp", "target", "roi"), ("ticker", "timestamp", "target", "roi__lag1"),
                               ("ticker", "timestamp", "target")}
    past_future, past_kwargs = by_columns[("ticker", "timestamp", "target", "roi")]
    assert past_future is None and past_kwargs["freq"] == "B" and past_kwargs["prediction_length"] == 2
    known_future, _ = by_columns[("ticker", "timestamp", "target", "roi__lag1")]
    assert list(known_future.columns) == ["ticker", "timestamp", "roi__lag1"]
    assert known_future["timestamp"].max() == target and len(known_future) == 2
    expected_lag = grid.set_index(["ticker", "timestamp"]).loc[("B", target), "roi__lag1"]
    assert known_future["roi__lag1"].iloc[-1] == expected_lag

    # the covariates reach the model: new values change the forecast of A (past) and B (known future);
    # (an affine change would not: Chronos-2 normalises every series)
    noise = np.random.default_rng(9).standard_normal((len(grid), 2))
    shifted = grid.assign(roi=noise[:, 0], roi__lag1=noise[:, 1])
    moved = forecast_at_origin(forecaster, shifted, origin, target, covariates, LEVELS)
    changed = ~np.isclose(moved["mean"], out["mean"], rtol=1e-6, atol=0)
    assert changed.tolist() == [True, True, False]


def test_chronos_runs_in_the_walk_forward_backtest(tiny_chronos):
    panel, prices = planted_panel(n_sessions=64, tickers=("AAA", "BBB"), signal={"AAA": "Limbic_OFC"},
                                  strength=0.7, n_subjects=2, seed=4)
    settings = MarketSettings(train_sessions=55, step_sessions=6, embargo_sessions=1, isc_null_shifts=20,
                              targets=["raw"], horizons=[1], selection_rule="granger",  # 2 tickers, lead in one
                              granger_max_lag=1, granger_lag_criterion="fixed", quantile_levels=LEVELS)
    result = run_backtest(panel, prices, settings, ChronosForecaster(tiny_chronos, device="cpu"))
    forecasts = result.forecasts
    assert set(forecasts["model"]) == {m for m in MODELS if not m.startswith("embedding")}  # no emb_ columns
    assert forecasts.groupby("model").size().nunique() == 1
    chronos_rows = forecasts[forecasts["model"].isin(["univariate", "roi", "roi_known_future"])]
    assert np.isfinite(chronos_rows[["mean", "q0.1", "q0.9"]].to_numpy()).all()
    assert any("Limbic_OFC" in s.selected["AAA"] for s in result.selections)
    raw = forecasts[(forecasts["target"] == "raw") & (forecasts["horizon"] == 1)]
    aaa = raw[raw["ticker"] == "AAA"].pivot(index="session", columns="model", values="mean")
    assert not np.allclose(aaa["roi"], aaa["univariate"])  # the selected ROI changes the Chronos-2 forecast
