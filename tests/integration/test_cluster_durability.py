"""REDIS_WAIT_REPLICAS on a Redis Cluster: replicas are per primary, so a durable write waits
on the primary that took it, for that primary's replica. A real cluster of three primaries,
two of them with a replica: writes to the third cannot be acknowledged as replicated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from driftloop_bus import Publish
from driftloop_bus.client import StreamClient
from driftloop_bus.connection import Durability, NotReplicated, connect
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.keys import Keys, shard_of
from driftloop_core import ServiceSettings
from redis import Redis

from tests.support.cluster import Cluster

SHARDS = 3
REPLICATED, ALONE = ("demo", "fraud"), "wine"  # shards 0 and 1 (primaries 0, 1), shard 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(replicated=(0, 1)) as running:
        yield running


@pytest.fixture
async def client(cluster: Cluster, namespace: str) -> AsyncIterator[StreamClient]:
    settings = ServiceSettings(
        redis_url=cluster.url,
        redis_cluster=True,
        redis_shards=SHARDS,
        redis_wait_replicas=1,
        redis_wait_timeout_ms=300,
        namespace=namespace,
    )
    keys = Keys(namespace, SHARDS)
    redis = connect(settings)
    yield StreamClient(redis, keys, Durability.of(settings, keys))
    await redis.aclose()


def request(dataset: str) -> Publish:
    return Publish(streams.TRAINING_REQUESTED, TrainingRequested(dataset=dataset))


def on_the_replica(cluster: Cluster, primary: int, key: str) -> int:
    with Redis(port=cluster.replicas[primary], single_connection_client=True) as replica:
        replica.execute_command("READONLY")  # a cluster replica answers reads only after it
        return int(replica.xlen(key))


def test_the_datasets_are_where_this_file_says() -> None:
    assert [shard_of(d, SHARDS) for d in (*REPLICATED, ALONE)] == [0, 1, 2]


async def test_a_durable_publish_returns_once_its_primarys_replica_holds_it(
    cluster: Cluster, client: StreamClient, namespace: str
) -> None:
    await client.publish(request("demo"), request("fraud"), durable=True)  # two primaries

    keys = Keys(namespace, SHARDS)
    for primary, dataset in enumerate(REPLICATED):
        key = keys.of(dataset).stream(streams.TRAINING_REQUESTED)
        assert on_the_replica(cluster, primary, key) == 1


async def test_a_write_to_a_primary_without_a_replica_is_not_acknowledged(
    client: StreamClient,
) -> None:
    with pytest.raises(NotReplicated, match="0 of 1 replica"):
        await client.publish(request(ALONE), durable=True)
    with pytest.raises(NotReplicated, match="0 of 1 replica"):
        await client.commit([request(ALONE)], durable=True)
    await client.commit([request("fraud")], durable=True)  # its own primary has a replica
