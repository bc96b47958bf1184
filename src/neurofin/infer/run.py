"""Score texts in batches into an ROI-feature Parquet; resumable (finished batches are kept).

Finished batches live in `OUT.parts/<run key>/`, the key being the hash of the texts, the packages and
the settings: a rerun of the same run resumes from them, a run of other texts on the same `--out` keeps
its own folder, and two runs of the same texts take turns (a lock) instead of sharing half-written state.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from neurofin.errors import InputError
from neurofin.infer.predictor import Predictor
from neurofin.io import content_hash, require_writable, sha256_bytes, write_table_atomic
from neurofin.lock import exclusive_lock
from neurofin.progress import Progress, report


def run_key(texts: pd.DataFrame, predictor_record: dict[str, Any], batch_size: int) -> str:
    """Identity of one scoring run: the texts and everything that shapes the output."""
    cells = texts.map(lambda v: v if isinstance(v, str) else f"\0{type(v).__name__}:{v!r}")  # dict/list cells hash too
    text_hash = sha256_bytes(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    record = {"texts": text_hash, "predictor": predictor_record, "batch": batch_size}
    return content_hash(record)


def check_output(out: str | Path) -> Path:
    """The output path, once it ends in .parquet and its folder is writable (checked before any scoring)."""
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"output {out} must end in .parquet")
    require_writable(out.parent, "--out")
    return out


def infer_file(
    predictor: Predictor,
    texts: pd.DataFrame,
    out: str | Path,
    batch_size: int = 256,
    predictor_record: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Predict ROIs for `texts` (columns id, text; see read_texts) into `out` (Parquet); batches an earlier run finished are reused."""
    out = check_output(out)
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size} must be at least 1 (infer.batch_size)")
    key = run_key(texts, predictor_record or {"subjects": predictor.subjects}, batch_size)
    root = out.with_name(out.name + ".parts")
    parts = root / key[:24]  # one folder per run identity: runs on other texts never touch these parts
    with exclusive_lock(root / f"{key[:24]}.lock") as lock:  # a run of the same texts waits for this one
        result = _score_batches(predictor, texts, parts, batch_size, progress)
        write_table_atomic(out, result)
        shutil.rmtree(parts, ignore_errors=True)
        lock.unlink()
    with contextlib.suppress(OSError):
        root.rmdir()  # only when no other run keeps parts there
    return result


def _score_batches(
    predictor: Predictor, texts: pd.DataFrame, parts: Path, batch_size: int, progress: Progress | None
) -> pd.DataFrame:
    """Predict `texts` batch by batch, keeping each finished batch in `parts` and reusing those already there."""
    parts.mkdir(parents=True, exist_ok=True)
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
    return pd.concat(frames, ignore_index=True) if frames else predictor.predict_rois([], [])
