"""The adapter between the bus and ingest's policies: it loads what they need (the join's
claims, the entries of joined predictions), calls them, and turns their effects into the
delivery's outputs (events, writes to ingest's keys, memory changed after the commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial

from driftloop_bus import AfterCommit, Delivery, Output, Publish, PublishBody
from driftloop_contracts import (
    Event,
    FeedbackReceived,
    PredictionsLogged,
    RecordsSubmitted,
    streams,
    utcnow,
)
from driftloop_core import ContentStore
from redis.asyncio import Redis

from .announcements import ingested_event, labelled_event_body, rejected_event
from .due import FeedbackDue
from .entries import EntryCache, LoggedEntry, read_entries
from .join import Gathered, JoinState, SideWrite, label_sides, prediction_sides
from .metrics import PAIRS_JOINED, TRAINING_ROWS_SKIPPED
from .policy import (
    AnnounceLabelled,
    Effect,
    Forget,
    Reject,
    StoreVersion,
    decide_joined,
    decide_records,
)
from .service import Schemas
from .validation import DEFAULT_WINDOW, TimeWindow
from .versions import store_version

#: Up to this many rows are validated and written on the event loop: the hop to a worker
#: thread cost more than the work for the few rows of a label batch. Larger batches go to a
#: thread, so the loop keeps serving HTTP and renewing leases.
INLINE_ROWS = 2_000


class IngestConsumer:
    """Stream handlers of ingest: records, prediction logs and labels."""

    def __init__(
        self,
        *,
        store: ContentStore,
        schemas: Schemas,
        join: JoinState,
        redis: Redis,
        cache: EntryCache,
        clock: Callable[[], datetime] = utcnow,
        window: TimeWindow = DEFAULT_WINDOW,
    ) -> None:
        self.store = store
        self.schemas = schemas
        self.join = join
        self.redis = redis
        self.cache = cache
        self.clock = clock
        self.window = window

    async def on_records(self, events: Sequence[RecordsSubmitted]) -> list[Output]:
        """One dataset version per dataset per delivery; rejects reported per event."""
        decide = partial(decide_records, self.schemas, events, self.clock(), self.window)
        small = sum(len(e.records) for e in events) <= INLINE_ROWS
        return await self.apply(decide() if small else await asyncio.to_thread(decide))

    async def on_predictions(self, events: Sequence[PredictionsLogged]) -> list[Output]:
        entry_ids = _entry_ids(events)
        writes = [
            SideWrite("s" if e.role == "shadow" else "a", e, prediction_sides(e, entry_id))
            for e, entry_id in zip(events, entry_ids, strict=True)
        ]
        own = {
            entry_id: LoggedEntry.of(e)
            for e, entry_id in zip(events, entry_ids, strict=True)
            if e.role != "shadow"
        }
        return await self._joined(writes, own)

    async def on_feedback(self, events: Sequence[FeedbackReceived]) -> list[Output]:
        return await self._joined([SideWrite("l", e, label_sides(e)) for e in events], {})

    async def on_due(self, events: Sequence[FeedbackDue]) -> list[Output]:
        """Gathered rows waited long enough: take them (the first event that gets there)."""
        return await self._joined([SideWrite("f", e, ()) for e in events], {})

    async def _joined(
        self, writes: Sequence[SideWrite], own: Mapping[str, LoggedEntry]
    ) -> list[Output]:
        joined = await self.join.write(writes)
        entries = await self._entries(joined.rows, own)
        outputs = await self.apply(decide_joined(self.schemas, joined, entries, self.clock()))
        outputs.append(AfterCommit(partial(self.cache.put, {**entries, **own})))
        return outputs

    async def _entries(
        self, rows: Sequence[Gathered], own: Mapping[str, LoggedEntry]
    ) -> dict[str, LoggedEntry | None]:
        """The entries of the gathered rows: this delivery's, cached, or read back."""
        found: dict[str, LoggedEntry | None] = {}
        missing: list[str] = []
        for entry_id in {r.prediction.entry_id for r in rows}:
            entry = own.get(entry_id) or self.cache.get(entry_id)
            if entry is None:
                missing.append(entry_id)
            found[entry_id] = entry
        shards: dict[str, list[str]] = {}  # the prediction.logged stream of each entry's shard
        wanted = set(missing)
        for row in rows:
            if row.prediction.entry_id in wanted:
                key = self.join.keys.of(row.prediction.dataset).stream(streams.PREDICTION_LOGGED)
                shards.setdefault(key, []).append(row.prediction.entry_id)
        for key, entry_ids in shards.items():
            found |= await read_entries(self.redis, key, dict.fromkeys(entry_ids))
        return found

    async def apply(self, effects: Sequence[Effect]) -> list[Output]:
        outputs: list[Output] = []
        for effect in effects:
            outputs += await self._outputs(effect)
        return outputs

    async def _outputs(self, effect: Effect) -> list[Output]:
        if isinstance(effect, StoreVersion):
            version = (
                await asyncio.to_thread(store_version, self.store, effect.rows)
                if len(effect.rows) > INLINE_ROWS
                else store_version(self.store, effect.rows)
            )
            ingested = ingested_event(version, effect.source, effect.cause)
            return [Publish(streams.DATA_INGESTED, ingested)]
        if isinstance(effect, Reject):
            rejected = rejected_event(effect.dataset, effect.source, effect.rows, effect.cause)
            return [Publish(streams.DATA_REJECTED, rejected)]
        if isinstance(effect, AnnounceLabelled):
            body = labelled_event_body(
                effect.dataset, effect.model_version, effect.role, effect.pairs, effect.numeric
            )
            count = partial(PAIRS_JOINED.labels(role=effect.role).inc, len(effect.pairs))
            labelled = PublishBody(streams.PREDICTION_LABELLED, body, effect.dataset)
            return [labelled, AfterCommit(count)]
        if isinstance(effect, Forget):
            return [self.join.forget(effect.claimed)]
        skipped = TRAINING_ROWS_SKIPPED.labels(reason=effect.reason)
        return [AfterCommit(partial(skipped.inc, effect.rows))]


def _entry_ids(events: Sequence[Event]) -> tuple[str, ...]:
    if not isinstance(events, Delivery):
        raise TypeError("prediction logs must come as a Delivery: the join points at entries")
    return events.entry_ids
