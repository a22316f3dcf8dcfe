"""Model artifacts: a fitted scikit-learn Pipeline with what is needed to serve it.

Format `driftloop.sklearn-pipeline/2` is a skops file (https://skops.readthedocs.io): the
zip that `skops.io.dumps(pipeline)` writes, with one more member, `driftloop.json`, holding
the metadata as JSON: `{"format", "schema", "classes", "library_versions"}`. Equal models
give equal bytes (canonical.py: no object ids, no timestamps). skops ignores
the extra member, so `skops.io.load(path, trusted=...)` opens an artifact as it is.

Nothing here unpickles. Loading reads `driftloop.json` (bounded), then the pipeline through
`trust.load_trusted`: only the types skops trusts, `trust.TRUSTED_TYPES` and types under the
modules of `DRIFTLOOP_TRUSTED_MODULES` are constructed, anything else is refused by name
before any of it is imported. A `driftloop.sklearn-pipeline/1` artifact (a pickle) is refused
with what to do instead; it is never unpickled.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import DatasetSchema
from pydantic import ValidationError

from .canonical import canonical_skops, write
from .errors import ArtifactError, PickleRefused
from .trust import _skops, load_trusted

FORMAT = "driftloop.sklearn-pipeline/2"
LEGACY_FORMAT = "driftloop.sklearn-pipeline/1"
META = "driftloop.json"
#: A schema with thousands of categories is a few MB; more is not metadata.
MAX_META_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ModelArtifact:
    pipeline: Any
    schema: DatasetSchema
    classes: tuple[str, ...]  # empty for a regression model
    library_versions: dict[str, str]

    @property
    def is_regression(self) -> bool:
        return self.schema.target.is_regression


def dump_artifact(artifact: ModelArtifact) -> bytes:
    meta = {
        "format": FORMAT,
        "schema": artifact.schema.model_dump(mode="json"),
        "classes": list(artifact.classes),
        "library_versions": artifact.library_versions,
    }
    buffer = io.BytesIO(canonical_skops(_skops().dumps(artifact.pipeline)))
    with zipfile.ZipFile(buffer, "a") as archive:
        write(archive, META, json.dumps(meta).encode(), zipfile.ZIP_STORED)
    return buffer.getvalue()


def load_artifact(data: bytes, trusted_modules: Sequence[str] = ()) -> ModelArtifact:
    """The artifact in `data`, its pipeline built from trusted types only (module docstring);
    ArtifactError saying why not. Load only bytes the store verified: `store.get(ref)`."""
    meta = read_meta(data)
    if meta is None:
        raise ArtifactError(f"not a {FORMAT} artifact: a skops file without {META}")
    try:
        schema = DatasetSchema.model_validate(meta["schema"])
        classes = tuple(str(c) for c in meta["classes"])
        versions = {str(k): str(v) for k, v in dict(meta["library_versions"]).items()}
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise ArtifactError(f"the {META} of a {FORMAT} artifact is invalid: {exc}") from exc
    pipeline = load_trusted(data, trusted_modules, f"the {FORMAT} artifact")
    return ModelArtifact(pipeline, schema, classes, versions)


def is_pickle(data: bytes) -> bool:
    """A pickle of protocol 2 or later (what pickle, joblib and format /1 wrote)."""
    return data[:1] == b"\x80"


def read_meta(data: bytes) -> dict[str, Any] | None:
    """The `driftloop.json` of an artifact; None for a skops file without one; ArtifactError
    for anything else (a pickle is named as one, with what to do instead)."""
    if is_pickle(data):
        raise PickleRefused(
            f"a pickle (the old {LEGACY_FORMAT} artifact format, or a joblib/pickle dump) is "
            "never loaded: unpickling runs whatever code the bytes name. Retrain the model (the "
            f"trainer writes {FORMAT} artifacts) or register it again from a skops file: "
            'skops.io.dump(model, "model.skops"); driftloop models register --dataset <name> '
            "model.skops"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if META not in archive.namelist():
                return None
            info = archive.getinfo(META)
            if info.file_size > MAX_META_BYTES:
                raise ArtifactError(f"{META} is {info.file_size} bytes; at most {MAX_META_BYTES}")
            meta = json.loads(archive.read(info))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(f"not a skops file (nor a {FORMAT} artifact): {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ArtifactError(f"not a {FORMAT} artifact ({META} says format {found!r})")
    return meta
