"""CLI commands of the data stage."""

import typer

app = typer.Typer(help="data commands.", no_args_is_help=True)


@app.command("download")
def download(
    subjects: str = typer.Option(..., "--subjects", help="Comma-separated subjects, e.g. UTS01,UTS02."),
    dest: str = typer.Option(..., "--dest", help="Folder to download into; files land under DEST/ds003020/."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the files and their total size; download nothing."),
    workers: int = typer.Option(8, "--workers", min=1, help="Files downloaded in parallel."),
    endpoint_url: str = typer.Option(None, "--endpoint-url", hidden=True, help="S3 endpoint (for tests)."),
) -> None:
    """Fetch what the pipeline needs from OpenNeuro ds003020 (public S3, no account): resumable, parallel.

    Responses of the chosen subjects, all TextGrids, respdict.json and the subjects' pycortex-db transforms
    and anatomicals. Rerunning skips complete files and resumes partial ones.

    Example: neurofin data download --subjects UTS01,UTS02 --dest ~/data --dry-run
    """
    from neurofin.data.download import download_dataset

    chosen = [s.strip() for s in subjects.split(",") if s.strip()]
    report = download_dataset(chosen, dest, workers=workers, dry_run=dry_run, endpoint_url=endpoint_url)
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
