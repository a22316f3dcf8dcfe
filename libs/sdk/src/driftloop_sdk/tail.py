"""Following the streams read-only (XREAD, no group: nothing is consumed or acknowledged) and
one line per event, with full ids."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from driftloop_contracts import streams
from driftloop_contracts.codec import MalformedEvent, entry_body
from redis import Redis

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
    def __init__(self, redis: Redis, names: Sequence[str], namespace: str = "") -> None:
        self.redis = redis
        self.names = {f"{namespace}{n}": n for n in names}
        self.after: dict[str, str] = {}

    def start(self, last: int) -> list[Line]:
        """Begin at each stream's end; with `last`, the last entries of each first (in order)."""
        lines: list[Line] = []
        for key, name in self.names.items():
            entries: Any = self.redis.xrevrange(key, count=max(last, 1))
            self.after[key] = entries[0][0].decode() if entries else "0-0"
            if last:
                lines += [self._line(name, i, f) for i, f in reversed(entries)]
        return sorted(lines, key=lambda x: _order(x.entry_id))

    def follow(self, block_ms: int) -> Iterator[Line]:
        after: Any = dict(self.after)
        answer: Any = self.redis.xread(after, count=200, block=block_ms) or []
        lines: list[Line] = []
        for raw_key, entries in answer:
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            for entry_id, fields in entries:
                self.after[key] = entry_id.decode()
                lines.append(self._line(self.names[key], entry_id, fields))
        yield from sorted(lines, key=lambda x: _order(x.entry_id))

    @staticmethod
    def _line(name: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Line:
        try:
            body = orjson.loads(entry_body(fields))
        except (MalformedEvent, orjson.JSONDecodeError):
            body = {"event_type": "(not an event)", "fields": sorted(k.decode() for k in fields)}
        if not isinstance(body, dict):
            body = {"event_type": "(not an event)"}
        return Line(entry_id.decode(), name, body)


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
