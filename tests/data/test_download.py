"""The ds003020 downloader against a local S3 server (moto) seeded with a fake `openneuro.org` bucket."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from s3_server import public_bucket
from typer.testing import CliRunner

from neurofin.data import download as dl
from neurofin.data.cli import app as data_app
from neurofin.data.layout import find_dataset
from neurofin.errors import DataError

D = "ds003020/derivative/"
STORIES = ["alternateithicatom", "souls", "wheretheressmoke"]
CHOSEN = ["UTS01", "UTS02"]


def _seed_objects() -> tuple[dict[str, bytes], set[str]]:
    """Every object of the fake bucket, and the keys a download of CHOSEN must fetch (planted truth)."""
    rng = np.random.default_rng(0)
    blob = lambda n: rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()  # noqa: E731
    needed: dict[str, bytes] = {D + "respdict.json": b'{"alternateithicatom": 363, "souls": 370}'}
    needed |= {f"{D}TextGrids/{s}.TextGrid": blob(700 + 31 * i) for i, s in enumerate(STORIES)}
    distractors: dict[str, bytes] = {
        f"{D}TextGrids/README.txt": b"not a TextGrid",
        f"{D}TextGrids_old/souls.TextGrid": blob(50),
        f"{D}preprocessed_data/UTS010/souls.hf5": blob(90),
        f"{D}preprocessed_data/UTS01/notes.txt": b"notes",
        f"{D}pycortex-db/UTS01/surfaces/flat_lh.gii": blob(80),
        f"{D}pycortex-db/UTS01/overlays.svg": b"<svg/>",
        f"{D}stimuli/souls.wav": blob(120),
        "ds003020/sub-UTS01/anat/sub-UTS01_T1w.nii.gz": blob(60),
        "ds003020/dataset_description.json": b"{}",
        "ds003021/derivative/respdict.json": b"{}",
        "ds003020x/derivative/respdict.json": b"{}",
    }
    for k, subject in enumerate(["UTS01", "UTS02", "UTS03"]):
        files = {f"{D}preprocessed_data/{subject}/{s}.hf5": blob(3000 + 517 * i + 101 * k) for i, s in enumerate(STORIES)}
        auto = f"{D}pycortex-db/{subject}/transforms/{subject}_auto/"
        files |= {auto + name: blob(400 + 13 * k) for name in ("mask_thick.nii.gz", "reference.nii.gz", "matrices.xfm")}
        files |= {f"{D}pycortex-db/{subject}/anatomicals/{n}.nii.gz": blob(500 + k) for n in ("raw", "brainmask")}
        files[f"{D}pycortex-db/{subject}/anatomicals/empty.txt"] = b""
        (needed if subject in CHOSEN else distractors).update(files)
    return needed | distractors, set(needed)


OBJECTS, NEEDED = _seed_objects()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local moto S3 server holding the fake bucket; dummy credentials, no real network."""
    with public_bucket(dl.BUCKET, OBJECTS) as url:
        yield url


@pytest.fixture
def gets(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the parameters of every GetObject the downloader sends; small chunks to stream in pieces."""
    calls: list[dict[str, Any]] = []
    make = dl.make_s3_client

    def recording_client(*args: Any, **kwargs: Any) -> Any:
        client = make(*args, **kwargs)
        client.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: calls.append(dict(params)))
        return client

    monkeypatch.setattr(dl, "make_s3_client", recording_client)
    monkeypatch.setattr(dl, "CHUNK_BYTES", 256)
    return calls


def _local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _run(dest: Path, endpoint: str, **kwargs: Any) -> dl.DownloadReport:
    return dl.download_dataset(CHOSEN, dest, endpoint_url=endpoint, **{"workers": 4, **kwargs})


def test_fetches_exactly_the_needed_files(tmp_path: Path, endpoint: str, gets: list[dict[str, Any]]) -> None:
    report = _run(tmp_path, endpoint)
    assert _local_files(tmp_path) == {key: OBJECTS[key] for key in NEEDED}
    assert sorted(report.downloaded) == sorted(NEEDED) and report.skipped == []
    assert report.downloaded_bytes == sum(len(OBJECTS[k]) for k in NEEDED)
    assert sorted(call["Key"] for call in gets) == sorted(NEEDED)
    dataset = find_dataset(tmp_path)
    assert dataset.subjects() == CHOSEN
    assert dataset.stories("UTS02") == STORIES
    assert dataset.transform_dir("UTS01").name == "UTS01_auto"


def test_dry_run_lists_and_writes_nothing(tmp_path: Path, endpoint: str, gets: list[dict[str, Any]]) -> None:
    report = _run(tmp_path / "dest", endpoint, dry_run=True)
    assert not (tmp_path / "dest").exists()
    assert gets == []
    assert [f.key for f in report.files] == sorted(NEEDED)
    assert report.total_bytes == sum(len(OBJECTS[k]) for k in NEEDED)
    assert all(f.md5 == hashlib.md5(OBJECTS[f.key]).hexdigest() for f in report.files)


def test_second_run_downloads_nothing(tmp_path: Path, endpoint: str, gets: list[dict[str, Any]]) -> None:
    _run(tmp_path, endpoint)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    gets.clear()
    report = _run(tmp_path, endpoint)
    assert gets == []
    assert report.downloaded == [] and sorted(report.skipped) == sorted(NEEDED)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps


def test_wrong_size_and_wrong_content_files_are_replaced(
    tmp_path: Path, endpoint: str, gets: list[dict[str, Any]]
) -> None:
    short_key = f"{D}preprocessed_data/UTS01/souls.hf5"
    same_size_key = f"{D}TextGrids/souls.TextGrid"
    (tmp_path / short_key).parent.mkdir(parents=True)
    (tmp_path / short_key).write_bytes(OBJECTS[short_key][:100])
    (tmp_path / same_size_key).parent.mkdir(parents=True)
    (tmp_path / same_size_key).write_bytes(bytes(len(OBJECTS[same_size_key])))  # right size, wrong MD5
    _run(tmp_path, endpoint)
    assert _local_files(tmp_path) == {key: OBJECTS[key] for key in NEEDED}
    assert {short_key, same_size_key} <= {call["Key"] for call in gets}
    assert all("Range" not in call for call in gets)


def test_interrupted_download_leaves_no_final_file_and_resumes(
    tmp_path: Path, endpoint: str, gets: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"{D}preprocessed_data/UTS02/wheretheressmoke.hf5"
    copy = dl.copy_stream

    def failing_copy(chunks: Iterator[bytes], fh: Any, advance: Any) -> int:
        if fh.name.endswith(".part") and "UTS02/wheretheressmoke.hf5" in fh.name:
            fh.write(next(chunks))
            fh.write(next(chunks))
            raise ConnectionResetError("connection reset by peer (simulated)")
        return copy(chunks, fh, advance)

    monkeypatch.setattr(dl, "copy_stream", failing_copy)
    with pytest.raises(DataError, match="interrupted.*run the same command again to resume"):
        _run(tmp_path, endpoint, workers=1)
    final = tmp_path / key
    assert not final.exists()
    parts = list(final.parent.glob("wheretheressmoke.hf5.*.part"))
    assert len(parts) == 1 and parts[0].read_bytes() == OBJECTS[key][: 2 * dl.CHUNK_BYTES]

    monkeypatch.setattr(dl, "copy_stream", copy)
    gets.clear()
    report = _run(tmp_path, endpoint)
    assert _local_files(tmp_path) == {k: OBJECTS[k] for k in NEEDED}
    resumed = [call for call in gets if call["Key"] == key]
    assert resumed == [{"Bucket": dl.BUCKET, "Key": key, "IfMatch": f'"{hashlib.md5(OBJECTS[key]).hexdigest()}"',
                        "Range": f"bytes={2 * dl.CHUNK_BYTES}-"}]
    assert key in report.downloaded


def test_part_of_an_older_object_version_is_discarded(tmp_path: Path, endpoint: str, gets: list[dict]) -> None:
    key = f"{D}TextGrids/alternateithicatom.TextGrid"
    old_part = (tmp_path / key).with_name("alternateithicatom.TextGrid.0123456789ab.part")
    old_part.parent.mkdir(parents=True)
    old_part.write_bytes(b"x" * 100)
    _run(tmp_path, endpoint)
    assert not old_part.exists()
    assert (tmp_path / key).read_bytes() == OBJECTS[key]
    assert [call for call in gets if call["Key"] == key] == [
        {"Bucket": dl.BUCKET, "Key": key, "IfMatch": f'"{hashlib.md5(OBJECTS[key]).hexdigest()}"'}
    ]


def test_corrupt_transfer_is_deleted(tmp_path: Path, endpoint: str, gets: list[dict]) -> None:
    remote = next(f for f in dl.plan_download(dl.make_s3_client(endpoint), CHOSEN) if f.key.endswith("souls.hf5"))
    lying = dl.RemoteFile(remote.key, remote.size, '"' + "0" * 32 + '"')  # listed MD5 the bytes will not match
    client = dl.make_s3_client(endpoint)
    client.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: params.pop("IfMatch"))
    with pytest.raises(DataError, match="corrupt"):
        dl.fetch_file(client, lying, tmp_path, lambda n: None)
    assert list(tmp_path.rglob("*.hf5*")) == []


def test_unknown_subject_names_the_available_ones(endpoint: str) -> None:
    with pytest.raises(DataError, match=r"\['UTS09'\].*'UTS01', 'UTS010', 'UTS02', 'UTS03'"):
        dl.plan_download(dl.make_s3_client(endpoint), ["UTS01", "UTS09"])


def test_md5_only_for_single_part_etags() -> None:
    assert dl.RemoteFile("k", 1, '"0cc175b9c0f1b6a831c399e269772661"').md5 == "0cc175b9c0f1b6a831c399e269772661"
    assert dl.RemoteFile("k", 1, '"0cc175b9c0f1b6a831c399e269772661-3"').md5 is None


def test_cli_dry_run_then_download(tmp_path: Path, endpoint: str) -> None:
    runner, root = CliRunner(), typer.Typer()
    root.add_typer(data_app, name="data")  # as `neurofin data ...` mounts it
    args = ["data", "download", "--subjects", "UTS01, UTS02", "--dest", str(tmp_path), "--endpoint-url", endpoint]
    dry = runner.invoke(root, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    total = sum(len(OBJECTS[k]) for k in NEEDED)
    assert f"dry run: {len(NEEDED)} files, {total:,d} bytes" in dry.output
    assert all(key in dry.output for key in NEEDED)
    assert _local_files(tmp_path) == {}
    real = runner.invoke(root, [*args, "--workers", "3"])
    assert real.exit_code == 0, real.output
    assert f"{len(NEEDED)} files downloaded ({total:,d} bytes), 0 already complete" in real.output
    assert _local_files(tmp_path) == {key: OBJECTS[key] for key in NEEDED}


def test_object_changed_since_listing_drops_the_part(tmp_path: Path, endpoint: str) -> None:
    key = f"{D}preprocessed_data/UTS01/souls.hf5"
    listed = dl.RemoteFile(key, len(OBJECTS[key]), '"' + "1" * 32 + '"')  # the server now holds another ETag
    part = listed.part_path(tmp_path)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"old bytes")
    with pytest.raises(DataError, match="changed on the server"):
        dl.fetch_file(dl.make_s3_client(endpoint), listed, tmp_path, lambda n: None)
    assert not part.exists() and not listed.local_path(tmp_path).exists()


class _StubPaginator:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def paginate(self, Bucket: str, Prefix: str, Delimiter: str | None = None) -> list[dict[str, Any]]:
        under = [k for k in self.keys if k.startswith(Prefix)]
        if Delimiter:
            return [{"CommonPrefixes": [{"Prefix": Prefix + k[len(Prefix):].split("/")[0] + "/"} for k in under]}]
        return [{"Contents": [{"Key": k, "Size": 3, "ETag": '"x"'} for k in under]}]


class _StubClient:
    """A bucket listing only (enough for plan_download); any GET fails the test."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def get_paginator(self, name: str) -> _StubPaginator:
        return _StubPaginator(self.keys)

    def get_object(self, **request: Any) -> None:
        raise AssertionError(f"unsafe key fetched: {request}")


HOSTILE_KEYS = [
    f"{D}pycortex-db/UTS01/transforms/../../../../../../escaped.txt",
    f"{D}pycortex-db/UTS01/anatomicals/../../../../../../../../../../tmp/neurofin-escaped.txt",
    f"{D}TextGrids/..",
    f"{D}pycortex-db/UTS01/transforms/./x",
    f"{D}pycortex-db/UTS01/anatomicals//abs",
]


@pytest.mark.parametrize("bad", HOSTILE_KEYS)
def test_keys_leaving_dest_are_refused_even_in_dry_run(tmp_path: Path, bad: str, monkeypatch) -> None:
    """Issue 16.2: an object key with '..' (or an empty or '.' part) must never be written, listed or cleaned."""
    keys = [D + "respdict.json", f"{D}preprocessed_data/UTS01/souls.hf5", bad]
    monkeypatch.setattr(dl, "make_s3_client", lambda *a, **k: _StubClient(keys))
    dest = tmp_path / "a" / "b" / "c" / "d" / "e" / "f" / "dest"
    for dry_run in (True, False):
        with pytest.raises(DataError, match="unsafe"):
            dl.download_dataset(["UTS01"], dest, dry_run=dry_run, workers=1)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("bad", HOSTILE_KEYS)
def test_stale_part_cleanup_never_runs_outside_dest(tmp_path: Path, bad: str) -> None:
    dest = tmp_path / "dest"
    target = Path(os.path.normpath(dest.joinpath(*bad.split("/"))))
    target.parent.mkdir(parents=True, exist_ok=True)
    victim = target.with_name(target.name + ".0123456789ab.part")
    victim.write_bytes(b"keep me")
    with pytest.raises(DataError, match="unsafe"):
        dl.fetch_file(_StubClient([]), dl.RemoteFile(bad, 3, '"x"'), dest, lambda n: None)
    assert victim.read_bytes() == b"keep me"
