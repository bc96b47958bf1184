"""`neurofin serve`: an HTTP endpoint scoring posted texts with trained packages, with fair dynamic batching.

    POST /predict  {"texts": ["$GME to the moon"], "ids": ["c1"]}   (ids optional)
        -> {"regions": [...], "subjects": [...], "results": [{"id", "n_words", "truncated", "error",
            "repaired_characters", "rois": {"UTS01": {roi: value}, ..., "ensemble": {roi: value}}}]}
    GET  /health   -> status, the loaded packages (subject, manifest sha256), subjects, regions, batching, limits

Concurrent requests share bounded forward passes (batcher.py); each request gets back exactly its own rows.
Values the model cannot give (a text without words, a region no subject covers) are JSON null. Every request
is answered: bad payloads 422, over --max-texts/--max-chars 413, past --timeout-s or during shutdown 503, a
model failure 500, without a valid bearer token (when set) 401, always as {"error": message}. Lone surrogates
in texts and ids are replaced by U+FFFD and counted. Needs the `serve` extra (FastAPI + uvicorn).
"""

import lazy_loader

# names load on first use (the .pyi lists them), so `neurofin --help` and other light imports stay fast
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
