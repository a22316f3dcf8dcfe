"""One predictor serves every dataset's champion: per-dataset routes and OIP models, a
promotion of one dataset leaves the others alone, ended rollouts unload, a memory bound
unloads the least recently used, and a restart serves every champion at once."""

from __future__ import annotations

from typing import Any

import pytest
from driftloop_contracts import PredictionsLogged, TrainingCompleted, streams
from driftloop_core import ContentStore
from driftloop_predictor.bootstrap import build_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_sdk.scenario import CreditScenario
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, promoted, rollout, trained
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

ROWS = CreditScenario(3).draw(3, "before").features
DATASETS = ("demo", "loans", "churn")
Runs = dict[str, TrainingCompleted]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ContentStore:
    """Content-addressed, so every test of the module can share it and its two models."""
    return ContentStore(str(tmp_path_factory.mktemp("store")))


@pytest.fixture(scope="module")
def runs(store: ContentStore) -> Runs:
    return {
        "before": trained(store, labelled_rows(300)),
        "after": trained(store, labelled_rows(300, "after", seed=9)),
    }


def predictor(redis_url: str, namespace: str, store: ContentStore, **settings: Any) -> TestClient:
    return TestClient(
        build_app(
            PredictorSettings(
                redis_url=redis_url,
                namespace=namespace,
                store_url=store.url,
                log_flush_ms=20,
                **settings,
            )
        )
    )


def serving(client: TestClient, dataset: str) -> int:
    answer = client.get(f"/v1/models/{dataset}")
    return int(answer.json()["model_version"]) if answer.status_code == 200 else 0


def predict(client: TestClient, dataset: str, **headers: str) -> dict[str, Any]:
    answer = client.post(
        f"/v1/models/{dataset}/predict", json={"features": ROWS[0]}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def test_every_dataset_answers_on_its_own_routes_and_promoting_one_leaves_the_others(
    redis_url: str,
    namespace: str,
    streams_io: Streams,
    store: ContentStore,
    runs: dict[str, TrainingCompleted],
) -> None:
    before, after = runs["before"], runs["after"]
    with predictor(redis_url, namespace, store) as client:
        streams_io.publish(streams.MODEL_PROMOTED, promoted(before, 1))
        eventually_sync(lambda: serving(client, "demo") == 1, what="demo v1")
        only = client.post("/v1/predict", json={"features": ROWS[0]})
        assert only.json()["model_version"] == 1  # one dataset: the default routes answer it
        answer_a = predict(client, "demo")

        streams_io.publish(streams.MODEL_PROMOTED, promoted(after, 7, dataset="loans"))
        eventually_sync(lambda: serving(client, "loans") == 7, what="loans v7")
        assert predict(client, "demo")["probabilities"] == answer_a["probabilities"]
        assert predict(client, "loans")["model_version"] == 7
        batch = client.post("/v1/models/loans/predict/batch", json={"rows": ROWS})
        assert batch.json()["model_version"] == 7 and len(batch.json()["predictions"]) == 3

        ambiguous = client.post("/v1/predict", json={"features": ROWS[0]})
        assert ambiguous.status_code == 404
        assert "/v1/models/{dataset}/predict" in ambiguous.json()["message"]
        assert "demo, loans" in ambiguous.json()["message"]
        unknown = client.post("/v1/models/nope/predict", json={"features": ROWS[0]})
        assert unknown.status_code == 404 and "serving: demo, loans" in unknown.json()["message"]

        listed = client.get("/v1/models").json()
        assert listed["default"] is None
        assert [(d["dataset"], d["model_version"], d["loaded"]) for d in listed["datasets"]] == [
            ("demo", 1, True),
            ("loans", 7, True),
        ]
        meta = client.get("/v2/models/loans").json()
        assert meta["name"] == "loans" and meta["versions"] == ["7"]
        assert client.get("/v2/models/loans/versions/7/ready").json()["ready"] is True
        assert client.get("/v2/models/nope").status_code == 404

        logged = streams_io.wait(streams.PREDICTION_LOGGED, 2)
        assert {(e.dataset, e.model_version) for e in logged} >= {("demo", 1), ("loans", 7)}


def test_an_ended_rollout_unloads_its_candidate_and_a_canary_is_per_dataset(
    redis_url: str,
    namespace: str,
    streams_io: Streams,
    store: ContentStore,
    runs: dict[str, TrainingCompleted],
) -> None:
    before, after = runs["before"], runs["after"]
    with predictor(redis_url, namespace, store) as client:
        streams_io.publish(
            streams.MODEL_PROMOTED,
            promoted(before, 1),
            promoted(before, 1, dataset="loans"),
        )
        eventually_sync(lambda: serving(client, "loans") == 1, what="loans v1")
        streams_io.publish(streams.MODEL_ROLLOUT, rollout(after, 2, dataset="loans", share=1.0))
        eventually_sync(
            lambda: metric(client, "driftloop_predictor_models_loaded") == 3,
            what="the canary loaded",
        )
        assert predict(client, "loans", **{"X-Request-Key": "k"})["model_version"] == 2
        assert predict(client, "demo", **{"X-Request-Key": "k"})["model_version"] == 1

        ended = rollout(after, 2, dataset="loans", stage="ended", outcome="aborted", share=0.0)
        streams_io.publish(streams.MODEL_ROLLOUT, ended)
        eventually_sync(
            lambda: metric(client, "driftloop_predictor_models_loaded") == 2,
            what="the candidate unloaded",
        )
        assert client.get("/v1/models/loans").json()["rollout"] is None
        assert predict(client, "loans", **{"X-Request-Key": "k"})["model_version"] == 1

        streams_io.publish(streams.MODEL_PROMOTED, promoted(after, 3, dataset="loans"))
        eventually_sync(lambda: serving(client, "loans") == 3, what="loans v3")
        assert metric(client, "driftloop_predictor_models_loaded") == 2  # v1 of loans dropped


def test_past_the_model_bound_every_dataset_still_answers_loading_again_on_demand(
    redis_url: str,
    namespace: str,
    streams_io: Streams,
    store: ContentStore,
    runs: dict[str, TrainingCompleted],
) -> None:
    before = runs["before"]
    streams_io.publish(
        streams.MODEL_PROMOTED, *(promoted(before, 1, dataset=name) for name in DATASETS)
    )
    with predictor(redis_url, namespace, store, max_models=2) as client:
        assert metric(client, "driftloop_predictor_models_loaded") == 2
        assert [d["loaded"] for d in client.get("/v1/models").json()["datasets"]].count(True) == 2
        for name in DATASETS:
            assert predict(client, name)["model_version"] == 1
        assert metric(client, "driftloop_predictor_models_loaded") == 2


def test_a_restarted_predictor_serves_every_datasets_champion_at_once(
    redis_url: str,
    namespace: str,
    streams_io: Streams,
    store: ContentStore,
    runs: dict[str, TrainingCompleted],
) -> None:
    before, after = runs["before"], runs["after"]
    with predictor(redis_url, namespace, store) as client:
        streams_io.publish(
            streams.MODEL_PROMOTED,
            promoted(before, 1),
            promoted(before, 1, dataset="loans"),
            promoted(before, 1, dataset="churn"),
        )
        eventually_sync(lambda: serving(client, "churn") == 1, what="churn v1")
        streams_io.publish(
            streams.MODEL_PROMOTED,
            promoted(after, 2, dataset="loans"),
            promoted(after, 5, dataset="churn"),
        )
        eventually_sync(lambda: serving(client, "churn") == 5, what="churn v5")

    with predictor(redis_url, namespace, store, dataset="loans") as client:
        # loaded during start-up, before the first request
        assert {name: predict(client, name)["model_version"] for name in DATASETS} == {
            "demo": 1,
            "loans": 2,
            "churn": 5,
        }
        assert (
            client.post("/v1/predict", json={"features": ROWS[0]}).json()["model_version"] == 2
        )  # DRIFTLOOP_DATASET chooses the default among many
        assert client.get("/readyz").json()["datasets"] == ["churn", "demo", "loans"]


def test_prediction_logs_carry_each_rows_dataset(
    redis_url: str,
    namespace: str,
    streams_io: Streams,
    store: ContentStore,
    runs: dict[str, TrainingCompleted],
) -> None:
    before = runs["before"]
    streams_io.publish(
        streams.MODEL_PROMOTED, *(promoted(before, 1, dataset=name) for name in DATASETS)
    )
    with predictor(redis_url, namespace, store) as client:
        for name in DATASETS:
            client.post(f"/v1/models/{name}/predict/batch", json={"rows": ROWS})
        events: list[PredictionsLogged] = []

        def all_logged() -> bool:
            events[:] = streams_io.read(streams.PREDICTION_LOGGED)
            return sum(len(e.prediction_ids) for e in events) == 3 * len(DATASETS)

        eventually_sync(all_logged, what="every prediction logged")
    counts = {
        name: sum(len(e.prediction_ids) for e in events if e.dataset == name) for name in DATASETS
    }
    assert counts == dict.fromkeys(DATASETS, 3)
