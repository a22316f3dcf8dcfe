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


@dataclass(frozen=True)
class ModelFile:
    """What an uploaded model file holds: the estimator, and what the file says about it."""

    estimator: Any
    #: "driftloop-artifact" (this module's format) or "pickle" (joblib or plain pickle)
    format: str
    #: The schema a driftloop artifact was trained on (None for a bare estimator).
    schema: DatasetSchema | None = None
    library_versions: dict[str, str] | None = None


def load_model_file(data: bytes) -> ModelFile:
    """The one way an uploaded model file (trained elsewhere) is read: a driftloop artifact or
    a joblib/pickle dump of a fitted scikit-learn estimator or pipeline.

    Unpickling runs code from the file: only an admin may upload, and until trusted-artifact
    signing exists (issue #11, which hardens this function) the file is trusted as much as
    the admin token. ArtifactError if the bytes are not a model file this code can read.
    """
    import joblib  # scikit-learn's own dependency; reads joblib dumps and plain pickles

    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as exc:  # not a pickle, truncated, or classes this process lacks
        raise ArtifactError(
            f"not a joblib or pickle file this trainer can load: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        artifact = load_artifact(data)
        return ModelFile(
            artifact.pipeline, "driftloop-artifact", artifact.schema, artifact.library_versions
        )
    if isinstance(payload, dict):
        raise ArtifactError("the file holds a dict, not an estimator nor a driftloop artifact")
    return ModelFile(payload, "pickle")
