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
    fit_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Wall seconds the run spent fitting (search included), rows loaded aside.",
    )
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


#: Why a drift retrain was not trained: the champion still scores on the post-onset rows what
#: it scored on its holdout, or the gate rejected two retrains of the same shift already.
SkipReason = Literal["champion_holds", "rejected_twice"]


class TrainingSkipped(Event):
    """The trainer decided not to train a drift retrain: its own evidence says the run cannot
    beat the champion. The numbers it decided on are in the event."""

    event_type: Literal["training.skipped"] = "training.skipped"
    dataset: str
    trigger: TrainingTrigger
    drift_id: uuid.UUID = Field(description="The drift.detected event the retrain was for.")
    drift_kind: str = Field(description="The drift's kind: data, prediction or performance.")
    shift: str = Field(description="The drift's kind and drifted features, e.g. data:x0,x2.")
    model_version: int = Field(ge=1, description="The champion the drift was of.")
    reason: SkipReason
    message: str = Field(description="The decision in a sentence, with its numbers.")
    post_onset_rows: int = Field(ge=0, description="Labelled rows observed after the onset.")
    champion_holdout_accuracy: float | None = Field(
        default=None, description="The champion's holdout accuracy when it was promoted."
    )
    champion_post_onset_accuracy: float | None = Field(
        default=None, description="The champion's accuracy on the post-onset labelled rows."
    )
    rejections: int = Field(
        default=0, ge=0, description="Retrains of this shift the gate has rejected so far."
    )
