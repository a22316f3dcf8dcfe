"""The dataset state ingest owns: written with each dataset.registered event, loaded at start."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from driftloop_bus import Keys, datasets
from driftloop_contracts import DatasetRegistered, DatasetSchema, streams
from redis.asyncio import Redis

from tests.support.streams import Streams


def registration(name: str, version: int = 1) -> DatasetRegistered:
    schema = DatasetSchema.model_validate(
        {
            "name": name,
            "features": [{"name": "x", "kind": "numeric"}],
            "target": {"name": "y", "kind": "regression"},
            "version": version,
        }
    )
    return DatasetRegistered(dataset=name, dataset_schema=schema)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_nothing_registered_loads_empty_from_the_start(redis: Redis, namespace: str) -> None:
    state = await datasets.load(redis, Keys(namespace))
    assert state.datasets == {} and state.registered_from == "0"


async def test_the_latest_registration_per_dataset_loads_with_the_stream_position(
    redis: Redis, redis_url: str, namespace: str
) -> None:
    test_streams = Streams(redis_url, namespace)
    try:
        test_streams.publish(
            streams.DATASET_REGISTERED,
            registration("houses"),
            registration("churn"),
            registration("houses", version=2),
        )
    finally:
        test_streams.close()
    await redis.hset(datasets.registrations_key(Keys(namespace)), "garbage", b"{not json")

    state = await datasets.load(redis, Keys(namespace))

    assert {d: r.dataset_schema.version for d, r in state.datasets.items()} == {
        "houses": 2,
        "churn": 1,
    }
    last = await redis.xrevrange(streams.DATASET_REGISTERED.key(namespace), count=1)
    assert state.registered_from == last[0][0].decode()
