"""Issue 16.7: hostile comment files for `infer` (cells, lines, ids, .json) never stop the run silently or loudly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from neurofin.errors import InputError
from neurofin.infer.inputs import read_texts
from neurofin.infer.run import infer_file, run_key


class LengthPredictor:
    subjects = ["S1"]
    embedding_dims = 0

    def predict_rois(self, texts, ids):
        x = [float(len(t)) if isinstance(t, str) else float("nan") for t in texts]
        err = [None if isinstance(t, str) else f"not a text ({type(t).__name__})" for t in texts]
        return pd.DataFrame({"id": list(ids), "subject": "S1", "error": err, "x": x})


def _jsonl(tmp_path, lines: list[str | bytes], name="c.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n")
    return path


def test_dict_and_list_cells_become_error_rows_not_a_crash(tmp_path):
    path = _jsonl(tmp_path, [json.dumps({"id": "a", "body": "fine text"}), json.dumps({"id": "b", "body": {"nested": 1}}),
                             json.dumps({"id": "c", "body": [1, 2]}), json.dumps({"id": {"x": 1}, "body": "odd id"})])
    texts = read_texts(path)
    run_key(texts, {}, 2, 0)  # was TypeError: unhashable type: 'dict'
    out = infer_file(LengthPredictor(), texts, tmp_path / "o.parquet", batch_size=2)
    assert out["id"].tolist() == ["a", "b", "c", '{"x": 1}']
    assert out["error"].fillna("").tolist() == ["", "not a text (dict)", "not a text (list)", ""]


def test_bad_jsonl_lines_are_skipped_counted_and_named_by_line_number(tmp_path, caplog):
    path = _jsonl(tmp_path, [json.dumps({"id": "a", "body": "one"}), "[1, 2, 3]", '{"id": "b", "body": "cut',
                             b"\xff\xfe\xff", "", json.dumps({"id": "c", "body": "three"}), "42"])
    texts = read_texts(path)
    warnings = [record.getMessage() for record in caplog.records]
    assert texts["id"].tolist() == ["a", "c"]
    assert len(warnings) == 1
    for fragment in ("4 malformed lines", "line 2", "line 3", "line 4", "line 7"):
        assert fragment in warnings[0]
    assert "line 5" not in warnings[0]  # a blank line is not malformed


def test_a_file_of_only_bad_lines_is_an_error(tmp_path):
    with pytest.raises(InputError, match="line 1"):
        read_texts(_jsonl(tmp_path, ["[1]", "not json"]))


def test_missing_and_null_ids_get_distinct_row_ids(tmp_path, caplog):
    path = _jsonl(tmp_path, [json.dumps({"id": "a", "body": "x"}), json.dumps({"body": "no id"}),
                             json.dumps({"id": None, "body": "null id"}), json.dumps({"id": 7, "body": "int id"})])
    texts = read_texts(path)
    warnings = [record.getMessage() for record in caplog.records]
    assert texts["id"].tolist() == ["a", "row-2", "row-3", "7"]
    assert "nan" not in texts["id"].tolist() and any("no id" in w for w in warnings)


def test_duplicate_ids_are_made_unique_with_a_warning(tmp_path, caplog):
    path = tmp_path / "c.csv"
    pd.DataFrame({"id": ["a", "b", "a", "a", "a#2"], "body": list("vwxyz")}).to_csv(path, index=False)
    texts = read_texts(path)
    warnings = [record.getMessage() for record in caplog.records]
    assert texts["id"].is_unique
    assert texts["id"].tolist()[:2] == ["a", "b"] and texts["id"].tolist()[4] == "a#2"
    assert texts["text"].tolist() == list("vwxyz")
    assert any("duplicate" in w for w in warnings)


def test_json_file_is_read_as_json(tmp_path):
    records = [{"id": "a", "body": "first"}, {"id": "b", "body": "second"}]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(records, indent=2))  # one JSON document over several lines, not JSONL
    assert read_texts(path)["text"].tolist() == ["first", "second"]
    path.write_text(json.dumps({"id": ["a", "b"], "body": ["first", "second"]}))
    assert read_texts(path)["id"].tolist() == ["a", "b"]
    path.write_text("[1, 2")
    with pytest.raises(InputError, match="JSON"):
        read_texts(path)


@pytest.mark.parametrize("content", [b"PAR1 not really", b"", b"\x00" * 64])
def test_unreadable_parquet_is_an_input_error(tmp_path, content):
    path = tmp_path / "c.parquet"
    path.write_bytes(content)
    with pytest.raises(InputError, match="c.parquet"):
        read_texts(path)


@pytest.fixture(scope="module")
def planted_app(tmp_path_factory):
    """The real `neurofin` app over a planted package (stand-in LM): (app, package folder, a text of its words)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from planted import make_planted, planted_explain_cli, text_of

    folder = tmp_path_factory.mktemp("planted")
    planted = make_planted(folder / "ds003020")
    with pytest.MonkeyPatch.context() as patch:
        app, package = planted_explain_cli(planted, patch, folder)
        yield app, package, text_of(planted.held_out[:4])


def _infer(app, package, comments, out, *extra):
    from typer.testing import CliRunner

    return CliRunner().invoke(app, ["infer", "--packages", str(package), "--input", str(comments), "--out", str(out),
                                    *map(str, extra)])


def test_infer_cli_keeps_a_mixed_type_column_as_text_in_every_batch(planted_app, tmp_path):
    app, package, words = planted_app
    stamps = [1611846000, 1611846060, "2021-01-28T15:02:00Z", None, 1611846180.5]  # ints, then a string, a float
    comments = _jsonl(tmp_path, [json.dumps({"id": str(i), "body": words, "created_utc": s}) for i, s in enumerate(stamps)])
    out = tmp_path / "rois.parquet"
    for _ in range(2):  # a rerun resumes from the finished batches: it must not die either
        result = _infer(app, package, comments, out, "--keep-columns", "created_utc", "--batch-size", "2")
        assert result.exit_code == 0, result.output  # was ArrowTypeError on the second batch, every run
        assert "'created_utc' holds number and str values" in result.output
    ensemble = pd.read_parquet(out).query("subject == 'ensemble'")
    assert ensemble["created_utc"].fillna("-").tolist() == ["1611846000", "1611846060", "2021-01-28T15:02:00Z", "-",
                                                            "1611846180.5"]
    assert ensemble["error"].isna().all()


def test_list_ids_in_parquet_become_json_ids(planted_app, tmp_path):
    app, package, words = planted_app
    comments = tmp_path / "c.parquet"
    pd.DataFrame({"id": [["a", "b"], ["c"], None], "body": [words] * 3}).to_parquet(comments)
    out = tmp_path / "rois.csv"
    result = _infer(app, package, comments, out, "--layout", "wide")
    assert result.exit_code == 0, result.output  # was "The truth value of an array ... is ambiguous"
    assert pd.read_csv(out)["id"].tolist() == ['["a", "b"]', '["c"]', "row-3"]



def test_infer_records_the_model_digest_in_the_roi_table(planted_app, tmp_path):
    from neurofin.schema import MODEL_DIGEST

    app, package, words = planted_app
    comments = _jsonl(tmp_path, [json.dumps({"id": "a", "body": words})])
    digests = []
    for name, extra in [("one", ()), ("two", ()), ("strict", ("--threshold", "0.5"))]:
        result = _infer(app, package, comments, tmp_path / f"{name}.parquet", *extra)
        assert result.exit_code == 0, result.output
        digests.append(pd.read_parquet(tmp_path / f"{name}.parquet").attrs.get(MODEL_DIGEST))
    assert len(digests[0]) == 64 and int(digests[0], 16) >= 0
    assert digests[0] == digests[1] and digests[0] != digests[2]  # same packages and readout; then another threshold


def test_kept_columns_of_one_type_pass_through_unchanged(tmp_path, caplog):
    path = tmp_path / "c.parquet"
    stamps = pd.to_datetime(["2021-01-28 15:00", "2021-01-29 09:30"], utc=True)
    pd.DataFrame({"id": ["a", "b"], "body": ["x", "y"], "at": stamps, "tickers": [["GME", "AMC"], ["TSLA"]]}).to_parquet(path)
    texts = read_texts(path, keep_columns=["at", "tickers"])
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == [] and texts["at"].tolist() == list(stamps)
    assert [list(v) for v in texts["tickers"]] == [["GME", "AMC"], ["TSLA"]]
    out = infer_file(LengthPredictor(), texts, tmp_path / "o.parquet", batch_size=1)
    assert pd.read_parquet(tmp_path / "o.parquet")["at"].tolist() == list(stamps) and len(out) == 2
