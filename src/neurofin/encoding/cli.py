"""CLI commands of the encoding stage: `neurofin train` and `neurofin evaluate`."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import typer

from neurofin.cli_common import CONFIG_HELP, DATA_ROOT_HELP, SUBJECTS_HELP


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the root app."""

    @app.command("train")
    def train(
        out: Path = typer.Option(..., "--out", help="Folder for the packages: OUT/<subject>/."),
        data_root: Path = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
        subjects: str = typer.Option(None, "--subjects", help=SUBJECTS_HELP),
        config: Path = typer.Option(None, "--config", help=CONFIG_HELP),
        solver: str = typer.Option(None, "--solver", help="ridge | kernel | banded | auto."),
        backend: str = typer.Option(None, "--backend", help="himalaya backend: auto | numpy | torch | torch_cuda."),
        pca_components: int = typer.Option(None, "--pca-components", help="Pre-delay PCA size (variances kept)."),
        n_targets_batch: int = typer.Option(None, "--n-targets-batch", help="Voxels per batch during CV (memory)."),
        n_alphas_batch: int = typer.Option(None, "--n-alphas-batch", help="Alphas per batch during CV (memory)."),
        n_targets_batch_refit: int = typer.Option(None, "--n-targets-batch-refit", help="Voxels per batch in the refit."),
        ray_address: str = typer.Option(None, "--ray-address", help="Subjects as Ray tasks, one per GPU: local | auto | ADDRESS."),
    ) -> None:
        """Fit one encoding model package per subject (per-voxel alphas, leave-stories-out CV), then evaluate it.

        The word features come from the same settings as `neurofin features extract` (features.* in --config).

        Example: neurofin train --data-root data/ds003020 --subjects UTS01,UTS02 --out models
        """
        from neurofin.cli_common import chosen_subjects, open_dataset
        from neurofin.config import Settings
        from neurofin.encoding.roi_scores import format_tables
        from neurofin.encoding.train import AlphaGridWarning, cached_feature_source
        from neurofin.io import guard_output, require_writable
        from neurofin.pipeline import evaluate_with_rois, train_package

        overrides = {
            "encoding.solver": solver,
            "encoding.backend": backend,
            "encoding.pca_components": pca_components,
            "encoding.n_targets_batch": n_targets_batch,
            "encoding.n_alphas_batch": n_alphas_batch,
            "encoding.n_targets_batch_refit": n_targets_batch_refit,
        }
        settings = Settings.load(config, overrides)
        guard_output(out, "folder", [data_root, config])
        require_writable(out, "--out")  # before any fit
        dataset = open_dataset(data_root, settings)
        features = cached_feature_source(dataset, settings)
        chosen = chosen_subjects(subjects, settings, dataset.subjects())
        trained = {}
        if ray_address:
            from neurofin.scale.tasks import train_subjects

            trained = dict(zip(chosen, train_subjects(dataset, chosen, settings, out, ray_address)))
        for subject in chosen:
            with warnings.catch_warnings():  # an alpha-grid warning is printed with the tables below
                warnings.simplefilter("ignore", AlphaGridWarning)
                package = trained.get(subject) or train_package(dataset, subject, settings, out, features)
            metrics = evaluate_with_rois(package, dataset, features, settings)
            typer.echo(
                f"{subject}: test r {metrics['test_mean_r']:.4f} (all voxels), {metrics['test_top_mean_r']:.4f} "
                f"(top {metrics['top_fraction']:.0%} by validation r) -> {package}"
            )
            typer.echo(format_tables(metrics))

    @app.command("evaluate")
    def evaluate(
        directory: Path = typer.Argument(..., help="A package folder, or the --out folder of `neurofin train`."),
        data_root: Path = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
        config: Path = typer.Option(None, "--config", help=CONFIG_HELP + " Only features.cache_dir and atlas.* are used."),
    ) -> None:
        """Score saved packages on their validation and test stories; add metrics.json, scores and evaluation.png.

        Example: neurofin evaluate models/UTS01 --data-root data/ds003020
        """
        from neurofin.cli_common import open_dataset
        from neurofin.config import Settings
        from neurofin.encoding.package import EncodingModel, package_dirs
        from neurofin.encoding.roi_scores import format_tables
        from neurofin.encoding.train import cached_feature_source
        from neurofin.pipeline import evaluate_with_rois

        base = Settings.load(config)
        dataset = open_dataset(data_root, base)
        for package in package_dirs(directory):
            recorded = EncodingModel.load(package).record.settings
            cache_dir = base.features.cache_dir or recorded.features.cache_dir
            settings = recorded.model_copy(update={"features": recorded.features.model_copy(update={"cache_dir": cache_dir})})
            metrics = evaluate_with_rois(package, dataset, cached_feature_source(dataset, settings), base)
            typer.echo(json.dumps({"package": str(package), **metrics}, indent=2, default=str))
            typer.echo(format_tables(metrics))
