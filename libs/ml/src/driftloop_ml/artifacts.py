"""Model artifacts: a fitted scikit-learn Pipeline with what is needed to serve it.

The bytes are pickled, so they must only ever be loaded after the store verified their sha256
against the one the registry recorded: ``load_artifact(store.get(ref))``.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import DatasetSchema

FORMAT = "driftloop.sklearn-pipeline/1"


class ArtifactError(ValueError):
    """The bytes are not a model artifact this code can load; the message says why."""


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
    payload = {
        "format": FORMAT,
        "pipeline": artifact.pipeline,
        "schema": artifact.schema.model_dump(mode="json"),
        "classes": list(artifact.classes),
        "library_versions": artifact.library_versions,
    }
    buffer = io.BytesIO()
    pickle.dump(payload, buffer, protocol=5)
    return buffer.getvalue()


def load_artifact(data: bytes) -> ModelArtifact:
    """Unpickle verified bytes (see module docstring)."""
    try:
        payload = pickle.loads(data)
    except Exception as exc:  # not a pickle, truncated, or classes this process lacks
        raise ArtifactError(f"not a loadable {FORMAT} artifact: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArtifactError(f"not a {FORMAT} artifact")
    return ModelArtifact(
        pipeline=payload["pipeline"],
        schema=DatasetSchema.model_validate(payload["schema"]),
        classes=tuple(payload["classes"]),
        library_versions=dict(payload["library_versions"]),
    )
