"""Dead letters: list them, read one, and replay them onto the stream they came from.

A replayed entry is the original ``__data__`` appended again to its source stream: every group
sees it, and groups that had already handled that event_id drop it as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from driftloop_contracts import streams
from driftloop_contracts.streams import DLQ_SUFFIX

from .redis_users import RedisLogin

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
            "entry_id": self.entry_id,
            "stream": self.stream,
            "group": self.group,
            "attempts": self.attempts,
            "failed_at": self.failed_at,
            "error": self.error,
        }


def _text(fields: dict[bytes, bytes], name: bytes) -> str:
    return fields.get(name, b"").decode(errors="replace")


class DeadLetters:
    def __init__(
        self, redis_url: str, namespace: str = "", login: RedisLogin | None = None
    ) -> None:
        self.redis = (login or RedisLogin()).connect(redis_url)
        self.namespace = namespace

    def close(self) -> None:
        self.redis.close()

    def dlq_key(self, stream: str) -> str:
        name = stream if stream.endswith(DLQ_SUFFIX) else f"{stream}{DLQ_SUFFIX}"
        return name if name.startswith(self.namespace) else f"{self.namespace}{name}"

    def counts(self) -> dict[str, int]:
        """Dead letters per stream, for every known stream (zero included)."""
        return {s.name: int(self.redis.xlen(self.dlq_key(s.name))) for s in streams.ALL_STREAMS}

    def newest(self, stream: str, count: int = 20) -> list[DeadLetter]:
        key = self.dlq_key(stream)
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], self.redis.xrevrange(key, count=count)
        )
        return [self._letter(key, entry_id, fields) for entry_id, fields in entries]

    def get(self, stream: str, entry_id: str) -> DeadLetter | None:
        key = self.dlq_key(stream)
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], self.redis.xrange(key, entry_id, entry_id)
        )
        return self._letter(key, *entries[0]) if entries else None

    def replay(self, stream: str, entry_ids: list[str] | None = None) -> list[str]:
        """Re-publish dead letters (all of them without ids) and remove them from the DLQ.

        Returns the new entry ids on the source stream. A truncated dead letter (an entry
        larger than DRIFTLOOP_DLQ_PAYLOAD_BYTES) is never replayed: it stays where it is.
        """
        key = self.dlq_key(stream)
        letters = (
            [letter for i in entry_ids if (letter := self.get(stream, i)) is not None]
            if entry_ids
            else list(reversed(self.newest(stream, count=1_000_000)))
        )
        replayed = []
        for letter in letters:
            if letter.truncated:  # a part of an event is not the event
                continue
            source = f"{self.namespace}{letter.stream}"
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(source, letter.original)  # type: ignore[arg-type]
                pipe.xdel(key, letter.entry_id)
                new_id, _ = pipe.execute()
            replayed.append(new_id.decode())
        return replayed

    @staticmethod
    def _letter(key: str, entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
        return DeadLetter(
            dlq=key,
            entry_id=entry_id.decode(),
            stream=_text(fields, b"stream"),
            group=_text(fields, b"group"),
            error=_text(fields, b"error"),
            attempts=int(fields.get(b"attempts", b"0")),
            failed_at=_text(fields, b"failed_at"),
            source_entry_id=_text(fields, b"entry_id"),
            fields=fields,
        )
