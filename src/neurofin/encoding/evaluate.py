"""Evaluate a model on its held-out stories: validation r (voxel selection), test r, noise ceiling.

`score_model` works in memory; `evaluate_package` adds metrics.json, scores.safetensors and a figure to a
saved package (its weights are never rewritten).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurofin.data.layout import Dataset
from neurofin.encoding.design import FeatureSource, check_row_counts, downsampled_stories
from neurofin.encoding.metrics import ceiling_summary, noise_ceiling, signed_r2, top_voxels, voxel_correlation
from neurofin.encoding.package import EncodingModel, write_evaluation
from neurofin.encoding.responses import read_story_responses, read_test_target, require_finite_responses
from neurofin.encoding.roi_scores import SUCCESS_RULE, VoxelRois, region_mean_r, roi_scores, success_criteria
from neurofin.encoding.selection import select_voxels

FIGURE_FILE = "evaluation.png"


def predict_stories(
    model: EncodingModel, dataset: Dataset, stories: Sequence[str], features: FeatureSource, resp_rows: dict[str, int]
) -> dict[str, np.ndarray]:
    """(n_trs, n_voxels) predictions per held-out story, built exactly like the training design."""
    rows = downsampled_stories(features(stories), dataset.respdict, stories, model.record.timing)
    check_row_counts(rows, resp_rows, dataset.respdict)
    return {s: model.predict_story(rows[s]) for s in stories}


def pooled_r(targets: Mapping[str, np.ndarray], preds: Mapping[str, np.ndarray], stories: Sequence[str]) -> np.ndarray:
    """Per-voxel Pearson r over the rows of `stories` concatenated in order."""
    return voxel_correlation(np.concatenate([targets[s] for s in stories]), np.concatenate([preds[s] for s in stories]))


def validation_r(model: EncodingModel, dataset: Dataset, features: FeatureSource) -> np.ndarray:
    """(n_voxels,) float32 r on the package's validation stories: the voxel-selection score (never test r)."""
    stories = model.record.split.validation
    resp = read_story_responses(dataset, model.subject, stories)
    preds = predict_stories(model, dataset, stories, features, {s: r.shape[0] for s, r in resp.items()})
    return pooled_r(resp, preds, stories).astype(np.float32)


def alpha_histogram(alphas: np.ndarray, grid: Sequence[float]) -> dict[str, int]:
    """How many voxels selected each alpha of the grid (keys formatted like '1e+03')."""
    grid_arr = np.asarray(grid, dtype=np.float64)
    nearest = np.abs(np.log10(alphas)[:, None] - np.log10(grid_arr)[None, :]).argmin(axis=1)
    counts = np.bincount(nearest, minlength=len(grid_arr))
    return {f"{a:.0e}": int(c) for a, c in zip(grid_arr, counts, strict=True)}


EDGE_SHARE = 0.05  # warn when more counted voxels than this share pick the bottom or the top of the alpha grid
PLATEAU = 10.0  # a grid end beyond PLATEAU x the largest (below 1/PLATEAU x the smallest) design eigenvalue is on a plateau


def open_edges(grid: Sequence[float], eigenvalues: Sequence[float] | None) -> list[str]:
    """The grid ends ('bottom', 'top') where a wider grid could still change predictions.

    With eigenvalues l_i of the training design's X'X, ridge shrinks component i by l_i / (l_i + alpha): for
    alpha >= PLATEAU * max(l) predictions only scale (same Pearson r, the CV score), for alpha <= min(l) / PLATEAU
    they are within 10% of least squares. Ends on these plateaus cannot move; without eigenvalues both may.
    """
    low, high = min(grid), max(grid)
    if eigenvalues is None:
        return ["bottom", "top"]
    smallest, largest = eigenvalues
    return [name for name, is_open in (("bottom", low > smallest / PLATEAU), ("top", high < PLATEAU * largest)) if is_open]


def alpha_grid_check(
    alphas: np.ndarray, grid: Sequence[float], counted: np.ndarray, eigenvalues: Sequence[float] | None = None,
    rule: str = "validation r > 0.05",
) -> dict[str, Any]:
    """Voxels passing the validation-r rule (`counted`) whose alpha is the grid's bottom or top, and a warning saying
    how to extend the grid when either share exceeds EDGE_SHARE at an end that can still move (`open_edges`).

    Noise voxels take any alpha, mostly an end (both ends are plateaus of the correlation score), so they are
    not counted."""
    alphas, grid_arr = np.asarray(alphas, dtype=np.float64), np.sort(np.asarray(grid, dtype=np.float64))
    counted = np.asarray(counted, dtype=bool)
    n = int(counted.sum())
    at_bottom = int((np.isclose(alphas, grid_arr[0], rtol=1e-6) & counted).sum())
    at_top = int((np.isclose(alphas, grid_arr[-1], rtol=1e-6) & counted).sum()) if len(grid_arr) > 1 else 0
    movable = open_edges(grid_arr.tolist(), eigenvalues)
    problems = []
    if "top" in movable and at_top > EDGE_SHARE * n:
        problems.append(f"{at_top} of {n} voxels passing {rule} ({at_top / n:.0%}) chose the top of the grid "
                        f"({grid_arr[-1]:.0e}): add larger alphas (e.g. up to {grid_arr[-1] * 100:.0e})")
    if "bottom" in movable and at_bottom > EDGE_SHARE * n:
        problems.append(f"{at_bottom} of {n} voxels passing {rule} ({at_bottom / n:.0%}) chose the bottom of the grid "
                        f"({grid_arr[0]:.0e}): add smaller alphas (e.g. down to {grid_arr[0] / 100:.0e})")
    warning = None
    if problems:
        warning = ("alpha grid edge: " + "; ".join(problems) + ". Set encoding.alphas in a --config TOML, e.g. "
                   f"[encoding] alphas = {[float(f'{a:.0e}') for a in np.logspace(np.log10(grid_arr[0]) - 2, np.log10(grid_arr[-1]) + 2, len(grid_arr) + 4)]}, "
                   "and re-run `neurofin train`")
    return {"counted": f"voxels passing {rule}", "n_counted": n, "n_at_bottom": at_bottom, "n_at_top": at_top,
            "edge_share_limit": EDGE_SHARE, "design_eigenvalues": None if eigenvalues is None else list(eigenvalues),
            "open_edges": movable, "warning": warning}


def voxel_rule(model: EncodingModel) -> tuple[np.ndarray, str]:
    """The package's voxel-selection mask (validation r > threshold) and its name."""
    threshold = model.record.voxel_selection.threshold
    return select_voxels(model.arrays["validation_r"], threshold), f"validation r > {threshold:g}"


def model_grid_check(model: EncodingModel) -> dict[str, Any]:
    """`alpha_grid_check` of a fitted model under its own voxel rule and design eigenvalues."""
    mask, rule = voxel_rule(model)
    return alpha_grid_check(model.arrays["alphas"], model.record.fit.alphas_grid, mask, model.record.fit.design_eigenvalues, rule)


def score_model(
    model: EncodingModel, dataset: Dataset, features: FeatureSource, rois: VoxelRois | None = None, rois_note: str | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics and per-voxel scores (test_r, cc_max/<story>) of a model on its validation and test stories.

    With `rois` (the subject's voxel -> ROI map) the metrics add per-ROI scores; the success criteria are
    always reported (ROI criteria "not evaluated", with `rois_note` saying why, without a map).
    """
    subject, split = model.subject, model.record.split
    fraction = model.record.voxel_selection.top_fraction
    require_finite_responses(dataset, subject, split.validation + split.test)
    val_resp = read_story_responses(dataset, subject, split.validation)
    targets = {s: read_test_target(dataset, subject, s) for s in split.test}
    resp_rows = {s: r.shape[0] for s, r in val_resp.items()} | {s: t[0].shape[0] for s, t in targets.items()}
    preds = predict_stories(model, dataset, split.validation + split.test, features, resp_rows)

    val_r = pooled_r(val_resp, preds, split.validation).astype(np.float32)
    test_r = pooled_r({s: t[0] for s, t in targets.items()}, preds, split.test)
    top = top_voxels(val_r, fraction)
    threshold = model.record.voxel_selection.threshold
    selected = select_voxels(model.arrays["validation_r"], threshold)
    per_story = {s: float(voxel_correlation(val_resp[s], preds[s]).mean()) for s in split.validation}
    per_story |= {s: float(voxel_correlation(targets[s][0], preds[s]).mean()) for s in split.test}
    scores = {"test_r": test_r}
    metrics: dict[str, Any] = {
        "subject": subject,
        "n_voxels": int(test_r.shape[0]),
        "test_stories": split.test,
        "scored_against": {s: ("repeat_mean" if targets[s][1] is not None else "single_presentation") for s in split.test},
        "test_mean_r": float(test_r.mean()),
        "test_top_mean_r": float(test_r[top].mean()),
        "top_fraction": fraction,
        "top_selected_by": "validation_r",
        "test_signed_r2": signed_r2(test_r),
        "validation_mean_r": float(val_r.mean()),
        "per_story_mean_r": per_story,
        "alpha_counts": alpha_histogram(model.arrays["alphas"], model.record.fit.alphas_grid),
        "alpha_median": float(np.median(model.arrays["alphas"])),
        "alpha_grid": model_grid_check(model),
    }
    ceilings, story_rs = {}, {}
    for story, (_, repeats) in targets.items():
        if repeats is None:
            continue
        cc_max = noise_ceiling(repeats)
        story_r = voxel_correlation(targets[story][0], preds[story])
        ceilings[story], story_rs[story] = cc_max, story_r
        single = np.mean([voxel_correlation(rep, preds[story]) for rep in repeats], axis=0)
        scores[f"cc_max/{story}"] = cc_max
        metrics[f"noise_ceiling/{story}"] = {
            "mean_r_repeat_mean": float(story_r.mean()),
            "top_mean_r_repeat_mean": float(story_r[top].mean()),
            "n_voxels_with_signal": int((cc_max > 0).sum()),
            "mean_cc_max": float(cc_max.mean()),
            "selected": {"rule": f"validation_r > {threshold}", **ceiling_summary(story_r, cc_max, selected)},
            "mean_r_single_repeat": float(single.mean()),
            "n_repeats": int(repeats.shape[0]),
        }
    gate = region_mean_r(val_resp, preds, split.validation, rois) if rois is not None else None
    metrics |= judged_metrics(test_r, model.arrays["validation_r"], threshold, rois, rois_note, ceilings, story_rs, gate)
    return metrics, scores


def judged_metrics(
    test_r: np.ndarray, validation_r: np.ndarray, threshold: float, rois: VoxelRois | None, rois_note: str | None = None,
    ceilings: Mapping[str, np.ndarray] | None = None, story_rs: Mapping[str, np.ndarray] | None = None,
    mean_response_r: np.ndarray | None = None,
) -> dict[str, Any]:
    """The metrics keys `rois` (per-ROI scores, or why there are none), `success_rule` and `success_criteria`."""
    out: dict[str, Any] = {}
    per_roi = None
    if rois is not None:
        per_roi = out["rois"] = roi_scores(test_r, validation_r, threshold, rois, ceilings, story_rs, mean_response_r)
    elif rois_note is not None:
        out["rois"] = {"unavailable": rois_note}
    out["success_rule"] = SUCCESS_RULE
    out["success_criteria"] = success_criteria(len(test_r), float(np.mean(test_r)), per_roi, rois_note)
    return out


def plot_evaluation(path: Path, subject: str, test_r: np.ndarray, val_r: np.ndarray, alphas: np.ndarray, fraction: float) -> None:
    """Figure: histogram of test r (all voxels and top voxels by validation r) and the selected-alpha distribution."""
    from matplotlib.figure import Figure

    from neurofin.io import atomic_path

    top = top_voxels(val_r, fraction)
    fig = Figure(figsize=(10, 4))
    ax_r, ax_a = fig.subplots(1, 2)
    fig.suptitle(f"{subject}: encoding model on held-out stories")
    bins = np.linspace(min(-0.2, test_r.min()), max(0.2, test_r.max()), 60)
    ax_r.hist(test_r, bins=bins, alpha=0.6, label=f"all voxels (mean {test_r.mean():.3f})")
    ax_r.hist(test_r[top], bins=bins, alpha=0.8, label=f"top {fraction:.0%} by validation r (mean {test_r[top].mean():.3f})")
    ax_r.set_xlabel("test Pearson r")
    ax_r.set_ylabel("voxels")
    ax_r.legend(fontsize=8)
    values, counts = np.unique(np.log10(alphas), return_counts=True)
    ax_a.bar(values, counts, width=0.6)
    ax_a.set_xlabel("log10 selected alpha")
    ax_a.set_ylabel("voxels")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def evaluate_package(
    directory: str | Path, dataset: Dataset, features: FeatureSource, rois: VoxelRois | None = None,
    rois_note: str | None = None,
) -> dict[str, Any]:
    """Score a saved package on its held-out stories; add metrics.json, scores.safetensors and the figure to it.

    Per-ROI scores need `rois` (the subject's voxels per ROI, e.g. from neurofin.pipeline.evaluation_rois);
    without them `rois_note` says why they are missing.
    """
    directory = Path(directory)
    model = EncodingModel.load(directory)
    metrics, scores = score_model(model, dataset, features, rois, rois_note)
    plot_evaluation(directory / FIGURE_FILE, model.subject, scores["test_r"], model.arrays["validation_r"],
                    model.arrays["alphas"], model.record.voxel_selection.top_fraction)
    write_evaluation(directory, metrics, scores)
    return metrics
