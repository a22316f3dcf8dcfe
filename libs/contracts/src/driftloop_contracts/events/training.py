"""Asking for, and reporting, training runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ..envelope import Event
from ..refs import BlobRef, Metrics
from ..schema import DatasetSchema


class TrainingRequested(Event):
    """Ask the trainer for a run (by hand or from a scheduler)."""

    event_type: Literal["training.requested"] = "training.requested"
    dataset: str
    since: datetime | None = Field(
        default=None, description="Train only on rows observed at or after this time."
    )
    reason: str = Field(default="requested", description="Free text kept in the lineage.")


#: Why a candidate exists: trained (initial, drift, requested) or uploaded ("external": a
#: model trained elsewhere, evaluated by the trainer on the dataset's newest rows).
TrainingTrigger = Literal["initial", "drift", "requested", "external"]


class TrainingCompleted(Event):
    """A candidate model is in the store with everything needed to judge and serve it."""

    event_type: Literal["training.completed"] = "training.completed"
    run_id: uuid.UUID
    dataset: str
    trigger: TrainingTrigger
    artifact: BlobRef = Field(description="Pickled scikit-learn Pipeline.")
    profile: BlobRef = Field(description="Reference profile of the training features (JSON).")
    holdout: BlobRef = Field(description="Holdout rows (JSON lines) the metrics come from.")
    metrics: Metrics
    params: dict[str, Any] = Field(description="Chosen hyperparameters.")
    seed: int
    library_versions: dict[str, str]
    dataset_versions: tuple[str, ...] = Field(description="Dataset versions trained on.")
    training_rows: int
    dataset_schema: DatasetSchema
    signature: str | None = Field(
        default=None,
        description="Base64 Ed25519 signature by the trainer's key over the event's canonical "
        "JSON without this field (orjson, sorted keys): the artifact, profile and holdout with "
        "their sha256, the metrics and the schema. The registry refuses (dead-letters) a "
        "candidate without a valid one before reading its artifact.",
    )


class TrainingFailed(Event):
    """A run could not produce a model; reason says why."""

    event_type: Literal["training.failed"] = "training.failed"
    run_id: uuid.UUID
    dataset: str
    trigger: TrainingTrigger
    reason: str
