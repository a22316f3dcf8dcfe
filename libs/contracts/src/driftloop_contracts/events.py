"""Every event of the loop. Past tense, frozen, one type per versioned stream (see streams.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .envelope import Event
from .refs import BlobRef, FeatureRow, FeatureValue, Metrics, Record
from .schema import DatasetSchema

# ----------------------------------------------------------------------------- data


class RecordsSubmitted(Event):
    """Labelled rows sent to ingest by a producer (SDK, CLI or any Redis client)."""

    event_type: Literal["records.submitted"] = "records.submitted"
    dataset: str = Field(description="Dataset the rows belong to.", examples=["demo"])
    records: tuple[Record, ...] = Field(min_length=1, max_length=50_000)


class RejectedRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position of the row in the submission.")
    row: dict[str, Any] = Field(description="The row as received.")
    reason: str = Field(description="What is wrong with it, in words a producer can act on.")


class DataRejected(Event):
    """Rows that failed validation, each with its reason."""

    event_type: Literal["data.rejected"] = "data.rejected"
    dataset: str
    source: str = Field(description="Where the rows came from: stream, http, csv or feedback.")
    rejected: tuple[RejectedRow, ...] = Field(min_length=1)


class DataIngested(Event):
    """A new immutable dataset version is in the store."""

    event_type: Literal["data.ingested"] = "data.ingested"
    dataset: str
    version: str = Field(description="Content id of the version (first 16 hex of its sha256).")
    blob: BlobRef = Field(description="The rows as JSON lines.")
    rows: int = Field(ge=1)
    source: Literal["records", "feedback"] = Field(
        description="records: rows from producers; feedback: predictions joined with labels."
    )
    observed_from: datetime = Field(description="Earliest observed_at among the rows.")
    observed_to: datetime = Field(description="Latest observed_at among the rows.")
    dataset_schema: DatasetSchema = Field(description="Schema the rows were validated against.")


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    prediction_id: uuid.UUID = Field(description="Id returned with the prediction.")
    label: str = Field(description="The true outcome.")


class FeedbackReceived(Event):
    """True labels for earlier predictions, joined later by prediction id."""

    event_type: Literal["feedback.received"] = "feedback.received"
    labels: tuple[Label, ...] = Field(min_length=1, max_length=50_000)


# ------------------------------------------------------------------------- training


class TrainingRequested(Event):
    """Ask the trainer for a run (by hand or from a scheduler)."""

    event_type: Literal["training.requested"] = "training.requested"
    dataset: str
    since: datetime | None = Field(
        default=None, description="Train only on rows observed at or after this time."
    )
    reason: str = Field(default="requested", description="Free text kept in the lineage.")


TrainingTrigger = Literal["initial", "drift", "requested"]


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


class TrainingFailed(Event):
    """A run could not produce a model; reason says why."""

    event_type: Literal["training.failed"] = "training.failed"
    run_id: uuid.UUID
    dataset: str
    trigger: TrainingTrigger
    reason: str


# ------------------------------------------------------------------------- registry


class ModelRegistered(Event):
    """The registry recorded a candidate version."""

    event_type: Literal["model.registered"] = "model.registered"
    dataset: str
    model_version: int = Field(ge=1)
    run_id: uuid.UUID


class ModelPromoted(Event):
    """This version now serves. Predictor and monitor follow the latest of these."""

    event_type: Literal["model.promoted"] = "model.promoted"
    dataset: str
    model_version: int = Field(ge=1)
    previous_version: int | None
    reason: Literal["gate", "manual", "rollback"]
    artifact: BlobRef
    profile: BlobRef
    metrics: Metrics = Field(description="Holdout metrics the version was promoted with.")
    dataset_schema: DatasetSchema
    actor: str = Field(default="registry", description="Who promoted: the gate or an admin.")


class ModelRejected(Event):
    """The gate kept a candidate out."""

    event_type: Literal["model.rejected"] = "model.rejected"
    dataset: str
    model_version: int = Field(ge=1)
    reason: str
    candidate_metrics: Metrics
    champion_metrics: Metrics | None


class RolloutChanged(Event):
    """A candidate version serves part of the traffic (canary), or answers nothing but is
    logged beside the champion (shadow); or the rollout ended (promoted or aborted)."""

    event_type: Literal["model.rollout"] = "model.rollout"
    dataset: str
    stage: Literal["canary", "shadow", "ended"]
    outcome: Literal["started", "changed", "promoted", "aborted"]
    model_version: int = Field(ge=1, description="The candidate version.")
    share: float = Field(
        default=0.0, ge=0, le=1, description="Canary: share of requests the candidate answers."
    )
    artifact: BlobRef
    profile: BlobRef
    metrics: Metrics
    dataset_schema: DatasetSchema
    actor: str = "registry"


# ------------------------------------------------------------------------ serving


class PredictionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    prediction_id: uuid.UUID
    features: FeatureRow
    prediction: str
    probability: float = Field(ge=0, le=1, description="Probability of the predicted class.")
    predicted_at: datetime


class PredictionsLogged(Event):
    """A batch of predictions one predictor made with one model version, column by column.

    Columnar because this is the highest-volume stream: a row per prediction would repeat
    every feature name and cost the predictor more to write than the prediction itself.
    Row i of every column describes prediction i; `records()` gives them as rows.
    """

    SUPPORTED_VERSIONS: ClassVar[frozenset[int]] = frozenset({2})

    event_type: Literal["prediction.logged"] = "prediction.logged"
    schema_version: int = Field(default=2, description="2: the columnar form (stream .v2).")
    dataset: str
    model_version: int = Field(ge=1)
    role: Literal["primary", "canary", "shadow"] = Field(
        default="primary",
        description="primary and canary predictions were answered; shadow ones were not (they "
        "share the prediction ids of the answers they shadow, for comparison).",
    )
    feature_names: tuple[str, ...] = Field(description="Order of the values in each features row.")
    prediction_ids: tuple[uuid.UUID, ...] = Field(min_length=1)
    features: tuple[tuple[FeatureValue, ...], ...] = Field(description="Validated feature values.")
    predictions: tuple[str, ...] = Field(description="Predicted class of each row.")
    probabilities: tuple[float, ...] = Field(description="Probability of the predicted class.")
    predicted_at: tuple[datetime, ...]

    @model_validator(mode="after")
    def _columns_line_up(self) -> Self:
        n = len(self.prediction_ids)
        columns = (self.features, self.predictions, self.probabilities, self.predicted_at)
        if any(len(c) != n for c in columns):
            raise ValueError("every column must hold one value per prediction id")
        width = len(self.feature_names)
        if any(len(row) != width for row in self.features):
            raise ValueError("every features row must hold one value per feature name")
        return self

    def __len__(self) -> int:
        return len(self.prediction_ids)

    def records(self) -> list[PredictionRecord]:
        names = self.feature_names
        return [
            PredictionRecord.model_construct(
                prediction_id=i,
                features=dict(zip(names, row, strict=True)),
                prediction=label,
                probability=p,
                predicted_at=at,
            )
            for i, row, label, p, at in zip(
                self.prediction_ids,
                self.features,
                self.predictions,
                self.probabilities,
                self.predicted_at,
                strict=True,
            )
        ]

    @classmethod
    def from_records(
        cls, dataset: str, model_version: int, records: Sequence[PredictionRecord], **envelope: Any
    ) -> PredictionsLogged:
        names = tuple(records[0].features) if records else ()
        return cls(
            dataset=dataset,
            model_version=model_version,
            feature_names=names,
            prediction_ids=tuple(r.prediction_id for r in records),
            features=tuple(tuple(r.features.get(n) for n in names) for r in records),
            predictions=tuple(r.prediction for r in records),
            probabilities=tuple(r.probability for r in records),
            predicted_at=tuple(r.predicted_at for r in records),
            **envelope,
        )


# -------------------------------------------------------------------------- drift


class WindowRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    rows: int


class FeatureDrift(BaseModel):
    """One test on one feature (or on the predictions or the error rate)."""

    model_config = ConfigDict(frozen=True)

    feature: str
    test: str = Field(examples=["ks", "chi2", "accuracy_drop"])
    statistic: float
    p_value: float | None
    threshold: float = Field(description="Decision threshold the statistic or p-value met.")
    drifted: bool
    reference: dict[str, Any] = Field(description="Summary of the reference distribution.")
    current: dict[str, Any] = Field(description="Summary of the current window.")
    effect: float | None = Field(
        default=None, description="Size of the change (see effect_name), independent of n."
    )
    effect_name: str | None = Field(
        default=None, examples=["wasserstein_normed", "jensen_shannon", "error_increase"]
    )
    min_effect: float | None = Field(
        default=None, description="Smallest effect that counts as drift, whatever the p-value."
    )


DriftKind = Literal["data", "prediction", "performance"]


class DriftDetected(Event):
    """The served model no longer fits the live data. Starts a retraining chain."""

    event_type: Literal["drift.detected"] = "drift.detected"
    dataset: str
    model_version: int = Field(ge=1)
    kind: DriftKind
    window: WindowRef = Field(description="The first window that showed the drift.")
    evidence: tuple[FeatureDrift, ...] = Field(min_length=1)
    report_url: str | None = Field(default=None, description="Where a report can be read.")


__all__ = [
    "DataIngested",
    "DataRejected",
    "DriftDetected",
    "DriftKind",
    "FeatureDrift",
    "FeedbackReceived",
    "Label",
    "ModelPromoted",
    "ModelRegistered",
    "ModelRejected",
    "PredictionRecord",
    "PredictionsLogged",
    "RecordsSubmitted",
    "RejectedRow",
    "RolloutChanged",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingRequested",
    "TrainingTrigger",
    "WindowRef",
]
