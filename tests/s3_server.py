"""A local S3 server (moto) holding a public bucket, for tests of the ds003020 downloader; no real network."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def public_bucket(bucket: str, objects: Mapping[str, bytes]) -> Iterator[str]:
    """Serve `objects` (key -> bytes) from `bucket` with anonymous reads, like OpenNeuro's; yield the endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.setenv(name, "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        url = f"http://127.0.0.1:{port}"
        try:
            s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
            s3.create_bucket(Bucket=bucket, ACL="public-read")
            for key, data in objects.items():
                s3.put_object(Bucket=bucket, Key=key, Body=data, ACL="public-read")
            yield url
        finally:
            server.stop()
