"""The registry as a running service: the gate, lineage, and promotion by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import BlobRef, streams, utcnow
from driftloop_core import ContentStore
from driftloop_registry.bootstrap import build_app
from driftloop_registry.settings import RegistrySettings
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, trained
from tests.support.streams import Streams

TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


def registry(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path, token: str | None = TOKEN
) -> TestClient:
    settings = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
        admin_token=token,
        min_accuracy=0.3,
    )
    return TestClient(build_app(settings))


@pytest.fixture
def client(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path
) -> Iterator[TestClient]:
    with registry(redis_url, namespace, store, tmp_path) as test_client:
        yield test_client


def test_the_first_good_model_is_registered_and_promoted_with_its_lineage(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    candidate = trained(store, labelled_rows(400))
    streams_io.publish(streams.TRAINING_COMPLETED, candidate)
    (promoted,) = streams_io.wait(streams.MODEL_PROMOTED)
    assert promoted.model_version == 1 and promoted.reason == "gate"
    assert promoted.previous_version is None
    assert promoted.correlation_id == candidate.correlation_id
    assert promoted.artifact == candidate.artifact
    (registered,) = streams_io.wait(streams.MODEL_REGISTERED)
    assert registered.run_id == candidate.run_id
    lineage = client.get("/v1/models/demo/1/lineage").json()
    assert lineage["run_id"] == str(candidate.run_id)
    assert lineage["dataset_versions"] == ["v-test"]
    assert lineage["decision"]["promote"] is True
    assert client.get("/v1/models/demo/champion").json()["version"] == 1


def test_a_candidate_worse_than_the_champion_on_recent_data_is_rejected(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400)))
    streams_io.wait(streams.MODEL_PROMOTED)
    # Fitted mostly on rows of another concept, judged on recent rows of the champion's.
    start = utcnow()
    weak = labelled_rows(320, "after", start=start, seed=11)
    weak += labelled_rows(80, "before", start=start + timedelta(seconds=10), seed=12)
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, weak))
    (rejected,) = streams_io.wait(streams.MODEL_REJECTED)
    assert rejected.model_version == 2
    assert rejected.champion_metrics is not None
    assert "champion v1" in rejected.reason
    statuses = {m["version"]: m["status"] for m in client.get("/v1/models?dataset=demo").json()}
    assert statuses == {1: "champion", 2: "rejected"}


def test_a_candidate_whose_artifact_does_not_match_its_sha256_is_rejected(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    candidate = trained(store, labelled_rows(400))
    forged = BlobRef(key=candidate.artifact.key, sha256="0" * 64, size=candidate.artifact.size)
    streams_io.publish(
        streams.TRAINING_COMPLETED, candidate.model_copy(update={"artifact": forged})
    )
    (rejected,) = streams_io.wait(streams.MODEL_REJECTED)
    assert "candidate unusable" in rejected.reason and "refusing to use it" in rejected.reason


def test_the_same_training_event_twice_registers_one_version(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    candidate = trained(store, labelled_rows(400))
    streams_io.publish(streams.TRAINING_COMPLETED, candidate, candidate)
    streams_io.wait(streams.MODEL_PROMOTED)
    streams_io.wait_consumed(streams.TRAINING_COMPLETED, "registry")
    assert len(client.get("/v1/models").json()) == 1
    assert len(streams_io.read(streams.MODEL_PROMOTED)) == 1


def test_promote_and_rollback_by_hand_need_the_token_and_are_events(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400)))
    streams_io.wait(streams.MODEL_PROMOTED)
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400, seed=5)))
    streams_io.wait(streams.MODEL_REGISTERED, 2)
    streams_io.wait_consumed(streams.TRAINING_COMPLETED, "registry")
    champion = client.get("/v1/models/demo/champion").json()["version"]
    other = 2 if champion == 1 else 1

    assert client.post(f"/v1/models/demo/{other}/promote").status_code == 401
    wrong = client.post(
        f"/v1/models/demo/{other}/promote", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and "Bearer" in wrong.json()["message"]
    assert client.post("/v1/models/demo/9/promote", headers=ADMIN).status_code == 404
    same = client.post(f"/v1/models/demo/{champion}/promote", headers=ADMIN)
    assert same.status_code == 409

    promoted = client.post(f"/v1/models/demo/{other}/promote", headers=ADMIN)
    assert promoted.status_code == 200, promoted.text
    assert client.get("/v1/models/demo/champion").json()["version"] == other
    back = client.post("/v1/models/demo/rollback", headers=ADMIN).json()
    assert back["version"] == champion and back["reason"] == "rollback"
    events = streams_io.wait(streams.MODEL_PROMOTED, 3)
    assert [(e.model_version, e.reason) for e in events][-2:] == [
        (other, "manual"),
        (champion, "rollback"),
    ]


def test_admin_actions_are_disabled_without_a_configured_token(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path
) -> None:
    with registry(redis_url, namespace, store, tmp_path, token=None) as client:
        answer = client.post("/v1/models/demo/rollback", headers=ADMIN)
    assert answer.status_code == 503
    assert "REGISTRY_ADMIN_TOKEN" in answer.json()["message"]


def test_a_placeholder_token_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="real secret"):
        RegistrySettings(admin_token="changeme")
