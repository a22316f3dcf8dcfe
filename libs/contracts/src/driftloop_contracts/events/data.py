"""Rows in, dataset versions out, and late labels."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..envelope import Event
from ..refs import BlobRef, Record
from ..schema import DatasetSchema
from ..specs import TrainingSpec


class DatasetRegistered(Event):
    """A dataset's schema, new or evolved, is registered: every service picks it up live.

    The latest event per dataset is the truth: ``dataset_schema.version`` grows by one with each
    additive evolution; registering the same schema again publishes nothing."""

    event_type: Literal["dataset.registered"] = "dataset.registered"
    dataset: str = Field(description="Dataset name (equals dataset_schema.name).")
    dataset_schema: DatasetSchema = Field(description="The schema, with its version.")
    training: TrainingSpec | None = Field(
        default=None, description="How to train its models; omitted: the trainer's default."
    )
    monitoring: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description="Per-dataset drift-monitor settings overriding its defaults "
        "(keys as the MONITOR_* settings, lower case, without the prefix).",
    )


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
    # A JSON number is taken as its text: regression labels may be sent as numbers.
    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)

    prediction_id: uuid.UUID = Field(description="Id returned with the prediction.")
    label: str = Field(
        description="The true outcome: a class name, or for a regression dataset a number as "
        'text (e.g. "12.5"; a JSON number is accepted and kept as its text).'
    )


class FeedbackReceived(Event):
    """True labels for earlier predictions, joined later by prediction id."""

    event_type: Literal["feedback.received"] = "feedback.received"
    labels: tuple[Label, ...] = Field(min_length=1, max_length=50_000)
