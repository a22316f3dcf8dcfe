"""The predictor as a running service: hot swap on promotion, validation, prediction logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import BlobRef, streams
from driftloop_core import ContentStore
from driftloop_predictor.bootstrap import build_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_sdk.scenario import CreditScenario
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, promoted, trained
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
    forged = BlobRef(key=good.artifact.key, sha256="f" * 64, size=good.artifact.size)
    streams_io.publish(
        streams.MODEL_PROMOTED, promoted(good, 2, artifact=forged), promoted(good, 3)
    )
    eventually_sync(lambda: serving(client, 3), what="v3 served")
    metrics = client.get("/metrics").text
    assert "driftloop_predictor_model_load_failures_total 1.0" in metrics


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
