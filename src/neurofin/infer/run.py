"""Score texts in batches into an ROI-feature Parquet; resumable (finished batches are kept)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from neurofin.errors import InputError
from neurofin.infer.predictor import Predictor
from neurofin.io import content_hash, sha256_bytes, write_json_atomic, write_table_atomic
from neurofin.progress import Progress, report


def run_key(texts: pd.DataFrame, predictor_record: dict[str, Any], batch_size: int) -> str:
    """Identity of one scoring run: the texts and everything that shapes the output."""
    text_hash = sha256_bytes(pd.util.hash_pandas_object(texts, index=False).to_numpy().tobytes())
    record = {"texts": text_hash, "predictor": predictor_record, "batch": batch_size}
    return content_hash(record)


def infer_file(
    predictor: Predictor,
    texts: pd.DataFrame,
    out: str | Path,
    batch_size: int = 256,
    predictor_record: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Predict ROIs for `texts` (columns id, text; see read_texts) into `out` (Parquet); batches an earlier run finished are reused."""
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"output {out} must end in .parquet")
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size} must be at least 1 (infer.batch_size)")
    parts = out.with_name(out.name + ".parts")
    key = run_key(texts, predictor_record or {"subjects": predictor.subjects}, batch_size)
    stamp = parts / "run.json"
    if parts.is_dir() and (not stamp.is_file() or json.loads(stamp.read_text())["key"] != key):
        shutil.rmtree(parts)  # leftovers of a different run (other input or settings)
    parts.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stamp, {"key": key})
    advance = report(progress).task("scoring texts", total=len(texts))
    frames = []
    for start in range(0, len(texts), batch_size):
        part = parts / f"part-{start // batch_size:06d}.parquet"
        batch = texts.iloc[start : start + batch_size]
        if part.is_file():
            frames.append(pd.read_parquet(part))
        else:
            frames.append(predictor.predict_rois(batch["text"].tolist(), batch["id"].tolist()))
            write_table_atomic(part, frames[-1])
        advance(len(batch))
    result = pd.concat(frames, ignore_index=True) if frames else predictor.predict_rois([], [])
    write_table_atomic(out, result)
    shutil.rmtree(parts)
    return result
