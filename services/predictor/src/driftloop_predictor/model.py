"""The model being served: verified by sha256, warmed up, measured, swapped atomically."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema, ModelPromoted
from driftloop_core import ContentStore, IntegrityError
from driftloop_ml import load_artifact

from .encoding import RowEncoder


@dataclass(frozen=True)
class LoadedModel:
    promoted: ModelPromoted
    pipeline: Any
    schema: DatasetSchema
    classes: np.ndarray
    encoder: RowEncoder = field(repr=False)
    #: Predict in a worker thread: measured at load, true when one call is slow enough that
    #: keeping the event loop free to read requests pays for the thread hop.
    offload: bool = False
    predict_ms: float = 0.0

    @property
    def version(self) -> int:
        return self.promoted.model_version

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.classes]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        proba: np.ndarray = self.pipeline.predict_proba(x)
        return proba


class ModelHolder:
    """Holds the current model. A swap is one reference assignment: a request reads
    ``holder.current`` once and uses that model throughout, whatever is swapped meanwhile."""

    def __init__(self) -> None:
        self.current: LoadedModel | None = None

    def swap(self, model: LoadedModel) -> LoadedModel | None:
        previous, self.current = self.current, model
        return previous


def warm_up_row(schema: DatasetSchema) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for spec in schema.features:
        if spec.kind == "numeric":
            row[spec.name] = spec.minimum if spec.minimum is not None else 0.0
        else:
            row[spec.name] = spec.categories[0] if spec.categories else "warm-up"
    return row


def load_model(
    store: ContentStore, event: ModelPromoted, offload: str = "auto", offload_ms: float = 1.0
) -> LoadedModel:
    """Verify, unpickle, check the schema, predict (warm-up and timing); raise rather than
    serve a bad model."""
    artifact = load_artifact(store.get(event.artifact))  # store.get checks the sha256 first
    if artifact.schema.fingerprint() != event.dataset_schema.fingerprint():
        raise IntegrityError(
            f"artifact of version {event.model_version} was trained on another schema than "
            "the promotion announces"
        )
    encoder = RowEncoder(artifact.schema)
    x, _ = encoder.encode([warm_up_row(artifact.schema)])
    pipeline = artifact.pipeline
    pipeline.predict_proba(x)
    started = time.perf_counter()
    for _ in range(5):
        pipeline.predict_proba(x)
    predict_ms = (time.perf_counter() - started) / 5 * 1000
    decided = predict_ms > offload_ms if offload == "auto" else offload == "always"
    return LoadedModel(
        event,
        pipeline,
        artifact.schema,
        np.asarray(pipeline.classes_),
        encoder,
        offload=decided,
        predict_ms=predict_ms,
    )
