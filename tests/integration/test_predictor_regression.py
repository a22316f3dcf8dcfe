"""The predictor as a running service serving a regression model: numbers on every route
(single, batch, OIP v2) and prediction logs with numeric predictions and no scores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import TrainingRequested, streams, utcnow
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_predictor.bootstrap import build_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_sdk.scenario import HouseScenario
from driftloop_trainer.runs import completed_event
from driftloop_trainer.training import TrainingConfig, train
from fastapi.testclient import TestClient

from tests.support.data import promoted
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

SCHEMA = HouseScenario.schema
ROWS = HouseScenario(8).draw(3, "before").features


@pytest.fixture
def client(
    redis_url: str, namespace: str, tmp_path: Path, streams_io: Streams
) -> Iterator[TestClient]:
    store = ContentStore(str(tmp_path / "store"))
    start, drawn = utcnow(), HouseScenario(1).draw(300, "before")
    rows = [
        LabelledRow(f, y, start + timedelta(milliseconds=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]
    cause = TrainingRequested(producer="test", dataset="houses")
    run = completed_event(
        store, cause, "test", "initial", train(SCHEMA, rows, TrainingConfig()), ["v"], 42
    )
    settings = PredictorSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        log_flush_ms=20,
        dataset="houses",
    )
    with TestClient(build_app(settings)) as test_client:
        streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 1))
        eventually_sync(lambda: test_client.get("/v1/model").status_code == 200, what="v1 served")
        yield test_client


def test_a_regression_model_answers_numbers_on_every_route(
    client: TestClient, streams_io: Streams
) -> None:
    one = client.post("/v1/predict", json={"features": ROWS[0]}).json()
    assert isinstance(one["prediction"], float) and "probabilities" not in one
    batch = client.post("/v1/predict/batch", json={"rows": ROWS}).json()
    assert "classes" not in batch and len(batch["predictions"]) == 3
    assert all(isinstance(p["prediction"], float) for p in batch["predictions"])
    inputs = [
        {
            "name": n,
            "shape": [3],
            "datatype": "BYTES" if n == "district" else "FP64",
            "data": [r[n] for r in ROWS],
        }
        for n in SCHEMA.feature_names
    ]
    answer = client.post("/v2/models/houses/infer", json={"inputs": inputs}).json()
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert set(outputs) == {"predict", "prediction_id"}
    assert outputs["predict"]["datatype"] == "FP64"
    assert outputs["predict"]["data"] == pytest.approx(
        [p["prediction"] for p in batch["predictions"]]
    )

    logged = eventually_sync(
        lambda: (e := streams_io.read(streams.PREDICTION_LOGGED)) and sum(map(len, e)) >= 7 and e,
        what="7 logged predictions",
    )
    assert all(e.scores is None for e in logged)
    assert all(isinstance(p, float) for e in logged for p in e.predictions)
