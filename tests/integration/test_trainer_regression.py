"""The trainer as a running service with a regression dataset: a first model with MAE, RMSE
and R2, an artifact without classes, a profile of predicted values and holdout errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import DataIngested, ReferenceProfile, streams, utcnow
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore
from driftloop_ingest.service import write_version
from driftloop_ml import load_artifact
from driftloop_sdk.scenario import HouseScenario
from driftloop_trainer.bootstrap import build_app
from driftloop_trainer.settings import TrainerSettings
from fastapi.testclient import TestClient

from tests.support.streams import Streams

SCHEMA = HouseScenario.schema


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def trainer(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    settings = TrainerSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, min_initial_rows=300
    )
    with TestClient(build_app(settings)) as client:
        yield client


def ingested(store: ContentStore, n: int) -> DataIngested:
    start, drawn = utcnow(), HouseScenario(3).draw(n, "before")
    rows = [
        LabelledRow(f, repr(float(y)), start + timedelta(milliseconds=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]
    version = write_version(store, SCHEMA, rows)
    return DataIngested(
        producer="test",
        dataset="houses",
        version=version.version,
        blob=version.blob,
        rows=version.rows,
        source="records",
        observed_from=version.observed_from,  # type: ignore[arg-type]
        observed_to=version.observed_to,
        dataset_schema=SCHEMA,
    )


def test_a_regression_dataset_trains_a_regressor_reported_with_mae_rmse_and_r2(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.DATA_INGESTED, ingested(store, 400))

    (done,) = streams_io.wait(streams.TRAINING_COMPLETED)

    metrics = done.metrics
    assert metrics.mae is not None and metrics.rmse is not None and metrics.r2 is not None
    assert metrics.r2 > 0.9 and metrics.rows == 80
    assert load_artifact(store.get(done.artifact)).classes == ()
    profile = ReferenceProfile.model_validate_json(store.get(done.profile))
    assert profile.predicted_values is not None and profile.predictions == {}
    assert profile.holdout_errors is not None and len(profile.holdout_errors) == 80
