"""`neurofin report`: one self-contained HTML report (figures embedded, no network needed to view it)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Attach the `report` command."""

    @app.command("report")
    def report(
        out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
        packages: Path = typer.Option(None, "--packages", help="A package folder or `neurofin train`'s --out."),
        data_root: Path = typer.Option(None, "--data-root", help="Dataset with the subjects' pycortex-db."),
        atlas_cache: Path = typer.Option(None, "--atlas-cache", help="Registration cache of `neurofin atlas register`."),
        rois: Path = typer.Option(None, "--rois", help="ROI scores written by `neurofin infer` (Parquet or CSV)."),
        explanations: Path = typer.Option(None, "--explanations", help="Word attributions to show with --rois: the explanations.parquet of `neurofin demo` or `neurofin explain --table`."),
        backtest: Path = typer.Option(None, "--backtest", help="The --out folder of `neurofin market backtest`."),
    ) -> None:
        """Write the researcher's report: encoding models, ROI predictions and the market backtest in one HTML file.

        Example: neurofin report --packages demo_out/models --data-root demo_out/synth --atlas-cache demo_out/atlas-cache
        --rois demo_out/market/rois.parquet --explanations demo_out/market/explanations.parquet --backtest demo_out/market/backtest --out demo_out/report.html
        """
        from neurofin.io import guard_output
        from neurofin.report.build import build_report

        guard_output(out, "html", [packages, data_root, atlas_cache, rois, explanations, backtest])
        path = build_report(out, packages, data_root, atlas_cache, rois, backtest, explanations=explanations)
        typer.echo(f"report: {path}")
