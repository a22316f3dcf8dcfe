"""What keeps a bus healthy over time, run every DRIFTLOOP_MAINTENANCE_S seconds:

* **watchdog**: a subscriber FastStream stopped (its consumer group vanished, e.g. Redis
  restarted without persistence) gets its group recreated at id 0 and is started again;
* **gauges**: stream length and its oldest entry's age, pending entries and lag per consumer
  group, dead letters;
* **retention**: entries older than DRIFTLOOP_RETENTION_S, and the oldest entries beyond
  DRIFTLOOP_RETENTION_MAXLEN per stream, are trimmed with XTRIM MINID, but never past the
  oldest entry some group has not acknowledged (its oldest pending entry, or the first entry
  after its last delivered one), and never the newest entry of a stream. Trimming an entry a
  group still needs would lose it silently; so a stream held over its length by a group is
  left long and counted instead (driftloop_stream_retention_held_entries, alert
  RetentionHeldBack), and Redis's maxmemory with noeviction is the last bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import structlog
from driftloop_contracts.streams import entry_order
from prometheus_client import Gauge
from redis.asyncio import Redis

from .settings import BusSettings

STREAM_LENGTH = Gauge("driftloop_stream_length", "Entries in a stream.", ["stream"])
GROUP_PENDING = Gauge(
    "driftloop_consumer_pending", "Entries delivered but not acknowledged.", ["stream", "group"]
)
GROUP_LAG = Gauge(
    "driftloop_consumer_lag",
    "Entries not yet delivered to a group (capped at 10000 on Redis < 7).",
    ["stream", "group"],
)
DEAD_LETTERS = Gauge("driftloop_dead_letters", "Entries in a dead-letter stream.", ["stream"])
OLDEST_AGE = Gauge(
    "driftloop_stream_oldest_age_seconds",
    "Age of a stream's oldest entry: past DRIFTLOOP_RETENTION_S, retention is held back by a "
    "group that has not acknowledged it.",
    ["stream"],
)
RETENTION_HELD = Gauge(
    "driftloop_stream_retention_held_entries",
    "Entries beyond DRIFTLOOP_RETENTION_MAXLEN that retention kept because a consumer group "
    "has not acknowledged them (0: the stream is within its length, or has none).",
    ["stream"],
)
SUBSCRIBER_RESTARTS = Gauge(
    "driftloop_subscriber_restarts", "Subscribers the watchdog restarted since start."
)
LAG_CAP = 10_000
#: Entries one trim reads to find where the length bound falls (XRANGE COUNT): a stream far
#: over its length (a new or lowered DRIFTLOOP_RETENTION_MAXLEN) gets there over a few runs.
LENGTH_STEP = 10_000
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GroupRef:
    """A consumer group this process runs: what the gauges report on."""

    stream: str  # the stream's name (metric label)
    key: str  # its Redis key
    group: str
    dlq_key: str


class Maintained(Protocol):
    """What maintenance needs of a bus."""

    redis: Redis
    settings: BusSettings

    def groups(self) -> Sequence[GroupRef]: ...

    def touched_streams(self) -> set[str]: ...

    async def restart_stopped(self) -> int:
        """Restart subscribers that stopped (recreating lost groups first); how many."""
        ...


def _text(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


class Maintenance:
    def __init__(self, bus: Maintained) -> None:
        self.bus = bus
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None
        self._last_trim = 0.0

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bus-maintenance")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        period = self.bus.settings.maintenance_s
        while True:
            await asyncio.sleep(period)
            for step in (self.watchdog, self.export_gauges, self.retention):
                try:
                    await step()
                except Exception as exc:  # Redis down: try again next period
                    log.warning("maintenance step failed", step=step.__name__, error=str(exc))

    async def watchdog(self) -> None:
        restarted = await self.bus.restart_stopped()
        if restarted:
            self.restarts += restarted
            SUBSCRIBER_RESTARTS.set(self.restarts)

    async def export_gauges(self) -> None:
        """Each gauge per stream (and group), summed over the shards (REDIS_SHARDS: one
        stream key per shard); the oldest entry's age is the oldest shard's."""
        redis = self.bus.redis
        per_key: dict[tuple[Any, tuple[str, ...], str], float] = {}
        for ref in self.bus.groups():
            group = (ref.stream, ref.group)
            info = await self._group_info(ref.key, ref.group)
            if info is None:
                continue
            per_key[(GROUP_PENDING, group, ref.key)] = int(info["pending"])
            per_key[(GROUP_LAG, group, ref.key)] = await self._lag(ref.key, info)
            per_key[(STREAM_LENGTH, (ref.stream,), ref.key)] = await redis.xlen(ref.key)
            per_key[(DEAD_LETTERS, (ref.stream,), ref.key)] = await redis.xlen(ref.dlq_key)
            oldest = cast(list[tuple[bytes, Any]], await redis.xrange(ref.key, count=1))
            if oldest:
                age = max(0.0, time.time() - entry_order(oldest[0][0])[0] / 1000)
                per_key[(OLDEST_AGE, (ref.stream,), ref.key)] = age
        totals: dict[tuple[Any, tuple[str, ...]], float] = {}
        for (gauge, labels, _), value in per_key.items():
            merge = max if gauge is OLDEST_AGE else operator.add
            totals[(gauge, labels)] = merge(totals.get((gauge, labels), 0.0), value)
        for (gauge, labels), value in totals.items():
            gauge.labels(*labels).set(value)

    async def _group_info(self, key: str, group: str) -> dict[Any, Any] | None:
        groups = cast(list[dict[Any, Any]], await self.bus.redis.xinfo_groups(key))
        for info in groups:
            name = info["name"]
            if (name.decode() if isinstance(name, bytes) else name) == group:
                return info
        return None

    async def _lag(self, key: str, info: dict[Any, Any]) -> int:
        if info.get("lag") is not None:  # Redis 7+
            return int(info["lag"])
        last = _text(entry_order(info["last-delivered-id"]))
        later = cast(list[Any], await self.bus.redis.xrange(key, min=f"({last}", count=LAG_CAP))
        return len(later)

    async def retention(self) -> None:
        """Trim every stream this process publishes or consumes in a group (idempotent across
        replicas); a stream it only follows is left to them."""
        period = min(60.0, self.bus.settings.retention_s / 10)
        if time.monotonic() - self._last_trim < period:
            return
        self._last_trim = time.monotonic()
        for key in self.bus.touched_streams():
            await self.trim(key)

    async def trim(self, key: str) -> int:
        """Trim one stream as far as retention (age, length) and every group allow; returns
        entries removed."""
        redis = self.bus.redis
        newest = cast(list[tuple[bytes, Any]], await redis.xrevrange(key, count=1))
        if not newest:
            return 0
        wanted = max(self._age_bound(), await self._length_bound(key))
        bound = min(wanted, entry_order(newest[0][0]))  # keep at least the newest entry
        for info in cast(list[dict[Any, Any]], await redis.xinfo_groups(key)):
            bound = min(bound, await self._unacknowledged_from(key, info))
        removed = 0
        if bound > (0, 0):
            removed = int(await redis.xtrim(key, minid=_text(bound), approximate=False))
        if removed:
            log.info("trimmed", stream=key, removed=removed, before=_text(bound))
        await self._count_held(key, held=bound < wanted)
        return removed

    def _age_bound(self) -> tuple[int, int]:
        """The first id retention by age keeps."""
        return (int(time.time() * 1000) - self.bus.settings.retention_s * 1000, 0)

    async def _length_bound(self, key: str) -> tuple[int, int]:
        """The first id retention by length keeps: the one after the oldest `XLEN - maxlen`
        entries (at most LENGTH_STEP of them per run); (0, 0) when within the length."""
        maxlen = self.bus.settings.retention_maxlen
        excess = int(await self.bus.redis.xlen(key)) - maxlen if maxlen else 0
        if excess <= 0:
            return (0, 0)
        oldest = await self.bus.redis.xrange(key, count=min(excess, LENGTH_STEP))
        ms, seq = entry_order(cast(list[tuple[bytes, Any]], oldest)[-1][0])
        return (ms, seq + 1)

    async def _count_held(self, key: str, *, held: bool) -> None:
        """How far over its length a group holds the stream (0 when nothing holds it)."""
        maxlen = self.bus.settings.retention_maxlen
        over = int(await self.bus.redis.xlen(key)) - maxlen if maxlen and held else 0
        RETENTION_HELD.labels(stream=key).set(max(0, over))
        if over > 0:
            log.warning("retention held back by a consumer group", stream=key, over_maxlen=over)

    async def _unacknowledged_from(self, key: str, info: dict[Any, Any]) -> tuple[int, int]:
        """The oldest entry this group still needs: its oldest pending one, or the one after
        the last it was given."""
        group = info["name"]
        if int(info["pending"]):
            summary = await self.bus.redis.xpending(key, group)
            return entry_order(summary["min"])
        ms, seq = entry_order(info["last-delivered-id"])
        return (ms, seq + 1)
