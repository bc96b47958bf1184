"""CLI command of the infer stage: `neurofin infer`."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the root app."""

    @app.command("infer")
    def infer(
        packages: list[Path] = typer.Option(..., "--packages", help="Model package folder(s) from `neurofin train` (repeat, or give their parent)."),
        input_path: Path = typer.Option(..., "--input", help="Comments file: .jsonl, .parquet or .csv."),
        out: Path = typer.Option(..., "--out", help="Output Parquet: rows per (id, subject) incl. 'ensemble'."),
        text_column: str = typer.Option("body", "--text-column", help="Column holding the text."),
        data_root: Path = typer.Option(None, "--data-root", help="ds003020 folder: subjects' anatomy/transforms for the atlas."),
        roi_file: Path = typer.Option(None, "--roi-file", help="Edited ROI definitions (TOML); default: the packaged rois.toml."),
        level: str = typer.Option("rois", "--level", help="rois | parcels."),
        threshold: float = typer.Option(None, "--threshold", help="Validation-r voxel threshold (default: the package's)."),
        atlas_cache: Path = typer.Option(None, "--atlas-cache", help="Registration cache folder."),
        batch_size: int = typer.Option(256, "--batch-size", help="Texts per batch (each finished batch is kept for resuming)."),
        device: str = typer.Option(None, "--device", help="auto | cpu | cuda[:i] for the language model."),
        ray_address: str = typer.Option(None, "--ray-address", help="Score on Ray (local | auto | ADDRESS): --input file or folder of shards, --out a folder of Parquet shards."),
        actors: int = typer.Option(None, "--actors", help="With --ray-address: predictor actors (default one per GPU, else per CPU)."),
    ) -> None:
        """Predict brain-region activity for every text of a comments file, per subject and as an ensemble.

        Texts with no usable words (empty, emoji-only) or that fail get NaN regions and an `error`; the run
        never stops for one text. An interrupted run resumes from its finished batches.

        Example: neurofin infer --packages models/UTS01 --packages models/UTS02 --data-root data/ds003020 \\
        --input comments.jsonl --text-column body --out rois.parquet
        """
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from neurofin.encoding.package import package_dirs
        from neurofin.errors import InputError
        from neurofin.infer.inputs import read_texts
        from neurofin.infer.predictor import Predictor
        from neurofin.infer.run import infer_file
        from neurofin.infer.schema import ENSEMBLE
        from neurofin.io import sha256_file

        if level not in ("rois", "parcels"):
            raise InputError(f"--level {level!r}: use rois or parcels")
        folders = [p for given in packages for p in package_dirs(given)]
        overrides = {"device": device} if device else None
        predictor = Predictor.from_packages(folders, data_root, roi_file, level, threshold, atlas_cache, feature_overrides=overrides)
        record = {
            "packages": [sha256_file(p / "manifest.json") for p in folders],
            "roi_file": sha256_file(roi_file) if roi_file else None,
            "level": level,
            "threshold": threshold,
        }
        if ray_address:
            from neurofin.scale.infer import infer_ray

            spec = {"packages": folders, "data_root": data_root, "roi_file": roi_file, "level": level,
                    "threshold": threshold, "atlas_cache": atlas_cache, "feature_overrides": overrides}
            shards = infer_ray(spec, input_path, out, ray_address, text_column, batch_size, actors=actors, predictor_record=record)
            typer.echo(f"{len(shards)} Parquet shards x {len(predictor.subjects)} subjects -> {out}")
            return
        texts = read_texts(input_path, text_column)
        total = len(texts)
        columns = [TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns) as bar:
            task = bar.add_task("texts", total=total)
            frame = infer_file(predictor, texts, out, batch_size, record, lambda n: bar.advance(task, n))
        n_errors = int(frame.loc[frame["subject"] == ENSEMBLE, "error"].notna().sum())
        typer.echo(f"{total} texts x {len(predictor.subjects)} subjects -> {out} ({n_errors} texts with errors)")
