"""Features read back from prediction.logged entries, for the training rows of joined pairs.

The join keeps a pointer (entry id, row) instead of the features; the entry is read once
(XRANGE id id) and its feature columns kept in a small cache, since a label batch usually
answers one prediction batch. Entries are immutable, so the cache never goes stale.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
from driftloop_contracts import FeatureRow, FeatureValue, PredictionsLogged
from driftloop_contracts.codec import DATA_FIELD
from redis.asyncio import Redis


@dataclass(frozen=True)
class LoggedEntry:
    """The feature columns of one prediction.logged entry."""

    columns: Mapping[str, Sequence[FeatureValue]]

    def row(self, index: int) -> FeatureRow | None:
        try:
            return {name: column[index] for name, column in self.columns.items()}
        except IndexError:
            return None

    @classmethod
    def of(cls, event: PredictionsLogged) -> LoggedEntry:
        return cls(event.features)

    @classmethod
    def parse(cls, fields: Mapping[bytes, bytes]) -> LoggedEntry | None:
        """An entry as stored; None if it is not a prediction log with feature columns."""
        try:
            body: Any = orjson.loads(fields[DATA_FIELD])
            columns = body["features"]
        except (KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if not isinstance(columns, dict) or not all(isinstance(c, list) for c in columns.values()):
            return None
        return cls(columns)


class EntryCache:
    """The most recently used entries, by entry id, at most `size` of them."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, LoggedEntry] = OrderedDict()

    def get(self, entry_id: str) -> LoggedEntry | None:
        entry = self._entries.get(entry_id)
        if entry is not None:
            self._entries.move_to_end(entry_id)
        return entry

    def put(self, entries: Mapping[str, LoggedEntry | None]) -> None:
        for entry_id, entry in entries.items():
            if entry is not None:
                self._entries[entry_id] = entry
                self._entries.move_to_end(entry_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


async def read_entries(
    redis: Redis, stream_key: str, entry_ids: Iterable[str]
) -> dict[str, LoggedEntry | None]:
    """The entries, one XRANGE each in one round trip; None for one trimmed (or unreadable)."""
    ids = list(entry_ids)
    if not ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for entry_id in ids:
            pipe.xrange(stream_key, min=entry_id, max=entry_id, count=1)
        replies = cast(list[list[tuple[bytes, Mapping[bytes, bytes]]]], await pipe.execute())
    return {
        entry_id: LoggedEntry.parse(reply[0][1]) if reply else None
        for entry_id, reply in zip(ids, replies, strict=True)
    }
