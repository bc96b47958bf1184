"""The per-target outputs of a backtest folder in the report: IC and Sharpe per model x (target, horizon), what the
ROI features add over each control, the cumulative net P&L of the long-short portfolios and Sharpe against cost.

Each file is optional: absent (an older backtest) -> its part is left out; present but without the expected
columns -> a one-line note instead of the part. File contract (neurofin.market.chain):
results.parquet / results.csv (model, target, horizon, metric, value; portfolio metrics are rows too),
increments.csv (base, augmented, cw_t, cw_p, ic_base, ic_augmented, perm_p, p, p_holm, holds, target, horizon),
portfolio_daily.parquet (session, model, gross, net, turnover, cum_net, target) and
cost_sweep.csv (model, cost_bps, sharpe, sharpe_low, sharpe_high, ann_return_net, target).
The honesty rules of report/market.py hold here too: a model that never trades or whose Sharpe is undefined is
not drawn as a flat 0, identical curves are drawn once and named together, Sharpe carries its 95% CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.market.summary import BacktestSummary
from neurofin.report.figures import new_figure, to_png
from neurofin.report.html import Figure, paragraph, table
from neurofin.report.identical import identical_groups
from neurofin.report.inputs import read_table

COLUMNS = {
    "results": ("model", "target", "horizon", "metric", "value"),
    "increments": ("base", "augmented", "cw_t", "cw_p", "ic_base", "ic_augmented", "perm_p", "p", "p_holm", "holds",
                   "target", "horizon"),
    "portfolio_daily": ("session", "model", "gross", "net", "turnover", "cum_net", "target"),
    "cost_sweep": ("model", "cost_bps", "sharpe", "sharpe_low", "sharpe_high", "ann_return_net", "target"),
}
TEXT_COLUMNS = ("model", "target", "metric", "base", "augmented", "holds", "session")
FILES = {"results": ("results.parquet", "results.csv"), "increments": ("increments.csv",),
         "portfolio_daily": ("portfolio_daily.parquet",), "cost_sweep": ("cost_sweep.csv",)}
INCREMENT_LABELS = {
    "target": "target", "horizon": "horizon", "base": "control", "augmented": "control + ROI", "ic_base": "IC control",
    "ic_augmented": "IC control + ROI", "cw_t": "Clark-West t", "cw_p": "Clark-West p", "perm_p": "permutation p",
    "p": "p (larger)", "p_holm": "Holm p", "holds": "ROIs add",
}


@dataclass
class BacktestOutputs:
    """The optional per-target tables of a backtest folder (None when absent) and notes on unreadable ones."""

    results: pd.DataFrame | None = None
    increments: pd.DataFrame | None = None
    portfolio_daily: pd.DataFrame | None = None
    cost_sweep: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> BacktestOutputs:
        outputs = cls()
        for name, candidates in FILES.items():
            path = next((folder / c for c in candidates if (folder / c).is_file()), None)
            if path is None:
                continue
            try:
                setattr(outputs, name, read_output(path, name))
            except InputError as exc:
                outputs.notes.append(str(exc))
        return outputs


def read_output(path: Path, name: str) -> pd.DataFrame:
    """One per-target table, checked: its columns, numbers where numbers belong, whole horizons, dated sessions."""
    hint = "not shown (another backtest layout, or a damaged file)."
    frame = read_table(path, hint, required=COLUMNS[name], numeric=[c for c in COLUMNS[name] if c not in TEXT_COLUMNS],
                       label=path.name)
    if "horizon" in frame.columns and not (frame["horizon"] % 1 == 0).all():
        raise InputError(f"{path.name}: column horizon holds values that are not whole numbers: {hint}")
    if "session" in frame.columns and pd.to_datetime(frame["session"], errors="coerce").isna().any():
        raise InputError(f"{path.name}: column session holds values that are not dates: {hint}")
    return frame


def target_label(target: str, horizon: int) -> str:
    """'raw, 1 session' / 'absolute, 5 sessions'."""
    return f"{target}, {horizon} session{'s' if horizon != 1 else ''}"


def sharpe_text(values: pd.Series) -> str:
    """'0.52 (-0.31 to 1.4)' from a model's sharpe, sharpe_low, sharpe_high; '-' when undefined."""
    sharpe = values.get("sharpe", np.nan)
    if not np.isfinite(sharpe):
        return "-"
    low, high = values.get("sharpe_low", np.nan), values.get("sharpe_high", np.nan)
    interval = f" ({low:.2g} to {high:.2g})" if np.isfinite(low) and np.isfinite(high) else ""
    return f"{sharpe:.2g}{interval}"


def results_table(results: pd.DataFrame) -> pd.DataFrame:
    """Models x (target, horizon): mean per-session IC and, where the portfolio was run, Sharpe with its 95% CI."""
    models = list(dict.fromkeys(results["model"]))
    wide = results.pivot_table(index=["target", "horizon", "model"], columns="metric", values="value", dropna=False,
                               aggfunc="first")
    columns = {}
    for target, horizon in dict.fromkeys(zip(results["target"], results["horizon"], strict=True)):
        block = wide.loc[(target, horizon)].reindex(models)
        label = target_label(target, int(horizon))
        columns[(label, "IC mean")] = block.get("ic_mean", np.nan)
        if "sharpe" in block and block["sharpe"].notna().any():
            columns[(label, "Sharpe (95% CI)")] = [sharpe_text(row) for _, row in block.iterrows()]
    frame = pd.DataFrame(columns, index=pd.Index(models, name="model"))
    frame[("", "note")] = same_results(results, models)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame


def same_results(results: pd.DataFrame, models: list[str]) -> list[str]:
    """'identical to <model>' for a model whose every result equals an earlier model's (NaN equals NaN), else ''."""
    wide = results.pivot_table(index=["target", "horizon", "metric"], columns="model", values="value", dropna=False,
                               aggfunc="first")[models]
    notes = {m: f"identical to {g[0]}" for g in identical_groups(wide) for m in g[1:]}
    return [notes.get(m, "") for m in models]


def increments_table(increments: pd.DataFrame, primary_target: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Each (control, control + ROI) test, the primary target first; `ROIs add` reads 'held' or 'no'; controls by
    their `names` (summary.json `controls`, e.g. 'sentiment (VADER, Loughran-McDonald)') where given."""
    shown = increments.assign(first=increments["target"] != primary_target,
                              base=[(names or {}).get(b, b) for b in increments["base"]])
    shown = shown.sort_values(["first", "target", "horizon"], kind="stable")
    shown["holds"] = ["held" if bool(h) else "no" for h in shown["holds"]]
    return shown[list(INCREMENT_LABELS)].rename(columns=INCREMENT_LABELS)


def held_sentence(increments: pd.DataFrame, family: str, significance: float) -> str:
    """Which ROI increments hold (permutation p, Holm p < `significance` over `family`, as summary.json states it),
    or that none does in any of the families."""
    held = increments[increments["holds"].astype(bool)]
    rule = f"Holm over {family}: permutation Holm p < {significance:g}"
    if held.empty:
        families = len(increments[["target", "horizon"]].drop_duplicates())
        return (f"No ROI increment holds in any of the {families} target x horizon famil"
                f"{'y' if families == 1 else 'ies'} ({rule}).")
    named = "; ".join(f"{a} over {b} ({target_label(t, int(h))}, Holm p {p:.3g})"
                      for a, b, t, h, p in held[["augmented", "base", "target", "horizon", "p_holm"]].itertuples(index=False))
    return f"Held ({rule}): {named}."


def never_traded(daily: pd.DataFrame) -> list[str]:
    """Models whose portfolio never holds a position (zero turnover throughout, e.g. constant forecasts) or has no P&L."""
    by_model = daily.groupby("model", sort=False)
    return [m for m, rows in by_model
            if not np.isfinite(rows["cum_net"].to_numpy(float)).any() or not np.nansum(np.abs(rows["turnover"])) > 0]


def finish_axes(axes: Any, xlabel: str, ylabel: str) -> None:
    """A zero line, the axis labels, and a legend when something labelled was drawn (every model may be undrawn)."""
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, ncols=2)


def pnl_figure(daily: pd.DataFrame, target: str) -> tuple[bytes, list[str]]:
    """Cumulative net P&L of each model's long-short portfolio on `target`, one line per group of identical curves."""
    rows = daily[daily["target"] == target]
    idle = never_traded(rows)
    wide = rows[~rows["model"].isin(idle)].pivot_table(index="session", columns="model", values="cum_net",
                                                       dropna=False, sort=False)
    wide = wide[[m for m in dict.fromkeys(rows["model"]) if m in wide.columns]]
    figure = new_figure(9, 4.2, f"Cumulative net P&L per model ({target} target, long-short, after costs)")
    axes = figure.subplots()
    notes = [f"{m}: no position taken (constant forecast), not drawn." for m in idle]
    for group in identical_groups(wide):
        axes.plot(pd.to_datetime(wide.index), wide[group[0]], label=" = ".join(group), linewidth=1.4 + 0.6 * (len(group) > 1))
        if len(group) > 1:
            notes.append(f"{', '.join(group)}: identical net P&L, drawn as one line.")
    finish_axes(axes, "session", "cumulative net return")
    return to_png(figure), notes


def cost_figure(sweep: pd.DataFrame, target: str, cost_bps: float | None) -> tuple[bytes, list[str]]:
    """Annualised Sharpe of each model's portfolio against the one-way cost, with its 95% bootstrap CI band."""
    rows = sweep[sweep["target"] == target]
    wide = rows.pivot_table(index="cost_bps", columns="model", values="sharpe", dropna=False, sort=True)
    wide = wide[[m for m in dict.fromkeys(rows["model"]) if m in wide.columns]]
    undefined = [m for m in wide.columns if not np.isfinite(wide[m].to_numpy(float)).any()]
    figure = new_figure(9, 4.2, f"Sharpe vs trading cost ({target} target, 95% CI bands)")
    axes = figure.subplots()
    notes = [f"{m}: Sharpe undefined (no position or no variance), not drawn." for m in undefined]
    for group in identical_groups(wide.drop(columns=undefined)):
        curve = rows[rows["model"] == group[0]].sort_values("cost_bps")
        line = axes.plot(curve["cost_bps"], curve["sharpe"], marker="o", markersize=3, label=" = ".join(group))[0]
        axes.fill_between(curve["cost_bps"], curve["sharpe_low"], curve["sharpe_high"], color=line.get_color(), alpha=0.12,
                          linewidth=0)
        if len(group) > 1:
            notes.append(f"{', '.join(group)}: identical Sharpe at every cost, drawn as one line.")
    if cost_bps is not None:
        axes.axvline(cost_bps, color="grey", linestyle="--", linewidth=0.8, label=f"backtest cost {cost_bps:g} bps")
    finish_axes(axes, "one-way cost per unit of turnover (bps)", "annualised Sharpe (net)")
    return to_png(figure), notes


def output_parts(outputs: BacktestOutputs, summary: BacktestSummary) -> list[str | Figure]:
    """The report parts of the outputs present, in order; notes for unreadable files."""
    target = summary.primary_target
    parts: list[str | Figure] = [paragraph(n, "note") for n in outputs.notes]
    if outputs.results is not None:
        parts += ["<h3>IC and Sharpe by target and horizon</h3>", table(results_table(outputs.results), index=True),
                  paragraph("IC mean: mean per-session Spearman IC; Sharpe: annualised, net of costs, of the long-short "
                            "portfolio, with its 95% bootstrap CI. '-': undefined (constant forecast) or not run.", "note")]
    if outputs.increments is not None:
        parts += ["<h3>What ROI features add over each control</h3>",
                  table(increments_table(outputs.increments, target, summary.controls)),
                  paragraph(held_sentence(outputs.increments, summary.holm_families["increments"],
                                          summary.verdict.significance))]
    if outputs.portfolio_daily is not None and (outputs.portfolio_daily["target"] == target).any():
        png, notes = pnl_figure(outputs.portfolio_daily, target)
        parts += ["<h3>Portfolio: cumulative net P&amp;L</h3>", Figure("Cumulative net P&L", png, " ".join(notes))]
    if outputs.cost_sweep is not None and (outputs.cost_sweep["target"] == target).any():
        png, notes = cost_figure(outputs.cost_sweep, target, summary.settings.cost_bps)
        parts += ["<h3>Sharpe vs trading cost</h3>", Figure("Sharpe vs cost", png, " ".join(notes))]
    return parts
