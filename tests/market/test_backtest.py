"""Walk-forward backtest: embargoed folds, no look-ahead, filters fitted inside training windows, metrics wiring."""

import numpy as np
import pandas as pd
import pytest

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate.backtest import run_backtest
from neurofin.market.evaluate.variants import MODELS
from neurofin.market.evaluate.walk_forward import walk_forward_folds
from neurofin.market.forecast.models import RidgeForecaster, business_day_frame, forecast_at_origin
from neurofin.market.selection.gate import select_features, session_frame
from neurofin.testing.market import evaluate
from neurofin.testing.planted_market import planted_panel

SESSIONS = list(pd.bdate_range("2021-01-04", periods=60))


@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_folds_leave_an_embargo_and_test_blocks_follow_in_order(window):
    folds = walk_forward_folds(SESSIONS, train_sessions=20, step=7, embargo=2, window=window)
    index = {s: i for i, s in enumerate(SESSIONS)}
    covered = []
    for fold in folds:
        end, first = index[fold.train_end], index[fold.test_sessions[0]]
        assert first == end + 3  # two embargo sessions between training end and the first test session
        assert index[fold.train_start] == (0 if window == "expanding" else end - 19)
        assert all(index[s] > end for s in fold.test_sessions)
        covered += [index[s] for s in fold.test_sessions]
    assert covered == list(range(22, 60))  # contiguous, no session tested twice, all tested up to the end
    assert index[folds[0].train_end] == 19


def test_fold_arguments_are_checked():
    with pytest.raises(InputError):
        walk_forward_folds(SESSIONS, train_sessions=20, step=0, embargo=1)
    with pytest.raises(ValueError, match="window"):
        walk_forward_folds(SESSIONS, 20, 5, 1, window="sliding")


class SpyForecaster(RidgeForecaster):
    """Ridge forecaster that records what each call could see (every model variant computed)."""

    identical: dict[str, str] = {}

    def __init__(self):
        super().__init__(name="spy")
        self.calls = []

    def forecast(self, context, future, horizon, quantile_levels):
        self.calls.append((context["timestamp"].max(), None if future is None else future["timestamp"].max(),
                           horizon, None if future is None else list(future.columns)))
        return super().forecast(context, future, horizon, quantile_levels)


def _small_settings(**extra):
    base = dict(train_sessions=60, step_sessions=15, embargo_sessions=2, isc_null_shifts=30, granger_max_lag=2,
                quantile_levels=[0.1, 0.5, 0.9], targets=["raw"], horizons=[1])  # other targets: test_targets.py
    return MarketSettings(**{**base, **extra})


def test_every_forecast_sees_only_rows_up_to_its_origin():
    panel, prices = planted_panel(n_sessions=100, tickers=("AAA", "BBB", "CCC"), signal={"AAA": "Limbic_OFC"},
                                  strength=0.6, n_subjects=2, seed=1)
    spy = SpyForecaster()
    result = run_backtest(panel, prices, _small_settings(), spy)
    origins = result.forecasts.drop_duplicates("session").sort_values("session")
    sessions = sorted(pd.to_datetime(prices["session"]).unique())
    previous = dict(zip(sessions[1:], sessions[:-1]))
    assert (origins["origin"] == origins["session"].map(previous)).all()
    origin_of = dict(zip(origins["session"], origins["origin"]))
    per_target = len(set(result.forecasts["model"]) - {"zero", "hist_mean"})  # those do not use the chosen forecaster
    assert len(spy.calls) >= per_target * len(origins)
    seen = set()
    for context_end, future_end, horizon, future_columns in spy.calls:
        target = pd.bdate_range(context_end, periods=horizon + 1)[-1]  # the step the call forecasts
        assert origin_of[target] == context_end  # the context ends exactly at the previous session
        seen.add(target)
        if future_end is not None:  # known-future covariates end at the target and are lag-1 copies only
            assert future_end == target
            assert all(c in ("ticker", "timestamp") or c.endswith("__lag1") for c in future_columns)
    assert seen == set(origin_of)


def test_forecasts_use_exactly_the_information_of_the_origin_session():
    rng = np.random.default_rng(0)
    sessions = pd.bdate_range("2021-01-04", periods=160)
    parts = []
    for ticker in "ABCDE":
        target = rng.standard_normal(161)
        parts.append(pd.DataFrame({"ticker": ticker, "session": sessions, "target": target[:-1],
                                   "same_day": target[:-1] + 0.1 * rng.standard_normal(160),  # known after the close
                                   "lead": target[1:] + 0.5 * rng.standard_normal(160)}))  # tells tomorrow's return
    frame = pd.concat(parts, ignore_index=True)
    grid = business_day_frame(frame, ["same_day", "lead"])
    actual = frame.pivot(index="session", columns="ticker", values="target")
    ridge = RidgeForecaster(alpha=1e-3)
    for feature, low, high in (("same_day", -0.15, 0.15), ("lead", 0.7, 1.0)):
        for covariates in ({t: ([feature], []) for t in "ABCDE"}, {t: ([], [feature + "__lag1"]) for t in "ABCDE"}):
            preds, truth = [], []
            for origin, target in zip(sessions[100:-1], sessions[101:]):
                preds.append(forecast_at_origin(ridge, grid, origin, target, covariates, [0.5])["mean"].to_numpy())
                truth.append(actual.loc[target, list("ABCDE")].to_numpy())
            corr = np.corrcoef(np.concatenate(preds), np.concatenate(truth))[0, 1]
            assert low < corr < high, (feature, covariates["A"], corr)


def test_filters_only_read_the_training_window():
    panel, prices = planted_panel(n_sessions=120, tickers=("AAA", "BBB"), signal={"AAA": "Limbic_OFC"},
                                  strength=0.6, n_subjects=3, seed=2)
    settings = _small_settings(selection_rule="granger", granger_lag_criterion="bic", granger_max_lag=3)
    rois = ["Default_Temp", "Limbic_OFC", "Cont_PFCl", "SalVentAttn_FrOper"]
    sessions = sorted(pd.to_datetime(prices["session"]).unique())
    start, end = sessions[0], sessions[69]
    before = select_features(panel, session_frame(panel, prices, rois), start, end, settings)

    # rewrite everything after the training window: a huge planted signal for BBB and scrambled ROIs
    rng = np.random.default_rng(9)
    late_panel = pd.to_datetime(panel["session"]) > end
    panel2 = panel.copy()
    panel2.loc[late_panel, rois] = rng.standard_normal((late_panel.sum(), len(rois))) * 50
    prices2 = prices.copy()
    late_prices = pd.to_datetime(prices2["session"]) > end
    prices2.loc[late_prices, "log_return"] = rng.standard_normal(late_prices.sum())
    after = select_features(panel2, session_frame(panel2, prices2, rois), start, end, settings)

    pd.testing.assert_frame_equal(before.isc, after.isc)
    pd.testing.assert_frame_equal(before.rule_table, after.rule_table)  # includes the BIC-chosen lags
    assert before.selected == after.selected
    assert before.selected["AAA"] == ["Limbic_OFC"]
    # and the window does matter: a window ending later sees the changed data
    moved = select_features(panel2, session_frame(panel2, prices2, rois), start, sessions[-1], settings)
    assert not moved.rule_table["p_value"].equals(before.rule_table["p_value"])


def test_evaluate_wires_metrics_to_the_right_columns():
    rng = np.random.default_rng(6)
    sessions = np.repeat(pd.bdate_range("2022-01-03", periods=30), 5)
    actual = rng.standard_normal(150)
    rows = []
    for model in MODELS:
        noise = rng.standard_normal(150)
        mean = 0.0 * actual if model == "zero" else (actual + 0.2 * noise if model == "roi" else noise)
        rows.append(pd.DataFrame({"session": sessions, "ticker": np.tile(list("ABCDE"), 30), "model": model,
                                  "mean": mean, "q0.5": mean, "actual": actual}))
    table = evaluate(pd.concat(rows, ignore_index=True), [0.5], null_draws=200).set_index("model")
    roi = rows[MODELS.index("roi")]
    assert table.loc["roi", "ic_pooled"] > 0.9
    assert table.loc["roi", "r2_vs_zero"] == pytest.approx(1 - np.sum((actual - roi["mean"]) ** 2) / np.sum(actual**2))
    assert table.loc["roi", "hit_rate"] == pytest.approx(np.mean(np.sign(roi["mean"]) == np.sign(actual)))
    assert table.loc["roi", "pinball"] == pytest.approx(np.mean(np.abs(actual - roi["mean"])) / 2)
    assert table.loc["roi", "cw_t"] > 3 and np.isnan(table.loc["univariate", "cw_t"])
    assert np.isnan(table.loc["zero", "ic_pooled"])
