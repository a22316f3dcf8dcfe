"""Dead letters: list them, read one, and replay them onto the stream they came from.

A replayed entry is the original ``__data__`` appended again to its source stream: every group
sees it, and groups that had already handled that event_id drop it as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop_contracts import streams
from driftloop_contracts.streams import DLQ_SUFFIX

from .shards import Found, StreamSet

ORIGINAL_PREFIX = b"orig:"


@dataclass(frozen=True)
class DeadLetter:
    dlq: str
    entry_id: str
    stream: str
    group: str
    error: str
    attempts: int
    failed_at: str
    source_entry_id: str
    fields: dict[bytes, bytes]
    shard: int = 0

    @property
    def truncated(self) -> bool:
        """Only the first bytes of the entry were kept (DRIFTLOOP_DLQ_PAYLOAD_BYTES)."""
        return self.fields.get(b"truncated") == b"1"

    @property
    def original(self) -> dict[bytes, bytes]:
        """The entry as it was published (its first bytes, under cut:<name>, if truncated)."""
        if self.truncated:
            return {k: v for k, v in self.fields.items() if k.startswith(b"cut:")}
        out = {
            k[len(ORIGINAL_PREFIX) :]: v
            for k, v in self.fields.items()
            if k.startswith(ORIGINAL_PREFIX)
        }
        if b"__data__" in self.fields:
            out[b"__data__"] = self.fields[b"__data__"]
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "dlq": self.dlq,
            "shard": self.shard,
            "entry_id": self.entry_id,
            "stream": self.stream,
            "group": self.group,
            "attempts": self.attempts,
            "failed_at": self.failed_at,
            "error": self.error,
        }


def _text(fields: dict[bytes, bytes], name: bytes) -> str:
    return fields.get(name, b"").decode(errors="replace")


class AmbiguousEntry(LookupError):
    """The same entry id is a dead letter in more than one shard: name the shard."""


class DeadLetters:
    """The dead letters of every shard of a stack's streams (`shards.StreamSet`)."""

    def __init__(self, streams: StreamSet) -> None:
        self.streams = streams

    def close(self) -> None:
        self.streams.redis.close()

    @property
    def sharded(self) -> bool:
        return len(self.streams.shards) > 1

    def counts(self) -> dict[str, int]:
        """Dead letters per stream, for every known stream (zero included)."""
        return {s.name: self.streams.length(dlq_name(s.name)) for s in streams.ALL_STREAMS}

    def newest(self, stream: str, count: int = 20) -> list[DeadLetter]:
        return [_letter(f) for f in self.streams.newest(dlq_name(stream), count)]

    def get(self, stream: str, entry_id: str, shard: int | None = None) -> DeadLetter | None:
        """One dead letter; without `shard`, looked up in every shard (AmbiguousEntry if
        more than one holds that id)."""
        shards = [shard] if shard is not None else range(len(self.streams.shards))
        found = [f for s in shards if (f := self.streams.entry(dlq_name(stream), entry_id, s))]
        if len(found) > 1:
            where = ", ".join(str(f.shard) for f in found)
            raise AmbiguousEntry(f"{entry_id} is a dead letter in shards {where}: name one")
        return _letter(found[0]) if found else None

    def replay(
        self, stream: str, entry_ids: list[str] | None = None, shard: int | None = None
    ) -> list[str]:
        """Re-publish dead letters (all of them without ids) on their stream in their shard,
        and remove them from the dead letters, each in one transaction (one slot).

        Returns the new entry ids. A truncated dead letter (an entry larger than
        DRIFTLOOP_DLQ_PAYLOAD_BYTES) is never replayed: it stays where it is.
        """
        letters = (
            [letter for i in entry_ids if (letter := self.get(stream, i, shard)) is not None]
            if entry_ids
            else list(reversed(self.newest(stream, count=1_000_000)))
        )
        replayed = []
        for letter in letters:
            if letter.truncated:  # a part of an event is not the event
                continue
            source = self.streams.key(letter.stream, letter.shard)
            with self.streams.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(source, letter.original)  # type: ignore[arg-type]
                pipe.xdel(self.streams.key(letter.dlq, letter.shard), letter.entry_id)
                new_id, _ = pipe.execute()
            replayed.append(new_id.decode())
        return replayed


def dlq_name(stream: str) -> str:
    return stream if stream.endswith(DLQ_SUFFIX) else f"{stream}{DLQ_SUFFIX}"


def _letter(found: Found) -> DeadLetter:
    fields = found.fields
    return DeadLetter(
        dlq=found.stream,
        entry_id=found.entry_id,
        stream=_text(fields, b"stream"),
        group=_text(fields, b"group"),
        error=_text(fields, b"error"),
        attempts=int(fields.get(b"attempts", b"0")),
        failed_at=_text(fields, b"failed_at"),
        source_entry_id=_text(fields, b"entry_id"),
        fields=fields,
        shard=found.shard,
    )
