"""The registry as a running service: the gate, lineage, and promotion by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import BlobRef, streams, utcnow
from driftloop_contracts.codec import encode
from driftloop_core import ContentStore
from driftloop_registry.bootstrap import build_app
from driftloop_registry.settings import RegistrySettings
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, promoted, trained
from tests.support.signing import signed
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

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


def champion(client: TestClient, version: int | None = None) -> int:
    """The read side's champion, once it shows one (`version`, if given)."""

    def shown() -> int | None:
        answer = client.get("/v1/models/demo/champion")
        found = answer.json()["version"] if answer.status_code == 200 else None
        return found if version is None or found == version else None

    return int(eventually_sync(shown, what=f"the read side to show champion {version or ''}"))


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
    assert champion(client, 1) == 1


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
    assert rejected.run_id is not None and rejected.trigger == "initial"
    champion(client, 1)
    statuses = {m["version"]: m["status"] for m in client.get("/v1/models?dataset=demo").json()}
    assert statuses == {1: "champion", 2: "rejected"}


def test_a_candidate_whose_artifact_does_not_match_its_sha256_is_rejected(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    candidate = trained(store, labelled_rows(400))
    forged = BlobRef(key=candidate.artifact.key, sha256="0" * 64, size=candidate.artifact.size)
    # Signed by the trainer, yet the bytes in the store are not the ones it signed for.
    streams_io.publish(
        streams.TRAINING_COMPLETED, signed(candidate.model_copy(update={"artifact": forged}))
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
    serving = champion(client)
    other = 2 if serving == 1 else 1

    assert client.post(f"/v1/models/demo/{other}/promote").status_code == 401
    wrong = client.post(
        f"/v1/models/demo/{other}/promote", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and "Bearer" in wrong.json()["message"]
    assert client.post("/v1/models/demo/9/promote", headers=ADMIN).status_code == 404
    same = client.post(f"/v1/models/demo/{serving}/promote", headers=ADMIN)
    assert same.status_code == 409

    answer = client.post(f"/v1/models/demo/{other}/promote", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] is True  # the read side caught up before the answer
    assert client.get("/v1/models/demo/champion").json()["version"] == other
    back = client.post("/v1/models/demo/rollback", headers=ADMIN).json()
    assert back["version"] == serving and back["reason"] == "rollback"
    events = streams_io.wait(streams.MODEL_PROMOTED, 3)
    assert [(e.model_version, e.reason) for e in events][-2:] == [
        (other, "manual"),
        (serving, "rollback"),
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


# --------------------------------------------------- the registry follows its own streams


def entry_ids(streams_io: Streams) -> dict[str, str]:
    """event_id -> entry id of every model.promoted entry."""
    key = streams.MODEL_PROMOTED.key(streams_io.namespace)
    entries = streams_io.redis.xrange(key)
    return {
        str(streams.MODEL_PROMOTED.event.model_validate_json(f[b"__data__"]).event_id): i.decode()
        for i, f in entries
    }


def two_versions(client: TestClient, streams_io: Streams, store: ContentStore) -> None:
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400)))
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400, seed=5)))
    streams_io.wait(streams.MODEL_REGISTERED, 2)
    streams_io.wait_consumed(streams.TRAINING_COMPLETED, "registry")
    champion(client, 1)


def test_a_promotion_by_http_reaches_sqlite_only_through_the_stream(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    two_versions(client, streams_io, store)

    answer = client.post("/v1/models/demo/2/promote", headers=ADMIN).json()

    history = client.get("/v1/models/demo/promotions").json()
    # Recorded with its position in model.promoted, which only the stream entry carries.
    assert history[-1]["event_id"] == answer["event_id"]
    assert history[-1]["stream_id"] == entry_ids(streams_io)[answer["event_id"]]
    assert [p["version"] for p in history] == [1, 2]


def test_a_promotion_published_by_anyone_on_the_stream_is_what_the_read_side_shows(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(400))
    streams_io.publish(streams.TRAINING_COMPLETED, run)
    champion(client, 1)
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400, seed=5)))
    streams_io.wait(streams.MODEL_REGISTERED, 2)

    streams_io.publish(
        streams.MODEL_PROMOTED, promoted(run, 2, previous_version=1, reason="manual")
    )

    assert champion(client, 2) == 2


def test_two_promotions_are_applied_in_stream_order(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(400))
    streams_io.publish(streams.TRAINING_COMPLETED, run)
    streams_io.wait(streams.MODEL_PROMOTED)
    streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400, seed=5)))
    streams_io.wait(streams.MODEL_REGISTERED, 2)
    streams_io.wait_consumed(streams.TRAINING_COMPLETED, "registry")

    streams_io.publish(
        streams.MODEL_PROMOTED,
        promoted(run, 2, previous_version=1, reason="manual"),
        promoted(run, 1, previous_version=2, reason="rollback"),
    )
    streams_io.wait_consumed(streams.MODEL_PROMOTED, "registry")

    history = client.get("/v1/models/demo/promotions").json()
    assert [(p["version"], p["reason"]) for p in history] == [
        (1, "gate"),
        (2, "manual"),
        (1, "rollback"),
    ]
    ids = [tuple(int(x) for x in p["stream_id"].split("-")) for p in history]
    assert ids == sorted(ids)
    statuses = {m["version"]: m["status"] for m in client.get("/v1/models?dataset=demo").json()}
    assert statuses == {1: "champion", 2: "retired"}


def test_a_replayed_promotion_changes_nothing(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    two_versions(client, streams_io, store)
    first = client.post("/v1/models/demo/2/promote", headers=ADMIN).json()
    client.post("/v1/models/demo/rollback", headers=ADMIN)
    before = client.get("/v1/models/demo/promotions").json()
    (manual,) = [e for e in streams_io.read(streams.MODEL_PROMOTED) if e.reason == "manual"]
    # As a dead-letter replay would, after the dedupe marker expired: the same event, again.
    streams_io.redis.delete(f"{streams_io.namespace}dl:seen:registry:{first['event_id']}")

    streams_io.redis.xadd(streams.MODEL_PROMOTED.key(streams_io.namespace), encode(manual))  # type: ignore[arg-type]
    streams_io.wait_consumed(streams.MODEL_PROMOTED, "registry")

    assert client.get("/v1/models/demo/promotions").json() == before
    assert champion(client) == 1
