"""Attacks on the services' HTTP edges: each is a clear 4xx in the one error shape
{"error", "message", "details"?}, and nothing is stored or published."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftloop_bus import Keys
from driftloop_contracts import BlobRef, streams
from driftloop_core import ContentStore
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from tests.support.data import SCHEMA
from tests.support.streams import Streams

MIB = 1024 * 1024
HEADER = "income,debt_ratio,age,utilization,credit_lines,region,channel,default"
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


def refused(answer: Response, status: int, code: str, says: str) -> dict[str, Any]:
    """The answer is `status` in the one error shape, with `says` in its message."""
    body: dict[str, Any] = answer.json()
    assert answer.status_code == status, body
    assert set(body) <= {"error", "message", "details"} and body["error"] == code, body
    assert says in body["message"], body
    return body


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def io(redis_url: str, namespace: str) -> Iterator[Streams]:
    streams_io = Streams(redis_url, namespace)
    yield streams_io
    streams_io.close()


def ingest_app(redis_url: str, namespace: str, tmp_path: Path, store: ContentStore) -> FastAPI:
    from driftloop_ingest.bootstrap import build_app
    from driftloop_ingest.settings import IngestSettings

    seeds = tmp_path / "schemas"
    seeds.mkdir(exist_ok=True)
    (seeds / "demo.json").write_text(SCHEMA.model_dump_json())
    settings = IngestSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        schema_dir=seeds,
        max_json_bytes=MIB,
        max_upload_bytes=4 * MIB,
    )
    return build_app(settings)


@pytest.fixture
def ingest(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore
) -> Iterator[TestClient]:
    with TestClient(ingest_app(redis_url, namespace, tmp_path, store)) as client:
        yield client


def nothing_ingested(io: Streams, store: ContentStore) -> None:
    assert io.read(streams.DATA_INGESTED) == []
    assert io.read(streams.FEEDBACK_RECEIVED) == []
    assert not Path(store.root, "datasets").exists()


# ------------------------------------------------------------------------- bodies


def asgi_post(app: FastAPI, path: str, chunks: Iterator[bytes], length: int | None) -> tuple:
    """POST straight to the ASGI app, the body in chunks as a server hands them over; the
    status and how many chunks the app asked for."""
    asked = 0
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        chunk = next(chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("testclient", 1),
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status[0], asked


def megabytes(n: int) -> Iterator[bytes]:
    return (b" " * MIB for _ in range(n))


@pytest.mark.parametrize("path", ["/v1/datasets/demo/records", "/v1/labels", "/v1/datasets"])
def test_a_300_mb_json_body_is_refused_with_413_before_it_is_read(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore, path: str
) -> None:
    app = ingest_app(redis_url, namespace, tmp_path, store)
    status, asked = asgi_post(app, path, megabytes(300), length=300 * MIB)
    assert (status, asked) == (413, 0)  # by its Content-Length: not a byte read
    status, asked = asgi_post(app, path, megabytes(300), length=None)
    assert status == 413 and asked <= 2  # chunked: refused past the 1 MiB limit


def test_an_oversized_body_is_a_413_in_the_one_shape_and_nothing_is_published(
    ingest: TestClient, io: Streams, store: ContentStore
) -> None:
    big = {"records": [ROW] * 10_000}  # ~2 MB of JSON, the limit is 1 MiB
    answer = ingest.post("/v1/datasets/demo/records", json=big)
    refused(answer, 413, "too_large", f"larger than {MIB} bytes")
    labels = {"labels": [{"prediction_id": str(uuid.uuid4()), "label": "no"}] * 20_000}
    refused(ingest.post("/v1/labels", json=labels), 413, "too_large", "send less per request")
    nothing_ingested(io, store)


def test_a_csv_upload_may_be_larger_than_a_json_body_but_not_than_its_own_limit(
    ingest: TestClient, io: Streams, store: ContentStore
) -> None:
    rows = "50,0.4,40,0.3,3,north,web,no\n" * 60_000  # ~1.7 MB: over the JSON limit
    answer = ingest.post(
        "/v1/datasets/demo/records.csv",
        content=f"{HEADER}\n{rows}",
        headers={"content-type": "text/csv"},
    )
    assert answer.status_code == 200 and answer.json()["accepted"] == 60_000
    huge = ingest.post(
        "/v1/datasets/demo/records.csv",
        content=f"{HEADER}\n{rows * 3}",
        headers={"content-type": "text/csv"},
    )
    refused(huge, 413, "too_large", f"larger than {4 * MIB} bytes")


# --------------------------------------------------------------------------- CSV


def test_a_csv_field_over_128_kib_is_a_422_naming_the_line(
    ingest: TestClient, io: Streams, store: ContentStore
) -> None:
    csv = f"{HEADER}\n50,0.4,40,0.3,3,{'n' * 200_000},web,no\n"
    answer = ingest.post(
        "/v1/datasets/demo/records.csv", content=csv, headers={"content-type": "text/csv"}
    )
    refused(answer, 422, "invalid_input", "CSV line 2 cannot be read: field larger than")
    nothing_ingested(io, store)


def test_a_csv_header_that_repeats_a_column_is_refused(
    ingest: TestClient, io: Streams, store: ContentStore
) -> None:
    csv = f"{HEADER},age\n50,0.4,40,0.3,3,north,web,no,99\n"
    answer = ingest.post(
        "/v1/datasets/demo/records.csv", content=csv, headers={"content-type": "text/csv"}
    )
    refused(answer, 422, "invalid_input", "CSV header repeats column(s) ['age']")
    nothing_ingested(io, store)


# -------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("observed_at", "says"),
    [
        ("9999-01-01T00:00:00Z", "is more than 1 day(s) after now"),
        ("0001-01-01T00:00:00Z", "is more than 3650 day(s) before now"),
    ],
)
def test_a_row_observed_far_from_now_is_rejected_with_the_reason(
    ingest: TestClient, io: Streams, store: ContentStore, observed_at: str, says: str
) -> None:
    answer = ingest.post(
        "/v1/datasets/demo/records", json={"records": [{**ROW, "observed_at": observed_at}]}
    )
    body = refused(answer, 422, "no_valid_row", says)
    assert body["details"]["rejected"][0]["index"] == 0
    csv = f"{HEADER},observed_at\n50,0.4,40,0.3,3,north,web,no,{observed_at}\n"
    answer = ingest.post(
        "/v1/datasets/demo/records.csv", content=csv, headers={"content-type": "text/csv"}
    )
    refused(answer, 422, "no_valid_row", says)
    nothing_ingested(io, store)
    assert len(io.wait(streams.DATA_REJECTED, 2)) == 2  # the rejects are reported


# ----------------------------------------------------------------- path parameters


def test_a_version_id_of_2_to_the_63_is_a_422_not_a_500(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore
) -> None:
    from driftloop_registry.bootstrap import build_app
    from driftloop_registry.settings import RegistrySettings

    settings = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
    )
    with TestClient(build_app(settings)) as registry:
        for path in ("/v1/models/demo/9223372036854775808", "/v1/models/demo/0/lineage"):
            refused(registry.get(path), 422, "invalid_input", "path.version")
        refused(registry.get("/v1/models/Demo!/champion"), 422, "invalid_input", "path.dataset")
        refused(registry.get(f"/v1/models/{'d' * 300}/1"), 422, "invalid_input", "path.dataset")


# ------------------------------------------------------------------ report route


@pytest.fixture
def monitor(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    from driftloop_drift_monitor.bootstrap import build_app
    from driftloop_drift_monitor.settings import MonitorSettings

    settings = MonitorSettings(redis_url=redis_url, namespace=namespace, store_url=store.url)
    with TestClient(build_app(settings)) as client:
        yield client


def link_report(io: Streams, event_id: uuid.UUID, value: str) -> None:
    key = Keys(io.namespace).owned("drift-monitor", "report", event_id)
    io.redis.set(key, value)


def refused_reports(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("driftloop_monitor_reports_refused_total "):
            return float(line.split()[1])
    return 0.0


def test_the_report_route_serves_a_report_with_nosniff_and_a_strict_csp(
    monitor: TestClient, io: Streams, store: ContentStore
) -> None:
    event_id = uuid.uuid4()
    page = store.put(b"<!doctype html><p>drift</p>", kind="reports/demo", suffix=".html")
    link_report(io, event_id, page.model_dump_json())
    answer = monitor.get(f"/v1/reports/{event_id}")
    assert answer.status_code == 200 and answer.text == "<!doctype html><p>drift</p>"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "script-src" not in answer.headers["content-security-policy"]


@pytest.mark.parametrize("kind", ["datasets/demo", "models/demo", "reports/demo/../x"])
def test_a_report_link_that_points_at_any_other_blob_is_refused_and_counted(
    monitor: TestClient, io: Streams, store: ContentStore, kind: str
) -> None:
    """Whoever can write Redis can point a report link at any blob: the route serves none."""
    event_id = uuid.uuid4()
    secret = b"<script>steal()</script>"
    blob = store.put(secret, kind="datasets/demo", suffix=".html")
    sha = blob.sha256
    forged = BlobRef(key=f"{kind}/{sha[:2]}/{sha}.html", sha256=sha, size=blob.size)
    link_report(io, event_id, forged.model_dump_json())
    before = refused_reports(monitor)
    answer = monitor.get(f"/v1/reports/{event_id}")
    body = refused(answer, 404, "not_found", "its link points at")
    assert "steal" not in answer.text and kind in body["message"]
    assert refused_reports(monitor) == before + 1


def test_a_report_link_that_is_not_a_blob_ref_is_a_404_not_a_500(
    monitor: TestClient, io: Streams
) -> None:
    event_id = uuid.uuid4()
    link_report(io, event_id, "<html>not json</html>")
    refused(monitor.get(f"/v1/reports/{event_id}"), 404, "not_found", "not a BlobRef")
    refused(monitor.get("/v1/reports/not-a-uuid"), 422, "invalid_input", "path.event_id")


# ------------------------------------------------------------------------ labels


def test_labels_for_ids_never_predicted_are_held_at_most_the_early_label_wait(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore, io: Streams
) -> None:
    """What a client can make Redis hold with labels for unknown ids: each label (at most 200
    characters) for INGEST_EARLY_LABEL_WAIT_S, not the day a prediction waits for its label."""
    from driftloop_ingest.bootstrap import build_app
    from driftloop_ingest.settings import IngestSettings

    settings = IngestSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, early_label_wait_s=60
    )
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with TestClient(build_app(settings)) as client:
        long_label = [{"prediction_id": ids[0], "label": "n" * 201}]
        answer = client.post("/v1/labels", json={"labels": long_label})
        refused(answer, 422, "invalid_input", "labels[0].label has 201 characters")
        assert io.read(streams.FEEDBACK_RECEIVED) == []
        labels = [{"prediction_id": i, "label": "no"} for i in ids]
        assert client.post("/v1/labels", json={"labels": labels}).status_code == 202
        io.wait(streams.FEEDBACK_RECEIVED)
        io.wait_consumed(streams.FEEDBACK_RECEIVED, "ingest")
    waiting = [Keys(namespace).owned("ingest", "join", "l", i) for i in ids]
    ttls = [io.redis.ttl(key) for key in waiting]
    assert all(0 < ttl <= 60 for ttl in ttls), ttls
    assert settings.label_wait_s == 24 * 3600  # a prediction still waits a day for its label


# ------------------------------------------------------------------ client tokens

WEB = "Zq8dk2LmX0pQ7rTy3vBw"
BATCH = "Hh4Jk9Lm2Nn8Pp1QqRr5"
TOKENS = f"web={WEB}, batch={BATCH}"


def client_count(client: TestClient, name: str) -> float:
    prefix = f'driftloop_client_requests_total{{client="{name}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[1])
    return 0.0


@pytest.fixture
def guarded_ingest(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore
) -> Iterator[TestClient]:
    from driftloop_ingest.bootstrap import build_app
    from driftloop_ingest.settings import IngestSettings

    seeds = tmp_path / "schemas"
    seeds.mkdir()
    (seeds / "demo.json").write_text(SCHEMA.model_dump_json())
    settings = IngestSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        schema_dir=seeds,
        client_tokens=TOKENS,
    )
    with TestClient(build_app(settings)) as client:
        yield client


def test_with_client_tokens_ingest_refuses_a_request_without_one_and_stores_nothing(
    guarded_ingest: TestClient, io: Streams, store: ContentStore
) -> None:
    records = {"records": [ROW]}
    labels = {"labels": [{"prediction_id": str(uuid.uuid4()), "label": "no"}]}
    for path, body in (("/v1/datasets/demo/records", records), ("/v1/labels", labels)):
        answer = guarded_ingest.post(path, json=body)
        refused(answer, 401, "unauthorized", "send 'Authorization: Bearer <token>'")
        assert answer.headers["www-authenticate"] == "Bearer"
        wrong = guarded_ingest.post(path, json=body, headers={"Authorization": "Bearer nope"})
        refused(wrong, 401, "unauthorized", "not a client's token")
    refused(guarded_ingest.get("/v1/datasets"), 401, "unauthorized", "Bearer")
    nothing_ingested(io, store)
    for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert guarded_ingest.get(open_path).status_code == 200, open_path


def test_with_client_tokens_ingest_serves_each_client_and_counts_it_by_name(
    guarded_ingest: TestClient, io: Streams
) -> None:
    before = client_count(guarded_ingest, "batch")
    answer = guarded_ingest.post(
        "/v1/datasets/demo/records",
        json={"records": [ROW]},
        headers={"Authorization": f"bearer {BATCH}"},  # the scheme in any case
    )
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    assert client_count(guarded_ingest, "batch") == before + 1
    (ingested,) = io.wait(streams.DATA_INGESTED)
    assert ingested.rows == 1


def test_with_client_tokens_the_predictor_checks_them_on_its_fast_path_too(
    redis_url: str, namespace: str, store: ContentStore
) -> None:
    from driftloop_predictor.bootstrap import build_app
    from driftloop_predictor.settings import PredictorSettings

    settings = PredictorSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, client_tokens=TOKENS
    )
    with TestClient(build_app(settings)) as predictor:
        for path in ("/v1/predict", "/v1/models/demo/predict", "/v2/models/demo/infer"):
            answer = predictor.post(path, json={"features": ROW["features"]})
            refused(answer, 401, "unauthorized", "Bearer")
        refused(predictor.get("/v1/models"), 401, "unauthorized", "Bearer")
        with_token = predictor.post(
            "/v1/predict",
            json={"features": ROW["features"]},
            headers={"Authorization": f"Bearer {WEB}"},
        )
        refused(with_token, 503, "not_ready", "no model")  # past the check: nothing serves yet
        assert predictor.get("/readyz").status_code == 503  # open, and says why
        assert client_count(predictor, "web") >= 1


@pytest.mark.parametrize(
    ("tokens", "says"),
    [
        ("web=replace-me-with-a-real-token", "INGEST_CLIENT_TOKENS (web) must be a real secret"),
        ("web=short", "shorter than 16 characters"),
        (f"web={WEB},{BATCH}", "pair 2 is not name=token"),
        (f"web={WEB},batch={WEB}", "batch and web share a token"),
    ],
)
def test_a_placeholder_or_malformed_client_token_refuses_to_start(tokens: str, says: str) -> None:
    from driftloop_ingest.settings import IngestSettings

    with pytest.raises(ValueError, match="CLIENT_TOKENS") as refusal:
        IngestSettings(client_tokens=tokens)
    assert says in str(refusal.value)
    assert WEB not in str(refusal.value)  # the error never echoes a token


def test_client_tokens_may_come_from_a_file(tmp_path: Path) -> None:
    from driftloop_predictor.settings import PredictorSettings

    path = tmp_path / "tokens"
    path.write_text(f"# one client a line\nweb={WEB}\nbatch={BATCH}  # the nightly job\n")
    clients = PredictorSettings(client_tokens_file=path).clients()
    assert clients.client(f"Bearer {BATCH}".encode()) == "batch"
    assert clients.client(b"Bearer " + WEB[:-1].encode()) is None
