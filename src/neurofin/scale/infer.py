"""`neurofin infer --ray-address`: score comment shards on a Ray cluster with Ray Data, one predictor per actor.

Input: one comments file or a folder of them (.parquet / .jsonl / .csv). Each file is cut into shards of
`shard_rows` texts; each shard becomes one output file OUT/<file stem>-<k>.parquet with the same columns as the
single-process `neurofin infer` output. Shards already written by an earlier run with the same inputs and settings
are skipped (resume per shard); the others stream through a Ray Data pipeline whose `map_batches` runs on an
actor pool: one Predictor (LM + collapsed readouts) per actor, `num_gpus=1` each on a GPU cluster, one CPU each
otherwise. Per text the rows equal the single-process path's (same rows; values to 1e-6, the float32 round-off
of a different torch thread count).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neurofin.errors import InputError
from neurofin.infer.inputs import READERS, read_texts
from neurofin.infer.run import run_key
from neurofin.io import atomic_path, write_json_atomic
from neurofin.progress import Advance, Progress, report
from neurofin.scale.cluster import connect, gpus_available

SHARD_COLUMN = "_shard"
DEFAULT_SHARD_ROWS = 10_000


@dataclass
class Shard:
    """One unit of output (and of resuming): a slice of one input file."""

    name: str
    texts: pd.DataFrame  # id, text


class PredictorActor:
    """Ray Data actor: builds one Predictor, then scores pandas batches (id, text, _shard)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from neurofin.infer.predictor import Predictor

        self.predictor = Predictor.from_packages(**spec)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        frame = self.predictor.predict_rois(batch["text"].tolist(), batch["id"].tolist())
        n_blocks = len(frame) // max(len(batch), 1)  # predict_rois: one block of rows per subject, in batch order
        frame.insert(0, SHARD_COLUMN, np.tile(batch[SHARD_COLUMN].to_numpy(), n_blocks))
        return frame


def input_files(path: Path) -> list[Path]:
    """The comments file itself, or every readable file in the folder (sorted)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in READERS)
        if not files:
            raise InputError(f"no .parquet/.jsonl/.csv files in {path}: give a comments file or a folder of shards")
        return files
    return [path]


def plan_shards(path: Path, text_column: str, shard_rows: int) -> list[Shard]:
    """Every input file cut into shards of `shard_rows` texts, named after the file."""
    if shard_rows < 1:
        raise InputError("--shard-rows must be at least 1")
    shards = []
    for file in input_files(path):
        texts = read_texts(file, text_column)
        for k, start in enumerate(range(0, max(len(texts), 1), shard_rows)):
            shards.append(Shard(f"{file.stem}-{k:05d}", texts.iloc[start : start + shard_rows].reset_index(drop=True)))
    return shards


def absolute_paths(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with its paths made absolute: actors may not share the driver's working directory."""
    fixed = dict(spec)
    fixed["packages"] = [str(Path(p).resolve()) for p in spec["packages"]]
    for key in ("data_root", "roi_file", "atlas_cache"):
        if spec.get(key) is not None:
            fixed[key] = str(Path(spec[key]).resolve())
    return fixed


def _stamp(out: Path, key: str) -> None:
    """Keep `out`'s shards only if they come from the same run (inputs and settings); record the run."""
    stamp = out / "run.json"
    if out.is_dir() and (not stamp.is_file() or json.loads(stamp.read_text())["key"] != key):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stamp, {"key": key})


def infer_ray(
    spec: dict[str, Any],
    input_path: str | Path,
    out: str | Path,
    ray_address: str,
    text_column: str = "body",
    batch_size: int = 256,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    actors: int | None = None,
    predictor_record: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Score every shard not yet in `out` on the Ray cluster; returns all shard files in input order.

    `spec`: keyword arguments of `Predictor.from_packages` (built once here to fail early and warm the
    registration cache, then once per actor). `actors`: pool size (default: one per GPU, else one per CPU).
    """
    from neurofin.infer.predictor import Predictor

    out = Path(out)
    if out.suffix.lower() == ".parquet":
        raise InputError(f"output {out}: on Ray the output is a folder of Parquet shards; drop the .parquet")
    if batch_size < 1:
        raise InputError(f"batch_size {batch_size} must be at least 1 (infer.batch_size)")
    spec = absolute_paths(spec)
    predictor = Predictor.from_packages(**spec)
    shards = plan_shards(Path(input_path), text_column, shard_rows)
    record = predictor_record or {"subjects": predictor.subjects}
    key = run_key(pd.concat([s.texts for s in shards]), {**record, "shard_rows": shard_rows}, batch_size,
                  predictor.embedding_dims)
    _stamp(out, key)
    paths = [out / f"{s.name}.parquet" for s in shards]
    todo = [(i, s) for i, (s, p) in enumerate(zip(shards, paths)) if not p.is_file()]
    advance = report(progress).task("scoring texts on Ray", total=sum(len(s.texts) for s in shards))
    advance(sum(len(s.texts) for s, p in zip(shards, paths) if p.is_file()))
    empty = [(i, s) for i, s in todo if s.texts.empty]
    for i, _ in empty:
        _write(predictor.predict_rois([], []), paths[i])
    todo = [(i, s) for i, s in todo if not s.texts.empty]
    if todo:
        _run_pipeline(spec, todo, paths, len(predictor.subjects) + 1, ray_address, batch_size, actors, advance)
    return paths


def _run_pipeline(
    spec: dict[str, Any], todo: list[tuple[int, Shard]], paths: list[Path], rows_per_text: int, ray_address: str,
    batch_size: int, actors: int | None, advance: Advance,
) -> None:
    """Stream the pending shards through the actor pool; write each shard as soon as all its rows are back."""
    ray = connect(ray_address)
    from ray import data as ray_data

    gpus = gpus_available(ray)
    size = actors or gpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
    resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
    overrides = spec.get("feature_overrides") or {}
    if gpus and "device" not in overrides:  # each actor owns one GPU (Ray sets CUDA_VISIBLE_DEVICES)
        spec = {**spec, "feature_overrides": {**overrides, "device": "cuda"}}
    rows = pd.concat([s.texts.assign(**{SHARD_COLUMN: i}) for i, s in todo], ignore_index=True)
    context = ray_data.DataContext.get_current()
    context.execution_options.preserve_order = True  # shards complete one after another
    context.enable_progress_bars = False
    # one in-memory block per batch: the actors share the work with no repartition task competing for their CPUs
    blocks = [rows.iloc[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    dataset = ray_data.from_pandas(blocks)
    scored = dataset.map_batches(
        PredictorActor, fn_constructor_kwargs={"spec": spec}, batch_size=batch_size, batch_format="pandas",
        compute=ray_data.ActorPoolStrategy(size=size), **resources,  # type: ignore[arg-type]
    )
    missing = {i: len(s.texts) * rows_per_text for i, s in todo}  # output rows each shard still waits for
    pending: dict[int, list[pd.DataFrame]] = {}
    for batch in scored.iter_batches(batch_format="pandas", batch_size=None):
        assert isinstance(batch, pd.DataFrame)
        for shard, rows in batch.groupby(SHARD_COLUMN, sort=False):
            shard = int(shard)
            pending.setdefault(shard, []).append(rows.drop(columns=SHARD_COLUMN))
            missing[shard] -= len(rows)
            advance(len(rows) / rows_per_text)
            if missing[shard] == 0:
                _write(_ordered(pd.concat(pending.pop(shard), ignore_index=True)), paths[shard])


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """A shard's rows grouped by subject (subjects and ids in first-seen order), like one predict_rois call,
    with the single-process dtypes restored (Arrow turns all-NaN region columns into nulls)."""
    subjects = pd.Categorical(frame["subject"], categories=list(dict.fromkeys(frame["subject"])))
    frame = frame.assign(_order=subjects.codes).sort_values("_order", kind="stable").drop(columns="_order")
    frame = frame.reset_index(drop=True)
    for column in frame.columns.difference(["id", "subject", "error", "n_words", "truncated"]):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame.astype({"id": str, "subject": str, "n_words": np.int64, "truncated": bool})


def _write(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
