"""How the registry's own model.promoted and model.rollout events become its SQLite history.

Pure: what is already applied, the event and its stream position in; what to write out. The
order of each history is the streams' order (entry ids), never the order of delivery: a
retried entry can arrive after later ones, and must not take the champion back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_contracts.streams import entry_order


@dataclass(frozen=True, order=True)
class Position:
    """A stream entry id (``<ms>-<seq>``), ordered as Redis orders them."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, entry_id: str) -> Position:
        return cls(*entry_order(entry_id))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


@dataclass(frozen=True)
class Applied:
    """What the read side already holds for one event's dataset, on the event's stream."""

    #: The event's id is already in the history (a redelivery, or a replay after dedupe).
    seen: bool
    #: Position of the latest entry applied for the dataset; None before the first.
    latest: Position | None


@dataclass(frozen=True)
class PromotionRecord:
    dataset: str
    version: int
    previous_version: int | None
    reason: str
    actor: str
    event_id: uuid.UUID
    correlation_id: uuid.UUID
    at: datetime
    position: Position | None


@dataclass(frozen=True)
class RolloutRecord:
    dataset: str
    stage: Literal["canary", "shadow", "ended"]
    outcome: str
    model_version: int
    share: float
    actor: str
    event_id: uuid.UUID
    at: datetime
    position: Position


@dataclass(frozen=True)
class RecordPromotion:
    """Append to the promotion history."""

    record: PromotionRecord


@dataclass(frozen=True)
class Crown:
    """Make `version` the one champion of `dataset` (the previous one retires)."""

    dataset: str
    version: int


@dataclass(frozen=True)
class Retire:
    """`version` served once, before the champion: retired unless it is the champion."""

    dataset: str
    version: int


@dataclass(frozen=True)
class RecordRollout:
    """Append to the rollout history; the latest change per dataset is the current rollout."""

    record: RolloutRecord


Effect = RecordPromotion | Crown | Retire | RecordRollout


def promotion_applied(applied: Applied, event: ModelPromoted, at: Position) -> list[Effect]:
    """A promotion joins the history once; it crowns only if nothing later was applied, and
    applied late, it only says that its version served once."""
    if applied.seen:
        return []
    record = PromotionRecord(
        dataset=event.dataset,
        version=event.model_version,
        previous_version=event.previous_version,
        reason=event.reason,
        actor=event.actor,
        event_id=event.event_id,
        correlation_id=event.chain_id,
        at=event.occurred_at,
        position=at,
    )
    if applied.latest is not None and at < applied.latest:
        return [RecordPromotion(record), Retire(event.dataset, event.model_version)]
    return [RecordPromotion(record), Crown(event.dataset, event.model_version)]


def rollout_applied(applied: Applied, event: RolloutChanged, at: Position) -> list[Effect]:
    """A rollout change joins the history once; its position says whether it is current."""
    if applied.seen:
        return []
    record = RolloutRecord(
        dataset=event.dataset,
        stage=event.stage,
        outcome=event.outcome,
        model_version=event.model_version,
        share=event.share,
        actor=event.actor,
        event_id=event.event_id,
        at=event.occurred_at,
        position=at,
    )
    return [RecordRollout(record)]
