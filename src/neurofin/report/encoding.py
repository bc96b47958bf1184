"""Encoding section, one block per subject: test-r histogram, alphas, per-ROI r against the success criteria,
noise ceiling vs r, and a brain map of test r.

Inputs are the packages of `neurofin train` + `neurofin evaluate` (test_r, validation_r, alphas, cc_max/<story>,
metrics.json). Per-ROI r and the success criteria are read from metrics.json (report/roi_scores.py). The brain
map needs the subject's anatomy: the dataset (`data_root`) and the atlas registration cache of
`neurofin atlas register` / `neurofin infer` (reused, so a report does not re-register).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from neurofin.atlas import Atlas
from neurofin.data.layout import Dataset
from neurofin.encoding.metrics import top_voxels
from neurofin.encoding.package import EncodingModel
from neurofin.errors import InputError
from neurofin.report import brainmap
from neurofin.report.figures import new_figure, to_png
from neurofin.report.html import Figure, Section, details, heading, paragraph, span, table
from neurofin.report.roi_scores import criteria_table, region_table


@dataclass
class Anatomy:
    """What the brain maps need: dataset, atlas and the registration cache folder."""

    dataset: Dataset
    atlas: Atlas
    atlas_cache: Path
    flatmap_cache: Path

    @classmethod
    def open(cls, data_root: Path, atlas_cache: Path | None, flatmap_cache: Path) -> Anatomy:
        from neurofin.atlas import load_atlas
        from neurofin.atlas.subject import default_cache_dir
        from neurofin.data.layout import find_dataset

        dataset = find_dataset(data_root)
        atlas = load_atlas()
        cache = Path(atlas_cache) if atlas_cache is not None else default_cache_dir()
        return cls(dataset, atlas, cache, flatmap_cache)


def _model_array(model: EncodingModel, name: str, package: Path) -> np.ndarray:
    arrays = model.arrays | model.scores
    if name not in arrays:
        raise InputError(f"{package} has no {name}: run `neurofin evaluate` on it before the report")
    return np.asarray(arrays[name], dtype=np.float64)


def histogram_figure(subject: str, test_r: np.ndarray, validation_r: np.ndarray, fraction: float) -> Figure:
    """Test r of all voxels and of the top `fraction` by validation r."""
    top = top_voxels(validation_r, fraction)
    figure = new_figure(7, 3.6, f"{subject}: test r per voxel")
    axes = figure.subplots()
    bins = np.linspace(min(-0.2, np.nanmin(test_r)), max(0.2, np.nanmax(test_r)), 60)
    axes.hist(test_r, bins=bins, alpha=0.55, label=f"all {test_r.size} voxels (mean {np.nanmean(test_r):.3f})")
    axes.hist(test_r[top], bins=bins, alpha=0.85,
              label=f"top {fraction:.0%} by validation r, {top.size} voxels (mean {np.nanmean(test_r[top]):.3f})")
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlabel("test Pearson r")
    axes.set_ylabel("voxels")
    axes.legend(fontsize=8)
    return Figure(f"{subject}: test r histogram", to_png(figure),
                  "Top voxels are chosen on validation stories, never on the test story.")


def alpha_figure(subject: str, alphas: np.ndarray, grid: list[float], check: dict | None) -> tuple[Figure, str]:
    """Voxel counts per selected ridge alpha; the note is `evaluate`'s grid-edge check (metrics.json alpha_grid)."""
    grid_log = np.log10(np.asarray(grid, dtype=np.float64))
    nearest = np.abs(np.log10(alphas)[:, None] - grid_log[None, :]).argmin(axis=1)
    counts = np.bincount(nearest, minlength=grid_log.size)
    figure = new_figure(7, 3.2, f"{subject}: selected ridge alpha per voxel")
    axes = figure.subplots()
    colors = ["#c0392b" if i in (0, grid_log.size - 1) else "#4a6fa5" for i in range(grid_log.size)]
    axes.bar(grid_log, counts, width=0.7, color=colors)
    axes.set_xlabel("log10 alpha (red: grid edges)")
    axes.set_ylabel("voxels")
    if check is None:
        note = "No grid-edge check: run `neurofin evaluate` on the package again."
    else:
        note = (f"Of the {check['n_counted']} {check['counted']}, {check['n_at_bottom']} chose the smallest alpha "
                f"({grid[0]:g}) and {check['n_at_top']} the largest ({grid[-1]:g}); ends a wider grid could still "
                f"move: {', '.join(check['open_edges']) or 'none'}. " + (check["warning"] or "No grid-edge warning."))
    return Figure(f"{subject}: alpha distribution", to_png(figure)), note


def roi_figure(subject: str, scores: pd.DataFrame, criteria: pd.DataFrame) -> Figure:
    """Horizontal bars of per-region mean test r (all voxels, validation-selected voxels) with criterion marks."""
    n = len(scores)
    figure = new_figure(7.5, 1.2 + 0.24 * n, f"{subject}: mean test r per region")
    axes = figure.subplots()
    y = np.arange(n)
    axes.barh(y - 0.2, scores["mean_r_all"].fillna(0), height=0.4, label="all voxels of the region")
    axes.barh(y + 0.2, scores["mean_r_selected"].fillna(0), height=0.4, label="voxels with validation r > rule")
    for region, threshold in zip(criteria["region"], criteria["threshold"], strict=True):
        row = np.flatnonzero(scores["region"].to_numpy() == region)
        if row.size:
            axes.plot([threshold, threshold], [row[0] - 0.45, row[0] + 0.45], color="#c0392b", linewidth=2.5)
    labels = [f"{r} ({v})" for r, v in zip(scores["region"], scores["n_voxels"], strict=True)]
    axes.set_yticks(y, labels, fontsize=8)
    axes.invert_yaxis()
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_xlabel("mean test r (red: success criteria; empty regions at 0)")
    axes.legend(fontsize=8, loc="lower right")
    return Figure(f"{subject}: per-ROI r", to_png(figure))


def noise_ceiling_figure(subject: str, test_r: np.ndarray, ceilings: dict[str, np.ndarray], top: np.ndarray) -> Figure:
    """Per-voxel test r against the noise ceiling cc_max of each repeated test story."""
    figure = new_figure(4.5 * len(ceilings), 4.2, f"{subject}: test r vs noise ceiling")
    for axes, (story, cc_max) in zip(np.atleast_1d(figure.subplots(1, len(ceilings))), ceilings.items(), strict=True):
        ok = np.isfinite(cc_max)
        is_top = np.zeros(test_r.size, dtype=bool)
        is_top[top] = True
        axes.scatter(cc_max[ok & ~is_top], test_r[ok & ~is_top], s=5, alpha=0.4, label="voxels")
        axes.scatter(cc_max[ok & is_top], test_r[ok & is_top], s=8, alpha=0.8, label="top by validation r")
        axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="r = cc_max")
        axes.set_xlim(0, 1)
        axes.set_xlabel(f"cc_max, {story} ({ok.sum()}/{ok.size} voxels)")
        axes.set_ylabel("test r")
        axes.legend(fontsize=7)
    return Figure(f"{subject}: noise ceiling vs r", to_png(figure),
                  "cc_max: the highest r a perfect model could reach given the repeat-to-repeat noise "
                  "(Schoppe et al. 2016); voxels without measurable signal power are not drawn.")


def brain_map(subject: str, test_r: np.ndarray, anatomy: Anatomy, maps) -> tuple[Figure, str]:
    """pycortex flatmap of test r if the subject's database allows it, else MNI slices through the registration."""
    limit = float(max(0.05, np.nanpercentile(np.abs(test_r), 99)))
    dataset = anatomy.dataset
    reason = brainmap.flatmap_unavailable(dataset.pycortex_db, subject)
    if reason is None:
        png = brainmap.flatmap_png(test_r, dataset.mask(subject), dataset.pycortex_db, subject,
                                   dataset.transform_dir(subject).name, f"{subject}: test r (flatmap)",
                                   anatomy.flatmap_cache, limit)
        return Figure(f"{subject}: test r flatmap", png), "pycortex flatmap of the subject's cortex."
    png = brainmap.glass_brain_png(test_r, maps.mni_column, anatomy.atlas.affine,
                                  f"{subject}: test r in MNI space (through the atlas registration)", limit)
    return (Figure(f"{subject}: test r brain map", png),
            f"No flatmap: {reason}. Shown instead: an MNI glass brain (signed maximum projection), each MNI voxel "
            "coloured by the subject voxel it maps to through the registration.")


def subject_block(package: Path, anatomy: Anatomy | None) -> list[str | Figure]:
    """The report parts of one package."""
    model = EncodingModel.load(package)
    subject = model.subject
    test_r = _model_array(model, "test_r", package)
    validation_r = _model_array(model, "validation_r", package)
    fraction = model.record.voxel_selection.top_fraction
    parts: list[str | Figure] = [heading(subject), paragraph(
        f"Package {package.name}: {test_r.size} voxels, test stories {', '.join(model.record.split.test)}; "
        f"mean test r {np.nanmean(test_r):.3f} (all voxels).")]
    parts.append(histogram_figure(subject, test_r, validation_r, fraction))
    alphas = _model_array(model, "alphas", package)
    alpha_fig, alpha_note = alpha_figure(subject, alphas, model.record.fit.alphas_grid, (model.metrics or {}).get("alpha_grid"))
    parts += [alpha_fig, paragraph(alpha_note, "note")]
    ceilings = {k.split("/", 1)[1]: np.asarray(v, np.float64)
                for k, v in model.scores.items() if k.startswith("cc_max/")}
    if ceilings:
        parts.append(noise_ceiling_figure(subject, test_r, ceilings, top_voxels(validation_r, fraction)))
    else:
        parts.append(paragraph("No noise ceiling: the test story has no repeated presentations.", "note"))
    parts += criteria_parts(model, package)
    if anatomy is None:
        parts.append(paragraph("The brain map needs the subject's anatomy: pass --data-root "
                               "(and --atlas-cache to reuse a registration).", "note"))
        return parts
    from neurofin.atlas import subject_atlas

    maps = subject_atlas(anatomy.dataset, subject, anatomy.atlas_cache, atlas=anatomy.atlas)
    if maps.n_voxels != test_r.size:
        raise InputError(f"{subject}: the package has {test_r.size} voxels, the subject's mask {maps.n_voxels}: "
                         "wrong --data-root?")
    figure, note = brain_map(subject, test_r, anatomy, maps)
    parts += [figure, paragraph(note, "note")]
    return parts


def criteria_parts(model: EncodingModel, package: Path) -> list[str | Figure]:
    """Per-ROI r and the success criteria as `neurofin evaluate` recorded them in metrics.json."""
    metrics = model.metrics or {}
    if "success_rule" not in metrics:
        return [paragraph(f"No success criteria: {package} was evaluated by an older neurofin; run `neurofin evaluate` "
                          "on it again.", "note")]
    criteria = criteria_table(metrics)
    parts: list[str | Figure] = []
    scores = region_table(metrics)
    if scores is None:
        parts.append(paragraph(f"No per-ROI r: {metrics['rois']['unavailable']}", "note"))
    else:
        parts.append(roi_figure(model.subject, scores, criteria))
    parts += [paragraph(Markup("<b>Success criteria</b> ({}):").format(metrics["success_rule"])), _criteria_html(criteria)]
    if scores is not None:
        parts.append(details("Per-region table", table(scores)))
    return parts


def _criteria_html(criteria: pd.DataFrame) -> str:
    shown = criteria.copy()
    css = {"pass": "pass", "fail": "fail"}
    shown["result"] = [span(r, css.get(r, "note")) for r in shown["result"]]
    shown["value"] = [f"{v:.3f}" if np.isfinite(v) else "-" for v in shown["value"]]
    return shown.to_html(index=False, escape=False, border=0)


def encoding_section(packages: list[Path], anatomy: Anatomy | None) -> Section:
    """The encoding section over every package (one block per subject)."""
    section = Section("encoding", "Encoding models")
    section.add(paragraph("Per subject: held-out test-story r, ridge alphas, noise ceiling, per-region r against the "
                          "project's success criteria, and a brain map of test r."))
    for package in packages:
        section.add(*subject_block(package, anatomy))
    return section
