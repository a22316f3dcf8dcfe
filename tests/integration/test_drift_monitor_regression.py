"""The drift monitor as a running service watching a regression model: real predicted numbers
logged, labels of a changed relation joined, performance drift told in errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import (
    PredictionsLabelled,
    PredictionsLogged,
    TrainingRequested,
    streams,
    utcnow,
)
from driftloop_contracts.columnar import epoch_ms
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_drift_monitor.bootstrap import GROUP
from driftloop_ml import feature_matrix, load_artifact
from driftloop_sdk.scenario import HouseScenario
from driftloop_trainer.runs import completed_event
from driftloop_trainer.training import TrainingConfig, train
from fastapi.testclient import TestClient

from tests.support.data import promoted
from tests.support.streams import Streams

from .monitor_support import metric, running, watch_of

SCHEMA = HouseScenario.schema


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def client(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    with running(redis_url, namespace, store) as test_client:
        yield test_client


def test_errors_of_a_changed_relation_raise_performance_drift_told_in_errors(
    client: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    start = utcnow()
    drawn = HouseScenario(1).draw(600, "before")
    rows = [
        LabelledRow(f, y, start + timedelta(milliseconds=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]
    model = train(SCHEMA, rows, TrainingConfig())
    cause = TrainingRequested(producer="test", dataset="houses")
    run = completed_event(store, cause, "test", "initial", model, ["v-test"], 42)
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run))

    live = HouseScenario(2).draw(300, "after")
    pipeline = load_artifact(store.get(run.artifact)).pipeline
    predicted = tuple(pipeline.predict(feature_matrix(SCHEMA, live.features)).tolist())
    ids = tuple(uuid.uuid4() for _ in predicted)
    at = tuple(epoch_ms() + i for i in range(len(ids)))
    logged = PredictionsLogged(
        producer="test",
        dataset="houses",
        model_version=1,
        prediction_ids=ids,
        features={n: tuple(f[n] for f in live.features) for n in SCHEMA.feature_names},
        predictions=predicted,
        predicted_at_ms=at,
    )
    streams_io.publish(streams.PREDICTION_LOGGED, logged)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    labelled = PredictionsLabelled(
        producer="test",
        dataset="houses",
        model_version=1,
        prediction_ids=ids,
        predictions=predicted,
        labels=tuple(float(y) for y in live.labels),
        predicted_at_ms=at,
        labelled_at_ms=at,
    )
    streams_io.publish(streams.PREDICTION_LABELLED, labelled)

    drifts = streams_io.wait(streams.DRIFT_DETECTED)
    (performance,) = [d for d in drifts if d.kind == "performance"]
    (evidence,) = performance.evidence
    assert evidence.feature == "absolute_error"
    assert evidence.current["mae"] > 3 * evidence.reference["mae"]
    streams_io.wait_consumed(streams.PREDICTION_LABELLED, GROUP)
    watch = watch_of(client, "houses")
    assert watch is not None and watch["performance"]["live_mae"] > 3 * model.metrics.mae
    assert metric(client, "driftloop_live_mae", dataset="houses") == pytest.approx(
        watch["performance"]["live_mae"]
    )
