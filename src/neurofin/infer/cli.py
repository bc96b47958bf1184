"""CLI command of the infer stage: `neurofin infer`."""

from __future__ import annotations

from pathlib import Path

import typer

from neurofin.cli_common import CONFIG_HELP, DATA_ROOT_HELP


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the root app."""

    @app.command("infer")
    def infer(
        packages: list[Path] = typer.Option(..., "--packages", help="Model package folder(s) from `neurofin train` (repeat, or give their parent)."),
        input_path: Path = typer.Option(..., "--input", help="Comments file: .jsonl, .json, .parquet or .csv."),
        out: Path = typer.Option(..., "--out", help="Output Parquet: rows per (id, subject) incl. 'ensemble'."),
        config: Path = typer.Option(None, "--config", help=CONFIG_HELP),
        text_column: str = typer.Option("body", "--text-column", help="Column holding the text."),
        data_root: Path = typer.Option(None, "--data-root", help=DATA_ROOT_HELP + " Needed for the subjects' anatomy."),
        roi_file: Path = typer.Option(None, "--roi-file", help="Edited ROI definitions (TOML; atlas.roi_file); default: the packaged rois.toml."),
        level: str = typer.Option(None, "--level", help="rois | parcels (infer.level)."),
        threshold: float = typer.Option(None, "--threshold", help="Validation-r voxel threshold (infer.voxel_r_threshold; default: each package's)."),
        atlas_cache: Path = typer.Option(None, "--atlas-cache", help="Registration cache folder (atlas.cache_dir)."),
        batch_size: int = typer.Option(None, "--batch-size", help="Texts per batch; each finished batch is kept for resuming (infer.batch_size)."),
        device: str = typer.Option(None, "--device", help="auto | cpu | cuda[:i] for the language model (features.device)."),
        ray_address: str = typer.Option(None, "--ray-address", help="Score on Ray (local | auto | ADDRESS): --input file or folder of shards, --out a folder of Parquet shards."),
        actors: int = typer.Option(None, "--actors", help="With --ray-address: predictor actors (default one per GPU, else per CPU)."),
    ) -> None:
        """Predict brain-region activity for every text of a comments file, per subject and as an ensemble.

        Texts with no usable words (empty, emoji-only, not a string) or that fail get NaN regions and an `error`;
        the run never stops for one text. Malformed JSONL lines are skipped and named (line numbers); missing ids
        become row-<n>, repeated ids get #2, #3. An interrupted run resumes from its finished batches.

        Example: neurofin infer --packages models --data-root data/ds003020 --input comments.jsonl --out rois.parquet
        """
        from neurofin.cli_common import echo, load_settings
        from neurofin.encoding.package import package_dirs
        from neurofin.infer.inputs import read_texts
        from neurofin.infer.predictor import Predictor
        from neurofin.infer.run import check_output, infer_file
        from neurofin.io import sha256_file
        from neurofin.progress import cli_progress
        from neurofin.schema import ENSEMBLE

        settings = load_settings(config, {
            "infer.level": level, "infer.voxel_r_threshold": threshold, "infer.batch_size": batch_size,
            "atlas.roi_file": roi_file, "atlas.cache_dir": atlas_cache, "features.device": device,
            "data.data_root": data_root,
        })
        run = settings.infer
        if not ray_address:  # (Ray reads shards itself and writes a folder)
            check_output(out)  # before loading packages and the language model
            texts = read_texts(input_path, text_column, warn=lambda message: typer.echo(f"warning: {message}", err=True))
        folders = [p for given in packages for p in package_dirs(given)]
        predictor = Predictor.from_packages(
            folders, data_root=settings.data.data_root, roi_file=settings.atlas.roi_file, level=run.level,
            threshold=run.voxel_r_threshold, atlas_cache=settings.atlas.cache_dir,
            feature_overrides={"device": settings.features.device}, max_words=run.max_words,
        )
        record = {
            "packages": [sha256_file(p / "manifest.json") for p in folders],
            "roi_file": sha256_file(settings.atlas.roi_file) if settings.atlas.roi_file else None,
            "level": run.level,
            "threshold": run.voxel_r_threshold,
        }
        if ray_address:
            from neurofin.scale.infer import infer_ray

            spec = {"packages": folders, "data_root": settings.data.data_root, "roi_file": settings.atlas.roi_file,
                    "level": run.level, "threshold": run.voxel_r_threshold, "atlas_cache": settings.atlas.cache_dir,
                    "feature_overrides": {"device": settings.features.device}, "max_words": run.max_words}
            shards = infer_ray(spec, input_path, out, ray_address, text_column, run.batch_size, actors=actors,
                               predictor_record=record)
            echo(f"{len(shards)} Parquet shards x {len(predictor.subjects)} subjects -> {out}")
            return
        with cli_progress() as progress:
            frame = infer_file(predictor, texts, out, run.batch_size, record, progress=progress)
        n_errors = int(frame.loc[frame["subject"] == ENSEMBLE, "error"].notna().sum())
        echo(f"{len(texts)} texts x {len(predictor.subjects)} subjects -> {out} ({n_errors} texts with errors)")
