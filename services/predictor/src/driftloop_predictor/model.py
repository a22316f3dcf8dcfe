"""The model being served: verified by sha256, warmed up, swapped atomically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from driftloop_contracts import DatasetSchema, ModelPromoted
from driftloop_core import ContentStore, IntegrityError
from driftloop_ml import feature_matrix, load_artifact


@dataclass(frozen=True)
class LoadedModel:
    promoted: ModelPromoted
    pipeline: Any
    schema: DatasetSchema
    classes: np.ndarray

    @property
    def version(self) -> int:
        return self.promoted.model_version

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        proba: np.ndarray = self.pipeline.predict_proba(feature_matrix(self.schema, rows))
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


def load_model(store: ContentStore, event: ModelPromoted) -> LoadedModel:
    """Verify, unpickle, check the schema, predict once; raise rather than serve a bad model."""
    artifact = load_artifact(store.get(event.artifact))  # store.get checks the sha256 first
    if artifact.schema.fingerprint() != event.dataset_schema.fingerprint():
        raise IntegrityError(
            f"artifact of version {event.model_version} was trained on another schema than "
            "the promotion announces"
        )
    model = LoadedModel(
        event, artifact.pipeline, artifact.schema, np.asarray(artifact.pipeline.classes_)
    )
    model.predict_proba([warm_up_row(artifact.schema)])
    return model
