"""The bus over time: lost groups come back, streams are trimmed only behind every group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from driftloop_bus import Bus, Consumer, Publish, each
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.codec import encode
from driftloop_core import ServiceSettings
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from tests.support.wait import eventually

GROUP = "maint"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def settings(redis_url: str, namespace: str, **extra: object) -> ServiceSettings:
    return ServiceSettings(
        redis_url=redis_url,
        namespace=namespace,
        maintenance_s=0.1,
        reclaim_idle_ms=500,
        consumer_name="m1",
        **extra,  # type: ignore[arg-type]
    )


def request(reason: str) -> TrainingRequested:
    return TrainingRequested(producer="test", dataset="demo", reason=reason)


async def test_a_subscriber_whose_group_vanished_is_restarted_with_a_new_group(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    seen: list[str] = []

    async def handle(event: TrainingRequested) -> Sequence[Publish]:
        seen.append(event.reason)
        return []

    bus = Bus(settings(redis_url, namespace))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(handle)))
    await bus.start()
    key = streams.TRAINING_REQUESTED.key(namespace)
    try:
        await redis.xadd(key, encode(request("before")))
        await eventually(lambda: _true(seen == ["before"]), what="first event")
        await redis.delete(key)  # what a Redis restart without persistence does to a group
        await eventually(lambda: _restarted(bus), what="watchdog restart")
        await redis.xadd(key, encode(request("after")))
        await eventually(lambda: _true(seen == ["before", "after"]), what="event after restart")
        assert (await bus.health())["ok"]
    finally:
        await bus.stop()


async def test_trimming_keeps_every_entry_some_group_has_not_acknowledged(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    key = streams.TRAINING_REQUESTED.key(namespace)
    await redis.xgroup_create(key, "fast", id="0", mkstream=True)
    await redis.xgroup_create(key, "slow", id="0")
    ids = [await redis.xadd(key, encode(request(str(i)))) for i in range(10)]
    # "fast" read and acknowledged everything; "slow" read 6 and acknowledged 3.
    fast = await redis.xreadgroup("fast", "c", {key: ">"}, count=100)
    await redis.xack(key, "fast", *[i for i, _ in fast[0][1]])
    slow = await redis.xreadgroup("slow", "c", {key: ">"}, count=6)
    await redis.xack(key, "slow", *[i for i, _ in slow[0][1]][:3])

    bus = Bus(settings(redis_url, namespace, retention_s=60))
    try:
        # Every entry is older than the retention horizon from the trimmer's point of view.
        bus.settings.retention_s = 0  # type: ignore[misc]
        removed = await bus.maintenance.trim(key)
        remaining = [i for i, _ in await redis.xrange(key)]
        assert removed == 3
        assert remaining == ids[3:]  # slow's oldest pending entry is the 4th
        await redis.xack(key, "slow", *[i for i, _ in slow[0][1]][3:])
        await bus.maintenance.trim(key)
        assert [i for i, _ in await redis.xrange(key)] == ids[6:]  # slow was given 6 so far
        await redis.xreadgroup("slow", "c", {key: ">"}, count=100)
        await redis.xack(key, "slow", *ids[6:])
        await bus.maintenance.trim(key)
        assert [i for i, _ in await redis.xrange(key)] == ids[9:]  # the newest always stays
    finally:
        await bus.redis.aclose()


async def test_a_stream_longer_than_its_max_length_loses_its_oldest_acknowledged_entries(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    key = streams.TRAINING_REQUESTED.key(namespace)
    await redis.xgroup_create(key, "done", id="0", mkstream=True)
    ids = [await redis.xadd(key, encode(request(str(i)))) for i in range(10)]
    read = await redis.xreadgroup("done", "c", {key: ">"}, count=100)
    await redis.xack(key, "done", *[i for i, _ in read[0][1]])

    bus = Bus(settings(redis_url, namespace, retention_maxlen=4))  # age retention: 7 days
    try:
        assert await bus.maintenance.trim(key) == 6
        assert [i for i, _ in await redis.xrange(key)] == ids[6:]
        assert held_entries(key) == 0.0
    finally:
        await bus.redis.aclose()


async def test_a_group_behind_holds_the_stream_over_its_length_and_is_counted(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    key = streams.TRAINING_REQUESTED.key(namespace)
    await redis.xgroup_create(key, "slow", id="0", mkstream=True)
    ids = [await redis.xadd(key, encode(request(str(i)))) for i in range(10)]
    read = await redis.xreadgroup("slow", "c", {key: ">"}, count=2)
    await redis.xack(key, "slow", *[i for i, _ in read[0][1]])  # acknowledged 2 of 10

    bus = Bus(settings(redis_url, namespace, retention_maxlen=4))
    try:
        assert await bus.maintenance.trim(key) == 2  # never what "slow" has not acknowledged
        assert [i for i, _ in await redis.xrange(key)] == ids[2:]
        assert held_entries(key) == 4.0  # 8 entries, 4 over the length
        rest = await redis.xreadgroup("slow", "c", {key: ">"}, count=100)
        await redis.xack(key, "slow", *[i for i, _ in rest[0][1]])
        assert await bus.maintenance.trim(key) == 4
        assert held_entries(key) == 0.0
    finally:
        await bus.redis.aclose()


def held_entries(key: str) -> float | None:
    return REGISTRY.get_sample_value("driftloop_stream_retention_held_entries", {"stream": key})


async def test_lag_pending_and_dead_letters_are_exported_as_gauges(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    async def refuse(event: TrainingRequested) -> Sequence[Publish]:
        raise RuntimeError("no")

    bus = Bus(settings(redis_url, namespace, max_attempts=1))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(refuse)))
    await bus.start()
    key = streams.TRAINING_REQUESTED.key(namespace)
    try:
        await redis.xadd(key, encode(request("x")))
        labels = {"stream": streams.TRAINING_REQUESTED.name}
        await eventually(
            lambda: _true(REGISTRY.get_sample_value("driftloop_dead_letters", labels) == 1.0),
            what="dead-letter gauge",
        )
        group = labels | {"group": GROUP}
        assert REGISTRY.get_sample_value("driftloop_consumer_pending", group) == 0.0
        assert REGISTRY.get_sample_value("driftloop_consumer_lag", group) == 0.0
    finally:
        await bus.stop()


async def test_the_age_of_each_streams_oldest_entry_is_exported(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    async def accept(event: TrainingRequested) -> Sequence[Publish]:
        return []

    bus = Bus(settings(redis_url, namespace))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(accept)))
    key = streams.TRAINING_REQUESTED.key(namespace)
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    await redis.xadd(key, encode(request("old")), id=f"{an_hour_ago}-0")
    await bus.start()
    try:
        labels = {"stream": streams.TRAINING_REQUESTED.name}

        async def exported() -> bool:
            age = REGISTRY.get_sample_value("driftloop_stream_oldest_age_seconds", labels)
            return age is not None and 3_600 <= age < 3_700

        await eventually(exported, what="the oldest entry's age, about an hour")
    finally:
        await bus.stop()


async def _true(value: bool) -> bool:
    return value


async def _restarted(bus: Bus) -> bool:
    await asyncio.sleep(0)
    return bus.maintenance.restarts > 0
