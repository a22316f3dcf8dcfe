"""A resharding on a real Redis Cluster: a shard's slot moves to another primary with its
streams and their consumer groups. The bus read the slot map at start, so its health names the
moved stream and fails (the orchestrator's signal to restart); a restarted bus reads the new
map and goes on from where the group was, on the new primary."""

from __future__ import annotations

from collections.abc import Sequence

from driftloop_bus import Bus, Consumer, Output, Publish, each
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.keys import key_slot
from driftloop_core import ServiceSettings

from tests.support.cluster import Cluster
from tests.support.wait import eventually

GROUP = "resharded"


def settings_on(cluster: Cluster, namespace: str) -> ServiceSettings:
    return ServiceSettings(
        redis_url=cluster.url,
        redis_cluster=True,
        redis_shards=3,
        namespace=namespace,
        reclaim_idle_ms=300,
        consumer_name="c1",
    )


def collecting(handled: list[str]) -> Consumer[TrainingRequested]:
    async def handle(event: TrainingRequested) -> Sequence[Output]:
        handled.append(event.reason)
        return []

    return Consumer(streams.TRAINING_REQUESTED, GROUP, each(handle))


async def done(handled: list[str], expected: list[str]) -> bool:
    return handled == expected


def request(reason: str) -> Publish:
    event = TrainingRequested(dataset="demo", reason=reason, producer="test")  # shard 0
    return Publish(streams.TRAINING_REQUESTED, event)


async def test_a_moved_shard_fails_health_and_a_restart_reads_it_from_its_new_primary(
    namespace: str,
) -> None:
    handled: list[str] = []
    with Cluster() as cluster:
        bus = Bus(settings_on(cluster, namespace))
        bus.consume(collecting(handled))
        await bus.start()
        key = bus.keys.of("demo").stream(streams.TRAINING_REQUESTED)
        try:
            await bus.publish(request("before"))
            await eventually(lambda: done(handled, ["before"]), what="handled before the move")
            assert (await bus.health())["ok"]

            cluster.move_slot(key_slot(key.encode()), to=1)

            async def moved() -> bool:
                health = await bus.health()
                return not health["ok"] and key in health["moved"]

            await eventually(moved, what="health naming the moved stream")
        finally:
            await bus.stop()

        restarted = Bus(settings_on(cluster, namespace))
        restarted.consume(collecting(handled))
        await restarted.start()
        try:
            assert restarted.brokers.routes[key] == ("127.0.0.1", cluster.ports[1])
            await restarted.publish(request("after"))
            await eventually(lambda: done(handled, ["before", "after"]), what="handled after")
            assert (await restarted.health())["ok"]
        finally:
            await restarted.stop()
