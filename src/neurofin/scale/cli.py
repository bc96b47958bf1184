"""CLI command of the scale stage: `neurofin reproduce` (the published protocol end to end)."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_SUBJECTS = ("UTS01", "UTS02", "UTS03")


def register(app: typer.Typer) -> None:
    """Attach the `reproduce` command."""

    @app.command("reproduce")
    def reproduce_command(
        subjects: str = typer.Option(",".join(DEFAULT_SUBJECTS), "--subjects", help="Comma-separated subjects."),
        dest: Path = typer.Option(Path("data"), "--dest", help="Where ds003020 is (or is downloaded to)."),
        out: Path = typer.Option(Path("reproduce_out"), "--out", help="Packages, reproduce.json and reproduce.md."),
        config: Path = typer.Option(None, "--config", help="TOML settings (model, blocks, encoding) over the defaults."),
        model: str = typer.Option(None, "--model", help="Feature model (default: the settings' Llama-3.1-8B)."),
        endpoint_url: str = typer.Option(None, "--endpoint-url", help="S3 endpoint (tests, mirrors)."),
        no_download: bool = typer.Option(False, "--no-download", help="Use the data under --dest as it is."),
        no_rois: bool = typer.Option(False, "--no-rois", help="Skip atlas registration and the per-ROI columns."),
        ray_address: str = typer.Option(None, "--ray-address", help="Run stories and subjects as Ray tasks: local | auto | ADDRESS."),
    ) -> None:
        """Download, check, extract features, train and evaluate, then print the table against the reference protocol.

        Example: neurofin reproduce --subjects UTS01,UTS02,UTS03 --dest data --out reproduce_out
        """
        from neurofin.config import Settings
        from neurofin.io import guard_output
        from neurofin.scale.reproduce import markdown_table, reproduce

        chosen = [s.strip() for s in subjects.split(",") if s.strip()]
        settings = Settings.load(config, {"features.model": model})
        guard_output(out, "folder", [dest, config])
        result = reproduce(chosen, dest, out, settings, endpoint_url, not no_download, not no_rois, ray_address)
        typer.echo(markdown_table(result))
        typer.echo(f"-> {out / 'reproduce.json'}, {out / 'reproduce.md'}")
