"""The forecaster registry: name -> how to build one from the settings, and what to record about one that ran.

`market.forecaster` (settings), `--forecaster` (CLI), the chain and summary.json all name forecasters through
it. Adding a forecaster is one module with a class that follows `Forecaster` (a `name`, its `identical` model
variants and `forecast`) and one `register` call: `register("mine", lambda s: Mine(s.ridge_alpha), Mine)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.forecast.models import ChronosForecaster, Forecaster, RidgeForecaster


def _nothing(_: Any) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Registration:
    """One registered forecaster: its `build` from the settings, its class (to name an object passed in directly),
    the settings fields to `record` for one that ran, and other names it answers to."""

    name: str
    build: Callable[[MarketSettings], Forecaster]
    kind: type
    record: Callable[[Any], dict[str, str]] = _nothing
    aliases: tuple[str, ...] = field(default_factory=tuple)


FORECASTERS: dict[str, Registration] = {}


def register(
    name: str, build: Callable[[MarketSettings], Forecaster], kind: type,
    record: Callable[[Any], dict[str, str]] = _nothing, aliases: tuple[str, ...] = (),
) -> None:
    """Make `name` (and its `aliases`) a forecaster that settings, the CLI and the chain can name."""
    FORECASTERS[name] = Registration(name, build, kind, record, aliases)


def forecaster_names() -> list[str]:
    """Every name a forecaster can be chosen by (aliases included)."""
    return [n for r in FORECASTERS.values() for n in (r.name, *r.aliases)]


def registration(name: str) -> Registration:
    """The registration that answers to `name` (an InputError listing the names otherwise)."""
    for entry in FORECASTERS.values():
        if name == entry.name or name in entry.aliases:
            return entry
    raise InputError(f"unknown forecaster {name!r}: choose one of {', '.join(forecaster_names())}")


def make_forecaster(name: str, settings: MarketSettings) -> Forecaster:
    """The forecaster registered as `name`, built from `settings`."""
    return registration(name).build(settings)


def recorded_settings(forecaster: Forecaster) -> dict[str, str]:
    """Settings fields naming the forecaster that ran: its registered name (else its own `name`) and what its
    registration records (e.g. the Chronos-2 model)."""
    entry = next((r for r in FORECASTERS.values() if type(forecaster) is r.kind), None)
    if entry is None:
        return {"forecaster": forecaster.name}
    return {"forecaster": entry.name, **entry.record(forecaster)}


register("linear", lambda s: RidgeForecaster(s.ridge_alpha, name="linear"), RidgeForecaster, aliases=("ridge",))
register("chronos", lambda s: ChronosForecaster(s.chronos_model, s.chronos_device), ChronosForecaster,
         record=lambda f: {"chronos_model": str(f.model)})
