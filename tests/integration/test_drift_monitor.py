"""The drift monitor as a running service: it watches what the predictor serves, per dataset
and version, is quiet on stationary data and loud once on drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import ModelPromoted, TrainingCompleted, TrainingSkipped, streams
from driftloop_core import ContentStore
from driftloop_drift_monitor.bootstrap import GROUP
from fastapi.testclient import TestClient

from tests.support.data import labelled_rows, promoted, trained
from tests.support.predictions import labelled, prediction_log
from tests.support.streams import Streams

from .monitor_support import WINDOW, logged, metric, running, watch_of

IGNORED = "driftloop_monitor_ignored_rows_total"
LOGGED = streams.PREDICTION_LOGGED.name
LABELLED = streams.PREDICTION_LABELLED.name


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def client(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    with running(redis_url, namespace, store) as test_client:
        yield test_client


@pytest.fixture
def run(store: ContentStore) -> TrainingCompleted:
    return trained(store, labelled_rows(1000))


@pytest.fixture
def v1(streams_io: Streams, run: TrainingCompleted) -> ModelPromoted:
    """demo v1, promoted: in the registry's serving state and on the stream."""
    event = promoted(run)
    streams_io.publish(streams.MODEL_PROMOTED, event)
    return event


def test_a_promotion_alone_is_not_watched_until_the_predictor_serves_it(
    client: TestClient, streams_io: Streams, v1: ModelPromoted
) -> None:
    assert client.get("/v1/drift").json() == {"watching": False, "datasets": {}}
    assert client.get("/v1/drift/demo").status_code == 404


def test_stationary_predictions_raise_no_drift(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    for seed in range(5):  # five windows drawn like the training data
        event, _ = logged(store, run, WINDOW, "before", 100 + seed)
        streams_io.publish(streams.PREDICTION_LOGGED, event)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)

    watch = watch_of(client)
    assert watch is not None
    assert watch["windows"]["tested"] == 5
    assert watch["windows"]["last"]["data"], "windows were tested"
    assert watch["promotion_id"] == str(v1.event_id)
    assert watch["performance"]["baseline_accuracy"] == v1.metrics.accuracy
    assert streams_io.read(streams.DRIFT_DETECTED) == []


def test_shifted_features_raise_data_drift_once_with_per_feature_evidence(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
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
    watch = watch_of(client)
    assert watch is not None and "data" in watch["fired"]


def test_labelled_predictions_that_show_falling_accuracy_raise_performance_drift(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    event, _ = logged(store, run, 100, "before", 300)
    streams_io.publish(streams.PREDICTION_LOGGED, event)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    # The truth turns out to be the opposite of every prediction: accuracy 0.
    flip = {"no": "yes", "yes": "no"}
    labels = [flip[str(p)] for p in event.predictions]
    streams_io.publish(streams.PREDICTION_LABELLED, labelled(event, labels))

    (drift,) = streams_io.wait(streams.DRIFT_DETECTED)
    assert drift.kind == "performance"
    assert drift.evidence[0].current["accuracy"] == 0.0
    assert drift.evidence[0].reference["accuracy"] == v1.metrics.accuracy
    streams_io.wait_consumed(streams.PREDICTION_LABELLED, GROUP)
    watch = watch_of(client)
    assert watch is not None
    assert watch["performance"]["labels"] == 100
    assert watch["performance"]["live_accuracy"] == 0.0


def test_a_performance_drift_whose_retrain_was_skipped_because_the_champion_holds_is_re_armed(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    """Regression: after a false alarm the trainer rightly skipped, the kind stayed fired for
    v1 for good, and a real drift later went unseen."""
    flip = {"no": "yes", "yes": "no"}
    for seed, count in ((300, 1), (301, 2)):
        event, _ = logged(store, run, 100, "before", seed)
        streams_io.publish(streams.PREDICTION_LOGGED, event)
        streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
        wrong = [flip[str(p)] for p in event.predictions]
        streams_io.publish(streams.PREDICTION_LABELLED, labelled(event, wrong))
        drifts = streams_io.wait(streams.DRIFT_DETECTED, count)
        assert len(drifts) == count and drifts[-1].kind == "performance"
        skip = TrainingSkipped(
            producer="trainer",
            dataset="demo",
            trigger="drift",
            drift_id=drifts[-1].event_id,
            drift_kind="performance",
            shift="performance",
            model_version=1,
            reason="champion_holds",
            message="the champion holds (test)",
            post_onset_rows=100,
        )
        streams_io.publish(streams.TRAINING_SKIPPED, skip, skip)  # delivered twice: one re-arm
        streams_io.wait_consumed(streams.TRAINING_SKIPPED, GROUP)

    assert len({d.event_id for d in drifts}) == 2
    assert metric(client, "driftloop_monitor_rearmed_total", dataset="demo") == 2
    watch = watch_of(client)
    assert watch is not None and "performance" not in watch["fired"]
    assert watch["rearmed"] == 2


def test_labels_of_a_version_never_seen_serving_are_ignored(
    client: TestClient, streams_io: Streams, store: ContentStore, run: TrainingCompleted
) -> None:
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run))
    event, labels = logged(store, run, 100, "before", 301)
    before = metric(client, IGNORED, stream=LABELLED, reason="not_watched")

    streams_io.publish(streams.PREDICTION_LABELLED, labelled(event, labels))
    streams_io.wait_consumed(streams.PREDICTION_LABELLED, GROUP)

    assert client.get("/v1/drift").json()["watching"] is False
    assert metric(client, IGNORED, stream=LABELLED, reason="not_watched") == before + 100


def test_the_monitor_follows_the_version_the_logs_carry_not_the_newest_promotion(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    """v2 was promoted but the predictor refused to load it: every log still says v1."""
    refused = promoted(run, version=2, previous_version=1)
    streams_io.publish(streams.MODEL_PROMOTED, refused)
    for seed in range(2):
        event, _ = logged(store, run, WINDOW, "after", 400 + seed)
        streams_io.publish(streams.PREDICTION_LOGGED, event)

    drift = streams_io.wait(streams.DRIFT_DETECTED)[0]
    assert drift.model_version == 1
    status = client.get("/v1/drift/demo").json()
    assert status["serving_version"] == 1
    assert [w["model_version"] for w in status["versions"]] == [1]


def test_every_dataset_is_watched_at_once(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    streams_io.publish(streams.MODEL_PROMOTED, promoted(run, version=3, dataset="credit"))
    stationary, _ = logged(store, run, WINDOW, "before", 500)
    shifted, _ = logged(store, run, WINDOW, "after", 501, dataset="credit", version=3)
    streams_io.publish(streams.PREDICTION_LOGGED, stationary, shifted)

    drift = streams_io.wait(streams.DRIFT_DETECTED)[0]
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)
    assert (drift.dataset, drift.model_version) == ("credit", 3)
    status = client.get("/v1/drift").json()
    assert sorted(status["datasets"]) == ["credit", "demo"]
    assert status["datasets"]["credit"]["versions"][0]["fired"]
    assert status["datasets"]["demo"]["versions"][0]["fired"] == []


def test_a_version_without_a_promotion_and_canary_rows_are_not_watched(
    client: TestClient,
    streams_io: Streams,
    store: ContentStore,
    run: TrainingCompleted,
    v1: ModelPromoted,
) -> None:
    unknown, _ = logged(store, run, WINDOW, "after", 600, version=7)
    canary, _ = logged(store, run, WINDOW, "after", 601, role="canary")
    shadow = prediction_log("demo", 1, [{"income": 1.0}], role="shadow")
    unpromoted = {"dataset": "demo", "stream": LOGGED, "reason": "no_promotion"}
    roles = {"dataset": "demo", "stream": LOGGED, "reason": "role"}
    before = metric(client, IGNORED, **unpromoted), metric(client, IGNORED, **roles)

    streams_io.publish(streams.PREDICTION_LOGGED, unknown, canary, shadow)
    streams_io.wait_consumed(streams.PREDICTION_LOGGED, GROUP)

    assert client.get("/v1/drift").json()["watching"] is False
    assert streams_io.read(streams.DRIFT_DETECTED) == []
    after = metric(client, IGNORED, **unpromoted), metric(client, IGNORED, **roles)
    assert after == (before[0] + WINDOW, before[1] + WINDOW + 1)
