"""CLI commands of the data stage."""

from pathlib import Path

import typer

app = typer.Typer(
    help="The ds003020 dataset: a synthetic twin with planted truth (synth), checks with fixes (check), download (download).\n\n"
    "Example: neurofin data synth --out synth, then neurofin data check synth",
    no_args_is_help=True,
)


@app.command("synth")
def synth(
    out: str = typer.Option(..., "--out", help="Folder to write; the dataset lands under OUT/ds003020/, the truth under OUT/truth/."),
    n_subjects: int = typer.Option(2, "--n-subjects", min=1, max=99, help="Number of subjects (UTS01, UTS02, ...)."),
    stories: int = typer.Option(6, "--stories", min=1, help="Training stories (the test story wheretheressmoke is added)."),
    voxels: int = typer.Option(500, "--voxels", min=10, help="Cortical voxels per subject."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same files."),
    repeats: int = typer.Option(10, "--repeats", min=2, help="Repeats of the test story."),
    atlas_dir: str = typer.Option(None, "--atlas-dir", help="Folder with the Schaefer 1000-parcel volume and labels."),
    force: bool = typer.Option(False, "--force", help="Replace OUT/ds003020 and OUT/truth if they exist."),
) -> None:
    """Write a synthetic ds003020 twin with a planted ground truth (semantic vectors -> HRF -> voxels + AR(1) noise).

    Example: neurofin data synth --out synth --n-subjects 2 --stories 6 --voxels 500 --seed 0
    """
    import json

    from neurofin.data.synth import TRUTH_DIR, SynthSpec, make_synthetic_dataset
    from neurofin.io import guard_output, require_writable
    from neurofin.progress import cli_progress

    guard_output(out, "folder", [atlas_dir])
    require_writable(out, "--out")

    with cli_progress() as progress:
        dataset = make_synthetic_dataset(
            out, n_subjects, stories, voxels, seed, spec=SynthSpec(n_repeats=repeats),
            atlas_dir=Path(atlas_dir) if atlas_dir else None, overwrite=force, progress=progress,
        )
    truth = json.loads((Path(out) / TRUTH_DIR / "truth.json").read_text())
    for subject, record in truth["subjects"].items():
        r_good = record["oracle_r_repeat_mean_good"]["median"]
        typer.echo(f"{subject}: {record['n_voxels']} voxels, {record['n_good']} good (median oracle r {r_good:.2f})")
    typer.echo(f"dataset at {dataset.root}; truth at {Path(out) / TRUTH_DIR}; check it with `neurofin data check {out}`")


@app.command("check")
def check(
    root: str = typer.Argument(..., help="The ds003020 folder, its parent (a download --dest), or its derivative/ folder."),
    subjects: str = typer.Option(None, "--subjects", help="Comma-separated subjects to check (default: all present)."),
    allow_missing_stories: bool = typer.Option(
        False, "--allow-missing-stories", help="Subjects may lack respdict stories (real UTS02, UTS04-08)."
    ),
    feature_cache: Path = typer.Option(None, "--feature-cache", help="Also check the word features cached in this "
                                       "folder (features.cache_dir) for NaN/inf."),
) -> None:
    """Check every story: hf5 readable with respdict - 20 rows and mask-many voxels, TextGrid present and parseable.

    Prints a per-subject table (stories, TRs, voxels, problems), then each problem with how to fix it
    (git-annex pointers, truncated hf5 files, missing stories or TextGrids, row and voxel mismatches, NaN/inf
    values with the file and their count).
    Exits 0 when the dataset is clean and 2 when there is any problem.

    Example: neurofin data check ~/data --subjects UTS01,UTS02
    """
    from neurofin.config import parse_subjects
    from neurofin.data.check import check_dataset

    report = check_dataset(root, parse_subjects(subjects), allow_missing_stories, feature_cache)
    typer.echo(f"ds003020 at {report.root}")
    typer.echo(f"{'subject':<10}{'stories':>8}{'TRs':>9}{'voxels':>9}{'problems':>10}")
    for row in report.subjects:
        voxels = "-" if row.voxels is None else str(row.voxels)
        typer.echo(f"{row.subject:<10}{row.stories:>8}{row.trs:>9}{voxels:>9}{row.problems:>10}")
    shared = sum(p.subject is None for p in report.problems)
    typer.echo(f"TextGrids: {report.textgrids} checked; problems not tied to one subject: {shared}")
    for warning in report.warnings:
        typer.echo(f"warning: {warning.message}")
    if report.ok:
        typer.echo("OK: no problems")
        return
    typer.echo(f"{len(report.problems)} problem(s):")
    for problem in report.problems:
        typer.echo(f"- [{problem.kind}] {problem.message}")
    raise typer.Exit(code=2)


@app.command("download")
def download(
    subjects: str = typer.Option(..., "--subjects", help="Comma-separated subjects, e.g. UTS01,UTS02."),
    dest: str = typer.Option(..., "--dest", help="Folder to download into; files land under DEST/ds003020/."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the files and their total size; download nothing."),
    workers: int = typer.Option(8, "--workers", min=1, help="Files downloaded in parallel."),
    endpoint_url: str = typer.Option(None, "--endpoint-url", help="S3-compatible endpoint (a mirror or a local test server); default: AWS."),
) -> None:
    """Fetch what the pipeline needs from OpenNeuro ds003020 (public S3, no account): resumable, parallel.

    Responses of the chosen subjects, all TextGrids, respdict.json and the subjects' pycortex-db transforms
    and anatomicals. Rerunning skips complete files and resumes partial ones.

    Example: neurofin data download --subjects UTS01,UTS02 --dest ~/data --dry-run
    """
    from neurofin.config import parse_subjects
    from neurofin.data.download import download_dataset
    from neurofin.progress import cli_progress

    with cli_progress() as progress:
        report = download_dataset(parse_subjects(subjects) or [], dest, workers=workers, dry_run=dry_run,
                                  endpoint_url=endpoint_url, progress=progress)
    if dry_run:
        for remote in report.files:
            typer.echo(f"{remote.size:>15,d}  {remote.key}")
        total = report.total_bytes
        typer.echo(f"dry run: {len(report.files)} files, {total:,d} bytes ({total / 1e9:.2f} GB)")
    else:
        typer.echo(
            f"{len(report.downloaded)} files downloaded ({report.downloaded_bytes:,d} bytes), "
            f"{len(report.skipped)} already complete; dataset at {dest}/ds003020"
        )


def register(root: typer.Typer) -> None:
    """Attach the `data` group to the root app."""
    root.add_typer(app, name="data")
