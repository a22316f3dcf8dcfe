"""Ingest as a running service against a real Redis: HTTP and stream in, events out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import (
    DataIngested,
    FeedbackReceived,
    Label,
    Record,
    RecordsSubmitted,
    streams,
)
from driftloop_contracts.datasets import loads
from driftloop_core import ContentStore
from driftloop_ingest.bootstrap import build_app
from driftloop_ingest.settings import IngestSettings
from driftloop_sdk.scenario import SCHEMA
from fastapi.testclient import TestClient

from tests.support.predictions import prediction_log
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

GOOD = {
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


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def client(redis_url: str, namespace: str, tmp_path: Path, store_dir: Path) -> Iterator[TestClient]:
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "demo.json").write_text(SCHEMA.model_dump_json())
    settings = IngestSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=str(store_dir),
        schema_dir=schema_dir,
        reclaim_idle_ms=1000,
    )
    with TestClient(build_app(settings)) as test_client:
        yield test_client


def with_features(**changes: object) -> dict[str, object]:
    return {"features": {**GOOD["features"], **changes}, "label": "no"}  # type: ignore[dict-item]


def test_json_rows_become_a_dataset_version_and_bad_rows_are_rejected_one_by_one(
    client: TestClient, streams_io: Streams, store_dir: Path
) -> None:
    rows = [GOOD, with_features(income="lots"), {"oops": 1}, {**GOOD, "label": "maybe"}]
    answer = client.post("/v1/datasets/demo/records", json={"records": rows})
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 1
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert "feature 'income' must be a number, got 'lots'" in reasons[1]
    assert reasons[2].startswith("not a record")
    assert "label 'maybe' is not one of ['no', 'yes']" in reasons[3]
    (ingested,) = streams_io.wait(streams.DATA_INGESTED)
    assert ingested.version == body["version"] and ingested.rows == 1
    stored = loads(ContentStore(str(store_dir)).get(ingested.blob))
    assert stored[0].features["income"] == 50.0
    (rejected,) = streams_io.wait(streams.DATA_REJECTED)
    assert [r.index for r in rejected.rejected] == [1, 2, 3]


def test_a_request_with_no_valid_row_is_a_422_that_says_why(client: TestClient) -> None:
    answer = client.post("/v1/datasets/demo/records", json={"records": [with_features(age=7)]})
    assert answer.status_code == 422
    assert answer.json()["error"] == "no_valid_row"
    assert "row 0: feature 'age' is 7.0, below the minimum 18.0" in answer.json()["message"]
    rejected = answer.json()["details"]["rejected"]
    assert "feature 'age' is 7.0, below the minimum 18.0" in rejected[0]["reason"]


def test_an_unknown_dataset_is_a_404_naming_the_known_ones(client: TestClient) -> None:
    answer = client.post("/v1/datasets/nope/records", json={"records": [GOOD]})
    assert answer.status_code == 404
    assert "unknown dataset 'nope'" in answer.json()["message"]
    assert "demo" in answer.json()["message"]


def test_a_csv_upload_is_ingested_and_a_bad_header_is_refused(
    client: TestClient, streams_io: Streams
) -> None:
    header = "income,debt_ratio,age,utilization,credit_lines,region,channel,default,observed_at"
    csv = (
        f"{header}\n50,0.4,40,0.3,3,north,web,no,2026-01-01T00:00:00Z\n"
        "60,0.2,50,0.1,2,south,branch,yes,2026-01-01T00:01:00Z\n"
    )
    answer = client.post(
        "/v1/datasets/demo/records.csv", content=csv, headers={"content-type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    upload = client.post(
        "/v1/datasets/demo/records.csv", files={"file": ("rows.csv", csv, "text/csv")}
    )
    # The same rows observed at the same times are the same version, whoever sends them.
    assert upload.json()["version"] == answer.json()["version"]
    bad = client.post(
        "/v1/datasets/demo/records.csv",
        content="income,x\n1,2\n",
        headers={"content-type": "text/csv"},
    )
    assert bad.status_code == 422
    assert "CSV header lacks column(s)" in bad.json()["message"]


def test_labels_posted_over_http_are_published_as_feedback(
    client: TestClient, streams_io: Streams
) -> None:
    prediction_id = str(uuid.uuid4())
    answer = client.post(
        "/v1/labels", json={"labels": [{"prediction_id": prediction_id, "label": "yes"}]}
    )
    assert answer.status_code == 202
    (event,) = streams_io.wait(streams.FEEDBACK_RECEIVED)
    assert str(event.labels[0].prediction_id) == prediction_id
    bad = client.post(
        "/v1/labels", json={"labels": [{"prediction_id": "not-a-uuid", "label": "yes"}]}
    )
    assert bad.status_code == 422
    assert "prediction_id" in bad.json()["message"]


def test_records_from_the_stream_are_ingested_and_rejects_reported(
    client: TestClient, streams_io: Streams
) -> None:
    good = RecordsSubmitted(producer="test", dataset="demo", records=[Record(**GOOD)] * 3)
    bad = RecordsSubmitted(
        producer="test", dataset="demo", records=[Record(**with_features(region=4.5))]
    )
    unknown = RecordsSubmitted(producer="test", dataset="other", records=[Record(**GOOD)])
    streams_io.publish(streams.INGEST_RECORDS, good, bad, unknown)
    ingested = streams_io.wait(streams.DATA_INGESTED)
    assert sum(e.rows for e in ingested) == 3
    assert ingested[0].causation_id == good.event_id
    rejected = streams_io.wait(streams.DATA_REJECTED, 2)
    reasons = sorted(r.rejected[0].reason for r in rejected)
    assert "feature 'region' is categorical" in reasons[0]
    assert "unknown dataset 'other'" in reasons[1]


def test_a_prediction_joined_with_its_late_label_becomes_a_feedback_row(
    client: TestClient, streams_io: Streams
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    # One label arrives before its prediction is logged, the other after.
    streams_io.publish(
        streams.FEEDBACK_RECEIVED,
        FeedbackReceived(producer="test", labels=[Label(prediction_id=first, label="yes")]),
    )
    streams_io.publish(
        streams.PREDICTION_LOGGED,
        prediction_log("demo", 1, [GOOD["features"]] * 2, ids=[first, second]),
    )
    streams_io.publish(
        streams.FEEDBACK_RECEIVED,
        FeedbackReceived(producer="test", labels=[Label(prediction_id=second, label="no")]),
    )

    # One version or two, depending on which handler completes each pair first.
    def both_rows() -> list[DataIngested] | None:
        events = streams_io.read(streams.DATA_INGESTED)
        return events if sum(e.rows for e in events) >= 2 else None

    ingested = eventually_sync(both_rows, what="both joined rows ingested")
    assert {e.source for e in ingested} == {"feedback"}
    assert sum(e.rows for e in ingested) == 2


def test_every_route_documents_its_answer_with_a_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    answers = {
        (method, path): operation["responses"]
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
    }

    assert len(answers) == 6  # records, CSV, labels; register, list and show datasets
    for (method, path), responses in answers.items():
        ok = next(code for code in responses if code.startswith("2"))
        schema = responses[ok]["content"]["application/json"]["schema"]
        assert schema != {}, f"{method} {path} answers without a model"
    records = answers[("post", "/v1/datasets/{dataset}/records")]
    assert records["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    register = answers[("post", "/v1/datasets")]
    assert register["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
