"""The bus on a real Redis Cluster of three primaries: each delivery's commit stays in its
dataset's slot, and the datasets spread over the primaries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from driftloop_bus import Bus, Consumer, Output, Publish, RedisWrite, each
from driftloop_bus.client import StreamClient
from driftloop_bus.connection import connect
from driftloop_bus.datasets import registrations_key
from driftloop_contracts import (
    FeedbackReceived,
    Label,
    Record,
    RecordsSubmitted,
    TrainingRequested,
    streams,
)
from driftloop_contracts.codec import decode, encode
from driftloop_contracts.keys import Keys, shard_of
from driftloop_core import ServiceSettings
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_predictor.encoding import prediction_ids
from driftloop_sdk.publisher import EventPublisher
from driftloop_sdk.scenario import SCHEMA
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ResponseError

from tests.support.cluster import Cluster
from tests.support.predictions import prediction_log
from tests.support.wait import eventually, eventually_sync

GROUP = "test-group"
ROW = {
    "features": {
        "income": 50,
        "debt_ratio": 0.4,
        "age": 40,
        "utilization": 0.3,
        "credit_lines": 3,
        "region": "north",
        "channel": "web",
    },
    "label": "no",
}
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
        await bus.maintenance.export_gauges()  # one gauge per stream, over every shard
        requests = {"stream": streams.TRAINING_REQUESTED.name}
        assert REGISTRY.get_sample_value("driftloop_stream_length", requests) == 6
    finally:
        await bus.stop()
    slots = {key_slot(bus.keys.of(d).prefix.encode()) for d in DATASETS}
    assert len({cluster.port_of_slot(s) for s in slots}) == 3, "the datasets on every primary"


async def test_a_commit_across_two_shards_is_refused_and_writes_nothing(
    cluster: Cluster, namespace: str, redis: Redis
) -> None:
    client = StreamClient(redis, Bus(on(cluster, namespace)).keys)
    spanning = [Publish(streams.TRAINING_REQUESTED, request(d)) for d in ("demo", "fraud")]
    with pytest.raises(ResponseError):  # the node refuses the MULTI: MOVED (or CROSSSLOT)
        await client.commit(spanning)
    for dataset in ("demo", "fraud"):
        key = client.keys.of(dataset).stream(streams.TRAINING_REQUESTED)
        assert await redis.xlen(key) == 0


def request(dataset: str) -> TrainingRequested:
    return TrainingRequested(dataset=dataset, reason="t", producer="test")


def ingest_on(cluster: Cluster, namespace: str, tmp_path: Path) -> IngestSettings:
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    for name in ("demo", "fraud"):  # shards 0 and 1: two primaries
        schema = SCHEMA.model_copy(update={"name": name})
        (schema_dir / f"{name}.json").write_text(schema.model_dump_json())
    bus = {"redis_url", "redis_cluster", "redis_shards", "namespace", "reclaim_idle_ms"}
    return IngestSettings(
        **on(cluster, namespace).model_dump(include=bus),
        store_url=str(tmp_path / "store"),
        schema_dir=schema_dir,
    )


def test_records_through_ingest_on_the_cluster_become_versions_in_each_datasets_shard(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """The loop's first slice through ingest's real consumers: seed registrations (WATCH and
    commit in each dataset's slot), followed per shard; records over HTTP and as events."""
    keys = Keys(namespace, 3)
    app = build_app(ingest_on(cluster, namespace, tmp_path))
    with TestClient(app) as client, RedisCluster.from_url(cluster.url) as sync:
        answer = client.post("/v1/datasets/fraud/records", json={"records": [ROW]})
        assert answer.status_code == 200, answer.text
        submitted = RecordsSubmitted(dataset="demo", records=[Record(**ROW)], producer="test")
        sync.xadd(keys.of("demo").stream(streams.INGEST_RECORDS), encode(submitted))

        def ingested(dataset: str) -> list[bytes]:
            return sync.xrange(keys.of(dataset).stream(streams.DATA_INGESTED))

        for dataset in ("demo", "fraud"):
            (entry,) = eventually_sync(lambda d=dataset: ingested(d), what=f"{dataset} ingested")
            assert decode(entry[1], streams.DATA_INGESTED).dataset == dataset
        registered = sync.hkeys(registrations_key(keys, "fraud"))
        assert registered == [b"fraud"]  # each dataset's registration in its own shard


def test_predictions_of_two_shards_labelled_in_one_request_are_joined_in_each(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """Predictions logged -> labelled through ingest's join on the cluster: the predictor's
    ids name their dataset's shard, so one label request is split and joined per shard."""
    keys = Keys(namespace, 3)
    app = build_app(ingest_on(cluster, namespace, tmp_path))
    with TestClient(app) as client, RedisCluster.from_url(cluster.url) as sync:
        logged = {}
        for dataset in ("demo", "fraud"):
            ids = prediction_ids(2, shard_of(dataset, 3), 3)
            logged[dataset] = prediction_log(
                dataset, 1, [ROW["features"]] * 2, ids=[uuid.UUID(i) for i in ids]
            )
            sync.xadd(keys.of(dataset).stream(streams.PREDICTION_LOGGED), encode(logged[dataset]))
        truth = [
            {"prediction_id": str(i), "label": "yes"}
            for event in logged.values()
            for i in event.prediction_ids
        ]
        assert client.post("/v1/labels", json={"labels": truth}).status_code == 202

        def labelled(dataset: str) -> list[bytes]:
            return sync.xrange(keys.of(dataset).stream(streams.PREDICTION_LABELLED))

        for dataset, event in logged.items():
            (entry,) = eventually_sync(lambda d=dataset: labelled(d), what=f"{dataset} labelled")
            joined = decode(entry[1], streams.PREDICTION_LABELLED)
            assert joined.prediction_ids == event.prediction_ids
            assert joined.labels == ("yes", "yes")


def test_the_sdk_publishes_records_and_labels_to_their_shards_on_the_cluster(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    keys = Keys(namespace, 3)
    app = build_app(ingest_on(cluster, namespace, tmp_path))
    sdk = EventPublisher(cluster.url, namespace=namespace, shards=3, cluster=True)
    with TestClient(app), RedisCluster.from_url(cluster.url) as sync:
        sdk.submit_records("fraud", [ROW])
        ids = prediction_ids(1, shard_of("demo", 3), 3)
        logged = prediction_log("demo", 1, [ROW["features"]], ids=[uuid.UUID(ids[0])])
        sync.xadd(keys.of("demo").stream(streams.PREDICTION_LOGGED), encode(logged))
        sdk.send_labels([{"prediction_id": ids[0], "label": "no"}])
        for dataset, stream in (
            ("fraud", streams.DATA_INGESTED),
            ("demo", streams.PREDICTION_LABELLED),
        ):
            key = keys.of(dataset).stream(stream)
            eventually_sync(lambda k=key: sync.xlen(k), what=f"{stream.name} of {dataset}")
    sdk.close()
