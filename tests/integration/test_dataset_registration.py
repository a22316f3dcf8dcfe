"""Datasets registered at run time, against a real Redis: POST /v1/datasets on ingest, schema
evolution, the schema files as seeds, replicas that follow, and two replicas racing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftloop_bus import Bus
from driftloop_contracts import DatasetSchema, Record, RecordsSubmitted, streams
from driftloop_contracts.datasets import loads
from driftloop_core import Conflict, ContentStore
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.registrar import Registrar
from driftloop_ingest.registration import RegistrationIn
from driftloop_ingest.service import Schemas
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.scenario import SCHEMA
from fastapi.testclient import TestClient

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

HOUSES: dict[str, Any] = {
    "name": "houses",
    "features": [
        {"name": "rooms", "kind": "numeric", "minimum": 1},
        {"name": "city", "kind": "categorical"},
    ],
    "target": {"name": "price", "kind": "regression"},
}
EVOLVED: dict[str, Any] = {
    **HOUSES,
    "features": [*HOUSES["features"], {"name": "garden", "kind": "numeric", "default": 0}],
}
HOUSE = {"features": {"rooms": 3, "city": "paris"}, "label": 250000}


def settings(redis_url: str, namespace: str, tmp_path: Path) -> IngestSettings:
    return IngestSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=str(tmp_path / "store"),
        schema_dir=tmp_path / "schemas",
        reclaim_idle_ms=1000,
    )


@pytest.fixture
def client(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_app(settings(redis_url, namespace, tmp_path))) as test_client:
        yield test_client


def test_a_new_dataset_is_registered_and_its_records_accepted_without_a_restart(
    client: TestClient, streams_io: Streams, tmp_path: Path
) -> None:
    assert client.post("/v1/datasets/houses/records", json={"records": [HOUSE]}).status_code == 404
    answer = client.post("/v1/datasets", json={"schema": HOUSES, "monitoring": {"alpha": 0.02}})
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 1 and answer.json()["schema"]["name"] == "houses"
    (registered,) = streams_io.wait(streams.DATASET_REGISTERED)
    assert registered.dataset == "houses" and registered.monitoring == {"alpha": 0.02}
    accepted = client.post("/v1/datasets/houses/records", json={"records": [HOUSE]})
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1
    streams_io.publish(
        streams.INGEST_RECORDS,
        RecordsSubmitted(producer="test", dataset="houses", records=(Record(**HOUSE),)),
    )
    ingested = streams_io.wait(streams.DATA_INGESTED, count=2)
    assert {e.dataset_schema.version for e in ingested} == {1}
    assert client.get("/v1/datasets/houses").json()["version"] == 1
    assert [d["dataset"] for d in client.get("/v1/datasets").json()] == ["houses"]


def test_the_same_schema_again_publishes_nothing(client: TestClient, streams_io: Streams) -> None:
    assert client.post("/v1/datasets", json={"schema": HOUSES}).status_code == 201
    again = client.post("/v1/datasets", json={"schema": HOUSES})
    assert again.status_code == 200 and again.json()["published"] is False
    assert len(streams_io.read(streams.DATASET_REGISTERED)) == 1


def test_an_evolution_adds_a_version_and_old_style_records_get_the_default(
    client: TestClient, streams_io: Streams, tmp_path: Path
) -> None:
    client.post("/v1/datasets", json={"schema": HOUSES})
    evolved = client.post("/v1/datasets", json={"schema": EVOLVED})
    assert evolved.status_code == 201 and evolved.json()["version"] == 2
    answer = client.post("/v1/datasets/houses/records", json={"records": [HOUSE]})
    assert answer.json()["accepted"] == 1, answer.text
    (ingested,) = streams_io.wait(streams.DATA_INGESTED)
    assert ingested.dataset_schema.version == 2
    (row,) = loads(ContentStore(str(tmp_path / "store")).get(ingested.blob))
    assert row.features["garden"] == 0.0
    csv = "rooms,city,price\n4,lyon,300000\n"
    uploaded = client.post(
        "/v1/datasets/houses/records.csv", content=csv, headers={"content-type": "text/csv"}
    )
    assert uploaded.json()["accepted"] == 1, uploaded.text


def test_a_bad_schema_is_a_422_naming_the_field(client: TestClient) -> None:
    dotted = client.post("/v1/datasets", json={"schema": {**HOUSES, "name": "my.data"}})
    assert dotted.status_code == 422
    assert dotted.json()["error"] == "invalid_input"
    assert "body.schema.name" in dotted.json()["message"]
    classless = {**HOUSES, "target": {"name": "price"}}
    no_classes = client.post("/v1/datasets", json={"schema": classless})
    assert no_classes.status_code == 422
    assert "body.schema.target" in no_classes.json()["message"]
    assert "needs `classes`" in no_classes.json()["message"]
    unknown = client.post("/v1/datasets", json={"schema": HOUSES, "monitoring": {"windw": 50}})
    assert unknown.status_code == 422 and "body.monitoring.windw" in unknown.json()["message"]
    low = client.post("/v1/datasets", json={"schema": HOUSES, "monitoring": {"window_size": 5}})
    assert low.status_code == 422 and "body.monitoring.window_size" in low.json()["message"]


def test_a_change_that_is_not_additive_is_a_409_saying_why(
    client: TestClient, streams_io: Streams
) -> None:
    client.post("/v1/datasets", json={"schema": HOUSES})
    renamed = {**HOUSES, "features": [HOUSES["features"][0], {"name": "town", "kind": "numeric"}]}
    answer = client.post("/v1/datasets", json={"schema": renamed})
    assert answer.status_code == 409
    assert answer.json()["error"] == "conflict"
    assert "feature 'city' must stay at position 1" in answer.json()["message"]
    assert len(streams_io.read(streams.DATASET_REGISTERED)) == 1


def test_a_bad_schema_file_is_skipped_and_the_others_are_registered(
    redis_url: str, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = tmp_path / "schemas"
    seeds.mkdir()
    (seeds / "demo.json").write_text(SCHEMA.model_dump_json())
    (seeds / "dotted.json").write_text(SCHEMA.model_copy(update={"name": "a.b"}).model_dump_json())
    (seeds / "broken.json").write_text("{not json")
    with TestClient(build_app(settings(redis_url, namespace, tmp_path))) as client:
        assert [d["dataset"] for d in client.get("/v1/datasets").json()] == ["demo"]
        assert client.get("/healthz").status_code == 200
    logged = capsys.readouterr().out
    assert f"schema file {seeds / 'dotted.json'} skipped: name: String should match" in logged
    assert f"schema file {seeds / 'broken.json'} skipped: not JSON" in logged


def test_a_seed_already_registered_is_skipped_and_an_evolved_one_applies(
    redis_url: str, namespace: str, tmp_path: Path, streams_io: Streams
) -> None:
    seeds = tmp_path / "schemas"
    seeds.mkdir()
    (seeds / "houses.json").write_text(DatasetSchema.model_validate(HOUSES).model_dump_json())
    with TestClient(build_app(settings(redis_url, namespace, tmp_path))):
        pass
    with TestClient(build_app(settings(redis_url, namespace, tmp_path))):
        pass
    assert len(streams_io.read(streams.DATASET_REGISTERED)) == 1
    (seeds / "houses.json").write_text(DatasetSchema.model_validate(EVOLVED).model_dump_json())
    with TestClient(build_app(settings(redis_url, namespace, tmp_path))) as client:
        assert client.get("/v1/datasets/houses").json()["version"] == 2


def test_a_dataset_registered_on_one_replica_is_validated_on_the_other(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    one = build_app(settings(redis_url, namespace, tmp_path))
    two = build_app(settings(redis_url, namespace, tmp_path))
    with TestClient(one) as first, TestClient(two) as second:
        assert first.post("/v1/datasets", json={"schema": HOUSES}).status_code == 201
        eventually_sync(
            lambda: second.get("/v1/datasets/houses").status_code == 200,
            what="the second replica to follow the registration",
        )
        assert first.post("/v1/datasets", json={"schema": EVOLVED}).status_code == 201
        eventually_sync(
            lambda: second.get("/v1/datasets/houses").json()["version"] == 2,
            what="the second replica to follow the evolution",
        )
        answer = second.post("/v1/datasets/houses/records", json={"records": [HOUSE]})
        assert answer.json()["accepted"] == 1


# --------------------------------------------------------------------------- the race


def racing(bus: Bus, barrier: asyncio.Barrier) -> Registrar:
    """A replica that waits, after reading, until the other one has read too (once)."""
    waited: list[bool] = []

    async def both_have_read() -> None:
        if not waited:
            waited.append(True)
            await barrier.wait()

    return Registrar(bus, Schemas(), before_commit=both_have_read)


async def race(redis_url: str, namespace: str, a: RegistrationIn, b: RegistrationIn) -> list[Any]:
    buses = [Bus(IngestSettings(redis_url=redis_url, namespace=namespace)) for _ in range(2)]
    barrier = asyncio.Barrier(2)
    try:
        one, two = (racing(bus, barrier) for bus in buses)
        return list(await asyncio.gather(one.register(a), two.register(b), return_exceptions=True))
    finally:
        for bus in buses:
            await bus.redis.aclose()


async def test_two_replicas_registering_the_same_dataset_at_once_publish_it_once(
    redis_url: str, namespace: str, streams_io: Streams
) -> None:
    request = RegistrationIn.model_validate({"schema": HOUSES})
    results = await race(redis_url, namespace, request, request)
    assert sorted(r.change for r in results) == ["new", "unchanged"]
    assert len(streams_io.read(streams.DATASET_REGISTERED)) == 1


async def test_two_replicas_registering_conflicting_schemas_at_once_refuse_one(
    redis_url: str, namespace: str, streams_io: Streams
) -> None:
    other = {**HOUSES, "target": {"name": "price", "classes": ["cheap", "dear"]}}
    results = await race(
        redis_url,
        namespace,
        RegistrationIn.model_validate({"schema": HOUSES}),
        RegistrationIn.model_validate({"schema": other}),
    )
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 1 and "target 'price' cannot change" in refused[0].message
    (registered,) = streams_io.read(streams.DATASET_REGISTERED)
    assert registered.dataset_schema.version == 1
