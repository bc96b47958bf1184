"""The batched backtest engine (forecast/engine.py) against today's per-origin path: same forecasts to 1e-9."""

import numpy as np
import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.walk_forward import prepare_data
from neurofin.market.forecast import batched_ridge
from neurofin.market.forecast.batched_ridge import historical_mean, ridge_forecasts, ridge_means
from neurofin.market.forecast.engine import GridCube, OriginRequest, build_design, forecast_requests
from neurofin.market.forecast.models import LAG_SUFFIX, RidgeForecaster, forecast_view, origin_view
from neurofin.market.panel.targets import known_through
from neurofin.testing.planted_market import planted_panel

LEVELS = [0.1, 0.25, 0.5, 0.9]
TICKERS = ("AAA", "BBB", "CCC", "DDD")


class PerOrigin(RidgeForecaster):
    """Today's path: the same ridge, called once per origin through `forecast_view` (it overrides `forecast`)."""

    def forecast(self, context, future, horizon, quantile_levels):
        return super().forecast(context, future, horizon, quantile_levels)


@pytest.fixture(scope="module")
def data():
    panel, prices = planted_panel(n_sessions=90, tickers=TICKERS, signal={"AAA": "Limbic_OFC"}, strength=0.5,
                                  n_subjects=2, missing_fraction=0.1, seed=3)
    return prepare_data(panel, prices, MarketSettings(targets=["raw"], horizons=[1, 5]))


def _requests(data, column, horizon, positions):
    return [OriginRequest(data.sessions[k - 1], data.sessions[k], column, known_through(data.sessions, k - 1, horizon))
            for k in positions]


def _reference(data, requests, covariates, alpha):
    parts = [forecast_view(RidgeForecaster(alpha), origin_view(data.grid, r.origin, r.session, r.column,
                                                                 r.known_through), covariates, LEVELS)
             .assign(session=r.session) for r in requests]
    return pd.concat(parts, ignore_index=True).sort_values(["session", "ticker"], ignore_index=True)


def _covariate_sets(data):
    rois, sentiment = data.rois, data.sentiment
    return {
        "none": {t: ([], []) for t in TICKERS},
        "mixed": {"AAA": ([rois[0]], []), "BBB": ([], [rois[1] + LAG_SUFFIX]),  # past, known-future,
                  "CCC": ([], []), "DDD": ([*sentiment, rois[0]], [rois[2] + LAG_SUFFIX])},  # none, both
        "control": {t: (list(data.attention), []) for t in TICKERS},
    }


@pytest.mark.parametrize("horizon", [1, 5])
@pytest.mark.parametrize("name", ["none", "mixed", "control"])
def test_batched_ridge_equals_the_per_origin_forecasts(data, name, horizon):
    column = next(s.column for s in data.specs if s.horizon == horizon)
    # origins from the very first sessions (too few rows: historical-mean fallback) to the end, in shuffled order
    positions = np.random.default_rng(0).permutation(np.arange(2, len(data.sessions)))
    requests = _requests(data, column, horizon, positions)
    covariates = _covariate_sets(data)[name]
    got = forecast_requests({name: (RidgeForecaster(alpha=2.0), covariates)}, data.grid, requests, LEVELS)
    want = _reference(data, requests, covariates, alpha=2.0)
    assert list(got["ticker"]) == list(want["ticker"]) and list(got["session"]) == list(want["session"])
    values = ["mean", "median", *[f"q{q:g}" for q in LEVELS]]
    np.testing.assert_allclose(got[values].to_numpy(float), want[values].to_numpy(float), rtol=0, atol=1e-9)
    assert got["mean"].std() > 0 and np.isfinite(got[values].to_numpy(float)).all()


def test_the_whole_backtest_is_unchanged(data):
    panel, prices = planted_panel(n_sessions=110, tickers=TICKERS, signal={"AAA": "Limbic_OFC"}, strength=0.5,
                                  n_subjects=2, embedding_dims=4, seed=5)
    settings = MarketSettings(train_sessions=70, step_sessions=20, embargo_sessions=1, isc_null_shifts=20,
                              granger_max_lag=2, quantile_levels=[0.1, 0.5, 0.9], targets=["raw", "absolute"],
                              horizons=[1, 5], null_draws=200)
    batched = run_backtest(panel, prices, settings, RidgeForecaster(name="linear")).forecasts
    reference = run_backtest(panel, prices, settings, PerOrigin(name="linear")).forecasts
    assert list(batched.columns) == list(reference.columns)
    pd.testing.assert_frame_equal(batched.drop(columns=["mean", "median", "q0.1", "q0.5", "q0.9"]),
                                  reference.drop(columns=["mean", "median", "q0.1", "q0.5", "q0.9"]))
    for column in ["mean", "median", "q0.1", "q0.5", "q0.9"]:
        np.testing.assert_allclose(batched[column].to_numpy(float), reference[column].to_numpy(float), atol=1e-9)
    assert batched["model"].nunique() == 11 and batched["target"].nunique() == 2


def test_a_forecast_reads_nothing_after_its_origin(data):
    """Garbage written into every row after the origin (targets and covariates) changes no forecast."""
    column = data.specs[0].column
    requests = _requests(data, column, 1, [60])
    covariates = _covariate_sets(data)["mixed"]
    clean = forecast_requests({"mixed": (RidgeForecaster(), covariates)}, data.grid, requests, LEVELS)
    later = data.grid["timestamp"] > requests[0].origin
    numeric = data.grid.columns.drop(["ticker", "timestamp", "is_session"])
    noisy = data.grid.copy()
    noisy.loc[later, numeric] = 1e3 * np.random.default_rng(1).standard_normal((int(later.sum()), len(numeric)))
    # the known-future columns at the target session are known at the origin: keep them
    target_row = noisy["timestamp"] == requests[0].session
    keep = [c for c in numeric if c.endswith(LAG_SUFFIX)]
    noisy.loc[target_row, keep] = data.grid.loc[target_row, keep]
    pd.testing.assert_frame_equal(forecast_requests({"mixed": (RidgeForecaster(), covariates)}, noisy, requests, LEVELS),
                                  clean)


def test_ridge_means_of_many_targets_equal_one_fit_each(data):
    """Power grids: K planted targets of one design in one pass equal K separate fits (means)."""
    column = data.specs[0].column
    cube = GridCube.from_grid(data.grid, [column, *data.rois])
    design = build_design(cube, [([data.rois[0], data.rois[1]], [])] * len(cube.tickers))
    requests = _requests(data, column, 1, range(30, len(data.sessions)))
    days = [cube.day([getattr(r, a) for r in requests]) for a in ("origin", "session", "known_through")]
    base, planted = cube.values[..., 0], np.nan_to_num(cube.values[..., 1])
    targets = np.stack([base + strength * np.roll(planted, 1, axis=1) for strength in (0.0, 0.3, 1.0)], axis=-1)
    together = ridge_means(design, targets, *days, alpha=1.0)
    for k in range(targets.shape[-1]):
        alone = ridge_forecasts(design, targets[..., k], *days, alpha=1.0, levels=[0.5]).mean
        np.testing.assert_allclose(together[..., k], alone, rtol=0, atol=1e-12)
    assert not np.allclose(together[..., 0], together[..., 2])


def test_historical_mean_bands_are_the_quantiles_of_every_growing_window():
    """One sort per ticker serves every origin: each window's quantiles equal numpy's on that window alone
    (ties, missing days, origins in any order, a window with one entry and one with none)."""
    rng = np.random.default_rng(4)
    target = np.round(rng.standard_normal((3, 60)), 1)  # many ties
    target[rng.random(target.shape) < 0.2] = np.nan
    target[2, :12] = np.nan
    known_day = rng.permutation(np.arange(5, 59))
    levels = np.array([0.1, 0.25, 0.5, 0.9])
    got = historical_mean(target, known_day, levels)
    for t in range(3):
        for o, day in enumerate(known_day):
            window = target[t, : day + 1][np.isfinite(target[t, : day + 1])]
            n = window.size
            if n == 0:
                assert got.mean[t, o] == 0 and np.all(got.band[t, o] == 0)
                continue
            inflate = n / (n - 1) if n >= 2 else 0.0
            want = window.mean() + (np.quantile(window, levels) - window.mean()) * inflate
            np.testing.assert_allclose(got.band[t, o], want, rtol=0, atol=1e-12)
            np.testing.assert_allclose(got.median[t, o], window.mean() + (np.median(window) - window.mean()) * inflate,
                                       rtol=0, atol=1e-12)
    assert np.any(np.isnan(target[2, :12])) and got.band.std() > 0


def test_ticker_chunks_on_the_thread_pool_give_the_same_bits_as_one_batch(data, monkeypatch):
    """Chunking tickers (run on the thread pool) changes no bit of any forecast."""
    column = data.specs[0].column
    cube = GridCube.from_grid(data.grid, [column, *data.rois, data.rois[1] + LAG_SUFFIX, *data.sentiment])
    design = build_design(cube, [([*data.sentiment, data.rois[0]], [data.rois[1] + LAG_SUFFIX])] * len(cube.tickers))
    requests = _requests(data, column, 1, range(20, len(data.sessions)))
    days = [cube.day([getattr(r, a) for r in requests]) for a in ("origin", "session", "known_through")]
    whole = ridge_forecasts(design, cube.values[..., 0], *days, alpha=1.0, levels=LEVELS)
    monkeypatch.setattr(batched_ridge, "CHUNK_ELEMENTS", 1)  # one ticker per chunk, all on the pool
    monkeypatch.setattr(batched_ridge, "WORKERS", 2)
    chunked = ridge_forecasts(design, cube.values[..., 0], *days, alpha=1.0, levels=LEVELS)
    for name in ("mean", "median", "band"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))


def test_means_without_bands_are_the_same_bits(data):
    """`bands=False` (a power grid's verdict reads means only): the same means, no band where a ridge was fitted."""
    column = data.specs[0].column
    cube = GridCube.from_grid(data.grid, [column, *data.rois, *data.sentiment])
    design = build_design(cube, [([*data.sentiment, data.rois[0]], [])] * len(cube.tickers))
    requests = _requests(data, column, 1, range(20, len(data.sessions)))
    days = [cube.day([getattr(r, a) for r in requests]) for a in ("origin", "session", "known_through")]
    whole = ridge_forecasts(design, cube.values[..., 0], *days, alpha=1.0, levels=LEVELS)
    means = ridge_forecasts(design, cube.values[..., 0], *days, alpha=1.0, levels=LEVELS, bands=False)
    np.testing.assert_array_equal(means.mean, whole.mean)
    fitted = np.isnan(means.median)
    assert fitted.mean() > 0.5 and np.all(np.isnan(means.band[fitted]))
    np.testing.assert_array_equal(means.median[~fitted], whole.median[~fitted])  # fallback rows keep their bands


@pytest.mark.parametrize("name", ["none", "mixed", "control"])
def test_shared_means_equal_each_target_columns_own_forecasts(data, name):
    """Issue 22: `shared_means` fits several target columns at once (a power grid's planted panels); each column's
    table equals `forecast_requests` on that column alone, means to 1e-9, for columns with the same missing cells
    (one design pass) and with others, and for tickers of different widths."""
    from neurofin.market.forecast.engine import shared_means
    from neurofin.market.forecast.models import ZeroForecaster

    column = next(s.column for s in data.specs if s.horizon == 1)
    rng = np.random.default_rng(1)
    values = data.grid[column].to_numpy(float)
    other = values + 0.01 * rng.standard_normal(values.size)
    holed = np.where(rng.random(values.size) < 0.05, np.nan, values[::-1].copy())  # other missing cells
    grid = data.grid.assign(**{"y@0": values, "y@1": other, "y@2": holed})
    requests = _requests(data, column, 1, np.arange(20, len(data.sessions)))
    covariates = _covariate_sets(data)[name]
    models = {name: (RidgeForecaster(alpha=2.0), covariates), "zero": (ZeroForecaster(), covariates)}
    tables = shared_means(models, GridCube.from_grid(grid), requests, ["y@0", "y@1", "y@2"], LEVELS)
    for k, table in enumerate(tables):
        alone = forecast_requests(models, grid.assign(**{column: grid[f"y@{k}"]}), requests, LEVELS)
        assert table[["ticker", "model", "session", "origin"]].equals(alone[["ticker", "model", "session", "origin"]])
        np.testing.assert_allclose(table["mean"], alone["mean"], rtol=0, atol=1e-9)
        assert table["median"].isna().all()
    assert not np.allclose(tables[0]["mean"], tables[1]["mean"])
