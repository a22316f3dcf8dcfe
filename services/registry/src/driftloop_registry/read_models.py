"""What the registry answers over HTTP: one pydantic model per shape, documented in OpenAPI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from driftloop_contracts import BlobRef, Metrics
from pydantic import BaseModel, ConfigDict, Field

from .repository import DecisionRecord

Status = Literal["candidate", "champion", "rejected", "retired"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class DecisionOut(DecisionRecord):
    """The gate's decision about a version, with the evidence it was made on."""


class VersionOut(_Out):
    """One registered model version."""

    dataset: str
    version: int
    status: Status = Field(
        description="candidate (judged to promote, or waiting), champion (serving), rejected "
        "(kept out by the gate), retired (served before)."
    )
    created_at: datetime
    run_id: uuid.UUID = Field(description="The training run that made it.")
    trigger: str = Field(description="Why it was trained: initial, drift or requested.")
    metrics: Metrics = Field(description="Holdout metrics reported by the trainer.")
    params: dict[str, Any] = Field(description="Chosen hyperparameters.")
    decision: DecisionOut | None = Field(description="The gate's decision, once made.")


class VersionDetailOut(VersionOut):
    artifact: BlobRef = Field(description="The model artifact (a skops file) in the content store.")


class PromotionOut(_Out):
    """One model.promoted event, as the registry applied it from its stream."""

    dataset: str
    version: int
    previous_version: int | None
    reason: Literal["gate", "manual", "rollback", "trial"]
    actor: str
    event_id: uuid.UUID
    correlation_id: uuid.UUID
    at: datetime = Field(description="When the promotion happened (the event's time).")
    stream_id: str | None = Field(
        description="Its entry id in model.promoted (None for promotions recorded before the "
        "registry followed its own stream)."
    )


class LineageOut(_Out):
    """Where a version came from: the data, the run, the decision, its promotions."""

    dataset: str
    version: int
    run_id: uuid.UUID
    trigger: str
    correlation_id: uuid.UUID = Field(description="The chain the run belongs to.")
    caused_by: uuid.UUID | None = Field(description="The event that asked for the run.")
    training_event_id: uuid.UUID
    dataset_versions: list[str]
    training_rows: int
    params: dict[str, Any]
    seed: int
    library_versions: dict[str, str]
    artifact: BlobRef
    profile: BlobRef
    holdout: BlobRef
    metrics: Metrics
    decision: DecisionOut | None
    promotions: list[PromotionOut] = Field(description="Each time this version was promoted.")


class RolloutOut(_Out):
    """The rollout in progress for a dataset."""

    dataset: str
    stage: Literal["canary", "shadow"]
    model_version: int = Field(description="The candidate.")
    share: float = Field(description="Canary: share of requests the candidate answers.")
    actor: str
    started_at: datetime = Field(description="When this stage began.")
    event_id: uuid.UUID


class PromotionDone(_Out):
    """A promotion or rollback by hand: published, with the serving state it sets."""

    dataset: str
    version: int
    previous_version: int | None
    reason: Literal["gate", "manual", "rollback", "trial"]
    event_id: uuid.UUID
    recorded: bool = Field(
        description="Whether the read side (the GET routes) already shows it; it follows the "
        "model.promoted stream and catches up within milliseconds otherwise."
    )


class RolloutDone(_Out):
    """A rollout change by hand: published, with the serving state it sets."""

    dataset: str
    stage: Literal["canary", "shadow", "ended"]
    outcome: Literal["started", "changed", "promoted", "aborted"]
    version: int = Field(description="The candidate.")
    share: float
    event_id: uuid.UUID
    promoted_version: int | None = Field(
        default=None, description="The version that now serves everyone, when promoted."
    )
    recorded: bool = Field(description="Whether the read side already shows the change.")
