"""Selection gates at equal size: the per-ticker Granger + BH gate against pooled alternatives (issue 21.3).

    python benchmarks/bench_selection_gate.py --panels 40 --null-panels 300 --out benchmarks/results/selection_gate.json

Each planted panel (market/planted.py: 10 tickers x 500 sessions, GARCH returns, 3 subjects) is split once:
the first 250 sessions train, one embargo session, the rest are out of sample. Planted panels lead every
ticker's return by the ensemble Limbic_OFC value with correlation `--strength` (0.09 by default, about the
issue's realistic IC); null panels plant nothing. Every rule ends in the same test: the mean per-session
cross-sectional Spearman IC of its out-of-sample forecasts, one-sided 5% HAR test (`metrics.hac_mean_test`: EWC variance, t(dof) critical value). Rules:

- gate: the per-ticker rule (`select_features` with `selection_rule="granger"`: ISC screen, then per-ticker robust Granger with BH over
  ROI x ticker) on the training window; per selected ticker, OLS of the return on the selected ROIs of the
  previous session (training rows); tickers with nothing selected are not forecast;
- pooled_selection: the product's pooled rule (`selection.gate.pooled_ic_table`: the ROI whose training-window
  per-session IC, previous-session ROI vs return pooled across tickers, has the largest |HAC t|); forecast = its
  sign x that ROI for every ticker;
- predeclared: one ROI named before the run (Limbic_OFC), its sign from the training-window IC.

Size = detection rate on `--null-panels` null panels (with the binomial 95% band of an exact 5% test at that
count), power = on `--panels` planted panels (Clopper-Pearson 95% intervals alongside every rate).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from neurofin.config import MarketSettings
from neurofin.io import write_json_atomic
from neurofin.market.evaluate import metrics as m
from neurofin.market.selection.gate import pooled_ic_table, roi_columns, select_features, session_frame
from neurofin.testing.planted_market import planted_panel

TICKERS = tuple(f"T{k:02d}" for k in range(10))
PLANTED = "Limbic_OFC"
TRAIN, SESSIONS = 250, 500
RULES = ("gate", "pooled_selection", "predeclared")
SETTINGS = MarketSettings(isc_null_shifts=50, granger_max_lag=2, selection_rule="granger")  # the "gate" arm


def session_ic(frame: pd.DataFrame, forecast: np.ndarray) -> pd.Series:
    """Per-session cross-sectional Spearman IC of `forecast` against the return."""
    return m.ic_by_date(pd.DataFrame({"session": frame["session"].to_numpy(), "mean": forecast,
                                      "actual": frame["target"].to_numpy(float)}))


def detected(frame: pd.DataFrame, forecast: np.ndarray) -> bool:
    """One-sided 5% HAR test of a positive mean per-session IC (`hac_mean_test`'s two-sided t(dof) p halved)."""
    test = m.hac_mean_test(session_ic(frame, forecast).to_numpy())
    return bool(np.isfinite(test.t_stat) and test.t_stat > 0 and test.p_value / 2 < 0.05)


def gate_forecast(panel, frame, train, test, start, end) -> tuple[np.ndarray, bool]:
    """Per-ticker OLS on the gate's selected ROIs; NaN where nothing is selected (and whether anything was)."""
    selected = select_features(panel, frame, start, end, SETTINGS).selected
    forecast = np.full(len(test), np.nan)
    for ticker, rois in selected.items():
        if not rois:
            continue
        lagged = [f"{roi}__prev" for roi in rois]
        rows = train[(train["ticker"] == ticker)].dropna(subset=[*lagged, "target"])
        if len(rows) <= len(rois) + 2:
            continue
        design = np.column_stack([np.ones(len(rows)), rows[lagged].to_numpy(float)])
        coef = np.linalg.lstsq(design, rows["target"].to_numpy(float), rcond=None)[0]
        mask = (test["ticker"] == ticker).to_numpy()
        forecast[mask] = coef[0] + test.loc[mask, lagged].to_numpy(float) @ coef[1:]
    return forecast, any(selected.values())


def signed(pooled: pd.DataFrame, test: pd.DataFrame, roi: str) -> np.ndarray:
    """The ROI of the previous session signed by its training-window pooled IC's HAC t (`pooled_ic_table`)."""
    return np.sign(pooled.loc[roi, "t_stat"]) * test[f"{roi}__prev"].to_numpy(float)


def one_panel(seed: int, strength: float) -> dict[str, bool]:
    """Detections of each rule on one panel (and whether the gate selected anything)."""
    signal = {t: PLANTED for t in TICKERS} if strength > 0 else {}
    panel, prices = planted_panel(n_sessions=SESSIONS, tickers=TICKERS, signal=signal, strength=strength,
                                  n_subjects=3, volatility_clustering=True, seed=seed)
    rois = roi_columns(panel)
    frame = session_frame(panel, prices, rois, SETTINGS)
    frame = frame.assign(**{f"{roi}__prev": frame.groupby("ticker")[roi].shift(1) for roi in rois})
    sessions = sorted(frame["session"].unique())
    start, end = sessions[0], sessions[TRAIN - 1]
    train, test = frame[frame["session"] <= end], frame[frame["session"] > sessions[TRAIN]].reset_index(drop=True)
    gate, any_selected = gate_forecast(panel, frame, train, test, start, end)
    pooled = pooled_ic_table(train, [(roi, ticker) for roi in rois for ticker in TICKERS]).drop_duplicates("feature")
    pooled = pooled.set_index("feature")
    chosen = pooled.index[pooled["selected"]]
    return {"gate": detected(test, gate), "gate_selected_any": any_selected,
            "pooled_selection": bool(len(chosen)) and detected(test, signed(pooled, test, chosen[0])),
            "predeclared": detected(test, signed(pooled, test, PLANTED))}


def rate(hits: list[bool]) -> dict[str, float]:
    """Detection rate with its Clopper-Pearson 95% interval."""
    k, n = int(np.sum(hits)), len(hits)
    interval = stats.binomtest(k, n).proportion_ci(0.95)
    return {"detected": k, "panels": n, "rate": k / n, "low": interval.low, "high": interval.high}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=40, help="planted panels")
    parser.add_argument("--null-panels", type=int, default=None, help="null panels (default: --panels)")
    parser.add_argument("--strength", type=float, default=0.09)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    began = time.perf_counter()
    null_panels = args.panels if args.null_panels is None else args.null_panels
    low, high = stats.binom.ppf([0.025, 0.975], null_panels, 0.05) / null_panels
    record: dict[str, object] = {"tickers": len(TICKERS), "sessions": SESSIONS, "train_sessions": TRAIN,
                                 "strength": args.strength, "panels": args.panels, "null_panels": null_panels,
                                 "null_band95": [float(low), float(high)], "command": " ".join(sys.argv)}
    for name, strength, offset, panels in (("null", 0.0, 0, null_panels), ("planted", args.strength, 10_000, args.panels)):
        runs = [one_panel(offset + seed, strength) for seed in range(panels)]
        record[name] = {rule: rate([run[rule] for run in runs]) for rule in (*RULES, "gate_selected_any")}
    record["seconds"] = time.perf_counter() - began
    print(json.dumps(record, indent=2))
    if args.out is not None:
        write_json_atomic(args.out, record)


if __name__ == "__main__":
    main()
