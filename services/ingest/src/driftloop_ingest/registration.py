"""Registering a dataset, decided as a pure function of the current registration and the
request: no Redis, no HTTP (the adapter is registrar.py).

* A new dataset is registered at schema version 1.
* The same schema again (whatever version it names) changes nothing, unless the request also
  brings a training spec or monitoring overrides that differ: that re-registers the same
  schema version with them.
* An additive evolution (contracts `evolve`: features appended with a default) registers
  version + 1.
* Anything else is refused with `evolve`'s reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from driftloop_contracts import (
    DatasetRegistered,
    DatasetSchema,
    SchemaEvolutionError,
    TrainingSpec,
    evolve,
)
from driftloop_contracts.specs import MonitoringOverrides
from pydantic import BaseModel, ConfigDict, Field

from .announcements import PRODUCER


class RegistrationIn(BaseModel):
    """What registering a dataset takes: POST /v1/datasets, and each schema file (seed)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    dataset_schema: DatasetSchema = Field(
        alias="schema", description="The dataset's features and target."
    )
    training: TrainingSpec | None = Field(
        default=None, description="How to train its models; omitted: keep the current one."
    )
    monitoring: MonitoringOverrides | None = Field(
        default=None,
        description="Drift-monitor settings for this dataset (MONITOR_* keys, lower case, "
        "without the prefix); omitted: keep the current ones.",
    )


@dataclass(frozen=True)
class Register:
    """Publish this registration (and record it as the dataset's latest)."""

    event: DatasetRegistered
    change: Literal["new", "evolved", "updated"]


@dataclass(frozen=True)
class Unchanged:
    """Nothing to publish: the dataset is registered exactly so already."""

    registration: DatasetRegistered


@dataclass(frozen=True)
class Refused:
    """Not an additive evolution of the registered schema; `reason` says what changed."""

    reason: str


Decision = Register | Unchanged | Refused


def decide_registration(current: DatasetRegistered | None, request: RegistrationIn) -> Decision:
    proposed = request.dataset_schema
    monitoring = request.monitoring.given() if request.monitoring is not None else None
    if current is None:
        first = proposed.model_copy(update={"version": 1})
        return Register(_event(first, request.training, monitoring or {}), "new")
    try:
        schema = evolve(current.dataset_schema, proposed)
    except SchemaEvolutionError as exc:
        return Refused(f"dataset {proposed.name!r} cannot change so: {exc}")
    training = request.training if request.training is not None else current.training
    settings = monitoring if monitoring is not None else current.monitoring
    if schema is not current.dataset_schema:
        return Register(_event(schema, training, settings), "evolved")
    if training == current.training and settings == current.monitoring:
        return Unchanged(current)
    return Register(_event(schema, training, settings), "updated")


def _event(
    schema: DatasetSchema,
    training: TrainingSpec | None,
    monitoring: Mapping[str, float | int | str | bool],
) -> DatasetRegistered:
    return DatasetRegistered(
        producer=PRODUCER,
        dataset=schema.name,
        dataset_schema=schema,
        training=training,
        monitoring=dict(monitoring),
    )
