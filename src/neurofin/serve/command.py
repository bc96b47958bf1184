"""The `neurofin serve` command: check the options and bind the port, then load the model, then serve."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from neurofin.cli_common import (
    PACKAGE_DATA_ROOT_HELP,
    AtlasCacheOption,
    ConfigOption,
    DeviceOption,
    LevelOption,
    PackagesOption,
    RoiFileOption,
    ThresholdOption,
)
from neurofin.extras import import_extra
from neurofin.serve.options import TOKEN_ENV, ServeOptions, exposure_warning, listening_socket

GRACEFUL_SHUTDOWN_S = 5  # after SIGTERM, requests still running after this are cancelled (and answered 503)


def run_service(options: ServeOptions, load: Callable[[], tuple[Any, list[dict[str, Any]]]]) -> None:
    """Serve what `load()` returns (predictor, package records) under `options`; option errors come before the load."""
    uvicorn = import_extra("uvicorn", "serve", "`neurofin serve`")
    import_extra("fastapi", "serve", "`neurofin serve`")
    from neurofin.serve.app import create_app

    options.check()
    sock = listening_socket(options.host, options.port)
    if (warning := exposure_warning(sock, options)) is not None:
        sys.stderr.write(warning + "\n")
    predictor, packages = load()
    predictor.predict_rois(["warm up the language model"])  # load it now, not on the first request
    app = create_app(predictor, packages, options)
    typer.echo(f"serving {len(predictor.subjects)} subjects x {len(predictor.region_names)} regions "
               f"on http://{options.host}:{options.port}")
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    uvicorn.Server(config).run(sockets=[sock])


def package_records(folders: list[Path]) -> list[dict[str, Any]]:
    """What /health reports per loaded package: subject and manifest sha256 (no file-system paths)."""
    import json

    from neurofin.encoding.record import PackageRecord
    from neurofin.io import sha256_file

    return [
        {"subject": PackageRecord.from_json(json.loads((p / "config.json").read_text()), str(p)).subject,
         "manifest_sha256": sha256_file(p / "manifest.json")}
        for p in folders
    ]


def register(app: typer.Typer) -> None:
    """Attach the `serve` command."""
    defaults = ServeOptions()

    @app.command("serve")
    def serve(
        packages: PackagesOption,
        config: ConfigOption = None,
        data_root: Path = typer.Option(None, "--data-root", help=PACKAGE_DATA_ROOT_HELP),
        roi_file: RoiFileOption = None,
        level: LevelOption = None,
        threshold: ThresholdOption = None,
        atlas_cache: AtlasCacheOption = None,
        device: DeviceOption = None,
        host: str = typer.Option(defaults.host, "--host", help="Interface to listen on (0.0.0.0 for all: set a token)."),
        port: int = typer.Option(defaults.port, "--port", help="TCP port (1-65535)."),
        max_wait_ms: float = typer.Option(defaults.max_wait_ms, "--max-wait-ms", help="How long a batch waits for more requests (0-1000)."),
        max_batch: int = typer.Option(defaults.max_batch, "--max-batch", help="Texts per shared forward pass (at most)."),
        max_batch_chars: int = typer.Option(defaults.max_batch_chars, "--max-batch-chars", help="Characters per shared forward pass (at most; a longer text goes alone)."),
        max_texts: int = typer.Option(defaults.max_texts, "--max-texts", help="Texts per request (413 above)."),
        max_chars: int = typer.Option(defaults.max_chars, "--max-chars", help="Characters per request, all texts together (413 above)."),
        timeout_s: float = typer.Option(defaults.timeout_s, "--timeout-s", help="Time budget of a request, queueing included (503 after it)."),
        token: str = typer.Option(None, "--token", envvar=TOKEN_ENV, show_envvar=True, help="Bearer token every request must send (prefer the env var: a command line is visible to other users)."),
        docs: bool = typer.Option(False, "--docs", help="Serve /docs, /redoc and /openapi.json."),
    ) -> None:
        """Serve ROI predictions over HTTP: POST /predict {"texts": [...]}, GET /health.

        Example: neurofin serve --packages models --data-root data/ds003020 --port 8000
        then: curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"texts": ["$GME to the moon"]}'
        """
        options = ServeOptions(host, port, max_wait_ms, max_batch, max_batch_chars, max_texts, max_chars, timeout_s,
                               token, docs)

        def load() -> tuple[Any, list[dict[str, Any]]]:
            from neurofin.config import Settings
            from neurofin.encoding.package import package_dirs
            from neurofin.infer.predictor import Predictor, predictor_options

            settings = Settings.load(config, {
                "infer.level": level, "infer.voxel_r_threshold": threshold, "atlas.roi_file": roi_file,
                "atlas.cache_dir": atlas_cache, "features.device": device, "data.data_root": data_root,
            })
            folders = [p for given in packages for p in package_dirs(given)]
            predictor = Predictor.from_packages(folders, **predictor_options(settings))  # as `neurofin infer` builds it
            return predictor, package_records(folders)

        run_service(options, load)
