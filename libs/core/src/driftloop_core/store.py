"""Content-addressed blob store: a directory by default, any fsspec URL otherwise (s3://
bucket/prefix with s3fs, which the images contain).

Blobs are written under their sha256, so writing the same bytes twice is one blob, and every
read checks the bytes against the sha256 the event carried (claim-check pattern).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import fsspec
from driftloop_contracts import BlobRef

from .errors import IntegrityError, NotFound


class ContentStore:
    """Put bytes, get a BlobRef; get a BlobRef, get verified bytes."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        """`endpoint_url`: an S3-compatible server (MinIO, a local test server) for s3:// URLs;
        None: AWS, as the standard AWS_* variables configure it."""
        options: dict[str, Any] = {}
        if endpoint_url and url.startswith(("s3://", "s3a://")):
            options["endpoint_url"] = endpoint_url
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.root = root.rstrip("/")
        self.url = url
        self.local = "file" in _protocols(self.fs)

    def _path(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise IntegrityError(f"store key {key!r} escapes the store root")
        return f"{self.root}/{key}"

    def put(self, data: bytes, *, kind: str, suffix: str = "") -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        key = f"{kind}/{sha[:2]}/{sha}{suffix}"
        path = self._path(key)
        if not (self.fs.exists(path) and self.fs.size(path) == len(data)):
            self._write(path, data)
        return BlobRef(key=key, sha256=sha, size=len(data))

    def _write(self, path: str, data: bytes) -> None:
        """Readers never see a half-written blob: on a filesystem, a temporary file renamed
        into place; on an object store, one PUT, which is atomic (an object has no
        directories to make, and a rename there would be a copy)."""
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with self.fs.open(tmp, "wb") as fh:
            fh.write(data)
        self.fs.mv(tmp, path)

    def get(self, ref: BlobRef) -> bytes:
        path = self._path(ref.key)
        try:
            data: bytes = self.fs.cat_file(path)
        except FileNotFoundError as exc:
            raise NotFound(f"blob {ref.key} is not in the store at {self.url}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.sha256:
            raise IntegrityError(
                f"blob {ref.key} has sha256 {actual}, expected {ref.sha256}: refusing to use it"
            )
        return data


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
