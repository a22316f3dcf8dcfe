"""Ingest with a regression dataset, against a real Redis: numeric records and CSV labels
validated and stored, a bad label rejected with its reason, feedback labels sent as JSON
numbers over HTTP joined into prediction.labelled with numbers and into feedback rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import PredictionsLogged, Record, RecordsSubmitted, streams
from driftloop_contracts.columnar import epoch_ms
from driftloop_contracts.datasets import loads
from driftloop_core import ContentStore
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.scenario import HouseScenario
from fastapi.testclient import TestClient

from tests.support.streams import Streams
from tests.support.wait import eventually_sync

SCHEMA = HouseScenario.schema
ROWS = HouseScenario(5).draw(4, "before")


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def client(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore
) -> Iterator[TestClient]:
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "houses.json").write_text(SCHEMA.model_dump_json())
    settings = IngestSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, schema_dir=schema_dir
    )
    with TestClient(build_app(settings)) as running:
        yield running


def test_numeric_records_are_stored_and_a_label_that_is_no_number_is_rejected(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    records = [
        Record(features=f, label=float(y)) for f, y in zip(ROWS.features, ROWS.labels, strict=True)
    ]
    bad = Record(features=ROWS.features[0], label="expensive")
    event = RecordsSubmitted(producer="test", dataset="houses", records=[*records, bad])

    streams_io.publish(streams.INGEST_RECORDS, event)

    (ingested,) = streams_io.wait(streams.DATA_INGESTED)
    stored = loads(store.get(ingested.blob))
    assert [r.label for r in stored] == [repr(float(y)) for y in ROWS.labels]
    (rejected,) = streams_io.wait(streams.DATA_REJECTED)
    assert rejected.rejected[0].reason == "label 'expensive' of 'price' is not a finite number"


def test_a_csv_of_a_regression_dataset_takes_its_labels_as_numbers(client: TestClient) -> None:
    header = ",".join([*SCHEMA.feature_names, "price"])
    lines = [",".join([*(str(f[n]) for n in SCHEMA.feature_names), "123.5"]) for f in ROWS.features]

    answer = client.post(
        "/v1/datasets/houses/records.csv",
        content="\n".join([header, *lines]),
        headers={"content-type": "text/csv"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 4


def test_labels_sent_as_numbers_are_joined_into_numeric_labelled_events_and_feedback_rows(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    ids = tuple(uuid.uuid4() for _ in ROWS.features)
    logged = PredictionsLogged(
        producer="test",
        dataset="houses",
        model_version=1,
        prediction_ids=ids,
        features={n: tuple(f[n] for f in ROWS.features) for n in SCHEMA.feature_names},
        predictions=(250.0, 260.5, 270.0, 280.25),
        predicted_at_ms=(epoch_ms(),) * 4,
    )
    streams_io.publish(streams.PREDICTION_LOGGED, logged)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, "ingest")

    sent = client.post(
        "/v1/labels",
        json={"labels": [{"prediction_id": str(i), "label": 200 + k} for k, i in enumerate(ids)]},
    )

    assert sent.status_code == 202, sent.text
    (labelled,) = streams_io.wait(streams.PREDICTION_LABELLED)
    assert labelled.labels == (200.0, 201.0, 202.0, 203.0)
    assert labelled.predictions == (250.0, 260.5, 270.0, 280.25)
    feedback = eventually_sync(
        lambda: [e for e in streams_io.read(streams.DATA_INGESTED) if e.source == "feedback"],
        what="feedback rows",
    )
    assert sorted(r.label for r in loads(store.get(feedback[0].blob))) == [
        "200.0",
        "201.0",
        "202.0",
        "203.0",
    ]
