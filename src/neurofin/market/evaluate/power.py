"""Power of the verdict on the user's own panel: which lead could this backtest detect?

For each IC of a grid and each rep, the returns are replaced by planted ones and the backtest's verdict runs
on the user's panel unchanged (same tickers, sessions, missing cells, comment counts, ROI values):

    r[t, i] = sd_i * (ic * lead[t-1, i] + sqrt(1 - ic^2) * u[t, i])

`lead` is one ROI (`roi`, default the panel's first) as the backtest reads it (ensemble value carried
forward, `session_frame`), standardised per ticker, 0 where missing; `u` is the user's own return
standardised per ticker and shifted in time by one random offset shared by every ticker (it keeps the
market factor, fat tails and volatility clustering, and breaks any real relation to the ROIs); `sd_i` is the
ticker's return sd. A missing close stays missing. `ic` is the planted correlation (the cross-sectional
Spearman IC of a normal lead is 6/pi asin(ic/2), within 5% of it). At IC 0 the detection rate is the
verdict's false-signal rate on this panel. Only the primary target at horizon 1 is backtested (the verdict's).

What a planted return cannot change is computed once: each fold's ISC screen reads only the panel's ROI values
(`fold_screens`), so every (IC, rep) reuses the user's own screen (their seed, as their backtest has it); the
lead, the standardised returns and the priced cells are read once (`lead_planter`); and each planted panel's data
is the user's with only what prices set rebuilt (`walk_forward.with_prices`). The planted panels are verdicted
together (`backtest_verdicts`, in batches of about PANEL_CELLS grid values): only what the verdict reads runs
(the primary target's selection rule, read for every panel in one pass; the forecasts of the verdict's models,
means only, each ridge model fitted once for the panels whose regressors agree, evaluate/planted.py; the primary
null and the increments'), no other target, horizon or model, no projection ranking, no portfolio table. The
detections and statistics equal the whole backtest's per planted panel (tests/market/test_power.py). Cost (50
tickers x 750 sessions, 3 subjects, 4 folds; `benchmarks/results/power_grid_together.json`,
`power_grid_together_default.json`): 4 planted panels cost 0.75 backtests of CPU, the default 20 1.75; a planted
panel costs 0.52-0.65 CPU s beyond the screens (1.35-1.60 s on main in the same runs). Power rows carry Clark-West's t p
(cw_method "t"): its bootstrap is skipped, it never decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurofin.config import MarketSettings
from neurofin.errors import InputError
from neurofin.market.evaluate.backtest import backtest_verdicts
from neurofin.market.evaluate.walk_forward import fold_screens, make_folds, prepare_data, with_prices
from neurofin.market.forecast.models import Forecaster
from neurofin.market.panel.prices import log_returns
from neurofin.market.selection.gate import roi_columns, session_frame
from neurofin.progress import Progress, report

DEFAULT_ICS = (0.0, 0.05, 0.1, 0.2)
DEFAULT_REPS = 5
DETECTION = 0.8
POWER_FILE = "power.json"
PANEL_CELLS = 64_000_000  # grid values of the planted panels verdicted together (`backtest_verdicts`)


@dataclass
class PowerResult:
    """Detections of the verdict per planted IC, and the smallest IC detected at least 80% of the time."""

    roi: str
    reps: int
    ics: list[float]
    detections: list[int]
    smallest_ic: float | None
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per (ic, rep): verdict head and p-values

    @property
    def rates(self) -> list[float]:
        return [d / self.reps for d in self.detections]

    def sentence(self) -> str:
        """The plain sentence the backtest summary and report show next to the verdict."""
        grid = ", ".join(f"{ic:g}: {rate:.0%}" for ic, rate in zip(self.ics, self.rates, strict=True))
        found = (f"this panel could detect IC >= {self.smallest_ic:g}" if self.smallest_ic is not None else
                 f"this panel detects none of the planted ICs up to {max(self.ics):g} in {DETECTION:.0%} of runs")
        return (f"Power: {found} (a lead planted in {self.roi} and the user's own returns; verdict detection rate "
                f"by IC over {self.reps} runs each: {grid}).")

    def to_record(self) -> dict[str, Any]:
        """JSON-ready record with the rates and the sentence."""
        return {**asdict(self), "rates": self.rates, "sentence": self.sentence()}


def plant_lead(
    panel: pd.DataFrame, prices: pd.DataFrame, ic: float, roi: str, settings: MarketSettings, seed: int = 0
) -> pd.DataFrame:
    """Prices (session, ticker, close, log_return) whose log returns carry a lead of correlation `ic` from `roi` (module doc)."""
    return lead_planter(panel, prices, roi, settings)(ic, seed)


def lead_planter(
    panel: pd.DataFrame, prices: pd.DataFrame, roi: str, settings: MarketSettings
) -> Callable[[float, int], pd.DataFrame]:
    """`plant_lead` of (ic, seed) on this panel, its lead, returns and priced cells read once (a power grid's)."""
    frame = session_frame(panel, prices, [roi], settings)
    returns = frame.pivot(index="session", columns="ticker", values="target")
    lead = frame.pivot(index="session", columns="ticker", values=roi)
    lead = ((lead - lead.mean()) / lead.std()).fillna(0.0).shift(1).fillna(0.0).to_numpy()
    scale = returns.std()
    standard = ((returns - returns.mean()) / scale).to_numpy()
    priced = _priced(prices, returns.index, returns.columns)

    def plant(ic: float, seed: int = 0) -> pd.DataFrame:
        if not 0 <= ic < 1:
            raise InputError(f"planted IC {ic} must be in [0, 1)")
        rng = np.random.default_rng(seed)
        offset = int(rng.integers(1, len(returns))) if len(returns) > 1 else 0
        noise = np.roll(standard, offset, axis=0)
        noise = np.where(np.isfinite(noise), noise, rng.standard_normal(noise.shape))
        planted = scale.to_numpy() * (ic * lead + np.sqrt(1 - ic**2) * noise)
        closes = 100.0 * np.exp(np.cumsum(np.nan_to_num(planted), axis=0))
        closes = pd.DataFrame(np.where(priced, closes, np.nan), index=returns.index, columns=returns.columns)
        long = closes.stack().rename("close").reset_index()
        return log_returns(long[["session", "ticker", "close"]], settings.exchange)

    return plant


def _priced(prices: pd.DataFrame, sessions: pd.Index, tickers: pd.Index) -> np.ndarray:
    """(sessions, tickers) booleans: the user's prices have a close (or a return) there."""
    column = "close" if "close" in prices.columns else "log_return"
    wide = prices.assign(session=pd.to_datetime(prices["session"])).pivot_table(
        index="session", columns="ticker", values=column, aggfunc="last")
    return wide.reindex(index=sessions, columns=tickers).notna().to_numpy()


def verdict_power(
    panel: pd.DataFrame, prices: pd.DataFrame, settings: MarketSettings, forecaster: Forecaster,
    ics: Sequence[float] = DEFAULT_ICS, reps: int = DEFAULT_REPS, roi: str | None = None,
    progress: Progress | None = None,
) -> PowerResult:
    """Run the backtest `reps` times per planted IC on the user's panel (its ISC screens computed once); count
    "signal" verdicts."""
    rois = roi_columns(panel)
    roi = roi or (rois[0] if rois else None)
    if roi is None or roi not in rois:
        raise InputError(f"no ROI {roi!r} in the panel: choose one of {', '.join(rois) or 'none (no ROI columns)'}")
    if reps < 1 or not ics:
        raise InputError("give at least one IC and one rep")
    settings = settings.model_copy(update={"targets": [settings.primary_target], "horizons": [1], "projection_draws": 0,
                                           "cw_bootstrap": False})  # neither the projections nor Clark-West decide
    data = prepare_data(panel, prices, settings)
    folds = make_folds(data, settings)
    screens = fold_screens(data, folds, settings)  # returns-free: shared by every (IC, rep)
    plant = lead_planter(panel, prices, roi, settings)
    advance = report(progress).task("power: verdicts of planted panels", total=len(ics) * reps)
    cells = [(k, rep, settings.model_copy(update={"seed": settings.seed + 1000 * k + rep}))
             for k in range(len(ics)) for rep in range(reps)]
    at_once = max(1, PANEL_CELLS // max(data.grid.size, 1))
    detections, rows = [0] * len(ics), []
    for start in range(0, len(cells), at_once):
        batch = cells[start : start + at_once]
        planted = [with_prices(data, plant(float(ics[k]), s.seed), s) for k, _, s in batch]  # only the prices rebuilt
        for (k, rep, _), (verdict, metrics) in zip(batch, backtest_verdicts(planted, folds, [s for *_, s in batch],
                                                                             forecaster, screens), strict=True):
            found = verdict.claim == "signal"
            detections[k] += found
            primary = metrics.set_index("model").loc[settings.primary_model]
            rows.append({"ic": float(ics[k]), "rep": rep, "signal": found, "ic_mean": float(primary["ic_mean"]),
                         "perm_p": float(primary["perm_p"]), "cw_p": float(primary["cw_p"])})
        advance(len(batch))
    rates = [d / reps for d in detections]
    smallest = next((float(ic) for ic, rate in sorted(zip(ics, rates, strict=True)) if ic > 0 and rate >= DETECTION), None)
    return PowerResult(roi, reps, [float(ic) for ic in ics], detections, smallest, rows)


def read_power(folder: str | Path) -> dict[str, Any] | None:
    """The power record written in `folder` by `neurofin market power`, or None."""
    import json

    path = Path(folder) / POWER_FILE
    return json.loads(path.read_text()) if path.is_file() else None
