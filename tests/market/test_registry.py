"""A forecaster added through the registry runs end to end through the real CLI and is recorded under its own name."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from neurofin.errors import InputError
from neurofin.market.evaluate.variants import COVARIATE_MODELS
from neurofin.market.forecast import registry
from neurofin.market.forecast.models import quantile_column

from .test_chain import _store_from_planted


class LastValueForecaster:
    """Toy forecaster: the ticker's last observed target, whatever the covariates (so every covariate model equals
    the univariate one by construction, which it declares)."""

    name = "last-value"
    identical = {model: "univariate" for model in COVARIATE_MODELS}

    def __init__(self) -> None:
        self.covariates_seen: list[tuple[str, ...]] = []

    def forecast(self, context, future, horizon, quantile_levels):
        self.covariates_seen.append(tuple(c for c in context.columns if c not in ("ticker", "timestamp", "target")))
        last = context.dropna(subset=["target"]).sort_values("timestamp").groupby("ticker")["target"].last()
        out = pd.DataFrame({"ticker": last.index, "mean": last.to_numpy(), "median": last.to_numpy()})
        return out.assign(**{quantile_column(q): np.nan for q in quantile_levels})


def test_a_registered_toy_forecaster_runs_through_the_cli_and_is_recorded_by_name(tmp_path, monkeypatch):
    from neurofin import cli

    monkeypatch.setattr(registry, "FORECASTERS", dict(registry.FORECASTERS))  # the registration ends with the test
    built: list[LastValueForecaster] = []
    registry.register("toy", lambda settings: built.append(LastValueForecaster()) or built[-1], LastValueForecaster)
    _store_from_planted(tmp_path / "panel.duckdb", n_sessions=90)
    config = tmp_path / "market.toml"
    config.write_text("[market]\ntrain_sessions = 60\nstep_sessions = 15\nisc_null_shifts = 30\ngranger_max_lag = 2\n"
                      "quantile_levels = [0.1, 0.5, 0.9]\ntargets = [\"raw\"]\nhorizons = [1]\nnull_draws = 200\n")
    cli._register()
    result = CliRunner().invoke(cli.app, ["market", "backtest", "--db", str(tmp_path / "panel.duckdb"), "--config",
                                          str(config), "--forecaster", "toy", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["forecaster"] == "toy" and summary["settings"]["forecaster"] == "toy"  # not recorded as Chronos-2
    assert summary["forecaster_name"] == "last-value" and summary["model"] is None
    assert summary["verdict_text"] in result.output
    forecasts = pd.read_parquet(tmp_path / "out" / "forecasts.parquet")
    uni = forecasts[forecasts["model"] == "univariate"]
    # the last return a forecast may read is the origin's previous session's (the book fills at the origin's close)
    previous = uni[["ticker", "session", "origin"]].rename(columns={"session": "origin", "origin": "previous"})
    realised = uni[["ticker", "session", "actual"]].rename(columns={"session": "previous", "actual": "last"})
    at_origin = uni.merge(previous, on=["ticker", "origin"]).merge(realised, on=["ticker", "previous"])
    known = at_origin["last"].notna()
    assert known.sum() > 20
    np.testing.assert_allclose(at_origin.loc[known, "mean"], at_origin.loc[known, "last"])  # the toy's own rule
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean")
    np.testing.assert_array_equal(wide["roi"], wide["univariate"])  # copied as declared ...
    assert built and not any(seen for f in built for seen in f.covariates_seen)  # ... never computed with covariates


def test_an_unknown_forecaster_names_the_registered_ones():
    with pytest.raises(InputError, match="choose one of linear, ridge, chronos"):
        registry.make_forecaster("prophet", None)  # type: ignore[arg-type]


def test_a_forecaster_object_outside_the_registry_is_recorded_by_its_own_name():
    assert registry.recorded_settings(LastValueForecaster()) == {"forecaster": "last-value"}
