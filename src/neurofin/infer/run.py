"""Score texts in batches into an ROI-feature table (Parquet or CSV by extension); resumable (finished batches are kept).

Layouts: `long` (schema.py: one row per (id, subject), the ensemble included; `emb_*` filled in the ensemble
rows only) or `wide` (one row per text: id, passed-through columns, n_words, truncated, error, then
`<subject>/<region>` for the ensemble and every subject, then `emb_*` once). Columns of the input other than id and text (read_texts' keep_columns) are passed through after id.
Region values are calibrated (infer/calibration.py; docs/infer.md): SDs of comment-like text above a typical
text of the same length; with units "raw", the readout's mean per-word effects (infer/readout.py).

Finished batches live in `OUT.parts/<run key>/`, the key being the hash of the texts, the packages and
the settings: a rerun of the same run resumes from them, a run of other texts on the same `--out` keeps
its own folder, and two runs of the same texts take turns (a lock) instead of sharing half-written state.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from filelock import FileLock

from neurofin.errors import InputError
from neurofin.infer.predictor import Predictor
from neurofin.io import content_hash, guard_output, require_writable, sha256_bytes, write_table_atomic
from neurofin.progress import Progress, report
from neurofin.schema import EMB_PREFIX, ENSEMBLE, MODEL_DIGEST, ROI_META_COLUMNS
from neurofin.unicode import repair

Layout = Literal["long", "wide"]


def with_kept_columns(frame: pd.DataFrame, batch: pd.DataFrame) -> pd.DataFrame:
    """Insert the batch's passed-through columns after `id` (predict_rois gives one block of rows per subject, in input order)."""
    kept = [c for c in batch.columns if c not in ("id", "text")]
    n_blocks = len(frame) // len(batch) if len(batch) else 0
    for j, column in enumerate(kept):
        frame.insert(1 + j, column, np.tile(batch[column].to_numpy(), n_blocks) if n_blocks else batch[column].iloc[:0].to_numpy())
    return frame


def wide_table(long: pd.DataFrame, kept: list[str]) -> pd.DataFrame:
    """One row per text: id, kept columns, n_words, truncated, error, `<subject>/<region>` (ensemble first), then
    the ensemble rows' `emb_*` once."""
    meta = ["id", *kept, *ROI_META_COLUMNS]
    embedding = [c for c in long.columns if str(c).startswith(EMB_PREFIX)]
    regions = [c for c in long.columns if c not in meta and c != "subject" and c not in embedding]
    subjects = list(dict.fromkeys(long["subject"]))
    subjects = [ENSEMBLE] + [s for s in subjects if s != ENSEMBLE] if ENSEMBLE in subjects else subjects
    blocks = {s: long[long["subject"] == s].reset_index(drop=True) for s in subjects}
    base = blocks[subjects[0]] if subjects else long
    return pd.concat([base[meta]] + [blocks[s][regions].add_prefix(f"{s}/") for s in subjects] + [base[embedding]], axis=1)


def run_key(texts: pd.DataFrame, predictor_record: dict[str, Any], batch_size: int, embedding_dims: int) -> str:
    """Identity of one scoring run: the texts and everything that shapes the output."""
    cells = texts.map(lambda v: v if isinstance(v, str) else f"\0{type(v).__name__}:{v!r}")  # dict/list cells hash too
    text_hash = sha256_bytes(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    record = {"texts": text_hash, "predictor": predictor_record, "batch": batch_size, "embedding_dims": embedding_dims}
    return content_hash(record)


def model_digest(predictor_record: dict[str, Any]) -> str:
    """Identity of the model behind an ROI table: the package set (manifest SHA-256s, in any order) and the
    readout settings of the run's record."""
    record = dict(predictor_record)
    if "packages" in record:
        record["packages"] = sorted(record["packages"])
    return content_hash(record)


def check_output(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """The output path, once it ends in .parquet or .csv, replaces neither one of `inputs` nor a file of another
    type, and its folder is writable (checked before any scoring)."""
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError(f"output {out} must end in .parquet or .csv")
    guard_output(out, "table", inputs)
    require_writable(out.parent, "--out")
    return out


def infer_file(
    predictor: Predictor,
    texts: pd.DataFrame,
    out: str | Path,
    batch_size: int = 256,
    predictor_record: dict[str, Any] | None = None,
    progress: Progress | None = None,
    layout: Layout = "long",
) -> pd.DataFrame:
    """Predict ROIs for `texts` (columns id, text, kept columns; see read_texts) into `out` (.parquet or .csv).

    Batches an earlier run finished are reused. The table's attrs (kept in the Parquet metadata) hold
    MODEL_DIGEST. Lone surrogates in any cell become U+FFFD (read_texts names the rows).
    """
    out = check_output(out)
    texts = texts.map(lambda value: repair(value)[0])
    if layout not in ("long", "wide"):
        raise InputError(f"layout {layout!r} is unknown: use long or wide")
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size} must be at least 1 (infer.batch_size)")
    record = predictor_record or {"subjects": predictor.subjects}
    key = run_key(texts, record, batch_size, predictor.embedding_dims)
    root = out.with_name(out.name + ".parts")
    parts = root / key[:24]  # one folder per run identity: runs on other texts never touch these parts
    lock = out.with_name(f".{out.name}.{key[:24]}.lock")  # beside `out`, whose folder stays while `root` may go
    with FileLock(lock):  # a run of the same texts waits for this one (a waiter on the unlinked file tries again)
        result = _score_batches(predictor, texts, parts, batch_size, progress)
        if layout == "wide":
            result = wide_table(result, [c for c in texts.columns if c not in ("id", "text")])
        result.attrs[MODEL_DIGEST] = model_digest(record)  # Parquet metadata: `market panel` never mixes models
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
            frames.append(with_kept_columns(predictor.predict_rois(batch["text"].tolist(), batch["id"].tolist()), batch))
            write_table_atomic(part, frames[-1])
        advance(len(batch))
    return pd.concat(frames, ignore_index=True) if frames else with_kept_columns(predictor.predict_rois([], []), texts)
