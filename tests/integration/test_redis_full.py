"""A full Redis (maxmemory reached, noeviction, as deploy/redis/start.sh configures it) refuses
writes loudly, and driftloop loses nothing: ingest answers 503 with a message and publishes
nothing, a consumer leaves its entry pending (no effect, no dead letter), and both carry on
once memory is free again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from driftloop_bus import Bus, Consumer, Publish, each
from driftloop_contracts import FeedbackReceived, Label, TrainingRequested, streams
from driftloop_contracts.codec import encode
from driftloop_core import ServiceSettings
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.embedded_redis import EmbeddedRedis
from driftloop_sdk.scenario import SCHEMA
from fastapi.testclient import TestClient
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from tests.integration.test_ingest import GOOD
from tests.support.wait import eventually

BALLAST = "ballast"
GROUP = "full"


@pytest.fixture(scope="module")
def small_redis() -> Iterator[str]:
    """Its own server: CONFIG SET maxmemory would starve every other test of a shared one."""
    with EmbeddedRedis() as server:
        client = SyncRedis.from_url(server.url)
        client.config_set("maxmemory-policy", "noeviction")
        yield server.url
        client.close()


class Memory:
    """Fill Redis to its maxmemory with one ballast key; free it again."""

    def __init__(self, url: str) -> None:
        self.client = SyncRedis.from_url(url)

    def fill(self) -> None:
        used = int(self.client.info("memory")["used_memory"])
        self.client.config_set("maxmemory", used + 4 * 1024 * 1024)
        for _ in range(100):  # 64 KB at a time, until the first refusal
            try:
                self.client.append(BALLAST, b"x" * 65536)
            except OutOfMemoryError:
                return
        raise AssertionError("maxmemory never refused a write")

    def free(self) -> None:
        self.client.delete(BALLAST)
        self.client.config_set("maxmemory", 0)


@pytest.fixture
def memory(small_redis: str) -> Iterator[Memory]:
    full = Memory(small_redis)
    yield full
    full.free()
    full.client.close()


@pytest.fixture
def ingest(small_redis: str, namespace: str, tmp_path: Path) -> Iterator[TestClient]:
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "demo.json").write_text(SCHEMA.model_dump_json())
    settings = IngestSettings(
        redis_url=small_redis,
        namespace=namespace,
        store_url=str(tmp_path / "store"),
        schema_dir=schema_dir,
    )
    with TestClient(build_app(settings)) as client:
        yield client


def test_ingest_answers_503_while_redis_is_full_and_accepts_the_retry(
    ingest: TestClient, memory: Memory, small_redis: str, namespace: str
) -> None:
    key = streams.DATA_INGESTED.key(namespace)
    memory.fill()

    refused = ingest.post("/v1/datasets/demo/records", json={"records": [GOOD]})

    assert refused.status_code == 503
    assert refused.json()["error"] == "not_ready" and "maxmemory" in refused.json()["message"]
    assert memory.client.xlen(key) == 0
    memory.free()
    accepted = ingest.post("/v1/datasets/demo/records", json={"records": [GOOD]})
    assert accepted.status_code in (200, 202), accepted.text
    assert memory.client.xlen(key) == 1


class Gate:
    """A handler that waits for the test before returning its effect (the echo as feedback)."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.calls = 0

    async def __call__(self, event: TrainingRequested) -> Sequence[Publish]:
        self.calls += 1
        await self.open.wait()
        out = FeedbackReceived.caused_by(
            event, "echo", "test", labels=[Label(prediction_id=event.event_id, label="x")]
        )
        return [Publish(streams.FEEDBACK_RECEIVED, out)]


@pytest.fixture
async def redis(small_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(small_redis)
    yield client
    await client.aclose()


async def test_a_consumer_leaves_its_entry_pending_while_redis_is_full_and_handles_it_after(
    small_redis: str, namespace: str, memory: Memory, redis: Redis
) -> None:
    source = streams.TRAINING_REQUESTED.key(namespace)
    output = streams.FEEDBACK_RECEIVED.key(namespace)
    settings = ServiceSettings(
        redis_url=small_redis,
        namespace=namespace,
        reclaim_idle_ms=200,
        max_attempts=2,
        consumer_name="c1",
    )
    gate = Gate()
    bus = Bus(settings)
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(gate)))
    await bus.start()
    try:
        await redis.xadd(source, encode(_request()))  # type: ignore[arg-type]
        await eventually(lambda: _true(gate.calls == 1), what="the handler has the entry")
        memory.fill()  # before the handler's commit (its effect and the XACK)
        gate.open.set()

        # more deliveries than max_attempts: a refused commit is not the handler's failure
        await eventually(lambda: _true(gate.calls >= 4), timeout=15, what="redeliveries")
        assert await redis.xlen(output) == 0
        assert await redis.xlen(f"{source}.dlq") == 0, "a full Redis is no reason to give up"
        memory.free()

        async def handled() -> bool:
            pending = int((await redis.xpending(source, GROUP))["pending"])
            return await redis.xlen(output) == 1 and pending == 0

        await eventually(handled, timeout=15, what="the entry handled once memory is free")
    finally:
        await bus.stop()


async def _true(value: bool) -> bool:
    return value


def _request() -> TrainingRequested:
    return TrainingRequested(producer="test", dataset="demo", reason="full")
