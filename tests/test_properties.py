"""Property-based tests (Hypothesis) of every reader of user files: any input parses or raises NeurofinError.

Readers: TextGrid, comment files for `infer` (JSONL, JSON, CSV, Parquet), Reddit dump lines for `ingest`
(JSONL, CSV, zstd), price files, TOML settings, encoding-package manifests (and the files they seal). Inputs are raw bytes, valid files with random damage, and
well-formed files with hostile values. Each property runs a bounded number of examples (NEUROFIN_HYPOTHESIS_EXAMPLES,
default 50) with a per-example deadline, so a hang or a slow path fails the test instead of stalling CI.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_damage import DELETE, damaged

from neurofin.errors import NeurofinError

EXAMPLES = int(os.environ.get("NEUROFIN_HYPOTHESIS_EXAMPLES", "50"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=10), database=None,
                    derandomize="NEUROFIN_HYPOTHESIS_RANDOM" not in os.environ,  # CI: the same examples every run
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
pytestmark = pytest.mark.timeout(300)
TRIED: dict[str, int] = {}  # reader -> examples run (printed by the count test at the end)


def outcome(reader: str, call) -> object:
    """Run a reader: its result, or None when it raised a NeurofinError; any other exception fails the property."""
    TRIED[reader] = TRIED.get(reader, 0) + 1
    try:
        return call()
    except NeurofinError as exc:
        assert str(exc).strip(), "a NeurofinError must say what to do"
        return None


def in_temp(name: str, data: bytes, reader):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return reader(path, Path(folder))


def mutate(text: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply (position, bytes deleted, bytes inserted) edits to a valid file."""
    for position, delete, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at + delete :]
    return text


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 40), st.binary(max_size=20)), min_size=1, max_size=4)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

# ---- TextGrid -------------------------------------------------------------------------------------------------

def textgrid_bytes(words: list[tuple[float, float, str]]) -> bytes:
    end = max([1.0] + [w[1] for w in words if isinstance(w[1], float)])
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {end}",
             "tiers? <exists>", "size = 1", "item []:", "    item [1]:", '        class = "IntervalTier"',
             '        name = "words"', "        xmin = 0", f"        xmax = {end}", f"        intervals: size = {len(words)}"]
    for k, (start, stop, label) in enumerate(words, start=1):
        lines += [f"        intervals [{k}]:", f"            xmin = {start}", f"            xmax = {stop}",
                  f'            text = "{label}"']
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


VALID_TEXTGRID = textgrid_bytes([(0.0, 0.5, "so"), (0.5, 1.0, "what"), (1.0, 1.5, "happened")])
WORDS = st.lists(st.tuples(st.floats(-10, 1e6) | st.just(float("nan")), st.floats(-10, 1e6), st.text(max_size=12)), max_size=6)


def read_textgrid_file(data: bytes):
    from neurofin.data.textgrid import read_textgrid, textgrid_warnings

    def read(path, _):
        transcript = outcome("textgrid", lambda: read_textgrid(path))
        if transcript is not None:
            assert len(transcript.words) == len(transcript.starts) == len(transcript.stops)
            assert (transcript.stops[1:] >= transcript.starts[1:]).all()
            outcome("textgrid", lambda: textgrid_warnings(path))
        return transcript

    return in_temp("story.TextGrid", data, read)


@PROPERTY
@given(st.binary(max_size=3000))
def test_textgrid_raw_bytes(data):
    read_textgrid_file(data)


@PROPERTY
@given(EDITS)
def test_textgrid_damaged(edits):
    read_textgrid_file(mutate(VALID_TEXTGRID, edits))


@PROPERTY
@given(WORDS)
def test_textgrid_hostile_values(words):
    read_textgrid_file(textgrid_bytes(words))


# ---- comments for infer ---------------------------------------------------------------------------------------

def read_comments(name: str, data: bytes):
    from neurofin.infer.inputs import read_texts

    def read(path, _):
        frame = outcome("comments", lambda: read_texts(path))
        if frame is not None:
            assert list(frame.columns) == ["id", "text"] and frame["id"].is_unique
            assert all(isinstance(i, str) for i in frame["id"])
        return frame

    return in_temp(name, data, read)


@PROPERTY
@given(st.sampled_from(["c.jsonl", "c.json", "c.csv", "c.parquet"]), st.binary(max_size=2000))
def test_comments_raw_bytes(name, data):
    read_comments(name, data)


@PROPERTY
@given(st.lists(st.one_of(st.fixed_dictionaries({"id": JSON_VALUES, "body": JSON_VALUES}), JSON_VALUES), max_size=8))
def test_comments_jsonl_and_json_hostile_values(records):
    lines = [json.dumps(r) for r in records]
    frame = read_comments("c.jsonl", "\n".join(lines).encode())
    objects = [r for r in records if isinstance(r, dict)]
    if frame is not None:
        assert len(frame) == len(objects)
    read_comments("c.json", json.dumps(records).encode())


@PROPERTY
@given(st.lists(st.fixed_dictionaries({"id": st.text(max_size=10), "body": st.text(max_size=40)}), max_size=8), EDITS)
def test_comments_csv_and_parquet(records, edits):
    frame = pd.DataFrame(records, columns=["id", "body"])
    text = frame.to_csv(index=False).encode("utf-8", "surrogatepass")
    read_comments("c.csv", text)
    read_comments("c.csv", mutate(text, edits))
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    read_comments("c.parquet", buffer.getvalue())
    read_comments("c.parquet", mutate(buffer.getvalue(), edits))


# ---- dump lines for ingest ------------------------------------------------------------------------------------

def ingest(name: str, data: bytes):
    from neurofin.market.comments.ingest import ingest_dumps

    def run(path, folder):
        out = folder / "out.parquet"
        report = outcome("dumps", lambda: ingest_dumps([path], out))
        if report is not None:
            kept = pd.read_parquet(out)
            assert len(kept) == report.kept and kept["id"].is_unique and report.kept <= report.lines
        return report

    return in_temp(name, data, run)


DUMP_RECORD = st.fixed_dictionaries({
    "id": JSON_VALUES | st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=7),
    "created_utc": JSON_VALUES | st.integers(-(10**20), 10**20) | st.floats(),
    "body": JSON_VALUES, "author": JSON_VALUES, "subreddit": st.sampled_from(["wallstreetbets", "pics"]) | JSON_VALUES,
    "score": JSON_VALUES, "link_id": JSON_VALUES, "parent_id": JSON_VALUES,
})


@PROPERTY
@given(st.sampled_from(["RC.jsonl", "RC.csv", "RC.zst", "RC.json"]), st.binary(max_size=2000))
def test_dumps_raw_bytes(name, data):
    ingest(name, data)


@PROPERTY
@given(st.lists(DUMP_RECORD | JSON_VALUES, max_size=8), st.booleans())
def test_dumps_hostile_values(records, compress):
    import zstandard

    data = "\n".join(json.dumps(r) for r in records).encode()
    ingest("RC.zst" if compress else "RC.jsonl", zstandard.ZstdCompressor().compress(data) if compress else data)


@PROPERTY
@given(st.binary(max_size=3000), st.integers(0, 2000))
def test_dumps_damaged_zstd(tail, cut):
    import zstandard

    data = zstandard.ZstdCompressor().compress(b'{"id": "a1", "created_utc": 1611846000, "body": "GME", "subreddit": "x"}\n' * 20)
    ingest("RC.zst", data[: cut % (len(data) + 1)] + tail)


# ---- price files ----------------------------------------------------------------------------------------------

def read_price_file(name: str, data: bytes):
    from neurofin.market.panel.prices import read_prices

    def read(path, _):
        frame = outcome("prices", lambda: read_prices(path))
        if frame is not None:
            assert list(frame.columns) == ["session", "ticker", "close"] and (frame["close"] > 0).all()
        return frame

    return in_temp(name, data, read)


@PROPERTY
@given(st.sampled_from(["p.csv", "p.parquet"]), st.binary(max_size=2000))
def test_prices_raw_bytes(name, data):
    read_price_file(name, data)


CELLS = st.one_of(st.floats(), st.integers(-(10**20), 10**20), st.text(max_size=12), st.none())


@PROPERTY
@given(st.lists(st.tuples(st.text(max_size=12) | st.dates().map(str), CELLS, CELLS), min_size=0, max_size=6),
       st.booleans(), EDITS)
def test_prices_hostile_values(rows, long, edits):
    if long:
        frame = pd.DataFrame([(d, str(t), c) for d, t, c in rows], columns=["date", "ticker", "close"])
    else:
        frame = pd.DataFrame(rows, columns=["date", "AAA", "BBB"])
    text = frame.to_csv(index=False).encode("utf-8", "surrogatepass")
    read_price_file("p.csv", text)
    read_price_file("p.csv", mutate(text, edits))


# ---- TOML settings --------------------------------------------------------------------------------------------

def load_settings_text(data: bytes, overrides: dict | None = None):
    from neurofin.config import Settings

    return in_temp("run.toml", data, lambda path, _: outcome("settings", lambda: Settings.load(path, overrides)))


TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3), max_leaves=6,
)
SECTIONS = ["data", "timing", "features", "encoding", "atlas", "infer", "market", "other"]
KEYS = ["data_root", "subjects", "tr_s", "delays", "blocks", "context_tokens", "batch_size", "alphas", "cv_folds",
        "pca_components", "model", "level", "voxel_r_threshold", "roi_file", "subreddits", "seed", "unknown"]


@PROPERTY
@given(st.binary(max_size=1500))
def test_settings_raw_bytes(data):
    load_settings_text(data)


@PROPERTY
@given(st.dictionaries(st.sampled_from(SECTIONS), st.dictionaries(st.sampled_from(KEYS), TOML_VALUES, max_size=4) | TOML_VALUES,
                       max_size=4),
       st.dictionaries(st.sampled_from([f"{s}.{k}" for s in SECTIONS[:3] for k in KEYS[:6]] + ["data", "x.y.z"]),
                       TOML_VALUES, max_size=2))
def test_settings_hostile_values(document, overrides):
    import tomli_w

    load_settings_text(tomli_w.dumps(document).encode(), overrides)


# ---- encoding-package manifests (issue 24.5) ------------------------------------------------------------------

def package_model():
    import numpy as np
    from records import make_record

    from neurofin.encoding.package import EncodingModel

    rng = np.random.default_rng(0)
    return EncodingModel(record=make_record(dim=6), weights=rng.standard_normal((3 * 4, 5)).astype(np.float32),
                         feature_mean=np.zeros(6, np.float32), feature_std=np.ones(6, np.float32),
                         basis=rng.standard_normal((6, 3)).astype(np.float32), arrays={"validation_r": np.zeros(5)},
                         metrics={"test_mean_r": 0.1})


def read_package(prepare) -> object:
    """Save a small valid package, let `prepare(folder)` damage it, then run every manifest reader on it."""
    import numpy as np

    from neurofin.encoding.package import EncodingModel, verify_manifest, write_voxel_atlas
    from neurofin.report.provenance import package_line

    with tempfile.TemporaryDirectory() as folder:
        package = package_model().save(Path(folder) / "UTS01")
        prepare(package)
        model = outcome("manifest", lambda: EncodingModel.load(package))
        if model is not None:
            assert model.weights.shape == (12, 5) and isinstance(model.metrics, dict | None)
        if outcome("manifest", lambda: verify_manifest(package)) is not None:
            line = outcome("manifest", lambda: package_line(package))
            assert line is None or "UTS01" in line
        outcome("manifest", lambda: write_voxel_atlas(package, np.zeros(5, np.int32), np.zeros((5, 3), np.float32)))
        return model


def rewrite_manifest(change):
    def prepare(package):
        manifest_file = package / "manifest.json"
        manifest_file.write_text(json.dumps(change(json.loads(manifest_file.read_text()))))
    return prepare


@pytest.mark.parametrize("change", [
    lambda m: {**m, "tensors": {k: v for k, v in m["tensors"].items() if k != "weights.safetensors"}},
    lambda m: {**m, "tensors": {**m["tensors"], "weights.safetensors": {}}},
    lambda m: {**m, "files": list(m["files"])},
    lambda m: {**m, "files": {**m["files"], "metrics.json": "sha256"}},
    lambda m: {**m, "files": {**m["files"], "config.json": {"sha256": "0", "bytes": "12"}}},
    lambda m: {**m, "tensors": {**m["tensors"], "../outside.safetensors": {}}},
    lambda m: [m],
], ids=["tensors-without-weights", "weights-without-tensors", "files-a-list", "string-entry", "size-a-string",
        "tensors-outside", "manifest-a-list"])
def test_manifest_structure_is_one_error(change):
    """Issue 24.5: damaged manifest structure was KeyError/AttributeError/TypeError; now a PackageIntegrityError."""
    from neurofin.encoding.package import EncodingModel
    from neurofin.errors import PackageIntegrityError

    with tempfile.TemporaryDirectory() as folder:
        package = package_model().save(Path(folder) / "UTS01")
        rewrite_manifest(change)(package)
        with pytest.raises(PackageIntegrityError, match="manifest.json"):
            EncodingModel.load(package)


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"], ids=["not-json", "a-list", "not-utf8"])
def test_resealed_damaged_metrics_is_one_error(content):
    """A metrics.json replaced by something else and resealed (manifest rewritten to match) is refused clearly."""
    from neurofin.encoding.package import EncodingModel, write_manifest
    from neurofin.errors import PackageIntegrityError

    with tempfile.TemporaryDirectory() as folder:
        package = package_model().save(Path(folder) / "UTS01")
        tensors = json.loads((package / "manifest.json").read_text())["tensors"]
        (package / "metrics.json").write_bytes(content)
        write_manifest(package, tensors)
        with pytest.raises(PackageIntegrityError, match="metrics.json"):
            EncodingModel.load(package)


@PROPERTY
@given(st.binary(max_size=500))
def test_manifest_raw_bytes(data):
    read_package(lambda package: (package / "manifest.json").write_bytes(data))


@PROPERTY
@given(st.integers(0, 10**6), JSON_VALUES | st.just(DELETE))
def test_manifest_hostile_structure(where, value):
    read_package(rewrite_manifest(lambda manifest: damaged(manifest, where, value)))


@PROPERTY
@given(st.sampled_from(["metrics.json", "config.json"]), st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_manifest_resealed_damaged_files(name, data):
    """A package file replaced and the manifest rewritten to match: the loader must still refuse it clearly."""
    from neurofin.encoding.package import write_manifest

    def prepare(package):
        tensors = json.loads((package / "manifest.json").read_text())["tensors"]
        (package / name).write_bytes(data)
        write_manifest(package, tensors)

    read_package(prepare)


def test_zz_property_counts():
    """The number of examples each reader was tried on in this session (the reliability table's counts)."""
    print("\nproperty examples per reader:", json.dumps(TRIED, sort_keys=True))
