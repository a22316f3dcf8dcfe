"""What the registry decided: versions, promotions, rejections, rollouts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from ..envelope import Event
from ..refs import BlobRef, Metrics
from ..schema import DatasetSchema

#: The two fields every registry decision (promotion, rollout) carries; see driftloop_core.signing.
DecisionSequence = Annotated[
    int | None,
    Field(
        ge=1,
        description="Per-dataset number of the registry's decisions (promotions and rollouts), "
        "only growing: a consumer acts on a decision only if it is above the last it acted on "
        "for the dataset, so an old decision published again is refused. A rollback is a new "
        "promotion with a higher sequence naming an older version.",
    ),
]
RegistrySignature = Annotated[
    str | None,
    Field(
        description="Base64 Ed25519 signature by the registry's key over the event's canonical "
        "JSON without this field (orjson, sorted keys). Consumers refuse events without a "
        "valid one.",
    ),
]


class ModelRegistered(Event):
    """The registry recorded a candidate version."""

    event_type: Literal["model.registered"] = "model.registered"
    dataset: str
    model_version: int = Field(ge=1)
    run_id: uuid.UUID


class ModelPromoted(Event):
    """This version now serves its dataset. The registry keeps the latest per dataset as the
    serving state that predictors load at start-up (see driftloop_bus.serving)."""

    event_type: Literal["model.promoted"] = "model.promoted"
    dataset: str
    model_version: int = Field(ge=1)
    previous_version: int | None
    reason: Literal["gate", "manual", "rollback", "trial"] = Field(
        description="gate: the offline gate; trial: a live challenger trial's evidence "
        "(trial.decided); manual and rollback: an admin."
    )
    artifact: BlobRef
    profile: BlobRef
    metrics: Metrics = Field(description="Holdout metrics the version was promoted with.")
    dataset_schema: DatasetSchema
    actor: str = Field(default="registry", description="Who promoted: the gate or an admin.")
    sequence: DecisionSequence = None
    signature: RegistrySignature = None


class ModelRejected(Event):
    """The gate kept a candidate out."""

    event_type: Literal["model.rejected"] = "model.rejected"
    dataset: str
    model_version: int = Field(ge=1)
    reason: str
    candidate_metrics: Metrics
    champion_metrics: Metrics | None
    run_id: uuid.UUID | None = Field(
        default=None, description="The training run of the candidate (training.completed)."
    )
    trigger: str | None = Field(
        default=None, description="Why the candidate was trained: initial, drift or requested."
    )


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
    sequence: DecisionSequence = None
    signature: RegistrySignature = None
