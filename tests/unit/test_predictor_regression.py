"""The predictor serving a regression model: numbers without probabilities on every route,
logged as numbers with no scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from driftloop_contracts import Metrics, ModelPromoted, PredictionsLogged
from driftloop_core import ContentStore
from driftloop_ml import ModelArtifact, dump_artifact, feature_matrix
from driftloop_predictor.batcher import MicroBatcher
from driftloop_predictor.logbuffer import PredictionLog
from driftloop_predictor.model import LoadedModel, ModelHolder, load_model
from driftloop_predictor.oip import infer, metadata_of
from driftloop_predictor.service import Predictor
from driftloop_sdk.scenario import HouseScenario
from driftloop_trainer.training import build_pipeline
from sklearn.linear_model import Ridge
from starlette.requests import Request

from tests.unit.test_predictor import FakePublish

SCHEMA = HouseScenario.schema
ROWS = HouseScenario(11).draw(200, "before")


@pytest.fixture(scope="module")
def pipeline() -> Any:
    x = feature_matrix(SCHEMA, ROWS.features)
    return build_pipeline(SCHEMA, Ridge()).fit(x, [float(y) for y in ROWS.labels])


@pytest.fixture
def model(tmp_path: Path, pipeline: Any) -> LoadedModel:
    store = ContentStore(str(tmp_path))
    data = dump_artifact(ModelArtifact(pipeline, SCHEMA, (), {}))
    event = ModelPromoted(
        producer="test",
        dataset=SCHEMA.name,
        model_version=1,
        previous_version=None,
        reason="gate",
        artifact=store.put(data, kind="models/houses", suffix=".pkl"),
        profile=store.put(b"{}", kind="profiles/houses", suffix=".json"),
        metrics=Metrics(accuracy=0, f1_macro=0, rows=40, mae=9.0, rmse=11.0, r2=0.95),
        dataset_schema=SCHEMA,
    )
    return load_model(store, event, offload="never")


@pytest.fixture
def served(model: LoadedModel) -> Iterator[tuple[Predictor, FakePublish, PredictionLog]]:
    holder = ModelHolder()
    holder.swap(model)
    publish = FakePublish()
    log = PredictionLog(publish, batch_size=1000, flush_ms=10, max_buffer=10_000)
    batcher = MicroBatcher()
    yield Predictor(holder, log, batcher), publish, log
    batcher.close()


def test_a_regression_model_loads_with_no_classes(model: LoadedModel) -> None:
    assert model.regression
    assert model.class_names == []


async def test_a_row_is_answered_with_a_number_and_no_probabilities(
    served: tuple[Predictor, FakePublish, PredictionLog], pipeline: Any
) -> None:
    predictor, _, _ = served

    result = await predictor.predict([ROWS.features[0]])

    answer = orjson.loads(result.single_json())
    expected = float(pipeline.predict(feature_matrix(SCHEMA, ROWS.features[:1]))[0])
    assert answer["prediction"] == pytest.approx(expected)
    assert set(answer) == {"prediction_id", "prediction", "model_version"}


async def test_a_batch_is_answered_with_numbers_and_no_classes(
    served: tuple[Predictor, FakePublish, PredictionLog],
) -> None:
    predictor, _, _ = served

    answer = orjson.loads((await predictor.predict(ROWS.features[:3])).batch_json())

    assert set(answer) == {"model_version", "predictions"}
    assert [set(item) for item in answer["predictions"]] == [{"prediction_id", "prediction"}] * 3
    assert all(isinstance(item["prediction"], float) for item in answer["predictions"])


async def test_regression_predictions_are_logged_as_numbers_without_scores(
    served: tuple[Predictor, FakePublish, PredictionLog],
) -> None:
    predictor, publish, log = served

    result = await predictor.predict(ROWS.features[:4])
    await log.flush()

    (body,) = publish.calls[0]
    event = PredictionsLogged.model_validate_json(body)
    assert event.scores is None
    assert list(event.predictions) == pytest.approx(result.labels)
    assert all(isinstance(p, float) for p in event.predictions)


async def test_oip_answers_a_regression_model_with_an_fp64_predict_tensor(
    served: tuple[Predictor, FakePublish, PredictionLog],
) -> None:
    predictor, _, _ = served
    rows = ROWS.features[:2]
    inputs = [
        {"name": n, "shape": [2], "datatype": "FP64", "data": [r[n] for r in rows]}
        if isinstance(rows[0][n], float)
        else {"name": n, "shape": [2], "datatype": "BYTES", "data": [r[n] for r in rows]}
        for n in SCHEMA.feature_names
    ]

    response = await infer(request_of({"inputs": inputs}), predictor, 100, "houses")

    outputs = {o["name"]: o for o in orjson.loads(response.body)["outputs"]}
    assert set(outputs) == {"predict", "prediction_id"}
    assert outputs["predict"]["datatype"] == "FP64" and outputs["predict"]["shape"] == [2]
    assert np.all(np.isfinite(outputs["predict"]["data"]))


def request_of(body: dict[str, Any]) -> Request:
    """An HTTP request carrying `body` as JSON with no Content-Type, as tritonclient sends."""
    raw = orjson.dumps(body)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


def test_oip_metadata_of_a_regression_model_has_no_predict_proba(model: LoadedModel) -> None:
    outputs = {o.name: o.datatype for o in metadata_of("houses", model).outputs}

    assert outputs == {"predict": "FP64", "prediction_id": "BYTES"}
