"""A local S3 server for the store's tests: moto's server mode on 127.0.0.1, a free port."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from driftloop_sdk.embedded_redis import free_port
from moto.server import ThreadedMotoServer

#: moto accepts any credentials; botocore refuses to sign without some.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class LocalS3:
    endpoint_url: str

    def new_bucket(self) -> str:
        """An empty bucket of its own for one test."""
        name = f"driftloop-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint_url, **_client_credentials())
        client.create_bucket(Bucket=name)
        return name


def _client_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


@contextmanager
def local_s3() -> Iterator[LocalS3]:
    """moto's S3 as a real HTTP server (the store's s3fs talks to it over the network)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield LocalS3(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
