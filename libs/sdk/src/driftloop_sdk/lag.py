"""How far each consumer group is behind, per stream, and its dead letters (read-only).

`lag` is Redis 7's count of entries the group has not read yet (None on Redis 6.2, or when
Redis cannot tell after a trim); `pending` the entries read but not acknowledged. With shards
both are summed over the shards' keys (lag unknown if one shard's is)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop_contracts import streams

from .shards import StreamSet


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


def groups(shards: StreamSet) -> list[GroupLag]:
    """Every group of every known stream (streams nobody consumes are left out), summed over
    the shards: a group reads every shard's key of its stream."""
    out: list[GroupLag] = []
    for stream in streams.ALL_STREAMS:
        dead = shards.length(f"{stream.name}{streams.DLQ_SUFFIX}")
        found = _summed(stream.name, dead, shards.groups(stream.name))
        out += found
        if not found and dead:
            out.append(GroupLag(stream.name, "-", None, 0, dead))
    return out


def _summed(
    name: str, dead: int, per_shard: list[tuple[int, list[dict[str, Any]]]]
) -> list[GroupLag]:
    lags: dict[str, list[int | None]] = {}
    pending: dict[str, int] = {}
    for _, infos in per_shard:
        for info in infos:
            group = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            lag = info.get("lag")
            lags.setdefault(group, []).append(None if lag is None else int(lag))
            pending[group] = pending.get(group, 0) + int(info["pending"])
    return [
        GroupLag(name, g, None if None in ls else sum(x or 0 for x in ls), pending[g], dead)
        for g, ls in lags.items()
    ]
