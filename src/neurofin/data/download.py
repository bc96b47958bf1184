"""Fetch the parts of OpenNeuro ds003020 the pipeline needs from the public `openneuro.org` S3 bucket.

For each chosen subject: `derivative/preprocessed_data/<subject>/*.hf5` and the pycortex filestore's
`transforms/` and `anatomicals/`; for everyone: `derivative/TextGrids/*.TextGrid` and
`derivative/respdict.json`. Keys are listed from the bucket, files land under `<dest>/<key>` (so
`<dest>/ds003020/...`, which `neurofin.data.layout.find_dataset(dest)` finds).

Resumable: a local file of the listed size (and MD5, when the ETag is a plain single-part MD5) is
skipped; bytes stream into `<file>.<etag-tag>.part`, which a rerun continues with a ranged GET pinned to
the same ETag (a part left from an older version of the object has another tag and is deleted), and
which is renamed onto the final name only once its size (and MD5) check out.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurofin.errors import DataError
from neurofin.extras import import_extra
from neurofin.progress import Progress
from neurofin.progress import report as report_progress

BUCKET = "openneuro.org"
DATASET_PREFIX = "ds003020/"
DERIVATIVE = DATASET_PREFIX + "derivative/"
RESPDICT_KEY = DERIVATIVE + "respdict.json"
PART_SUFFIX = ".part"
CHUNK_BYTES = 1 << 20
_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class RemoteFile:
    """One object of the bucket: key, size in bytes, ETag as S3 reports it (quoted)."""

    key: str
    size: int
    etag: str

    @property
    def md5(self) -> str | None:
        """The object's MD5 when the ETag is a plain single-part MD5 (multipart ETags end in -N)."""
        tag = self.etag.strip('"').lower()
        return tag if _PLAIN_MD5.match(tag) else None

    def local_path(self, dest: Path) -> Path:
        """Where the object lands under `dest` (refused, DataError, if the key would leave `dest`)."""
        return dest.joinpath(*safe_key_parts(self.key))

    def part_path(self, dest: Path) -> Path:
        """The in-progress file for this version of the object (its ETag is in the name)."""
        final = self.local_path(dest)
        tag = hashlib.sha256(self.etag.encode()).hexdigest()[:12]
        return final.with_name(f"{final.name}.{tag}{PART_SUFFIX}")


@dataclass
class DownloadReport:
    """What a download run planned, fetched and skipped."""

    files: list[RemoteFile]
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    downloaded_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def safe_key_parts(key: str) -> list[str]:
    """The path parts of an object key, after refusing any key that could resolve outside the destination."""
    parts = key.split("/")
    if any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
        raise DataError(
            f"the bucket lists an unsafe object key {key!r} (an empty, '.' or '..' part would place it outside "
            "--dest); nothing was downloaded: check endpoint_url, or report the key to OpenNeuro"
        )
    return parts


def make_s3_client(endpoint_url: str | None = None, workers: int = 8) -> Any:
    """An anonymous (unsigned) S3 client for the public OpenNeuro bucket, or for `endpoint_url` in tests."""
    boto3 = import_extra("boto3", "download", "downloading ds003020 from S3")
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        signature_version=UNSIGNED,
        max_pool_connections=max(10, workers + 2),
        retries={"max_attempts": 10, "mode": "adaptive"},
    )
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint_url, config=config)


def plan_download(client: Any, subjects: Iterable[str]) -> list[RemoteFile]:
    """List every object the pipeline needs for `subjects` (responses, TextGrids, respdict, pycortex-db)."""
    subjects = list(dict.fromkeys(subjects))
    if not subjects:
        raise DataError("no subjects given: name them, e.g. UTS01,UTS02")
    available = _list_subfolders(client, DERIVATIVE + "preprocessed_data/")
    unknown = [s for s in subjects if s not in available]
    if unknown:
        raise DataError(f"subjects {unknown} are not in s3://{BUCKET}/{DATASET_PREFIX}: pick from {available}")
    files = _list(client, RESPDICT_KEY, lambda key: key == RESPDICT_KEY)
    if not files:
        raise DataError(f"s3://{BUCKET}/{RESPDICT_KEY} is missing from the bucket; check endpoint_url")
    files += _list(client, DERIVATIVE + "TextGrids/", lambda key: key.endswith(".TextGrid"))
    for subject in subjects:
        files += _list(client, f"{DERIVATIVE}preprocessed_data/{subject}/", lambda key: key.endswith(".hf5"))
        for folder in ("transforms", "anatomicals"):
            files += _list(client, f"{DERIVATIVE}pycortex-db/{subject}/{folder}/", lambda key: True)
    return sorted(files, key=lambda f: f.key)


def is_complete(path: Path, remote: RemoteFile) -> bool:
    """True if the local file has the object's size and, where the ETag is a plain MD5, its MD5."""
    if not path.is_file() or path.stat().st_size != remote.size:
        return False
    return remote.md5 is None or _md5_file(path) == remote.md5


def download_dataset(
    subjects: Iterable[str],
    dest: str | Path,
    *,
    workers: int = 8,
    dry_run: bool = False,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
) -> DownloadReport:
    """Download (or with `dry_run`, only list) what the pipeline needs for `subjects` into `dest`/ds003020."""
    dest = Path(dest).expanduser()
    client = make_s3_client(endpoint_url, workers)
    report = DownloadReport(files=plan_download(client, subjects))
    if dry_run:
        return report
    stop = threading.Event()
    tasks = report_progress(progress)
    checking = tasks.task("checking local files (bytes)", total=report.total_bytes)
    todo = []
    for remote, complete in _map(workers, lambda f: is_complete(f.local_path(dest), f), report.files, stop):
        if complete:
            report.skipped.append(remote.key)
        else:
            todo.append(remote)
        checking(remote.size)
    _check_free_space(dest, todo)
    fetching = tasks.task("downloading ds003020 (bytes)", total=sum(f.size for f in todo))

    def advance(n_bytes: int) -> None:
        if stop.is_set():
            raise _Cancelled
        fetching(n_bytes)

    for remote, fetched in _map(workers, lambda f: fetch_file(client, f, dest, advance), todo, stop):
        report.downloaded.append(remote.key)
        report.downloaded_bytes += fetched
    return report


def fetch_file(client: Any, remote: RemoteFile, dest: Path, advance: Callable[[int], None]) -> int:
    """Stream one object into its .part file (resuming it), verify it, rename it into place; return bytes got."""
    final, part = remote.local_path(dest), remote.part_path(dest)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(glob.escape(final.name) + ".*" + PART_SUFFIX):
        if stale != part:
            stale.unlink()
    have = part.stat().st_size if part.is_file() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    advance(have)
    fetched = 0
    if have < remote.size or not part.is_file():
        fetched = _fetch_part(client, remote, part, have, advance)
    size = part.stat().st_size if part.is_file() else -1
    if size != remote.size or (remote.md5 is not None and _md5_file(part) != remote.md5):
        part.unlink(missing_ok=True)
        raise DataError(
            f"download of s3://{BUCKET}/{remote.key} is corrupt (size {size}, expected {remote.size}, "
            "or MD5 mismatch); it was deleted: run the download again"
        )
    os.replace(part, final)
    return fetched


class _Cancelled(Exception):
    """Another download of the same run failed or was interrupted: stop this one, keep its .part."""


def _fetch_part(client: Any, remote: RemoteFile, part: Path, have: int, advance: Callable[[int], None]) -> int:
    """Complete `part` from byte `have`; network errors keep the part for the next run to resume."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _get_into(client, remote, part, have, advance)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise DataError(
                f"S3 refused s3://{BUCKET}/{remote.key} ({exc}); check the network or endpoint_url, then run again"
            ) from exc
        part.unlink(missing_ok=True)
        raise DataError(f"s3://{BUCKET}/{remote.key} changed on the server during the download: run it again") from exc
    except (BotoCoreError, OSError) as exc:
        raise _interrupted(remote, part, exc) from exc


def _interrupted(remote: RemoteFile, part: Path, exc: Exception) -> DataError:
    return DataError(
        f"download of s3://{BUCKET}/{remote.key} was interrupted ({exc}); the bytes so far are kept in "
        f"{part.name}: run the same command again to resume"
    )


def _get_into(client: Any, remote: RemoteFile, part: Path, offset: int, advance: Callable[[int], None]) -> int:
    """GET the object from byte `offset` (pinned to the listed ETag) into `part`; return bytes written."""
    request = {"Bucket": BUCKET, "Key": remote.key}
    if remote.etag:
        request["IfMatch"] = remote.etag
    if offset:
        request["Range"] = f"bytes={offset}-"
    body = client.get_object(**request)["Body"]
    with open(part, "ab" if offset else "wb") as fh:
        return copy_stream(body.iter_chunks(CHUNK_BYTES), fh, advance)


def copy_stream(chunks: Iterator[bytes], fh: Any, advance: Callable[[int], None]) -> int:
    """Write byte chunks to an open file, reporting each chunk's size; return the bytes written."""
    written = 0
    for chunk in chunks:
        fh.write(chunk)
        written += len(chunk)
        advance(len(chunk))
    return written


def _list(client: Any, prefix: str, keep: Callable[[str], bool]) -> list[RemoteFile]:
    """Objects under `prefix` whose key passes `keep` (folder placeholders excluded)."""
    out = []
    for page in _call(lambda: list(client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix))):
        for obj in page.get("Contents", []):
            safe_key_parts(obj["Key"].removesuffix("/"))  # refused while listing, so a --dry-run names it too
            if not obj["Key"].endswith("/") and keep(obj["Key"]):
                out.append(RemoteFile(obj["Key"], int(obj["Size"]), str(obj.get("ETag", ""))))
    return out


def _list_subfolders(client: Any, prefix: str) -> list[str]:
    """Names of the immediate sub-folders of `prefix` in the bucket."""
    paginator = client.get_paginator("list_objects_v2")
    pages = _call(lambda: list(paginator.paginate(Bucket=BUCKET, Prefix=prefix, Delimiter="/")))
    return sorted(p["Prefix"][len(prefix) :].rstrip("/") for page in pages for p in page.get("CommonPrefixes", []))


def _call(request: Callable[[], Any]) -> Any:
    """Run an S3 listing request, turning network and bucket errors into a message saying what to do."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return request()
    except (BotoCoreError, ClientError) as exc:
        raise DataError(
            f"cannot list s3://{BUCKET}/{DATASET_PREFIX} ({exc}); check your network connection "
            "(the bucket is public, no AWS account needed) or the endpoint_url you gave"
        ) from exc


def _map(
    workers: int, func: Callable[[RemoteFile], Any], files: list[RemoteFile], stop: threading.Event
) -> Iterator[tuple[RemoteFile, Any]]:
    """Run `func` over files on a thread pool, yielding (file, result) as each finishes.

    The first error (or Ctrl-C) sets `stop`, which running downloads check between chunks, and cancels the rest.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="neurofin-download")
    try:
        futures = {pool.submit(func, f): f for f in files}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _check_free_space(dest: Path, todo: list[RemoteFile]) -> None:
    """Refuse to start when the destination's disk cannot hold what is left to download."""
    need = sum(f.size for f in todo)
    dest.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest).free
    if need > free:
        raise DataError(f"{need / 1e9:.1f} GB to download but only {free / 1e9:.1f} GB free under {dest}: free space")


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()



