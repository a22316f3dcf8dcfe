"""Content-addressed blob store: a directory by default, any fsspec URL otherwise.

Blobs are written under their sha256, so writing the same bytes twice is one blob, and every
read checks the bytes against the sha256 the event carried (claim-check pattern).
"""

from __future__ import annotations

import hashlib
import uuid

import fsspec
from driftloop_contracts import BlobRef

from .errors import IntegrityError, NotFound


class ContentStore:
    """Put bytes, get a BlobRef; get a BlobRef, get verified bytes."""

    def __init__(self, url: str) -> None:
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        self.url = url

    def _path(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise IntegrityError(f"store key {key!r} escapes the store root")
        return f"{self.root}/{key}"

    def put(self, data: bytes, *, kind: str, suffix: str = "") -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        key = f"{kind}/{sha[:2]}/{sha}{suffix}"
        path = self._path(key)
        if not (self.fs.exists(path) and self.fs.size(path) == len(data)):
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with self.fs.open(tmp, "wb") as fh:
                fh.write(data)
            self.fs.mv(tmp, path)  # readers never see a half-written blob
        return BlobRef(key=key, sha256=sha, size=len(data))

    def get(self, ref: BlobRef) -> bytes:
        path = self._path(ref.key)
        try:
            with self.fs.open(path, "rb") as fh:
                data: bytes = fh.read()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {ref.key} is not in the store at {self.url}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != ref.sha256:
            raise IntegrityError(
                f"blob {ref.key} has sha256 {actual}, expected {ref.sha256}: refusing to use it"
            )
        return data
