"""CLI commands of the atlas stage: list the ROIs, register subjects and report per-ROI coverage."""

from __future__ import annotations

from pathlib import Path

import typer

from neurofin.cli_common import CONFIG_HELP, DATA_ROOT_HELP, SUBJECTS_HELP

app = typer.Typer(
    help="Schaefer parcels, editable ROIs, registration into subject space.\n\n"
    "Example: neurofin atlas rois, then neurofin atlas register --data-root data/ds003020 --packages models",
    no_args_is_help=True,
)

ROI_FILE_HELP = "ROI definitions (TOML; default: the packaged rois.toml). Copy `neurofin atlas rois --show-file` to edit."


@app.command("rois")
def rois(
    roi_file: str = typer.Option(None, "--roi-file", help=ROI_FILE_HELP),
    show_file: bool = typer.Option(False, "--show-file", help="Print the ROI file itself (to copy and edit)."),
) -> None:
    """List the ROIs: name, parcel count (or MNI sphere), description. The file is validated against the atlas labels.

    Example: neurofin atlas rois --roi-file my_rois.toml
    """
    from neurofin.atlas import load_atlas, load_rois

    roi_set = load_rois(roi_file, load_atlas())
    if show_file:
        typer.echo(roi_set.source.read_text(encoding="utf-8"), nl=False)
        return
    typer.echo(f"{len(roi_set)} ROIs from {roi_set.source}")
    typer.echo(f"{'roi':<32}{'parcels':>8}  description")
    for roi in roi_set.rois:
        size = "sphere" if roi.is_sphere else str(len(roi.parcel_ids))
        typer.echo(f"{roi.name:<32}{size:>8}  {roi.description}")


@app.command("register")
def register_subjects(
    data_root: Path = typer.Option(None, "--data-root", help=DATA_ROOT_HELP + " It holds derivative/pycortex-db."),
    subjects: str = typer.Option(None, "--subjects", help=SUBJECTS_HELP),
    config: Path = typer.Option(None, "--config", help=CONFIG_HELP),
    cache: Path = typer.Option(None, "--cache", help="Cache folder for the registered maps (atlas.cache_dir; default: the user cache dir, ~/.cache/neurofin/atlas)."),
    mode: str = typer.Option("syn", "--mode", help="Registration: 'syn' (affine + fast SyN, default) or 'affine'."),
    roi_file: Path = typer.Option(None, "--roi-file", help=ROI_FILE_HELP + " (atlas.roi_file)"),
    packages: Path = typer.Option(None, "--packages", help="Model package folder(s) (`neurofin train --out`): store each registered subject's voxel map in its package, so inference needs only the package."),
) -> None:
    """Register each subject's anatomy to MNI (ANTs, cached) and print per-ROI voxel counts and coverage.

    Coverage is the share of an ROI's MNI volume inside the subject's cortical mask. Subcortical ROIs (the NAcc sphere) are flagged: ds003020 is cortical only, so they are at best partly covered.

    Example: neurofin atlas register --data-root ~/data/ds003020 --subjects UTS01,UTS02 --cache ~/.cache/neurofin-atlas
    """
    from neurofin.atlas import coverage_summary, load_atlas, load_rois, roi_coverage, subject_atlas
    from neurofin.atlas.register import MODES
    from neurofin.atlas.subject import default_cache_dir
    from neurofin.cli_common import chosen_subjects, open_dataset
    from neurofin.config import Settings
    from neurofin.encoding.package import EncodingModel, package_dirs, write_voxel_atlas
    from neurofin.errors import AtlasError
    from neurofin.io import guard_output
    from neurofin.progress import cli_progress

    if mode not in MODES:
        raise AtlasError(f"--mode {mode!r} is unknown: use one of {list(MODES)}")
    settings = Settings.load(config, {"atlas.cache_dir": cache, "atlas.roi_file": roi_file})
    if settings.atlas.cache_dir is not None:
        guard_output(settings.atlas.cache_dir, "folder", [data_root, config, roi_file, packages], "--cache")
    dataset = open_dataset(data_root, settings)
    chosen = chosen_subjects(subjects, settings, dataset.subjects())
    atlas = load_atlas()
    roi_set = load_rois(settings.atlas.roi_file, atlas)
    cache_dir = settings.atlas.cache_dir or default_cache_dir()
    stored = package_dirs(packages) if packages is not None else []
    for subject in chosen:
        with cli_progress() as progress:
            maps = subject_atlas(dataset, subject, cache_dir, mode=mode, atlas=atlas, progress=progress)  # type: ignore[arg-type]
        summary = coverage_summary(maps, atlas)
        typer.echo(
            f"\n{subject}: {summary['n_voxels']} mask voxels; {summary['on_ribbon']:.1%} on the atlas ribbon, "
            f"{summary['with_parcel']:.1%} with a parcel within {summary['fill_mm']:g} mm ({mode} registration)"
        )
        typer.echo(f"{'roi':<32}{'parcels':>8}{'voxels':>8}{'coverage':>10}  note")
        for row in roi_coverage(maps, roi_set, atlas):
            typer.echo(f"{row.name:<32}{row.n_parcels:>8}{row.n_voxels:>8}{row.coverage:>10.2f}  {row.note}")
        for package in stored:
            if EncodingModel.load(package).subject == subject:
                write_voxel_atlas(package, maps.parcels(atlas), maps.voxel_mni)
                typer.echo(f"voxel map stored in {package}")
    typer.echo(f"\nmaps cached in {cache_dir}")
    if stored:  # the packages now carry their ROIs: calibrate them on comment-like text (`neurofin calibrate`)
        from neurofin.errors import NeurofinError
        from neurofin.infer.calibrate import calibrate_packages

        try:
            calibrated = calibrate_packages(stored, Settings.load(config, {
                "atlas.cache_dir": cache, "atlas.roi_file": roi_file, "data.data_root": str(dataset.root)}))
        except NeurofinError as exc:  # the voxel maps are stored; `neurofin infer` refuses until calibrated
            typer.echo(f"warning: packages not calibrated ({exc}); run `neurofin calibrate --packages ...` before `neurofin infer`", err=True)
        else:
            typer.echo(f"calibrated {', '.join(calibrated)} on held-out story text (neurofin calibrate; docs/infer.md)")


def register(root: typer.Typer) -> None:
    """Attach the `atlas` group to the root app."""
    root.add_typer(app, name="atlas")
