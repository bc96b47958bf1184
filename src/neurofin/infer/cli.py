"""CLI commands of the infer stage: `neurofin calibrate`, `neurofin infer`, `neurofin explain`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from neurofin.cli_common import (
    DATA_ROOT_HELP,
    PACKAGE_DATA_ROOT_HELP,
    AtlasCacheOption,
    ConfigOption,
    DeviceOption,
    LevelOption,
    PackagesOption,
    PrefixOption,
    RoiFileOption,
    ThresholdOption,
    UnitsOption,
)


def build_predictor(folders: list[Path], settings: Any, units: str = "calibrated") -> Any:
    """A Predictor for package folders under the run's settings; refuses uncalibrated packages for calibrated units."""
    from neurofin.infer.calibration import CalibrationError
    from neurofin.infer.predictor import Predictor, predictor_options

    if units not in ("calibrated", "raw"):
        raise CalibrationError(f"--units {units!r}: use calibrated or raw")
    predictor = Predictor.from_packages(folders, **predictor_options(settings))
    missing = predictor.uncalibrated()
    if units == "calibrated" and missing:
        raise CalibrationError(
            f"no calibration for {', '.join(missing)} with this ROI file, threshold and context prefix: run `neurofin calibrate "
            "--packages MODELS --data-root DATA` with the same settings, or pass --units raw for uncalibrated values"
        )
    predictor.units = units  # type: ignore[assignment]  # checked above
    return predictor


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the root app."""

    @app.command("calibrate")
    def calibrate(
        packages: PackagesOption,
        data_root: Path = typer.Option(None, "--data-root", help=DATA_ROOT_HELP + " Its held-out stories (validation + test) are the reference text."),
        config: ConfigOption = None,
        corpus: Path = typer.Option(None, "--corpus", help="Your own comment-like texts (.jsonl, .json, .parquet or .csv), added to the reference corpus."),
        text_column: str = typer.Option("body", "--text-column", help="With --corpus: the column holding the text."),
        texts: int = typer.Option(240, "--texts", help="Reference texts cut from the held-out stories (3-300 words each)."),
        roi_file: RoiFileOption = None,
        level: LevelOption = None,
        threshold: ThresholdOption = None,
        atlas_cache: AtlasCacheOption = None,
        device: DeviceOption = None,
        context_prefix: PrefixOption = None,
    ) -> None:
        """Calibrate each package on comment-like reference text, so `infer` reports values in SDs of such text, free of length.

        Scores held-out story text cut into 3-300-word chunks (plus --corpus) through exactly the inference path and
        stores per region the location, log-length dependence and scale in the package (calibration.json). Run it again
        after changing the ROI file, threshold or context prefix. `neurofin atlas register --packages` runs it too.

        Example: neurofin calibrate --packages models --data-root data/ds003020
        """
        import numpy as np

        from neurofin.config import Settings
        from neurofin.encoding.package import package_dirs
        from neurofin.infer.calibrate import calibrate_packages

        settings = Settings.load(config, {
            "infer.level": level, "infer.voxel_r_threshold": threshold, "atlas.roi_file": roi_file,
            "atlas.cache_dir": atlas_cache, "features.device": device, "data.data_root": data_root, "infer.context_prefix": context_prefix,
        })
        extra: list[str] = []
        if corpus is not None:
            from neurofin.infer.inputs import read_texts

            extra = [t for t in read_texts(corpus, text_column)["text"] if isinstance(t, str)]
        folders = [p for given in packages for p in package_dirs(given)]
        calibrations = calibrate_packages(folders, settings, texts, extra)
        for subject, calibration in calibrations.items():
            typer.echo(f"{subject}: calibrated on {calibration.corpus['n_texts']} texts of {calibration.corpus['n_words_range'][0]}-"
                       f"{calibration.corpus['n_words_range'][1]} words; median scale {float(np.nanmedian(calibration.scale)):.3g}")

    @app.command("infer")
    def infer(
        packages: PackagesOption,
        input_path: Path = typer.Option(..., "--input", help="Comments file: .jsonl, .json, .parquet or .csv (with --ray-address also a folder of shards)."),
        out: Path = typer.Option(..., "--out", help="Output .parquet or .csv: rows per (id, subject) incl. 'ensemble' (or one per text with --layout wide). Values: SDs of comment-like text above a typical text of the same length (--units calibrated, docs/infer.md)."),
        config: ConfigOption = None,
        text_column: str = typer.Option("body", "--text-column", help="Column holding the text."),
        id_column: str = typer.Option(None, "--id-column", help="Column holding each text's id (default: 'id' if present, else the row number)."),
        keep_columns: str = typer.Option(None, "--keep-columns", help="Input columns passed through to the output, comma-separated (e.g. created_utc,ticker)."),
        layout: str = typer.Option("long", "--layout", help="long: a row per (id, subject); wide: a row per text with <subject>/<region> columns."),
        data_root: Path = typer.Option(None, "--data-root", help=PACKAGE_DATA_ROOT_HELP),
        roi_file: RoiFileOption = None,
        level: LevelOption = None,
        threshold: ThresholdOption = None,
        atlas_cache: AtlasCacheOption = None,
        batch_size: int = typer.Option(None, "--batch-size", help="Texts per batch; each finished batch is kept for resuming (infer.batch_size)."),
        device: DeviceOption = None,
        ray_address: str = typer.Option(None, "--ray-address", help="Score on Ray (local | auto | ADDRESS): --input file or folder of shards, --out a folder of Parquet shards."),
        actors: int = typer.Option(None, "--actors", help="With --ray-address: predictor actors (default one per GPU, else per CPU)."),
        context_prefix: PrefixOption = None,
        units: UnitsOption = "calibrated",
    ) -> None:
        """Predict brain-region activity for every text of a comments file, per subject and as an ensemble.

        Texts with no usable words (empty, emoji-only, not a string) or that fail get NaN regions and an `error`;
        the run never stops for one text. Malformed JSONL lines are skipped and named (line numbers); missing ids
        become row-<n>, repeated ids get #2, #3. An interrupted run resumes from its finished batches.

        Example: neurofin infer --packages models --data-root data/ds003020 --input comments.jsonl --out rois.parquet
        """
        from neurofin.config import Settings
        from neurofin.encoding.package import package_dirs
        from neurofin.encoding.roi_scores import roi_quality_table
        from neurofin.errors import NeurofinError
        from neurofin.infer.inputs import read_texts
        from neurofin.infer.run import check_output, infer_file
        from neurofin.io import guard_output, sha256_file, write_table_atomic
        from neurofin.progress import cli_progress
        from neurofin.schema import ENSEMBLE

        settings = Settings.load(config, {
            "infer.level": level, "infer.voxel_r_threshold": threshold, "infer.batch_size": batch_size,
            "atlas.roi_file": roi_file, "atlas.cache_dir": atlas_cache, "features.device": device,
            "data.data_root": data_root, "infer.context_prefix": context_prefix,
        })
        run = settings.infer
        inputs = [input_path, config, roi_file, *packages]
        quality = Path(out).with_name(Path(out).stem + ".roi_quality.csv")
        if ray_address:
            guard_output(out, "folder", inputs)
        else:  # (Ray reads shards itself and writes a folder)
            check_output(out, inputs)  # before loading packages and the language model
            guard_output(quality, "csv", inputs)
            kept = [c.strip() for c in (keep_columns or "").split(",") if c.strip()]
            texts = read_texts(input_path, text_column, id_column, kept)
        folders = [p for given in packages for p in package_dirs(given)]
        predictor = build_predictor(folders, settings, units)
        record = {
            "packages": [sha256_file(p / "manifest.json") for p in folders],
            "roi_file": sha256_file(settings.atlas.roi_file) if settings.atlas.roi_file else None,
            "level": run.level,
            "threshold": run.voxel_r_threshold,
            "context_prefix": run.context_prefix,
            "units": units,
        }
        if ray_address:
            from neurofin.infer.predictor import predictor_options
            from neurofin.scale.infer import infer_ray

            spec = {"packages": folders, **predictor_options(settings)}
            shards = infer_ray(spec, input_path, out, ray_address, text_column, run.batch_size, actors=actors,
                               predictor_record=record)
            typer.echo(f"{len(shards)} Parquet shards x {len(predictor.subjects)} subjects -> {out}")
            return
        with cli_progress() as progress:
            frame = infer_file(predictor, texts, out, run.batch_size, record, progress=progress, layout=layout)  # type: ignore[arg-type]
        try:
            write_table_atomic(quality, roi_quality_table(folders))
            typer.echo(f"ROI encoding quality (validation r of each ROI's mean response, per subject) -> {quality}: "
                       "pass it to `neurofin market backtest --roi-quality`")
        except NeurofinError as exc:
            typer.echo(f"warning: no ROI quality table: {exc}", err=True)
        n_errors = int(frame["error"].notna().sum()) if layout == "wide" else int(frame.loc[frame["subject"] == ENSEMBLE, "error"].notna().sum())
        typer.echo(f"{len(texts)} texts x {len(predictor.subjects)} subjects -> {out} ({n_errors} texts with errors)")

    @app.command("explain")
    def explain(
        text: Annotated[str, typer.Argument(help="The text to explain.")],
        packages: PackagesOption,
        config: ConfigOption = None,
        data_root: Path = typer.Option(None, "--data-root", help=PACKAGE_DATA_ROOT_HELP),
        roi_file: RoiFileOption = None,
        atlas_cache: AtlasCacheOption = None,
        subject: str = typer.Option("ensemble", "--subject", help="Whose contributions to show: a subject or 'ensemble'."),
        html_out: Path = typer.Option(None, "--html", help="Also write an HTML snippet with the words shaded per region."),
        csv_out: Path = typer.Option(None, "--csv", help="Also write every subject's contributions as CSV."),
        table_out: Path = typer.Option(None, "--table", help="Also write the explanations file of `neurofin report --explanations` (.parquet or .csv)."),
        roi: str = typer.Option(None, "--roi", help="With --table: the ROI the report shades the words by (default: the first region)."),
        device: DeviceOption = None,
        context_prefix: PrefixOption = None,
        units: UnitsOption = "calibrated",
    ) -> None:
        """Exact per-word contributions to each region value of one text (they sum to what `neurofin infer` reports).

        Example: neurofin explain "GME to the moon" --packages models --data-root data/ds003020 --html explain.html
        (--table explanations.parquet --roi language: a file for `neurofin report --explanations`)
        """
        import pandas as pd

        from neurofin.config import Settings
        from neurofin.encoding.package import package_dirs
        from neurofin.errors import InputError
        from neurofin.infer.explain import explain_html
        from neurofin.io import OutputKind, guard_output, write_bytes_atomic
        from neurofin.unicode import repair_text

        settings = Settings.load(config, {"atlas.roi_file": roi_file, "atlas.cache_dir": atlas_cache,
                                          "features.device": device, "data.data_root": data_root,
                                          "infer.context_prefix": context_prefix})
        inputs = [config, roi_file, *packages]
        outputs: list[tuple[Path | None, OutputKind, str]] = [
            (html_out, "html", "--html"), (csv_out, "csv", "--csv"), (table_out, "table", "--table")]
        for path, kind, option in outputs:
            if path is not None:
                guard_output(path, kind, inputs, option)
        repaired = repair_text(text)
        if repaired != text:
            text = repaired
            typer.echo("warning: the text held lone surrogates (half an emoji), replaced by U+FFFD", err=True)
        predictor = build_predictor([p for given in packages for p in package_dirs(given)], settings, units)
        chosen = roi or predictor.region_names[0]
        if chosen not in predictor.region_names:
            raise InputError(f"no ROI {chosen!r}: choose one of {predictor.region_names}")
        frame = predictor.explain(text)
        if subject not in set(frame["subject"]):
            raise InputError(f"no subject {subject!r}: choose one of {sorted(set(frame['subject']))}")
        rows = frame[frame["subject"] == subject].set_index("word")[predictor.region_names]
        table = pd.concat([rows, rows.sum().to_frame("= value").T])
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", None):
            typer.echo(table.T.round(4).to_string())
        if html_out is not None:
            write_bytes_atomic(html_out, explain_html(frame, predictor.region_names, subject).encode("utf-8"))
            typer.echo(f"HTML -> {html_out}")
        if csv_out is not None:
            write_bytes_atomic(csv_out, frame.to_csv(index=False).encode("utf-8"))
            typer.echo(f"CSV -> {csv_out}")
        if table_out is not None:
            from neurofin.infer.explanations_file import write_explanations

            example = pd.DataFrame({"id": ["text"], "text": [text], "roi": [chosen], "chosen_by": ["given to `neurofin explain`"]})
            write_explanations(table_out, example, lambda _: frame)
            typer.echo(f"explanations -> {table_out} (neurofin report --explanations)")
