"""Uploaded model files (trained elsewhere): the one way their bytes are read.

- a skops file (`skops.io.dump(model, "model.skops")`) or a driftloop artifact (also a skops
  file): loaded with the trusted list of `trust.py`, never unpickled;
- a joblib or pickle dump: only where the process allows it (the trainer's
  `TRAINER_ALLOW_PICKLE_UPLOADS`, off by default), since unpickling runs whatever code the
  file names; the estimator must then be one skops can save with trusted types only, because
  it is stored as a skops artifact: the store never holds a pickle.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import DatasetSchema

from .artifacts import FORMAT, LEGACY_FORMAT, is_pickle, load_artifact, read_meta
from .errors import ArtifactError, PickleRefused
from .trust import check_storable, load_trusted

SAVE_WITH_SKOPS = (
    'save the fitted model with skops: `import skops.io; skops.io.dump(model, "model.skops")`, '
    "and upload model.skops"
)


@dataclass(frozen=True)
class ModelFile:
    """What an uploaded model file holds: the estimator, and what the file says about it."""

    estimator: Any
    #: "driftloop-artifact", "skops", or "pickle" (joblib or plain pickle, when allowed)
    format: str
    #: The schema a driftloop artifact was trained on (None for a bare estimator).
    schema: DatasetSchema | None = None
    library_versions: dict[str, str] | None = None


def load_model_file(
    data: bytes, trusted_modules: Sequence[str] = (), allow_pickle: bool = False
) -> ModelFile:
    """The model in an uploaded file (module docstring); ArtifactError saying why not, and
    PickleRefused for a pickle when pickles are not allowed."""
    if not is_pickle(data) and data[:2] == b"PK":
        if read_meta(data) is not None:
            artifact = load_artifact(data, trusted_modules)
            return ModelFile(
                artifact.pipeline, "driftloop-artifact", artifact.schema, artifact.library_versions
            )
        return ModelFile(load_trusted(data, trusted_modules, "the skops file"), "skops")
    if not allow_pickle and not is_pickle(data):
        raise ArtifactError(f"not a skops file: {SAVE_WITH_SKOPS}")
    if not allow_pickle:
        raise PickleRefused(
            "joblib and pickle files are not accepted (unpickling runs whatever code the file "
            f"names): {SAVE_WITH_SKOPS}. An admin who trusts the file's author may set "
            "TRAINER_ALLOW_PICKLE_UPLOADS=true on the trainer"
        )
    file = _unpickle(data)
    check_storable(file.estimator, trusted_modules, "the uploaded model")
    return file


def _unpickle(data: bytes) -> ModelFile:
    import joblib  # scikit-learn's own dependency; reads joblib dumps and plain pickles

    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as exc:  # not a pickle, truncated, or classes this process lacks
        raise ArtifactError(
            f"not a skops, joblib or pickle file this trainer can load: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(payload, dict) and payload.get("format") == LEGACY_FORMAT:
        try:
            schema = DatasetSchema.model_validate(payload["schema"])
            versions = dict(payload["library_versions"])
            return ModelFile(payload["pipeline"], "driftloop-artifact", schema, versions)
        except Exception as exc:
            raise ArtifactError(f"an invalid {LEGACY_FORMAT} artifact: {exc}") from exc
    if isinstance(payload, dict):
        raise ArtifactError(f"the file holds a dict, not an estimator nor a {FORMAT} artifact")
    return ModelFile(payload, "pickle")
