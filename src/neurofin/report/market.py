"""Market section: backtest table with confidence intervals, cumulative IC, forecast fans, ROI selection
frequency, the permutation null (when the backtest records one) and a one-sentence verdict.

Reads the output folder of `neurofin market backtest` (metrics.csv, daily_ic.csv, forecasts.parquet,
selection_frequency.csv, summary.json), and its optional per-target tables through report/market_outputs.py
(results, increments, portfolio P&L, cost sweep). `write_market_report` is the backtest's own standalone page.
Honesty rules kept here: a model whose per-date IC is undefined (constant forecasts, e.g. `zero`) is not drawn
as a flat 0; models with identical forecasts are named together and drawn once; IC means carry a 95% CI
from their Newey-West standard error; figures keep a bounded size whatever the number of tickers.
The permutation null is drawn from summary.json's `permutation_null` (neurofin.market.evaluate.null.PermutationResult).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from neurofin.errors import InputError
from neurofin.io import write_bytes_atomic
from neurofin.market.evaluate.verdict import Verdict
from neurofin.market.forecast.models import quantile_column
from neurofin.market.summary import BacktestSummary, PermutationNull
from neurofin.report.figures import new_figure, to_png
from neurofin.report.html import Figure, Section, details, page, paragraph, table
from neurofin.report.identical import identical_groups
from neurofin.report.inputs import read_record, read_table, require_numbers
from neurofin.report.market_outputs import BacktestOutputs, output_parts

SIGNAL_MODELS = ("roi", "roi_known_future")
Z95 = float(stats.norm.ppf(0.975))
MAX_HEATMAP_TICKERS = 20
N_FAN_TICKERS = 3
METRIC_LABELS = {
    "model": "model", "n": "forecasts", "ic_mean": "IC mean/date", "ic_ci": "IC 95% CI (HAC)", "ic_t": "IC t (HAC)",
    "ic_p": "IC p", "perm_p": "IC permutation p", "ic_pooled": "IC pooled", "hit_rate": "hit rate",
    "base_rate": "base rate", "r2_vs_zero": "OOS R2 vs zero", "r2_vs_hist_mean": "OOS R2 vs mean",
    "pinball": "pinball", "coverage_80": "80% band coverage", "cw_t": "Clark-West t vs univariate",
    "cw_p": "Clark-West p", "cw_method": "Clark-West p from (frb: bootstrap, t: t(dof))", "cw_p_holm": "Clark-West p (Holm)", "same_as": "note",
}


@dataclass
class Backtest:
    """The files of one backtest folder, loaded."""

    metrics: pd.DataFrame
    daily_ic: pd.DataFrame  # sessions x models
    frequencies: pd.DataFrame  # ROIs x tickers
    summary: BacktestSummary
    forecasts: pd.DataFrame | None

    @classmethod
    def load(cls, folder: Path) -> Backtest:
        folder = Path(folder)
        needed = ["metrics.csv", "daily_ic.csv", "selection_frequency.csv", "summary.json"]
        missing = [n for n in needed if not (folder / n).is_file()]
        if missing:
            raise InputError(f"{folder} lacks {', '.join(missing)}: {HINT}")
        metrics = read_table(folder / "metrics.csv", HINT, required=("ic_mean", "ic_t"), keys=("model",))
        require_numbers(metrics, [c for c in metrics.columns if c not in TEXT_METRICS], folder / "metrics.csv", HINT)
        forecasts = folder / "forecasts.parquet"
        return cls(metrics, read_daily_ic(folder / "daily_ic.csv"), read_frequencies(folder / "selection_frequency.csv"),
                   read_summary(folder), read_forecasts(forecasts) if forecasts.is_file() else None)


HINT = "pass the --out folder of `neurofin market backtest` (or run it again)"
TEXT_METRICS = ("model", "same_as", "cw_method")
FORECAST_COLUMNS = ("session", "ticker", "model", "mean", "actual")


def read_summary(folder: Path) -> BacktestSummary:
    """summary.json as its record (neurofin.market.summary.BacktestSummary), its structure checked."""
    return read_record(Path(folder) / "summary.json", BacktestSummary, HINT)


def read_daily_ic(path: Path) -> pd.DataFrame:
    """daily_ic.csv: sessions (dates) x models (numbers)."""
    frame = read_table(path, HINT, index=True)
    require_numbers(frame, frame.columns, path, HINT)
    if frame.index.empty:
        raise InputError(f"{path} has no session: {HINT}")
    sessions = pd.to_datetime(pd.Series(frame.index), errors="coerce", format="mixed")
    if sessions.isna().any():
        raise InputError(f"{path}: the first column holds values that are not dates: {HINT}")
    frame.index = pd.DatetimeIndex(sessions, name=frame.index.name)
    return frame


def read_frequencies(path: Path) -> pd.DataFrame:
    """selection_frequency.csv: ROIs x tickers, shares of folds (numbers); at least one of each."""
    frame = read_table(path, HINT, index=True)
    require_numbers(frame, frame.columns, path, HINT)
    if frame.empty:
        raise InputError(f"{path} has no ROI or no ticker: {HINT}")
    frame.index = frame.index.astype(str)
    return frame


def read_forecasts(path: Path) -> pd.DataFrame:
    """forecasts.parquet: session, ticker, model (and target, origin), mean, actual, horizon and quantile columns (numbers)."""
    frame = read_table(path, HINT, required=FORECAST_COLUMNS, keys=("ticker", "model"))
    numbers = [c for c in frame.columns if c not in ("session", "ticker", "model", "origin", "target")]
    require_numbers(frame, numbers, path, HINT)
    sessions = pd.to_datetime(frame["session"], errors="coerce")
    if sessions.isna().any():
        raise InputError(f"{path}: column session holds values that are not dates: {HINT}")
    return frame.assign(session=sessions)


def undefined_ic(daily_ic: pd.DataFrame) -> list[str]:
    """Models whose per-date IC is undefined on every session (constant forecasts)."""
    return [c for c in daily_ic.columns if not np.isfinite(daily_ic[c].to_numpy(float)).any()]


def ic_interval(metrics: pd.DataFrame) -> pd.DataFrame:
    """Lower/upper 95% bounds of the mean per-date IC that invert its HAR test: mean -+ t(dof) 97.5% x se, se =
    mean / t (`metrics.hac_mean_test`); backtests written before the `ic_dof` column use the normal quantile."""
    se = (metrics["ic_mean"] / metrics["ic_t"]).abs()
    dof = metrics["ic_dof"].to_numpy(float) if "ic_dof" in metrics else np.full(len(metrics), np.inf)
    half = np.where(dof > 0, stats.t.ppf(0.975, np.where(dof > 0, dof, 1)), np.nan) * se
    return pd.DataFrame({"low": metrics["ic_mean"] - half, "high": metrics["ic_mean"] + half})


def forecast_groups(forecasts: pd.DataFrame | None, daily_ic: pd.DataFrame) -> list[list[str]]:
    """Models with identical point forecasts (from forecasts when present, else identical per-date IC)."""
    if forecasts is None:
        return identical_groups(daily_ic)
    wide = forecasts.pivot_table(index=["session", "ticker"], columns="model", values="mean", dropna=False)
    order = [m for m in daily_ic.columns if m in wide.columns] + [m for m in wide.columns if m not in daily_ic.columns]
    return identical_groups(wide[order])


def metrics_table(
    metrics: pd.DataFrame, groups: list[list[str]], undefined: list[str], relation: str = "identical to"
) -> pd.DataFrame:
    """The backtest table for display: IC CI column and a note '<relation> <model>' on grouped / undefined models."""
    shown = metrics.copy()
    bounds = ic_interval(shown)
    shown["ic_ci"] = [f"{lo:.3f} to {hi:.3f}" if np.isfinite(lo) and np.isfinite(hi) else "-"
                      for lo, hi in zip(bounds["low"], bounds["high"], strict=True)]
    notes = {}
    for group in groups:
        for model in group[1:]:
            notes[model] = f"{relation} {group[0]}"
    for model in undefined:
        notes[model] = "IC undefined (constant forecast)"
    shown["same_as"] = [notes.get(m, "") for m in shown["model"]]
    columns = [c for c in METRIC_LABELS if c in shown.columns]
    return shown[columns].rename(columns=METRIC_LABELS)


def cumulative_ic_figure(daily_ic: pd.DataFrame, title: str = "Cumulative per-session IC") -> tuple[bytes, list[str]]:
    """PNG of cumulative IC, one line per group of identical models (undefined ICs left out), and notes saying so.

    The grey band is +-1.96 sigma sqrt(t): where the cumulative sum of zero-mean i.i.d. per-session ICs with the
    pooled standard deviation sigma would stay 95% of the time at each session.
    """
    undefined = undefined_ic(daily_ic)
    defined = daily_ic.drop(columns=undefined)
    groups = identical_groups(defined)
    figure = new_figure(9, 4.2, title)
    axes = figure.subplots()
    notes = [f"{m}: IC undefined (constant forecasts), not drawn." for m in undefined]
    if not defined.empty:
        sigma = float(np.nanstd(defined.to_numpy(float)))
        steps = np.arange(1, len(defined) + 1)
        axes.fill_between(defined.index, -Z95 * sigma * np.sqrt(steps), Z95 * sigma * np.sqrt(steps), color="0.88",
                          label="95% band of zero-mean noise")
    for group in groups:
        series = defined[group[0]].fillna(0.0).cumsum()
        axes.plot(defined.index, series, label=" = ".join(group), linewidth=1.4 + 0.6 * (len(group) > 1))
        if len(group) > 1:
            notes.append(f"{', '.join(group)}: identical per-session IC, drawn as one line.")
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xlabel("session")
    axes.set_ylabel("cumulative Spearman IC")
    axes.legend(fontsize=8, ncols=2)
    return to_png(figure), notes


def selection_figure(frequencies: pd.DataFrame, title: str = "ROI selection frequency across folds") -> bytes:
    """Mean selection share per ROI over all tickers, and a heatmap of at most MAX_HEATMAP_TICKERS tickers
    (those selected most often): the figure size does not grow with the number of tickers."""
    totals = frequencies.sum(axis=0).sort_values(ascending=False, kind="stable")
    shown = frequencies[totals.index[:MAX_HEATMAP_TICKERS]]
    n_rois, n_cols = frequencies.shape[0], shown.shape[1]
    figure = new_figure(3.5 + 0.4 * n_cols, 1.5 + 0.3 * n_rois, title)
    bars, heat = figure.subplots(1, 2, width_ratios=[1.2, max(n_cols, 2) * 0.35], sharey=True)
    y = np.arange(n_rois)
    bars.barh(y, frequencies.mean(axis=1).to_numpy(float))
    bars.set_yticks(y, frequencies.index, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel(f"mean over all {frequencies.shape[1]} tickers")
    image = heat.imshow(shown.to_numpy(float), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    heat.set_xticks(range(n_cols), shown.columns, rotation=90, fontsize=8)
    heat.set_xlabel(f"{n_cols} most-selected tickers" if n_cols < frequencies.shape[1] else "tickers")
    figure.colorbar(image, ax=heat, label="share of folds selected", shrink=0.8)
    return to_png(figure)


def fan_figure(forecasts: pd.DataFrame, model: str, tickers: list[str], levels: list[float]) -> bytes:
    """Quantile fans of `model`'s one-session-ahead forecasts and the realised log returns, one panel per ticker."""
    levels = sorted(q for q in set(levels) if quantile_column(q) in forecasts.columns)  # what the file holds
    quantiles = [quantile_column(q) for q in levels]
    figure = new_figure(10, 2.3 * len(tickers) + 0.6, f"Forecast fans: {model} model")
    for axes, ticker in zip(np.atleast_1d(figure.subplots(len(tickers), 1, sharex=True)), tickers, strict=True):
        rows = forecasts[(forecasts["model"] == model) & (forecasts["ticker"] == ticker)].sort_values("session")
        for k in range(len(levels) // 2):
            low, high = quantiles[k], quantiles[-1 - k]
            axes.fill_between(rows["session"], rows[low], rows[high], color="#4a6fa5", alpha=0.18, linewidth=0,
                              label=f"{levels[k]:g}-{levels[-1 - k]:g} quantiles" if k == 0 else None)
        axes.plot(rows["session"], rows["mean"], color="#1f3b66", linewidth=1, label="forecast mean")
        axes.scatter(rows["session"], rows["actual"], s=4, color="#c0392b", label="realised")
        axes.set_ylabel(f"{ticker}\nlog return", fontsize=8)
        axes.legend(fontsize=7, loc="upper left", ncols=3)
    return to_png(figure)


def fan_tickers(forecasts: pd.DataFrame, model: str, n: int = N_FAN_TICKERS) -> list[str]:
    """The `n` tickers with the most forecasts of `model` (ties by name)."""
    counts = forecasts[forecasts["model"] == model].groupby("ticker").size()
    return sorted(counts.index, key=lambda t: (-counts[t], t))[:n]


def null_figure(null: PermutationNull) -> bytes:
    """Histogram of the permutation null with the observed statistic."""
    values = null_values(null)
    values = values[np.isfinite(values)]
    observed = np.nan if null.observed is None else null.observed
    statistic = f"mean per-session IC of {null.model} minus {null.reference}"
    figure = new_figure(7, 3.5, f"Permutation null of the {statistic} ({values.size} permutations)")
    axes = figure.subplots()
    axes.hist(values, bins=40, color="0.6")
    axes.axvline(observed, color="#c0392b", linewidth=2, label=f"observed {observed:.3f} (permutation p = {np.nan if null.p_value is None else null.p_value:.3f})")
    axes.set_xlabel(statistic)
    axes.legend(fontsize=8)
    return to_png(figure)


def null_values(null: PermutationNull) -> np.ndarray:
    """The null draws as numbers (an undefined draw is NaN)."""
    return np.array([np.nan if v is None else v for v in null.values], dtype=float)


def short_verdict(verdict: Verdict, metrics: pd.DataFrame) -> str:
    """One sentence: the verdict's headline, the primary model's mean IC with its 95% CI, and its permutation p-value."""
    head, primary = verdict.headline, verdict.primary_model
    table_ = metrics.set_index("model")
    if primary not in table_.index or not np.isfinite(table_.loc[primary, "ic_mean"]):
        return f"Verdict: {head}."
    bounds = ic_interval(metrics).set_index(metrics["model"])
    text = (f"Verdict: {head}; {primary} mean IC {table_.loc[primary, 'ic_mean']:.3f} "
            f"(95% CI {bounds.loc[primary, 'low']:.3f} to {bounds.loc[primary, 'high']:.3f})")
    perm_p = table_.loc[primary].get("perm_p", float("nan"))
    if np.isfinite(perm_p):
        text += f", permutation p {perm_p:.3f}"
    return text + "."


def power_part(summary: BacktestSummary) -> list[str]:
    """The power run's sentence ("this panel could detect IC >= X"), when `neurofin market power` wrote one."""
    return [paragraph(summary.power["sentence"])] if summary.power else []


def fan_part(forecasts: pd.DataFrame | None, levels: list[float]) -> list[str | Figure]:
    """The signal model's forecast fans for the tickers with the most forecasts; nothing without forecasts."""
    if forecasts is None:
        return []
    model = next((m for m in SIGNAL_MODELS if m in set(forecasts["model"])), "univariate")
    tickers = fan_tickers(forecasts, model)
    if not tickers:
        return []
    fans = fan_figure(forecasts, model, tickers, levels)
    return ["<h3>Forecast fans</h3>", Figure(f"Forecast fans ({model})", fans, f"{len(tickers)} tickers with the most forecasts.")]


def market_section(folder: Path) -> tuple[Section, str]:
    """The market section and its one-sentence verdict."""
    backtest = Backtest.load(folder)
    verdict = short_verdict(backtest.summary.verdict, backtest.metrics)
    section = Section("market", "Market backtest")
    rule = paragraph(backtest.summary.verdict.sentence())
    section.add(paragraph(verdict, "verdict"), *power_part(backtest.summary), details("Verdict rule and statistics", rule))
    groups = forecast_groups(backtest.forecasts, backtest.daily_ic)
    undefined = undefined_ic(backtest.daily_ic)
    section.add("<h3>Backtest table (out of sample)</h3>", table(metrics_table(backtest.metrics, groups, undefined)))
    same = [g for g in groups if len(g) > 1]
    if same:
        section.add(paragraph("Identical forecasts: " + "; ".join(" = ".join(g) for g in same)
                              + " (e.g. no ROI was selected, or the forecaster ignores the covariates).", "note"))
    png, notes = cumulative_ic_figure(backtest.daily_ic)
    section.add("<h3>Cumulative IC</h3>", Figure("Cumulative IC", png, " ".join(notes)))
    section.add(*fan_part(backtest.forecasts, backtest.summary.settings.quantile_levels))
    section.add("<h3>ROI selection across folds</h3>",
                Figure("ROI selection frequency", selection_figure(backtest.frequencies)))
    null = backtest.summary.permutation_null
    if null is not None and np.isfinite(null_values(null)).any():
        section.add("<h3>Permutation null</h3>", Figure("Permutation null", null_figure(null)))
    else:
        section.add(paragraph("No permutation null: the backtest had too few sessions with three or more tickers.", "note"))
    section.add(*outputs_of(folder, backtest.summary))
    return section, verdict


def outputs_of(folder: Path, summary: BacktestSummary) -> list[str | Figure]:
    """The parts for the folder's optional per-target tables (none for an older backtest)."""
    return output_parts(BacktestOutputs.load(Path(folder)), summary)


def write_market_report(folder: str | Path) -> Path:
    """The backtest's own page beside its outputs: cumulative_ic.png, selection_frequency.png and report.html."""
    folder = Path(folder)
    backtest = Backtest.load(folder)
    ic_png, ic_notes = cumulative_ic_figure(backtest.daily_ic)
    selection_png = selection_figure(backtest.frequencies)
    write_bytes_atomic(folder / "cumulative_ic.png", ic_png)
    write_bytes_atomic(folder / "selection_frequency.png", selection_png)
    verdict = backtest.summary.verdict
    section = Section("backtest", "Out-of-sample metrics and figures")
    section.add(paragraph(short_verdict(verdict, backtest.metrics), "verdict"), paragraph(verdict.sentence()),
                *power_part(backtest.summary),
                table(metrics_table(backtest.metrics, identical_groups(backtest.daily_ic), undefined_ic(backtest.daily_ic),
                                    "same per-session IC as")),
                *(paragraph(n) for n in backtest.summary.notes),
                Figure("Cumulative per-session IC", ic_png, " ".join(ic_notes)),
                Figure("ROI selection frequency", selection_png), *outputs_of(folder, backtest.summary))
    report = folder / "report.html"
    write_bytes_atomic(report, page("neurofin market backtest", [], [section]).encode("utf-8"))
    return report
