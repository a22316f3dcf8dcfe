"""Following the streams read-only (XREAD, no group: nothing is consumed or acknowledged) and
one line per event, with full ids."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from driftloop_contracts import streams
from driftloop_contracts.codec import MalformedEvent, entry_body

from .shards import Found, StreamSet, oldest_first

#: Fields worth a glance, by event, in this order (the rest is in `driftloop dlq show` or
#: the console).
SUMMARY = (
    "version",
    "model_version",
    "kind",
    "rows",
    "trigger",
    "run_id",
    "role",
    "reason",
    "status",
    "report_url",
)


class UnknownStream(ValueError):
    """A stream name driftloop does not have; the message lists the known ones."""


@dataclass(frozen=True)
class Line:
    entry_id: str
    stream: str
    body: dict[str, Any]

    @property
    def dataset(self) -> str | None:
        value = self.body.get("dataset")
        return str(value) if value is not None else None

    def render(self) -> str:
        b = self.body
        parts = [
            self.entry_id,
            self.stream,
            str(b.get("event_type", "?")),
            f"event={b.get('event_id', '?')}",
        ]
        if self.dataset:
            parts.append(f"dataset={self.dataset}")
        if b.get("correlation_id") and b.get("correlation_id") != b.get("event_id"):
            parts.append(f"correlation={b['correlation_id']}")
        parts += [f"{k}={b[k]}" for k in SUMMARY if b.get(k) not in (None, "")]
        for plural in ("records", "rejected", "labels", "prediction_ids"):
            if isinstance(b.get(plural), list):
                parts.append(f"{plural}={len(b[plural])}")
        return "  ".join(parts)


def chosen(names: Sequence[str]) -> list[str]:
    """The streams to follow: those named (a .dlq suffix allowed), else every stream."""
    if not names:
        return [s.name for s in streams.ALL_STREAMS]
    unknown = [n for n in names if n.removesuffix(streams.DLQ_SUFFIX) not in streams.BY_NAME]
    if unknown:
        known = ", ".join(s.name for s in streams.ALL_STREAMS)
        raise UnknownStream(f"unknown stream(s) {', '.join(unknown)}; the streams: {known}")
    return list(names)


class Tail:
    """Follows streams over every shard (`shards.StreamSet`), in entry-id order."""

    def __init__(self, streams: StreamSet, names: Sequence[str]) -> None:
        self.streams = streams
        self.names = list(names)
        self.after: dict[str, str] = {}

    def start(self, last: int) -> list[Line]:
        """Begin at each stream's end; with `last`, the last entries of each first (in order)."""
        self.after = self.streams.ends(self.names)
        if not last:
            return []
        found = [f for name in self.names for f in self.streams.newest(name, last)]
        return [self._line(f) for f in oldest_first(found)]

    def follow(self, block_ms: int) -> Iterator[Line]:
        for found in self.streams.read(self.after, count=200, block_ms=block_ms):
            yield self._line(found)

    @staticmethod
    def _line(found: Found) -> Line:
        fields = found.fields
        try:
            body = orjson.loads(entry_body(fields))
        except (MalformedEvent, orjson.JSONDecodeError):
            body = {"event_type": "(not an event)", "fields": sorted(k.decode() for k in fields)}
        if not isinstance(body, dict):
            body = {"event_type": "(not an event)"}
        return Line(found.entry_id, found.stream, body)
