"""What became of published rows: ingest's data.ingested and data.rejected events of the batch.

Every event `driftloop publish` sends carries one correlation id (the batch's); ingest's
outcome events carry their cause's correlation id, a rejection also its cause's event id (so
a rejected row is found in the file). Ingest stores one dataset version per delivery: rows of
another producer's event read in the same delivery are counted under that event's chain, so a
batch published beside another producer's may be told "not all known" at the deadline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftloop_contracts import DataIngested, DataRejected, Event, Stream, codec, streams
from driftloop_contracts.codec import MalformedEvent

from .shards import StreamSet

OUTCOME_STREAMS = (streams.DATA_INGESTED, streams.DATA_REJECTED)
SHOWN_REASONS = 5


@dataclass
class Tally:
    """Accepted and rejected rows of one batch, from its outcome events (each counted once)."""

    batch: uuid.UUID
    total: int
    #: Each published event's first row in the file (0-based), to name rejected rows.
    offsets: Mapping[uuid.UUID, int]
    accepted: int = 0
    rejected: int = 0
    reasons: list[tuple[int, str]] = field(default_factory=list)
    seen: set[uuid.UUID] = field(default_factory=set)

    @property
    def known(self) -> int:
        return self.accepted + self.rejected

    @property
    def done(self) -> bool:
        return self.known >= self.total

    def add(self, event: Event) -> None:
        if not isinstance(event, DataIngested | DataRejected):
            return
        if event.correlation_id != self.batch or event.event_id in self.seen:
            return
        self.seen.add(event.event_id)
        if isinstance(event, DataIngested):
            self.accepted += event.rows
            return
        self.rejected += len(event.rejected)
        offset = self.offsets.get(event.causation_id) if event.causation_id else None
        for row in event.rejected:
            if len(self.reasons) < SHOWN_REASONS:
                number = row.index + 1 + (offset or 0)
                self.reasons.append((number, row.reason))


class OutcomeReader:
    """Reads the two outcome streams (every shard's) after the ids they held before
    publishing."""

    def __init__(self, streams: StreamSet) -> None:
        self.streams = streams
        self.by_name: dict[str, Stream[Any]] = {s.name: s for s in OUTCOME_STREAMS}
        self.after: dict[str, str] = {}

    def mark(self) -> None:
        """Remember where the streams end now: only what follows can be this batch's."""
        self.after = self.streams.ends(list(self.by_name))

    def read(self, block_ms: int) -> list[Event]:
        events: list[Event] = []
        for found in self.streams.read(self.after, count=500, block_ms=block_ms):
            try:
                events.append(codec.decode(found.fields, self.by_name[found.stream]))
            except MalformedEvent:
                continue  # not ours to judge: ingest's consumers dead-letter it
        return events


def wait(
    tally: Tally,
    reader: OutcomeReader,
    timeout: float,
    progress: Callable[[Tally], None] = lambda _: None,
) -> Tally:
    """Read outcome events until every row is accounted for or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while not tally.done:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for event in reader.read(block_ms=max(1, int(min(left, 0.5) * 1000))):
            tally.add(event)
        progress(tally)
    return tally
