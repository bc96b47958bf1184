"""Forecast: the forecasters (ridge, zero, Chronos-2), their registry and the non-brain control features they read.

Owns the forecaster protocol and implementations (models), the registry that names them (registry), the batched
forecasts of many origins at once (engine, its ridge algebra in batched_ridge) and the attention / embedding /
projection controls (controls).
"""

from neurofin.market.forecast.models import ChronosForecaster, Forecaster, RidgeForecaster, ZeroForecaster
from neurofin.market.forecast.registry import forecaster_names, make_forecaster, register

__all__ = ["ChronosForecaster", "Forecaster", "RidgeForecaster", "ZeroForecaster", "forecaster_names",
           "make_forecaster", "register"]
