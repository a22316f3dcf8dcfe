"""The bus on a real Redis Cluster of three primaries: each delivery's commit stays in its
dataset's slot, and the datasets spread over the primaries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from driftloop_bus import Bus, Consumer, Output, Publish, RedisWrite, each
from driftloop_bus.client import StreamClient
from driftloop_bus.connection import connect
from driftloop_contracts import FeedbackReceived, Label, TrainingRequested, streams
from driftloop_core import ServiceSettings
from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import CrossSlotTransactionError

from tests.support.cluster import Cluster
from tests.support.wait import eventually

GROUP = "test-group"
DATASETS = ("demo", "churn", "fraud", "iris", "wine", "credit")  # shards 0, 0, 1, 2, 2, 0 of 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster() as running:
        yield running


def on(cluster: Cluster, namespace: str, **overrides: object) -> ServiceSettings:
    base: dict[str, object] = {
        "redis_url": cluster.url,
        "redis_cluster": True,
        "redis_shards": 3,
        "namespace": namespace,
        "reclaim_idle_ms": 300,
        "consumer_name": "c1",
    }
    return ServiceSettings(**(base | overrides))


@pytest.fixture
async def redis(cluster: Cluster, namespace: str) -> AsyncIterator[Redis]:
    client = connect(on(cluster, namespace))
    yield client
    await client.aclose()


def echo(bus: Bus, marks: list[str]) -> Consumer[TrainingRequested]:
    """Republishes each request as feedback and marks its dataset in the service's state."""

    async def handle(event: TrainingRequested) -> Sequence[Output]:
        key = bus.keys.of(event.dataset).owned("trainer", "seen", event.dataset)
        marks.append(key)
        out = FeedbackReceived.caused_by(
            event, "echo", "test", labels=[Label(prediction_id=event.event_id, label="x")]
        )
        return [Publish(streams.FEEDBACK_RECEIVED, out), RedisWrite(lambda p: p.incr(key))]

    return Consumer(streams.TRAINING_REQUESTED, GROUP, each(handle), batch_size=10)


async def test_each_delivery_commits_in_its_datasets_slot_on_the_primary_owning_it(
    cluster: Cluster, namespace: str, redis: Redis
) -> None:
    bus, marks = Bus(on(cluster, namespace)), list[str]()
    bus.consume(echo(bus, marks))
    await bus.start()
    try:
        for dataset in DATASETS:  # the HTTP edge's way: each to its dataset's shard
            await bus.publish(Publish(streams.TRAINING_REQUESTED, request(dataset)))

        async def all_marked() -> bool:
            return all([await redis.get(k) == b"1" for k in set(marks)]) and len(marks) == 6

        await eventually(all_marked, what="every request handled and committed")
        for dataset in DATASETS:
            keys = bus.keys.of(dataset)
            assert await redis.xlen(keys.stream(streams.FEEDBACK_RECEIVED)) >= 1
            info = await redis.xpending(keys.stream(streams.TRAINING_REQUESTED), GROUP)
            assert info["pending"] == 0
        assert (await bus.health())["ok"]
    finally:
        await bus.stop()
    slots = {key_slot(bus.keys.of(d).prefix.encode()) for d in DATASETS}
    assert len({cluster.port_of_slot(s) for s in slots}) == 3, "the datasets on every primary"


async def test_a_commit_across_two_shards_is_refused_and_writes_nothing(
    cluster: Cluster, namespace: str, redis: Redis
) -> None:
    client = StreamClient(redis, Bus(on(cluster, namespace)).keys)
    spanning = [Publish(streams.TRAINING_REQUESTED, request(d)) for d in ("demo", "fraud")]
    with pytest.raises(CrossSlotTransactionError):  # redis-py refuses it before sending
        await client.commit(spanning)
    for dataset in ("demo", "fraud"):
        key = client.keys.of(dataset).stream(streams.TRAINING_REQUESTED)
        assert await redis.xlen(key) == 0


def request(dataset: str) -> TrainingRequested:
    return TrainingRequested(dataset=dataset, reason="t", producer="test")
