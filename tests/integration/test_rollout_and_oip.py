"""Canary and shadow rollouts from the registry to the predictor; the Open Inference Protocol."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import streams, utcnow
from driftloop_core import ContentStore
from driftloop_predictor.bootstrap import build_app as build_predictor
from driftloop_predictor.settings import PredictorSettings
from driftloop_registry.bootstrap import build_app as build_registry
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.scenario import CreditScenario
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, trained
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

TOKEN = "rollout-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ROWS = CreditScenario(2).draw(40, "before").features


@pytest.fixture
def stack(
    redis_url: str, namespace: str, tmp_path: Path, streams_io: Streams
) -> Iterator[tuple[TestClient, TestClient]]:
    store = ContentStore(str(tmp_path / "store"))
    common = {"redis_url": redis_url, "namespace": namespace, "store_url": store.url}
    registry = RegistrySettings(
        **common, db_path=tmp_path / "r.sqlite3", admin_token=TOKEN, min_improvement=0.5
    )
    predictor = PredictorSettings(**common, dataset="demo", log_flush_ms=20)
    with TestClient(build_registry(registry)) as r, TestClient(build_predictor(predictor)) as p:
        streams_io.publish(streams.TRAINING_COMPLETED, trained(store, labelled_rows(400)))
        eventually_sync(lambda: _serving(p) == 1, what="v1 served")
        start = utcnow()
        later = labelled_rows(300, "after", start=start + timedelta(hours=1), seed=7)
        streams_io.publish(streams.TRAINING_COMPLETED, trained(store, later))
        streams_io.wait(streams.MODEL_REJECTED)  # v2 exists, but the gate keeps it out
        yield r, p


def _serving(client: TestClient) -> int:
    answer = client.get("/v1/model")
    return int(answer.json()["model_version"]) if answer.status_code == 200 else 0


def _rollout(client: TestClient) -> dict[str, object] | None:
    return client.get("/v1/model").json()["rollout"]  # type: ignore[no-any-return]


def versions_for(client: TestClient, keys: list[str]) -> dict[str, int]:
    return {
        key: client.post(
            "/v1/predict", json={"features": ROWS[0]}, headers={"X-Request-Key": key}
        ).json()["model_version"]
        for key in keys
    }


def test_a_canary_answers_its_share_sticky_per_key_then_is_promoted_to_all(
    stack: tuple[TestClient, TestClient], streams_io: Streams
) -> None:
    registry, predictor = stack
    assert registry.post("/v1/models/demo/2/canary", json={"share": 0.5}).status_code == 401
    started = registry.post("/v1/models/demo/2/canary", json={"share": 0.5}, headers=ADMIN)
    assert started.status_code == 200, started.text
    assert started.json()["stage"] == "canary"
    eventually_sync(lambda: _rollout(predictor) is not None, what="canary loaded")

    keys = [f"user-{i}" for i in range(60)]
    first = versions_for(predictor, keys)
    assert set(first.values()) == {1, 2}  # both models answer
    assert versions_for(predictor, keys) == first  # the same key, the same model
    assert registry.get("/v1/models/demo/rollout").json()["model_version"] == 2

    promoted = registry.post("/v1/models/demo/rollout/promote", headers=ADMIN)
    assert promoted.json()["promoted_version"] == 2
    eventually_sync(
        lambda: _serving(predictor) == 2 and _rollout(predictor) is None, what="v2 served to all"
    )
    assert set(versions_for(predictor, keys[:10]).values()) == {2}
    events = streams_io.read(streams.MODEL_ROLLOUT)
    assert [(e.stage, e.outcome) for e in events] == [("canary", "started"), ("ended", "promoted")]
    assert registry.get("/v1/models/demo/champion").json()["version"] == 2


def test_a_shadow_is_logged_under_the_same_ids_and_never_answers(
    stack: tuple[TestClient, TestClient], streams_io: Streams
) -> None:
    registry, predictor = stack
    assert registry.post("/v1/models/demo/2/shadow", headers=ADMIN).status_code == 200
    eventually_sync(lambda: _rollout(predictor) is not None, what="shadow loaded")
    answer = predictor.post("/v1/predict/batch", json={"rows": ROWS[:5]}).json()
    assert answer["model_version"] == 1
    ids = {p["prediction_id"] for p in answer["predictions"]}

    def roles() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for event in streams_io.read(streams.PREDICTION_LOGGED):
            seen.setdefault(event.role, set()).update(str(i) for i in event.prediction_ids)
        return seen

    eventually_sync(lambda: ids <= roles().get("shadow", set()), what="shadow predictions logged")
    assert ids <= roles()["primary"]
    aborted = registry.post("/v1/models/demo/rollout/abort", headers=ADMIN).json()
    assert aborted["outcome"] == "aborted"
    eventually_sync(lambda: _rollout(predictor) is None, what="shadow dropped")
    assert registry.post("/v1/models/demo/rollout/abort", headers=ADMIN).status_code == 404
    assert (
        registry.post("/v1/models/demo/1/canary", json={"share": 0.2}, headers=ADMIN).status_code
        == 409
    )


def test_open_inference_protocol_clients_get_predictions_and_metadata(
    stack: tuple[TestClient, TestClient],
) -> None:
    _, predictor = stack
    assert predictor.get("/v2/health/ready").json() == {"ready": True}
    meta = predictor.get("/v2/models/demo").json()
    assert meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]][:2] == ["income", "debt_ratio"]
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba", "prediction_id"}
    names = [i["name"] for i in meta["inputs"]]
    inputs = [
        {"name": n, "shape": [3], "datatype": i["datatype"], "data": [row[n] for row in ROWS[:3]]}
        for n, i in zip(names, meta["inputs"], strict=True)
    ]
    answer = predictor.post("/v2/models/demo/infer", json={"id": "r1", "inputs": inputs})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "r1" and body["model_version"] == "1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"]["shape"] == [3]
    assert outputs["predict_proba"]["shape"] == [3, 2]
    assert len(outputs["prediction_id"]["data"]) == 3
    missing = predictor.post("/v2/models/demo/infer", json={"inputs": inputs[1:]})
    assert missing.status_code == 400 and "missing ['income']" in missing.json()["error"]
    assert predictor.get("/v2/models/other").status_code == 404
    assert predictor.get("/v2/models/demo/versions/9/ready").status_code == 404
