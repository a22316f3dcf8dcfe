"""The predictor as a running service: hot swap on promotion, validation, prediction logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from driftloop_contracts import BlobRef, streams
from driftloop_core import ContentStore
from driftloop_predictor.bootstrap import build_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_sdk.scenario import CreditScenario
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, promoted, rollout, trained
from tests.support.predictions import logged_ids
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

ROW = CreditScenario(1).draw(1, "before").features[0]


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


def predictor(redis_url: str, namespace: str, store: ContentStore) -> TestClient:
    settings = PredictorSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        log_flush_ms=20,
        dataset="demo",
    )
    return TestClient(build_app(settings))


@pytest.fixture
def client(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    with predictor(redis_url, namespace, store) as test_client:
        yield test_client


def serving(client: TestClient, version: int) -> bool:
    answer = client.get("/v1/model")
    return answer.status_code == 200 and answer.json()["model_version"] == version


def load_failures(client: TestClient) -> float:
    """This process's count of refused models (counters are shared by every test in it)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("driftloop_predictor_model_load_failures_total "):
            return float(line.split()[1])
    return 0.0


def test_before_any_promotion_predictions_are_a_503_and_not_ready(client: TestClient) -> None:
    answer = client.post("/v1/predict", json={"features": ROW})
    assert answer.status_code == 503
    assert "no model is loaded" in answer.json()["message"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_a_promotion_is_served_without_restart_and_the_next_one_swaps_in(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    first = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(first, 1))
    eventually_sync(lambda: serving(client, 1), what="v1 served")
    model = client.get("/v1/model").json()
    assert (model["dataset"], model["reason"], model["rollout"]) == ("demo", "gate", None)
    assert model["schema"]["name"] == "demo" and model["metrics"] == first.metrics.model_dump()
    one = client.post("/v1/predict", json={"features": ROW}).json()
    assert one["model_version"] == 1 and one["prediction"] in ("no", "yes")
    assert abs(sum(one["probabilities"].values()) - 1) < 1e-9

    second = trained(store, labelled_rows(300, "after", seed=9))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(second, 2))
    eventually_sync(lambda: serving(client, 2), what="v2 served")
    batch = client.post("/v1/predict/batch", json={"rows": [ROW, ROW]}).json()
    assert batch["model_version"] == 2 and len(batch["predictions"]) == 2
    assert client.get("/readyz").json()["model_version"] == 2


def test_a_restarted_predictor_serves_the_latest_promotion_at_once(
    redis_url: str, namespace: str, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 1), promoted(run, 2))
    with predictor(redis_url, namespace, store) as client:
        assert serving(client, 2)  # loaded during start-up, before the first request


def test_a_model_whose_sha256_does_not_match_is_never_served(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    good = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(good, 1))
    eventually_sync(lambda: serving(client, 1), what="v1 served")
    failures = load_failures(client)
    forged = BlobRef(key=good.artifact.key, sha256="f" * 64, size=good.artifact.size)
    streams_io.publish(
        streams.MODEL_PROMOTED, promoted(good, 2, artifact=forged), promoted(good, 3)
    )
    eventually_sync(lambda: serving(client, 3), what="v3 served")
    assert load_failures(client) == failures + 1


def test_a_promotion_whose_artifact_is_missing_is_refused_counted_and_logged_and_v1_serves_on(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    good = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(good, 1))
    eventually_sync(lambda: serving(client, 1), what="v1 served")
    failures = load_failures(client)
    missing = BlobRef(key="models/00/gone", sha256="0" * 64, size=10)

    with structlog.testing.capture_logs() as logs:
        streams_io.publish(streams.MODEL_PROMOTED, promoted(good, 2, artifact=missing))
        eventually_sync(lambda: load_failures(client) == failures + 1, what="v2 refused")

    assert serving(client, 1)
    (refused,) = [e for e in logs if e["event"].startswith("promoted model not loaded")]
    assert refused["version"] == 2 and "models/00/gone is not in the store" in refused["error"]


# ----------------------------------------------- start-up from the registry's serving state


def test_a_restarted_predictor_serves_its_champion_when_the_last_promotion_is_another_datasets(
    redis_url: str, namespace: str, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 3))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 1, dataset="loans"))

    with predictor(redis_url, namespace, store) as client:
        assert serving(client, 3)
        assert client.get("/v1/model").json()["dataset"] == "demo"


def test_a_restarted_predictor_serves_its_champion_when_the_last_promotion_entry_is_garbage(
    redis_url: str, namespace: str, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 2))
    key = streams.MODEL_PROMOTED.key(namespace)
    streams_io.redis.xadd(key, {b"__data__": b"{not json"})

    with predictor(redis_url, namespace, store) as client:
        assert serving(client, 2)
        # and it follows the stream from there: the next promotion swaps in
        streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 3))
        eventually_sync(lambda: serving(client, 3), what="v3 served after the garbage")


def test_a_rollout_in_progress_at_restart_is_restored_from_the_serving_state(
    redis_url: str, namespace: str, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(300))
    candidate = trained(store, labelled_rows(300, "after", seed=9))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 1))
    streams_io.publish(streams.MODEL_ROLLOUT, rollout(candidate, 2, "demo", share=0.4))
    streams_io.publish(streams.MODEL_ROLLOUT, rollout(candidate, 1, "loans", share=0.1))

    with predictor(redis_url, namespace, store) as client:
        model = client.get("/v1/model").json()
        assert model["model_version"] == 1
        assert model["rollout"] == {"stage": "canary", "model_version": 2, "share": 0.4}
        keys = {f"user-{i}" for i in range(40)}
        answered = {
            client.post("/v1/predict", json={"features": ROW}, headers={"X-Request-Key": k}).json()[
                "model_version"
            ]
            for k in keys
        }
        assert answered == {1, 2}


def test_a_restarted_predictor_with_nothing_promoted_for_its_dataset_serves_nothing(
    redis_url: str, namespace: str, streams_io: Streams, store: ContentStore
) -> None:
    run = trained(store, labelled_rows(300))
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 1, dataset="loans"))

    with predictor(redis_url, namespace, store) as client:
        assert client.get("/v1/model").status_code == 503
        assert client.get("/readyz").status_code == 503


def test_bad_rows_get_a_422_that_names_the_row_and_the_problem(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.MODEL_PROMOTED, promoted(trained(store, labelled_rows(300)), 1))
    eventually_sync(lambda: serving(client, 1), what="v1 served")
    missing = {k: v for k, v in ROW.items() if k != "age"}
    answer = client.post(
        "/v1/predict/batch", json={"rows": [ROW, {**ROW, "income": "rich"}, missing]}
    )
    assert answer.status_code == 422
    body = answer.json()
    assert "2 of 3 row(s) invalid; row 1: feature 'income' must be a number" in body["message"]
    assert body["details"][1] == {"row": 2, "error": "missing feature 'age'"}
    assert client.post("/v1/predict", json={"rows": []}).status_code == 422


def test_every_prediction_is_logged_with_its_id_and_model_version(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.MODEL_PROMOTED, promoted(trained(store, labelled_rows(300)), 1))
    eventually_sync(lambda: serving(client, 1), what="v1 served")
    ids = [
        client.post("/v1/predict", json={"features": ROW}).json()["prediction_id"] for _ in range(5)
    ]
    ids += [
        p["prediction_id"]
        for p in client.post("/v1/predict/batch", json={"rows": [ROW] * 5}).json()["predictions"]
    ]

    def logged() -> list[str]:
        return logged_ids(streams_io.read(streams.PREDICTION_LOGGED))

    eventually_sync(lambda: len(logged()) == 10, what="10 logged predictions")
    assert sorted(logged()) == sorted(ids)
    assert {e.model_version for e in streams_io.read(streams.PREDICTION_LOGGED)} == {1}
