"""Forecast: the forecasters (ridge, zero, Chronos-2) and the non-brain control features they can read.

Owns the forecaster protocol and implementations (models) and the attention / embedding controls (controls).
"""

from neurofin.market.forecast.models import ChronosForecaster, Forecaster, RidgeForecaster, ZeroForecaster

__all__ = ["ChronosForecaster", "Forecaster", "RidgeForecaster", "ZeroForecaster"]
