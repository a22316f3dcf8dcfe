"""Reading a stream of a sharded stack as one stream, read-only.

With REDIS_SHARDS = n, a stream is n keys (`<ns>{s<i>}:<name>`, each in the slot of its shard,
on a Redis Cluster on different primaries). `StreamSet` reads every shard's key and merges the
entries by entry id (the time they were added; shards on different nodes are ordered by those
nodes' clocks). Each entry keeps its shard: entry ids are per key, so the same id can exist in
two shards, and a dead letter is replayed in the shard it came from. With one shard this is a
plain read of the one key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from driftloop_contracts.keys import Keys
from driftloop_contracts.streams import entry_order
from redis import Redis
from redis.exceptions import ResponseError

Raw = list[tuple[bytes, dict[bytes, bytes]]]


class UnknownShard(ValueError):
    """A shard the stack does not have."""


@dataclass(frozen=True)
class Found:
    """One entry: its stream's name (no namespace, no shard; `.dlq` kept) and its shard."""

    stream: str
    shard: int
    entry_id: str
    fields: dict[bytes, bytes]


def newest_first(found: Iterable[Found], count: int | None = None) -> list[Found]:
    merged = sorted(found, key=lambda f: entry_order(f.entry_id), reverse=True)
    return merged if count is None else merged[:count]


def oldest_first(found: Iterable[Found]) -> list[Found]:
    return sorted(found, key=lambda f: entry_order(f.entry_id))


class StreamSet:
    """Every shard's key of the streams of one namespace, on one client (a cluster client
    sends each command to the node owning its key)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self.shards = keys.all()
        self._names: dict[str, tuple[str, int]] = {}  # key -> (stream name, shard)

    @classmethod
    def at(cls, redis_url: str, namespace: str = "", shards: int = 1) -> StreamSet:
        """The streams on one Redis server, as its default user."""
        return cls(Redis.from_url(redis_url), Keys(namespace, shards))

    def key(self, name: str, shard: int) -> str:
        if not 0 <= shard < len(self.shards):
            raise UnknownShard(f"there is no shard {shard}: shards are 0 to {len(self.shards) - 1}")
        key = self.shards[shard].stream(name)
        self._names[key] = (name, shard)
        return key

    def located(self, key: str) -> tuple[str, int]:
        """The stream name and shard of a key this set made."""
        return self._names[key]

    def newest(self, name: str, count: int) -> list[Found]:
        """The newest `count` entries of the stream over every shard."""
        answers = self._each(name, lambda pipe, key: pipe.xrevrange(key, count=count))
        found = [self._found(name, s, raw) for s, raw in enumerate(answers)]
        return newest_first((f for fs in found for f in fs), count)

    def everything(self, name: str) -> list[Found]:
        """Every entry of the stream over every shard, oldest first."""
        answers = self._each(name, lambda pipe, key: pipe.xrange(key))
        return oldest_first(f for s, raw in enumerate(answers) for f in self._found(name, s, raw))

    def entry(self, name: str, entry_id: str, shard: int = 0) -> Found | None:
        raw = cast(Raw, self.redis.xrange(self.key(name, shard), entry_id, entry_id))
        return self._found(name, shard, raw)[0] if raw else None

    def length(self, name: str) -> int:
        return sum(int(n) for n in self._each(name, lambda pipe, key: pipe.xlen(key)))

    def groups(self, name: str) -> list[tuple[int, list[dict[str, Any]]]]:
        """XINFO GROUPS of each shard's key that exists: (shard, groups)."""
        out = []
        for shard in range(len(self.shards)):
            try:
                infos: Any = self.redis.xinfo_groups(self.key(name, shard))
            except ResponseError:  # no such key yet
                continue
            out.append((shard, list(infos)))
        return out

    def ends(self, names: Sequence[str]) -> dict[str, str]:
        """Where each shard's key of each stream ends now (`0-0` when empty): XREAD from here
        reads only what is added after."""
        after = {}
        for name in names:
            answers = self._each(name, lambda pipe, key: pipe.xrevrange(key, count=1))
            for shard, raw in enumerate(answers):
                last = cast(Raw, raw)
                after[self.key(name, shard)] = last[0][0].decode() if last else "0-0"
        return after

    def read(self, after: dict[str, str], count: int, block_ms: int) -> list[Found]:
        """Entries added after the ids in `after` (advanced in place), oldest first.

        One XREAD per shard (a shard's keys share a slot, so one node answers it). The wait
        is split over the shards, and once one shard has answered the rest do not wait."""
        by_shard: dict[int, dict[str, str]] = {}
        for key, entry_id in after.items():
            by_shard.setdefault(self.located(key)[1], {})[key] = entry_id
        wait = max(1, block_ms // max(1, len(by_shard)))
        found: list[Found] = []
        for positions in by_shard.values():
            answer: Any = self.redis.xread(
                cast(Any, positions), count=count, block=None if found else wait
            )
            for raw_key, entries in answer or []:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                name, shard = self.located(key)
                for entry_id, fields in entries:
                    after[key] = entry_id.decode()
                    found.append(Found(name, shard, entry_id.decode(), fields))
        return oldest_first(found)

    def _each(self, name: str, command: Any) -> list[Any]:
        """One command per shard's key of `name`, pipelined (split by node on a cluster)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(len(self.shards)):
                command(pipe, self.key(name, shard))
            return list(pipe.execute())

    @staticmethod
    def _found(name: str, shard: int, raw: Raw) -> list[Found]:
        return [Found(name, shard, i.decode(), fields) for i, fields in raw]
