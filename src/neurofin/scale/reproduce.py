"""`neurofin reproduce`: the published protocol in one command, for chosen ds003020 subjects.

download (anonymous S3) -> check -> features for every story the subjects heard -> per-subject train and
evaluate -> per-ROI test r where the subject's anatomy registers to the atlas -> a table against the reference
protocol and the success criteria, written to OUT/reproduce.json and OUT/reproduce.md.

Reference protocol (REFERENCE.md section 4): the test story `wheretheressmoke` is scored against the mean of its
repeats; the HuthLab tutorial reports an all-voxel mean r of 0.172 for UTS03 with OPT-30B layer-33 features.
Success criteria of this project: whole-brain (all-voxel) mean test r > 0.10, language-cortex ROI mean r > 0.20,
NAcc ROI mean r > 0.05 (cortical data: the NAcc sphere samples the mask's edge, not the nucleus), judged by
`neurofin evaluate` under its one rule (neurofin.encoding.roi_scores.SUCCESS_RULE) and read here from each
package's metrics.json, never recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurofin.config import TEST_STORY, Settings
from neurofin.encoding.roi_scores import SUCCESS_RULE
from neurofin.errors import AtlasError, DataError
from neurofin.io import write_bytes_atomic, write_json_atomic

logger = logging.getLogger(__name__)

REFERENCE: dict[str, Any] = {
    "test_story": TEST_STORY,
    "scored_against": "repeat_mean",
    "tutorial": {"subject": "UTS03", "features": "OPT-30B layer 33", "all_voxel_mean_r": 0.172},
}
@dataclass
class ReproduceResult:
    """Per-subject rows (metrics and ROI r), criteria verdicts, and where the packages are."""

    rows: list[dict[str, Any]]
    criteria: dict[str, dict[str, bool | None]] = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)
    roi_note: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"reference": REFERENCE, "rows": self.rows, "criteria": self.criteria, "packages": self.packages,
                "roi_note": self.roi_note}


def subject_row(metrics: dict[str, Any], rois: bool = True) -> dict[str, Any]:
    """One table row: the protocol's metrics of a subject, its ROI means (all voxels) and its success criteria,
    all from `neurofin evaluate`'s metrics."""
    ceiling = metrics.get(f"noise_ceiling/{TEST_STORY}", {})
    row = {
        "subject": metrics["subject"],
        "n_voxels": metrics["n_voxels"],
        "test_stories": metrics["test_stories"],
        "scored_against": metrics["scored_against"],
        "test_mean_r": metrics["test_mean_r"],
        "test_top_mean_r": metrics["test_top_mean_r"],
        "mean_cc_norm": ceiling.get("mean_cc_norm"),
        "success_criteria": metrics["success_criteria"],
    }
    per_roi = metrics.get("rois") or {}
    if rois and "unavailable" not in per_roi:
        row |= {f"roi_r/{name}": scores["mean_test_r"] for name, scores in per_roi.items()}
    return row


def verdicts(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, bool | None]]:
    """Per criterion ('language-cortex r > 0.20') and subject: passed, failed, or None when not evaluated."""
    out: dict[str, dict[str, bool | None]] = {}
    for row in rows:
        for c in row["success_criteria"]:
            status = c["status"]
            out.setdefault(f"{c['criterion']} > {c['threshold']:.2f}", {})[row["subject"]] = (
                None if status == "not evaluated" else status == "pass")
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_table(result: ReproduceResult) -> str:
    """The printed report: per-subject metrics and ROI r, reference protocol, criteria verdicts."""
    roi_keys = sorted({k for r in result.rows for k in r if k.startswith("roi_r/")},
                      key=lambda k: (k not in ("roi_r/language", "roi_r/nacc"), k))
    head = ["subject", "voxels", "test story (scored against)", "all-voxel r", "top-5% r", "cc_norm",
            *[k.removeprefix("roi_r/") for k in roi_keys]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result.rows:
        scored = ", ".join(f"{s} ({how})" for s, how in r["scored_against"].items())
        cells = [r["subject"], str(r["n_voxels"]), scored, _fmt(r["test_mean_r"]), _fmt(r["test_top_mean_r"]),
                 _fmt(r["mean_cc_norm"]), *[_fmt(r.get(k)) for k in roi_keys]]
        lines.append("| " + " | ".join(cells) + " |")
    tutorial = REFERENCE["tutorial"]
    lines += [
        "",
        f"Reference protocol: test story `{REFERENCE['test_story']}` scored against its repeat mean; HuthLab tutorial "
        f"{tutorial['subject']} with {tutorial['features']}: all-voxel mean r {tutorial['all_voxel_mean_r']}.",
        "",
        f"Success criteria: {SUCCESS_RULE}.",
        "",
        "| criterion | " + " | ".join(r["subject"] for r in result.rows) + " |",
        "|---|" + "---|" * len(result.rows),
    ]
    for name, per_subject in result.criteria.items():
        marks = ["n/a" if ok is None else ("pass" if ok else "FAIL") for ok in per_subject.values()]
        lines.append(f"| {name} | " + " | ".join(marks) + " |")
    if result.roi_note:
        lines += ["", result.roi_note]
    return "\n".join(lines) + "\n"


def reproduce(
    subjects: Sequence[str],
    dest: Path,
    out: Path,
    settings: Settings,
    endpoint_url: str | None = None,
    download: bool = True,
    rois: bool = True,
    ray_address: str | None = None,
) -> ReproduceResult:
    """Run the protocol for `subjects` with data under `dest`; packages and the report go under `out` (steps logged as info)."""
    from neurofin.atlas import subject_atlas
    from neurofin.data.check import check_dataset
    from neurofin.data.download import download_dataset
    from neurofin.data.layout import find_dataset
    from neurofin.encoding.train import cached_feature_source
    from neurofin.pipeline import evaluate_with_rois
    from neurofin.scale.tasks import extract_features, train_subjects

    subjects = list(dict.fromkeys(subjects))
    if download:
        logger.info(f"1/5 download ds003020 for {', '.join(subjects)} -> {dest}")
        report = download_dataset(subjects, dest, endpoint_url=endpoint_url)
        logger.info(f"    {len(report.downloaded)} files fetched, {len(report.skipped)} already complete")
    dataset = find_dataset(dest)
    logger.info("2/5 check")
    check = check_dataset(dataset.root, subjects, allow_missing_stories=True)
    if check.problems:
        shown = "; ".join(str(p.message) for p in check.problems[:5])
        raise DataError(f"data check found {len(check.problems)} problems ({shown}): run `neurofin data check {dataset.root}`")
    stories = sorted({s for subject in subjects for s in dataset.stories(subject)})
    logger.info(f"3/5 features of {len(stories)} stories ({settings.features.model})")
    extract_features(dataset, stories, settings.features, ray_address)
    logger.info(f"4/5 train and evaluate {len(subjects)} subjects")
    packages = train_subjects(dataset, subjects, settings, out / "models", ray_address)
    features = cached_feature_source(dataset, settings)
    cache = settings.atlas.cache_dir or out / "atlas-cache"
    settings = settings.model_copy(update={"atlas": settings.atlas.model_copy(update={"cache_dir": cache})})
    rows, note = [], None
    if rois:
        logger.info("5/5 per-ROI test r from each subject's registered atlas")
    for subject, package in zip(subjects, packages):
        if rois:
            try:
                subject_atlas(dataset, subject, cache)  # registered (or reused) so that evaluate scores each ROI
            except (AtlasError, DataError) as exc:
                note = f"per-ROI r not available: {exc}"
        metrics = evaluate_with_rois(package, dataset, features, settings)
        rows.append(subject_row(metrics, rois))
        logger.info(f"    {subject}: all-voxel test r {metrics['test_mean_r']:.3f}")
    result = ReproduceResult(rows, verdicts(rows), [str(p) for p in packages], note)
    write_json_atomic(out / "reproduce.json", result.to_record())
    write_bytes_atomic(out / "reproduce.md", markdown_table(result).encode("utf-8"))
    return result

