"""The envelope every driftloop event carries, and how a caused event inherits it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Namespace for event ids derived from their cause, so a retried handler emits the same ids.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4d0b-9a53-5b1f0d6c7e21")


def utcnow() -> datetime:
    return datetime.now(UTC)


def derived_id(*parts: object) -> uuid.UUID:
    """A stable id from its parts: the same cause and key always give the same id."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, "/".join(str(p) for p in parts))


class Event(BaseModel):
    """Base of every event: the envelope, frozen; unknown fields ignored (additive evolution)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    #: Name on the wire; every concrete event fixes it with a Literal.
    event_type: str
    #: Schema versions this code can read for the event type.
    SUPPORTED_VERSIONS: ClassVar[frozenset[int]] = frozenset({1})

    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Unique id of this event; consumers deduplicate on it.",
    )
    schema_version: int = Field(
        default=1, description="Version of this event's schema; additive changes keep it."
    )
    occurred_at: datetime = Field(
        default_factory=utcnow, description="When the event happened (UTC)."
    )
    producer: str = Field(
        default="unknown", description="Service or client that published the event."
    )
    correlation_id: uuid.UUID | None = Field(
        default=None,
        description="Id shared by every event of one chain (a drift event's id follows the "
        "retrain and the promotion). Defaults to this event's own id.",
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="event_id of the event that directly caused this one."
    )

    @model_validator(mode="after")
    def _root_of_its_own_chain(self) -> Self:
        if self.correlation_id is None:
            object.__setattr__(self, "correlation_id", self.event_id)
        if self.schema_version not in self.SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in sorted(self.SUPPORTED_VERSIONS))
            raise ValueError(
                f"unsupported schema_version {self.schema_version} for {self.event_type} "
                f"(this consumer reads {supported})"
            )
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone (UTC)")
        return self

    @property
    def chain_id(self) -> uuid.UUID:
        """The correlation id, never None once validated."""
        assert self.correlation_id is not None
        return self.correlation_id

    @classmethod
    def caused_by(cls, cause: Event, key: str, producer: str, **fields: Any) -> Self:
        """Build an event caused by `cause`, with an id derived from the cause and `key`.

        Deriving the id makes a handler that runs twice for the same cause emit the same event,
        which every consumer then deduplicates.
        """
        return cls(
            event_id=derived_id(cause.event_id, cls.model_fields["event_type"].default, key),
            correlation_id=cause.chain_id,
            causation_id=cause.event_id,
            producer=producer,
            **fields,
        )
