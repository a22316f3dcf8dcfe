"""Redis that survives a node: a primary, one replica and three sentinels (real redis-server
processes on 127.0.0.1). The primary is killed under a stream of durable writes, right after
its replication link was cut, so that writes it acknowledged alone would be lost."""

from __future__ import annotations

import pytest
from driftloop_bus import Bus, Consumer, Output, Publish, each
from driftloop_bus.settings import BusSettings
from driftloop_contracts import TrainingRequested, streams
from driftloop_core import ServiceSettings
from redis.exceptions import RedisError

from tests.support.sentinel import SentinelGroup, kill_the_primary_under_writes
from tests.support.wait import eventually


async def test_killing_the_primary_loses_no_write_acknowledged_after_a_replica_held_it(
    namespace: str,
) -> None:
    with SentinelGroup() as group:
        outcome = await kill_the_primary_under_writes(group, namespace, wait_replicas=1)

    print(outcome)
    assert outcome.lost == 0
    assert outcome.acknowledged >= 300
    assert outcome.failover_s < 20


def test_sentinel_addresses_are_checked_at_start_naming_the_bad_one() -> None:
    assert BusSettings(redis_sentinels="s-0:26379, s-1:26380").sentinels() == [
        ("s-0", 26379),
        ("s-1", 26380),
    ]
    with pytest.raises(ValueError, match="'s-1' is not host:port"):
        BusSettings(redis_sentinels="s-0:26379,s-1")


async def test_a_consumer_group_follows_the_primary_through_a_failover(namespace: str) -> None:
    seen: list[str] = []

    async def handler(event: TrainingRequested) -> list[Output]:
        seen.append(event.reason)
        return []

    def request(reason: str) -> Publish:
        event = TrainingRequested(dataset="demo", reason=reason, producer="test")
        return Publish(streams.TRAINING_REQUESTED, event)

    async def handled(reason: str) -> bool:
        return reason in seen

    with SentinelGroup() as group:
        settings = ServiceSettings(
            redis_sentinels=group.sentinels, namespace=namespace, consumer_name="c1"
        )
        bus = Bus(settings)
        bus.consume(Consumer(streams.TRAINING_REQUESTED, "g", each(handler)))
        await bus.start()
        try:
            await bus.publish(request("before"))
            await eventually(lambda: handled("before"), what="the event before the failover")
            old = group.ports[group.name_of(group.primary_port())]
            group.kill(group.name_of(old))

            async def published_after() -> bool:
                try:
                    await bus.publish(request("after"))
                except RedisError:
                    return False  # the sentinels have not promoted the replica yet
                return True

            await eventually(published_after, timeout=20, what="a publish to the new primary")
            await eventually(lambda: handled("after"), timeout=20, what="the event after it")
            assert seen == ["before", "after"]
        finally:
            await bus.stop()
