"""CLI commands of the atlas stage: list the ROIs, register subjects and report per-ROI coverage."""

from __future__ import annotations

import typer

app = typer.Typer(help="Schaefer parcels, editable ROIs, registration into subject space.", no_args_is_help=True)

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
def register(
    data_root: str = typer.Option(..., "--data-root", help="The ds003020 folder (or its parent) with derivative/pycortex-db."),
    subjects: str = typer.Option(None, "--subjects", help="Comma-separated subjects (default: every subject with responses)."),
    cache: str = typer.Option(None, "--cache", help="Cache folder for the registered maps (default: DATA_ROOT/derivatives/neurofin-atlas)."),
    mode: str = typer.Option("syn", "--mode", help="Registration: 'syn' (affine + fast SyN, default) or 'affine'."),
    roi_file: str = typer.Option(None, "--roi-file", help=ROI_FILE_HELP),
) -> None:
    """Register each subject's anatomy to MNI (ANTs, cached) and print per-ROI voxel counts and coverage.

    Coverage is the share of an ROI's MNI volume inside the subject's cortical mask. Subcortical ROIs (the NAcc sphere) are flagged: ds003020 is cortical only, so they are at best partly covered.

    Example: neurofin atlas register --data-root ~/data/ds003020 --subjects UTS01,UTS02 --cache ~/.cache/neurofin-atlas
    """
    from neurofin.atlas import coverage_summary, load_atlas, load_rois, roi_coverage, subject_atlas
    from neurofin.atlas.register import MODES
    from neurofin.atlas.subject import default_cache_dir
    from neurofin.data.layout import find_dataset
    from neurofin.errors import AtlasError

    if mode not in MODES:
        raise AtlasError(f"--mode {mode!r} is unknown: use one of {list(MODES)}")
    dataset = find_dataset(data_root)
    chosen = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else dataset.subjects()
    if not chosen:
        raise AtlasError(f"no subjects under {dataset.responses_dir}: pass --subjects UTS01,...")
    atlas = load_atlas()
    roi_set = load_rois(roi_file, atlas)
    cache_dir = cache if cache is not None else default_cache_dir(dataset)
    for subject in chosen:
        maps = subject_atlas(dataset, subject, cache_dir, mode=mode, atlas=atlas)  # type: ignore[arg-type]
        summary = coverage_summary(maps, atlas)
        typer.echo(
            f"\n{subject}: {summary['n_voxels']} mask voxels; {summary['on_ribbon']:.1%} on the atlas ribbon, "
            f"{summary['with_parcel']:.1%} with a parcel within {summary['fill_mm']:g} mm ({mode} registration)"
        )
        typer.echo(f"{'roi':<32}{'parcels':>8}{'voxels':>8}{'coverage':>10}  note")
        for row in roi_coverage(maps, roi_set, atlas):
            typer.echo(f"{row.name:<32}{row.n_parcels:>8}{row.n_voxels:>8}{row.coverage:>10.2f}  {row.note}")
    typer.echo(f"\nmaps cached in {cache_dir}")
