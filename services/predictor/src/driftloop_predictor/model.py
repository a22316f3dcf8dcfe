"""The model being served: verified by sha256, warmed up, measured, swapped atomically."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from driftloop_contracts import DatasetSchema, ModelPromoted, RolloutChanged
from driftloop_core import ContentStore, IntegrityError
from driftloop_ml import load_artifact

from .batcher import BatchPolicy
from .encoding import RowEncoder


@dataclass(frozen=True)
class LoadedModel:
    promoted: ModelPromoted | RolloutChanged  # the event that put it here
    pipeline: Any
    schema: DatasetSchema
    classes: np.ndarray
    encoder: RowEncoder = field(repr=False)
    #: How its requests are batched: decided from predict_ms measured at load.
    policy: BatchPolicy = field(default_factory=BatchPolicy)
    predict_ms: float = 0.0

    @property
    def offload(self) -> bool:
        return self.policy.offload

    @property
    def version(self) -> int:
        return self.promoted.model_version

    @cached_property
    def class_names(self) -> list[str]:
        """The classes as text (computed once: every answer carries them; never mutated)."""
        return [str(c) for c in self.classes]

    @cached_property
    def class_labels(self) -> np.ndarray:
        """class_names as an object array: indexing it by each row's best class gives the
        labels without making a string per row."""
        return np.array(self.class_names, dtype=object)

    @property
    def regression(self) -> bool:
        """A regression model: predicts numbers, has no classes and no probabilities."""
        return self.schema.target.is_regression

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        proba: np.ndarray = self.pipeline.predict_proba(x)
        return proba

    def predict_values(self, x: np.ndarray) -> np.ndarray:
        values: np.ndarray = np.asarray(self.pipeline.predict(x), dtype=np.float64)
        return values

    def infer(self, x: np.ndarray) -> np.ndarray:
        """What the data plane batches: class probabilities ([n, classes]) or values ([n])."""
        return self.predict_values(x) if self.regression else self.predict_proba(x)


@dataclass(frozen=True)
class Rollout:
    """A candidate beside the champion: answering `share` of requests (canary) or answering
    none and logged for comparison (shadow)."""

    stage: Literal["canary", "shadow"]
    model: LoadedModel
    share: float = 0.0


class ModelHolder:
    """Holds the current model. A swap is one reference assignment: a request reads
    ``holder.current`` once and uses that model throughout, whatever is swapped meanwhile."""

    def __init__(self) -> None:
        self.current: LoadedModel | None = None
        self.rollout: Rollout | None = None

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


def batch_policy(
    predict_ms: float,
    offload: str = "auto",
    offload_ms: float = 1.0,
    max_rows: int | None = None,
    max_wait_ms: float | None = None,
) -> BatchPolicy:
    """A slow model (one call over `offload_ms`) predicts in a thread, in batches of up to
    2,048 rows gathered for up to 1 ms; a fast one inline, no wait, also up to 2,048 rows
    (256 let only two 100-row requests share a call, and a logistic regression's fixed cost
    per call is most of its predict). Measured with make bench; each choice can be forced."""
    slow = predict_ms > offload_ms if offload == "auto" else offload == "always"
    rows = max_rows or 2048
    wait = max_wait_ms if max_wait_ms is not None else (1.0 if slow else 0.0)
    return BatchPolicy(offload=slow, max_rows=rows, max_wait_s=wait / 1000)


def load_model(
    store: ContentStore,
    event: ModelPromoted | RolloutChanged,
    offload: str = "auto",
    offload_ms: float = 1.0,
    max_rows: int | None = None,
    max_wait_ms: float | None = None,
    trusted_modules: Sequence[str] = (),
) -> LoadedModel:
    """Verify, load (skops, trusted types only), check the schema, predict (warm-up and
    timing); raise rather than serve a bad model."""
    data = store.get(event.artifact)  # store.get checks the sha256 first
    artifact = load_artifact(data, trusted_modules)
    if artifact.schema.fingerprint() != event.dataset_schema.fingerprint():
        raise IntegrityError(
            f"artifact of version {event.model_version} was trained on another schema than "
            "the promotion announces"
        )
    encoder = RowEncoder(artifact.schema)
    x, _ = encoder.encode([warm_up_row(artifact.schema)])
    pipeline = artifact.pipeline
    predict = pipeline.predict if artifact.is_regression else pipeline.predict_proba
    predict(x)
    started = time.perf_counter()
    for _ in range(5):
        predict(x)
    predict_ms = (time.perf_counter() - started) / 5 * 1000
    policy = batch_policy(predict_ms, offload, offload_ms, max_rows, max_wait_ms)
    return LoadedModel(
        event,
        pipeline,
        artifact.schema,
        np.asarray(getattr(pipeline, "classes_", ()), dtype=object),
        encoder,
        policy=policy,
        predict_ms=predict_ms,
    )
