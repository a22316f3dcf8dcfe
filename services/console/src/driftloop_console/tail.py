"""The events page and the dead letters: stream entries as rows, filtered. Entries are read
as JSON without validating them against their event (a tail must show what is there, a
malformed entry included)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from driftloop_contracts.codec import DATA_FIELD
from driftloop_contracts.streams import entry_order

from .ports import Entry

SUMMARY_FIELDS = ("dataset", "model_version", "kind", "reason", "trigger", "stage", "rows")


@dataclass(frozen=True)
class EventRow:
    stream: str
    entry_id: str  # whole: it is what `driftloop dlq` and XRANGE take
    at: str
    event_type: str
    dataset: str
    summary: str
    event_id: str
    correlation_id: str


@dataclass(frozen=True)
class Filters:
    stream: str = ""
    dataset: str = ""
    text: str = ""

    def keep(self, row: EventRow) -> bool:
        if self.dataset and row.dataset != self.dataset:
            return False
        haystack = f"{row.event_type} {row.summary} {row.event_id} {row.correlation_id}"
        return not self.text or self.text.lower() in haystack.lower()


def entry_time(entry_id: str) -> str:
    ms = int(entry_id.split("-", 1)[0])
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def body_of(fields: dict[bytes, bytes] | Any) -> dict[str, Any] | None:
    raw = fields.get(DATA_FIELD)
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def summary(body: dict[str, Any]) -> str:
    parts = [f"{k}={body[k]}" for k in SUMMARY_FIELDS if body.get(k) not in (None, "")]
    for name in ("records", "labels", "predictions"):
        if isinstance(body.get(name), list):
            parts.append(f"{len(body[name])} {name}")
    return " · ".join(parts)


def event_row(entry: Entry) -> EventRow:
    body = body_of(entry.fields)
    if body is None:
        return EventRow(
            entry.stream,
            entry.entry_id,
            entry_time(entry.entry_id),
            "(not a JSON event)",
            "",
            _raw_preview(entry.fields),
            "",
            "",
        )
    return EventRow(
        stream=entry.stream,
        entry_id=entry.entry_id,
        at=entry_time(entry.entry_id),
        event_type=str(body.get("event_type", "?")),
        dataset=str(body.get("dataset") or ""),
        summary=summary(body),
        event_id=str(body.get("event_id", "")),
        correlation_id=str(body.get("correlation_id") or ""),
    )


def _raw_preview(fields: Any) -> str:
    shown = {k.decode(errors="replace"): v[:80].decode(errors="replace") for k, v in fields.items()}
    return json.dumps(shown)[:200]


def tail_rows(entries: Sequence[Entry], filters: Filters, limit: int) -> list[EventRow]:
    """Newest first across streams, filtered, at most `limit`."""
    rows = [event_row(e) for e in entries]
    rows.sort(key=lambda r: entry_order(r.entry_id), reverse=True)
    return [r for r in rows if filters.keep(r)][:limit]


@dataclass(frozen=True)
class DeadLetterRow:
    stream: str  # the stream it came from
    entry_id: str  # in the dead-letter stream
    source_entry_id: str
    group: str
    attempts: int
    failed_at: str
    error: str
    truncated: bool
    event_type: str
    shard: int = 0  # REDIS_SHARDS > 1: the shard whose dead letters hold it

    @property
    def query(self) -> str:
        """What its links add to name its shard (nothing unsharded)."""
        return f"?shard={self.shard}" if self.shard else ""


def _text(fields: Any, name: bytes) -> str:
    return str(fields.get(name, b"").decode(errors="replace"))


def dead_letter_row(source: str, entry: Entry) -> DeadLetterRow:
    fields = entry.fields
    body = body_of(fields)
    return DeadLetterRow(
        stream=source,
        entry_id=entry.entry_id,
        source_entry_id=_text(fields, b"entry_id"),
        group=_text(fields, b"group"),
        attempts=int(fields.get(b"attempts", b"0") or 0),
        failed_at=_text(fields, b"failed_at")[:19].replace("T", " "),
        error=_text(fields, b"error"),
        truncated=fields.get(b"truncated") == b"1",
        event_type=str(body.get("event_type", "?")) if body else "(not a JSON event)",
        shard=entry.shard,
    )


def payload_text(fields: Any) -> str:
    """The dead letter's original entry, pretty when it is JSON."""
    body = body_of(fields)
    if body is not None:
        return json.dumps(body, indent=2, sort_keys=True, default=str)[:200_000]
    raw = fields.get(DATA_FIELD) or b""
    return str(raw[:200_000].decode(errors="replace"))
