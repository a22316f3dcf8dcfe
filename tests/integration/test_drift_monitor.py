"""The drift monitor as a running service: quiet on stationary data, loud once on drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import (
    FeedbackReceived,
    Label,
    ModelPromoted,
    PredictionsLogged,
    TrainingCompleted,
    streams,
)
from driftloop_core import ContentStore
from driftloop_drift_monitor.bootstrap import GROUP, build_app
from driftloop_drift_monitor.settings import MonitorSettings
from driftloop_ml import feature_matrix, load_artifact
from driftloop_sdk.scenario import CreditScenario, Phase
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, trained
from tests.support.predictions import prediction_log
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

WINDOW = 200


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def client(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    settings = MonitorSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        dataset="demo",
        window_size=WINDOW,
        consecutive_windows=2,
        min_labels=50,
        label_window=100,
    )
    with TestClient(build_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def run(store: ContentStore) -> TrainingCompleted:
    return trained(store, labelled_rows(1000))


@pytest.fixture
def promoted(client: TestClient, streams_io: Streams, run: TrainingCompleted) -> ModelPromoted:
    event = ModelPromoted(
        producer="test",
        dataset="demo",
        model_version=1,
        previous_version=None,
        reason="gate",
        artifact=run.artifact,
        profile=run.profile,
        metrics=run.metrics,
        dataset_schema=run.dataset_schema,
    )
    streams_io.publish(streams.MODEL_PROMOTED, event)
    eventually_sync(lambda: client.get("/v1/drift").json()["watching"], what="monitor watching")
    return event


def logged(
    store: ContentStore, run: TrainingCompleted, n: int, phase: Phase, seed: int
) -> tuple[PredictionsLogged, list[str]]:
    """Predictions the trained model really makes on rows drawn from `phase`."""
    drawn = CreditScenario(seed).draw(n, phase)
    pipeline = load_artifact(store.get(run.artifact)).pipeline
    predicted = pipeline.predict(feature_matrix(run.dataset_schema, drawn.features))
    event = prediction_log("demo", 1, drawn.features, [str(p) for p in predicted])
    return event, drawn.labels


def test_stationary_predictions_raise_no_drift(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    promoted: ModelPromoted,
) -> None:
    for seed in range(5):  # five windows drawn like the training data
        event, _ = logged(store, run, WINDOW, "before", 100 + seed)
        streams_io.publish(streams.PREDICTION_LOGGED, event)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    status = client.get("/v1/drift").json()
    assert status["last_window"]["data"], "windows were tested"
    assert streams_io.read(streams.DRIFT_DETECTED) == []


def test_shifted_features_raise_data_drift_once_with_per_feature_evidence(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    promoted: ModelPromoted,
) -> None:
    for seed in range(4):
        event, _ = logged(store, run, WINDOW, "after", 200 + seed)
        streams_io.publish(streams.PREDICTION_LOGGED, event)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    events = [e for e in streams_io.read(streams.DRIFT_DETECTED) if e.kind == "data"]
    assert len(events) == 1, "once per promotion and kind"
    drift = events[0]
    assert drift.model_version == 1
    assert drift.window.rows >= 0.9 * WINDOW  # strong evidence at once; all of it drifted
    by_feature = {e.feature: e for e in drift.evidence}
    assert by_feature["income"].drifted and by_feature["income"].test == "ks"
    assert by_feature["income"].p_value is not None
    assert by_feature["income"].p_value < by_feature["income"].threshold
    assert by_feature["region"].test == "chi2" and by_feature["region"].drifted
    assert not by_feature["age"].drifted
    assert "mean" in by_feature["income"].current
    assert by_feature["income"].effect_name == "wasserstein_normed"
    assert by_feature["income"].effect is not None and by_feature["income"].effect > 0.5
    assert drift.report_url is not None and drift.report_url.endswith(
        f"/v1/reports/{drift.event_id}"
    )
    report = client.get(f"/v1/reports/{drift.event_id}")
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    assert "<svg" in report.text and "income" in report.text
    assert client.get("/v1/reports/00000000-0000-0000-0000-000000000000").status_code == 404


def test_late_labels_that_show_falling_accuracy_raise_performance_drift(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    promoted: ModelPromoted,
) -> None:
    event, _ = logged(store, run, 100, "before", 300)
    streams_io.publish(streams.PREDICTION_LOGGED, event)
    # The truth turns out to be the opposite of every prediction: accuracy 0.
    flip = {"no": "yes", "yes": "no"}
    labels = [
        Label(prediction_id=i, label=flip[str(p)])
        for i, p in zip(event.prediction_ids, event.predictions, strict=True)
    ]
    streams_io.publish(streams.FEEDBACK_RECEIVED, FeedbackReceived(producer="test", labels=labels))
    (drift,) = streams_io.wait(streams.DRIFT_DETECTED)
    assert drift.kind == "performance"
    assert drift.evidence[0].current["accuracy"] == 0.0
    assert drift.evidence[0].reference["accuracy"] == promoted.metrics.accuracy
    assert client.get("/v1/drift").json()["performance"]["labels"] == 100
