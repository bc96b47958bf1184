"""The FastAPI app of `neurofin serve`: every request gets an answer, whatever it sends and whatever fails."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, model_validator

from neurofin.schema import ENSEMBLE
from neurofin.serve.batcher import Batcher, ShuttingDown
from neurofin.serve.options import TOKEN_ENV, ServeOptions
from neurofin.unicode import repair_text


def repair_surrogates(values: list[str]) -> tuple[list[str], list[int]]:
    """`values` with each lone surrogate (half an emoji, which UTF-8 cannot carry) replaced by U+FFFD
    (`neurofin.unicode.repair_text`), and the count replaced per value."""
    repaired = [repair_text(v) for v in values]
    return repaired, [fixed.count("\ufffd") - v.count("\ufffd") for v, fixed in zip(values, repaired)]


class PredictRequest(BaseModel):
    """Body of POST /predict."""

    texts: list[str] = Field(min_length=1)
    ids: list[str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PredictRequest:
        if self.ids is not None and len(self.ids) != len(self.texts):
            raise ValueError(f"ids has {len(self.ids)} entries for {len(self.texts)} texts: give one id per text")
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


def _limit_error(texts: list[str], options: ServeOptions) -> str | None:
    if len(texts) > options.max_texts:
        return f"{len(texts)} texts exceed this server's {options.max_texts} per request (--max-texts): split the request"
    chars = sum(len(t) for t in texts)
    if chars > options.max_chars:
        return f"{chars} characters exceed this server's {options.max_chars} per request (--max-chars): split the request"
    return None


def create_app(predictor: Any, packages: list[dict[str, Any]], options: ServeOptions | None = None) -> Any:
    """The FastAPI app serving `predictor` (a neurofin.infer.predictor.Predictor) under `options`."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    class AsciiJSONResponse(JSONResponse):
        """JSON with non-ASCII escaped: any string, even one a repair missed, can be sent."""

        def render(self, content: Any) -> bytes:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")

    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return AsciiJSONResponse(status_code=status, content={"error": message}, headers=headers)

    options = options or ServeOptions()
    batcher = Batcher(predictor.predict_rois, options.max_wait_ms, options.max_batch, options.max_batch_chars)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="neurofin", lifespan=lifespan, default_response_class=AsciiJSONResponse,
                  docs_url="/docs" if options.docs else None, redoc_url="/redoc" if options.docs else None,
                  openapi_url="/openapi.json" if options.docs else None)

    max_body = 6 * options.max_chars + 64 * options.max_texts + 65536  # JSON may escape a character as 6 bytes

    @app.middleware("http")
    async def _body_size(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_body:
            return _error(413, f"a body of {length} bytes cannot hold at most {options.max_chars} characters "
                               f"(--max-chars) in {options.max_texts} texts (--max-texts): split the request")
        return await call_next(request)

    if options.token is not None:
        expected = f"Bearer {options.token}".encode()

        @app.middleware("http")
        async def _auth(request: Request, call_next: Any) -> Any:
            if not secrets.compare_digest(request.headers.get("authorization", "").encode(), expected):
                return _error(401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the "
                                   f"token the server was started with (--token or {TOKEN_ENV})",
                              {"WWW-Authenticate": "Bearer"})
            return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _bad_payload(_: Request, exc: RequestValidationError) -> Any:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, f'{problems} (send JSON {{"texts": ["..."], "ids": ["..."] (optional)}})')

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> Any:  # unknown route, wrong method, unparsable body
        return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Any:
        return _error(500, f"internal error ({type(exc).__name__}): please report it with the request that caused it")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "packages": packages,
            "subjects": predictor.subjects,
            "ensemble": ENSEMBLE,
            "regions": predictor.region_names,
            "batching": {"max_wait_ms": options.max_wait_ms, "max_batch": options.max_batch,
                         "max_batch_chars": options.max_batch_chars, **vars(batcher.stats)},
            "limits": {"max_texts": options.max_texts, "max_chars": options.max_chars, "timeout_s": options.timeout_s},
        }

    @app.post("/predict")
    async def predict(request: PredictRequest) -> Any:
        if (too_large := _limit_error(request.texts, options)) is not None:
            return _error(413, too_large)
        texts, text_fixes = repair_surrogates(request.texts)
        ids, id_fixes = repair_surrogates(request.ids) if request.ids is not None else (
            [str(i) for i in range(len(texts))], [0] * len(texts))
        if len(set(ids)) != len(ids):
            return _error(422, "ids repeat (lone surrogates count as U+FFFD): give each text its own id")
        try:
            frame = await asyncio.wait_for(batcher.submit(texts, ids), options.timeout_s)
        except TimeoutError:
            return _error(503, f"not scored within this server's {options.timeout_s:g} s budget (--timeout-s): "
                               "send fewer or shorter texts, or retry when it is less busy", {"Retry-After": "5"})
        except ShuttingDown as exc:
            return _error(503, str(exc))
        except Exception as exc:  # the model failed on this batch: answer, keep serving
            return _error(500, f"scoring failed ({type(exc).__name__}: {exc}): retry, or report it if it persists")
        results = results_json(frame, ids, predictor.region_names)
        for result, fixes in zip(results, map(sum, zip(text_fixes, id_fixes))):
            result["repaired_characters"] = fixes
        return {"regions": predictor.region_names, "subjects": [*predictor.subjects, ENSEMBLE], "results": results}

    return app
