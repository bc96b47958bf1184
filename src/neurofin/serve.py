"""`neurofin serve`: an HTTP endpoint scoring posted texts with trained packages, with dynamic batching.

    POST /predict  {"texts": ["$GME to the moon"], "ids": ["c1"]}   (ids optional)
        -> {"regions": [...], "subjects": [...], "results": [{"id", "n_words", "truncated", "error",
            "rois": {"UTS01": {roi: value}, ..., "ensemble": {roi: value}}}]}
    GET  /health   -> status, the loaded packages, subjects, regions and batching counters

Requests that arrive while the model is busy, or within `max_wait_ms` of each other, are merged into one
`Predictor.predict_rois` call (one LM forward pass over all their texts); each request gets back exactly its
own rows. Values the model cannot give (a text without words, a region no subject covers) are JSON null.
Bad payloads get a 4xx with {"error": message}. Needs the `serve` extra (FastAPI + uvicorn).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from pydantic import BaseModel, Field, model_validator

from neurofin.schema import ENSEMBLE

MAX_TEXTS_PER_REQUEST = 1024
MAX_TEXT_CHARS = 40_000


@dataclass
class _Pending:
    texts: list[str]
    ids: list[str]
    future: asyncio.Future


@dataclass
class BatchStats:
    """Counters of the batcher: requests served, predict calls made, texts scored."""

    requests: int = 0
    batches: int = 0
    texts: int = 0


@dataclass
class Batcher:
    """Collects concurrent requests into shared `predict(texts, ids)` calls run on one worker thread.

    The collector takes the first waiting request, then keeps taking requests for up to `max_wait_ms`
    (or until `max_batch` texts); while a batch is being predicted new requests queue for the next one.
    """

    predict: Callable[[list[str], list[str]], pd.DataFrame]
    max_wait_ms: float = 5.0
    max_batch: int = 64
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neurofin-predict")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def submit(self, texts: Sequence[str], ids: Sequence[str]) -> pd.DataFrame:
        """Rows of `predict` for these texts (ids as given), computed in a batch shared with other requests."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not awaited")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(list(texts), list(ids), future))
        return await future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].texts)
            deadline = loop.time() + self.max_wait_ms / 1e3
            while size < self.max_batch:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
                size += len(batch[-1].texts)
            await self._run(batch, loop)

    async def _run(self, batch: list[_Pending], loop: asyncio.AbstractEventLoop) -> None:
        texts = [t for item in batch for t in item.texts]
        keys = [str(i) for i in range(len(texts))]  # positions: users' ids may repeat across requests
        try:
            frame = await loop.run_in_executor(self._executor, self.predict, texts, keys)
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.texts += len(texts)
        position = frame["id"].astype(int).to_numpy()
        start = 0
        for item in batch:
            rows = frame[(position >= start) & (position < start + len(item.texts))].copy()
            rows["id"] = [item.ids[p - start] for p in position[(position >= start) & (position < start + len(item.texts))]]
            start += len(item.texts)
            if not item.future.done():
                item.future.set_result(rows.reset_index(drop=True))


class PredictRequest(BaseModel):
    """Body of POST /predict."""

    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS_PER_REQUEST)
    ids: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PredictRequest:
        if self.ids is not None and len(self.ids) != len(self.texts):
            raise ValueError(f"ids has {len(self.ids)} entries for {len(self.texts)} texts: give one id per text")
        if self.ids is not None and len(set(self.ids)) != len(self.ids):
            raise ValueError("ids repeat: give each text its own id")
        if any(len(t) > MAX_TEXT_CHARS for t in self.texts):
            raise ValueError(f"a text is longer than {MAX_TEXT_CHARS} characters: split it")
        return self


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def results_json(frame: pd.DataFrame, ids: list[str], regions: list[str]) -> list[dict[str, Any]]:
    """One result per id, in request order: meta fields and {subject: {region: value}} incl. the ensemble."""
    out = []
    for key, rows in frame.groupby("id", sort=False):
        first = rows.iloc[0]
        out.append({
            "id": key,
            "n_words": int(first["n_words"]),
            "truncated": bool(first["truncated"]),
            "error": None if pd.isna(first["error"]) else str(first["error"]),
            "rois": {str(r["subject"]): {name: _number(r[name]) for name in regions} for _, r in rows.iterrows()},
        })
    order = {key: i for i, key in enumerate(ids)}
    return sorted(out, key=lambda r: order[r["id"]])


def create_app(predictor: Any, packages: list[dict[str, Any]], max_wait_ms: float = 5.0, max_batch: int = 64) -> Any:
    """The FastAPI app serving `predictor` (a neurofin.infer.predictor.Predictor)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    batcher = Batcher(predictor.predict_rois, max_wait_ms, max_batch)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="neurofin", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def _bad_payload(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        hint = 'send JSON {"texts": ["..."], "ids": ["..."] (optional)}'
        return JSONResponse(status_code=422, content={"error": f"{problems} ({hint})"})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "packages": packages,
            "subjects": predictor.subjects,
            "ensemble": ENSEMBLE,
            "regions": predictor.region_names,
            "batching": {"max_wait_ms": max_wait_ms, "max_batch": max_batch, **vars(batcher.stats)},
        }

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict[str, Any]:
        ids = request.ids if request.ids is not None else [str(i) for i in range(len(request.texts))]
        frame = await batcher.submit(request.texts, ids)
        return {
            "regions": predictor.region_names,
            "subjects": [*predictor.subjects, ENSEMBLE],
            "results": results_json(frame, ids, predictor.region_names),
        }

    return app


def package_records(folders: list[Path]) -> list[dict[str, Any]]:
    """What /health reports per loaded package: path, subject, manifest sha256."""
    import json

    from neurofin.encoding.record import PackageRecord
    from neurofin.io import sha256_file

    return [
        {"path": str(p), "subject": PackageRecord.from_json(json.loads((p / "config.json").read_text()), str(p)).subject,
         "manifest_sha256": sha256_file(p / "manifest.json")}
        for p in folders
    ]


def register(app: typer.Typer) -> None:
    """Attach the `serve` command."""

    @app.command("serve")
    def serve(
        packages: list[Path] = typer.Option(..., "--packages", help="Model package folder(s) from `neurofin train` (repeat, or give their parent)."),
        config: Path = typer.Option(None, "--config", help="TOML settings merged over the defaults (as for `neurofin infer`)."),
        data_root: Path = typer.Option(None, "--data-root", help="ds003020 folder: needed only for packages without a stored voxel map."),
        roi_file: Path = typer.Option(None, "--roi-file", help="Edited ROI definitions (TOML; atlas.roi_file); default: the packaged rois.toml."),
        level: str = typer.Option(None, "--level", help="rois | parcels (infer.level)."),
        threshold: float = typer.Option(None, "--threshold", help="Validation-r voxel threshold (infer.voxel_r_threshold; default: the package's)."),
        atlas_cache: Path = typer.Option(None, "--atlas-cache", help="Registration cache folder (atlas.cache_dir)."),
        device: str = typer.Option(None, "--device", help="auto | cpu | cuda[:i] for the language model (features.device)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        max_wait_ms: float = typer.Option(5.0, "--max-wait-ms", help="How long a batch waits for more requests."),
        max_batch: int = typer.Option(64, "--max-batch", help="Texts per shared forward pass (at most)."),
    ) -> None:
        """Serve ROI predictions over HTTP: POST /predict {"texts": [...]}, GET /health.

        Example: neurofin serve --packages models --data-root data/ds003020 --port 8000
        then: curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"texts": ["$GME to the moon"]}'
        """
        from neurofin.config import Settings
        from neurofin.encoding.package import package_dirs
        from neurofin.errors import InputError
        from neurofin.infer.predictor import Predictor, predictor_options

        try:
            import uvicorn
        except ImportError:
            raise InputError("`neurofin serve` needs FastAPI and uvicorn: pip install 'neurofin[serve]'") from None
        if max_wait_ms < 0 or max_batch < 1:
            raise InputError("--max-wait-ms must be >= 0 and --max-batch >= 1")
        settings = Settings.load(config, {
            "infer.level": level, "infer.voxel_r_threshold": threshold, "atlas.roi_file": roi_file,
            "atlas.cache_dir": atlas_cache, "features.device": device, "data.data_root": data_root,
        })
        folders = [p for given in packages for p in package_dirs(given)]
        predictor = Predictor.from_packages(folders, **predictor_options(settings))  # as `neurofin infer` builds it
        predictor.predict_rois(["warm up the language model"])  # load it now, not on the first request
        app_ = create_app(predictor, package_records(folders), max_wait_ms, max_batch)
        typer.echo(f"serving {len(predictor.subjects)} subjects x {len(predictor.region_names)} regions on http://{host}:{port}")
        uvicorn.run(app_, host=host, port=port, log_level="warning")
