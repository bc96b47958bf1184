"""CLI commands of the encoding stage: `neurofin train` and `neurofin evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the root app."""

    @app.command("train")
    def train(
        data_root: Path = typer.Option(..., "--data-root", help="ds003020 folder (or its parent)."),
        subjects: str = typer.Option(..., "--subjects", help="Comma-separated subjects, e.g. UTS01,UTS02."),
        out: Path = typer.Option(..., "--out", help="Folder for the packages: OUT/<subject>/."),
        config: Path = typer.Option(None, "--config", help="TOML settings file merged over the defaults."),
        solver: str = typer.Option(None, "--solver", help="ridge | kernel | banded | auto."),
        backend: str = typer.Option(None, "--backend", help="himalaya backend: auto | numpy | torch | torch_cuda."),
        pca_components: int = typer.Option(None, "--pca-components", help="Pre-delay PCA size (variances kept)."),
        n_targets_batch: int = typer.Option(None, "--n-targets-batch", help="Voxels per batch during CV (memory)."),
        n_alphas_batch: int = typer.Option(None, "--n-alphas-batch", help="Alphas per batch during CV (memory)."),
        n_targets_batch_refit: int = typer.Option(None, "--n-targets-batch-refit", help="Voxels per batch in the refit."),
        ray_address: str = typer.Option(None, "--ray-address", help="Subjects as Ray tasks, one per GPU: local | auto | ADDRESS."),
    ) -> None:
        """Fit one encoding model package per subject (per-voxel alphas, leave-stories-out CV), then evaluate it.

        Example: neurofin train --data-root data/ds003020 --subjects UTS01,UTS02 --out models
        """
        from rich.progress import Progress

        from neurofin.config import Settings
        from neurofin.data.layout import find_dataset
        from neurofin.encoding.evaluate import evaluate_package
        from neurofin.encoding.train import cached_feature_source, train_subject

        overrides = {
            "encoding.solver": solver,
            "encoding.backend": backend,
            "encoding.pca_components": pca_components,
            "encoding.n_targets_batch": n_targets_batch,
            "encoding.n_alphas_batch": n_alphas_batch,
            "encoding.n_targets_batch_refit": n_targets_batch_refit,
        }
        settings = Settings.load(config, overrides)
        dataset = find_dataset(data_root)
        features = cached_feature_source(dataset, settings)
        chosen = [s.strip() for s in subjects.split(",") if s.strip()]
        trained = {}
        if ray_address:
            from neurofin.scale.tasks import train_subjects

            trained = dict(zip(chosen, train_subjects(dataset, chosen, settings, out, ray_address)))
        with Progress() as bar:
            task = bar.add_task("training subjects", total=len(chosen))
            for subject in chosen:
                package = trained.get(subject) or train_subject(dataset, subject, settings, out, features)
                metrics = evaluate_package(package, dataset, features)
                bar.console.print(
                    f"{subject}: test r {metrics['test_mean_r']:.4f} (all voxels), {metrics['test_top_mean_r']:.4f} "
                    f"(top {metrics['top_fraction']:.0%} by validation r) -> {package}"
                )
                bar.advance(task)

    @app.command("evaluate")
    def evaluate(
        directory: Path = typer.Argument(..., help="A package folder, or the --out folder of `neurofin train`."),
        data_root: Path = typer.Option(..., "--data-root", help="ds003020 folder (or its parent)."),
        config: Path = typer.Option(None, "--config", help="TOML settings (feature cache location)."),
    ) -> None:
        """Score saved packages on their validation and test stories; write metrics.json and evaluation.png.

        Example: neurofin evaluate models/UTS01 --data-root data/ds003020
        """
        from neurofin.config import Settings
        from neurofin.data.layout import find_dataset
        from neurofin.encoding.evaluate import evaluate_package
        from neurofin.encoding.package import EncodingModel, package_dirs
        from neurofin.encoding.train import cached_feature_source

        dataset = find_dataset(data_root)
        base = Settings.load(config)
        for package in package_dirs(directory):
            recorded = Settings.model_validate(EncodingModel.load(package).config["settings"])
            recorded.features.cache_dir = base.features.cache_dir or recorded.features.cache_dir
            metrics = evaluate_package(package, dataset, cached_feature_source(dataset, recorded))
            typer.echo(json.dumps({"package": str(package), **metrics}, indent=2, default=str))
