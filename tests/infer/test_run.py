"""Reading comment files and the resumable batched scoring run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.infer.embedding import embedding_names
from neurofin.infer.inputs import read_texts
from neurofin.infer.run import infer_file

COMMENTS = pd.DataFrame({"id": ["a1", "b2", "c3"], "body": ["$GME up", "", "sold TSLA"], "score": [1, 2, 3]})


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_read_texts_every_format_gives_the_same_frame(tmp_path, suffix):
    path = tmp_path / f"comments{suffix}"
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in COMMENTS.to_dict("records")), encoding="utf-8")
    elif suffix == ".parquet":
        COMMENTS.to_parquet(path)
    else:
        COMMENTS.to_csv(path, index=False)
    frame = read_texts(path, "body")
    assert frame["id"].tolist() == ["a1", "b2", "c3"]
    assert frame["text"].tolist() == ["$GME up", "", "sold TSLA"]


def test_read_texts_errors_name_the_fix(tmp_path):
    path = tmp_path / "c.csv"
    COMMENTS.to_csv(path, index=False)
    with pytest.raises(InputError, match="text_column"):
        read_texts(path, "text")
    with pytest.raises(InputError, match="unsupported"):
        read_texts(tmp_path / "c.txt")
    with pytest.raises(InputError, match="not found"):
        read_texts(tmp_path / "missing.jsonl")


class CountingPredictor:
    """Stands in for Predictor: region 'x' = text length, `embedding_dims` emb_ columns of 1.0; can fail on a chosen call."""

    subjects = ["S1"]

    def __init__(self, fail_on_call: int | None = None, embedding_dims: int = 0) -> None:
        self.calls = 0
        self.fail_on_call = fail_on_call
        self.embedding_dims = embedding_dims

    def predict_rois(self, texts, ids):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("interrupted")
        frame = pd.DataFrame({"id": list(ids), "subject": "S1", "x": [float(len(t)) for t in texts]})
        return frame.assign(**{name: 1.0 for name in embedding_names(self.embedding_dims)})


def test_interrupted_run_resumes_from_finished_batches(tmp_path):
    texts = pd.DataFrame({"id": [str(i) for i in range(10)], "text": ["w" * i for i in range(10)]})
    out = tmp_path / "rois.parquet"
    with pytest.raises(KeyboardInterrupt):
        infer_file(CountingPredictor(fail_on_call=3), texts, out, batch_size=3)
    assert not out.exists()
    assert sorted(p.name for p in (tmp_path / "rois.parquet.parts").glob("*/part-*")) == ["part-000000.parquet", "part-000001.parquet"]
    resumed = CountingPredictor()
    result = infer_file(resumed, texts, out, batch_size=3)
    assert resumed.calls == 2  # batches 3 and 4 only
    np.testing.assert_array_equal(pd.read_parquet(out)["x"], np.arange(10, dtype=float))
    assert result["id"].tolist() == texts["id"].tolist()
    assert not (tmp_path / "rois.parquet.parts").exists()


def test_leftover_batches_of_other_texts_are_not_reused(tmp_path):
    out = tmp_path / "rois.parquet"
    first = pd.DataFrame({"id": ["0", "1"], "text": ["aa", "bbb"]})
    with pytest.raises(KeyboardInterrupt):
        infer_file(CountingPredictor(fail_on_call=2), first, out, batch_size=1)
    other = pd.DataFrame({"id": ["0", "1"], "text": ["a", "b"]})
    predictor = CountingPredictor()
    infer_file(predictor, other, out, batch_size=1)
    assert predictor.calls == 2
    assert pd.read_parquet(out)["x"].tolist() == [1.0, 1.0]


def test_output_must_be_parquet_or_csv(tmp_path):
    with pytest.raises(InputError, match=".parquet or .csv"):
        infer_file(CountingPredictor(), COMMENTS.rename(columns={"body": "text"}), tmp_path / "out.txt")


def test_id_column_and_kept_columns_pass_through_to_csv(tmp_path):
    path = tmp_path / "c.csv"
    COMMENTS.assign(post=["p1", "p2", "p3"]).to_csv(path, index=False)
    texts = read_texts(path, "body", id_column="post", keep_columns=["score"])
    assert texts.columns.tolist() == ["id", "text", "score"] and texts["id"].tolist() == ["p1", "p2", "p3"]
    result = infer_file(CountingPredictor(), texts, tmp_path / "out.csv", batch_size=2)
    written = pd.read_csv(tmp_path / "out.csv", dtype={"id": str, "score": str})
    assert written.columns.tolist()[:2] == ["id", "score"] and written["score"].tolist() == ["1", "2", "3"]
    assert result["x"].tolist() == [7.0, 0.0, 9.0]
    with pytest.raises(InputError, match="id_column"):
        read_texts(path, "body", id_column="nope")
    with pytest.raises(InputError, match="keep_columns"):
        read_texts(path, "body", keep_columns=["nope"])
    with pytest.raises(InputError, match="collide"):
        read_texts(path, "body", keep_columns=["id"])


def test_wide_table_has_one_row_per_text_and_a_column_per_subject_region():
    from neurofin.infer.run import wide_table

    long = pd.DataFrame({
        "id": ["a", "b", "a", "b"], "ticker": ["GME", "TSLA", "GME", "TSLA"], "subject": ["S1", "S1", "ensemble", "ensemble"],
        "n_words": [3, 4, 3, 4], "truncated": [False] * 4, "error": [None] * 4, "r1": [1.0, 2.0, 1.5, 2.5], "r2": [3.0, 4.0, 3.5, 4.5],
    })
    wide = wide_table(long, ["ticker"])
    assert wide.columns.tolist() == ["id", "ticker", "n_words", "truncated", "error", "ensemble/r1", "ensemble/r2", "S1/r1", "S1/r2"]
    assert wide["S1/r2"].tolist() == [3.0, 4.0] and wide["ensemble/r1"].tolist() == [1.5, 2.5] and wide["ticker"].tolist() == ["GME", "TSLA"]


def _start(tmp_path, name, texts, out, delay):
    import os
    import subprocess
    import sys
    from pathlib import Path

    texts_path = tmp_path / f"{name}.json"
    texts.to_json(texts_path)
    script = Path(__file__).with_name("slow_infer.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    result = tmp_path / f"{name}.result.parquet"
    proc = subprocess.Popen([sys.executable, str(script), str(texts_path), str(out), str(result), str(delay)], env=env,
                            stderr=subprocess.PIPE, text=True)
    return proc, result


def test_two_processes_on_one_output_never_mix_their_parts(tmp_path):
    """Issue 16.1: a second run on the same --out must neither delete nor adopt the first run's batches."""
    import time

    out = tmp_path / "rois.parquet"
    first = pd.DataFrame({"id": [f"a{i}" for i in range(12)], "text": ["a" * i for i in range(12)]})
    second = pd.DataFrame({"id": [f"b{i}" for i in range(12)], "text": ["b" * (20 + i) for i in range(12)]})
    proc_a, result_a = _start(tmp_path, "a", first, out, 0.3)
    time.sleep(0.8)  # the first run has written some parts
    proc_b, result_b = _start(tmp_path, "b", second, out, 0.1)
    for proc in (proc_a, proc_b):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for texts, result in ((first, result_a), (second, result_b)):
        frame = pd.read_parquet(result)
        assert frame["id"].tolist() == texts["id"].tolist()
        assert frame["x"].tolist() == [float(len(t)) for t in texts["text"]]
    final = pd.read_parquet(out)  # whichever run finished last, whole and unmixed
    assert final["id"].tolist() in (first["id"].tolist(), second["id"].tolist())
    assert not (tmp_path / "rois.parquet.parts").exists()


def test_two_processes_with_the_same_texts_agree(tmp_path):
    out = tmp_path / "rois.parquet"
    texts = pd.DataFrame({"id": [str(i) for i in range(8)], "text": ["w" * i for i in range(8)]})
    runs = [_start(tmp_path, name, texts, out, 0.2) for name in ("a", "b")]
    for proc, _ in runs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for _, result in runs:
        assert pd.read_parquet(result)["x"].tolist() == [float(i) for i in range(8)]
    assert pd.read_parquet(out)["x"].tolist() == [float(i) for i in range(8)]
    assert not (tmp_path / "rois.parquet.parts").exists()


def test_the_roi_table_records_the_digest_of_its_packages(tmp_path):
    from neurofin.io import content_hash
    from neurofin.schema import MODEL_DIGEST

    texts = pd.DataFrame({"id": ["a", "b"], "text": ["x", "yy"]})
    digests = {}
    for name, manifests in [("first", ["1" * 64, "2" * 64]), ("same", ["2" * 64, "1" * 64]), ("other", ["3" * 64])]:
        record = {"packages": manifests, "level": "rois"}
        infer_file(CountingPredictor(), texts, tmp_path / f"{name}.parquet", predictor_record=record)
        digests[name] = pd.read_parquet(tmp_path / f"{name}.parquet").attrs[MODEL_DIGEST]
    assert digests["first"] == content_hash({"packages": sorted(["1" * 64, "2" * 64]), "level": "rois"})
    assert digests["same"] == digests["first"]  # the package set, not the order the packages were given in
    assert digests["other"] != digests["first"]
