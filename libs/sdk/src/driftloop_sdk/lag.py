"""How far each consumer group is behind, per stream, and its dead letters (read-only).

`lag` is Redis 7's count of entries the group has not read yet (None on Redis 6.2, or when
Redis cannot tell after a trim); `pending` the entries read but not acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop_contracts import streams
from redis import Redis
from redis.exceptions import ResponseError


@dataclass(frozen=True)
class GroupLag:
    stream: str
    group: str
    lag: int | None
    pending: int
    dead_letters: int

    @property
    def behind(self) -> bool:
        return bool(self.lag) or self.pending > 0 or self.dead_letters > 0


def groups(redis: Redis, namespace: str) -> list[GroupLag]:
    """Every group of every known stream (streams nobody consumes are left out)."""
    out: list[GroupLag] = []
    for stream in streams.ALL_STREAMS:
        key = stream.key(namespace)
        dead = int(redis.xlen(f"{key}{streams.DLQ_SUFFIX}"))
        try:
            infos: Any = redis.xinfo_groups(key)
        except ResponseError:  # no such stream yet
            infos = []
        for info in infos:
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            lag = info.get("lag")
            out.append(
                GroupLag(
                    stream.name, name, None if lag is None else int(lag), int(info["pending"]), dead
                )
            )
        if not infos and dead:
            out.append(GroupLag(stream.name, "-", None, 0, dead))
    return out
