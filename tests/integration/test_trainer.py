"""The trainer as a running service: when it trains, on which rows, and what it reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from driftloop_contracts import (
    DriftDetected,
    FeatureDrift,
    ModelRejected,
    TrainingCompleted,
    TrainingRequested,
    WindowRef,
    derived_id,
    streams,
    utcnow,
)
from driftloop_contracts.datasets import loads
from driftloop_core import ContentStore
from driftloop_ml import load_artifact
from driftloop_trainer.bootstrap import GROUP, build_app
from driftloop_trainer.settings import TrainerSettings
from fastapi.testclient import TestClient

from tests.support.data import ingested, labelled_rows, promoted
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

COMPLETED = streams.TRAINING_COMPLETED


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def trainer(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=300,
        min_post_drift_rows=200,
        reclaim_idle_ms=5000,
        retry_budget_factor=1.0,  # a rejected first model waits for more rows
    )
    with TestClient(build_app(settings)) as client:
        yield client


@pytest.fixture
def widening(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=300,
        model_family="logistic",
        retry_budget_factor=4.0,
    )
    with TestClient(build_app(settings)) as client:
        yield client


def drift_at(start: object, version: int = 1, kind: str = "data") -> DriftDetected:
    evidence = FeatureDrift(
        feature="income",
        test="ks",
        statistic=0.4,
        p_value=1e-9,
        threshold=0.001,
        drifted=True,
        reference={},
        current={},
    )
    return DriftDetected(
        producer="test",
        dataset="demo",
        model_version=version,
        kind=kind,  # type: ignore[arg-type]
        window=WindowRef(start=start, end=start, rows=500),
        evidence=[evidence],  # type: ignore[arg-type]
    )


def test_the_first_model_is_trained_once_enough_rows_exist(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    first = ingested(store, labelled_rows(200))
    streams_io.publish(streams.DATA_INGESTED, first)
    streams_io.wait_consumed(streams.DATA_INGESTED, GROUP)
    assert streams_io.read(streams.TRAINING_COMPLETED) == []  # 200 < 300 rows
    second = ingested(store, labelled_rows(200, seed=4))
    streams_io.publish(streams.DATA_INGESTED, second)
    (done,) = streams_io.wait(streams.TRAINING_COMPLETED)
    assert done.trigger == "initial"
    assert set(done.dataset_versions) == {first.version, second.version}
    assert done.training_rows + done.metrics.rows == 400
    assert done.metrics.accuracy > 0.7
    assert done.causation_id == second.event_id
    artifact = load_artifact(store.get(done.artifact))
    assert artifact.classes == ("no", "yes")
    assert len(loads(store.get(done.holdout))) == done.metrics.rows
    # More data does not retrain without a reason.
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(100, seed=5)))
    streams_io.wait_consumed(streams.DATA_INGESTED, GROUP)
    assert len(streams_io.read(streams.TRAINING_COMPLETED)) == 1


def test_data_with_one_class_only_fails_training_with_the_reason(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400, label="no")))
    (failed,) = streams_io.wait(streams.TRAINING_FAILED)
    assert "one class only" in failed.reason
    assert failed.trigger == "initial"


def test_a_drift_retrains_on_post_drift_rows_once_enough_exist_and_keeps_the_chain(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    start = utcnow() - timedelta(hours=1)
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400, start=start)))
    streams_io.wait(streams.TRAINING_COMPLETED)
    onset = start + timedelta(minutes=30)
    drift = drift_at(onset, kind="performance")  # a concept drift: post-onset rows only
    streams_io.publish(streams.DRIFT_DETECTED, drift)
    streams_io.wait_consumed(streams.DRIFT_DETECTED, GROUP, timeout=60)
    streams_io.publish(
        streams.DATA_INGESTED,
        ingested(store, labelled_rows(150, "after", start=onset, seed=8), "feedback"),
    )
    streams_io.wait_consumed(streams.DATA_INGESTED, GROUP)
    assert len(streams_io.read(streams.TRAINING_COMPLETED)) == 1  # 150 < 200 post-drift rows
    streams_io.publish(
        streams.DATA_INGESTED,
        ingested(
            store,
            labelled_rows(150, "after", start=onset + timedelta(minutes=1), seed=9),
            "feedback",
        ),
    )
    retrained = streams_io.wait(streams.TRAINING_COMPLETED, 2)[1]
    assert retrained.trigger == "drift"
    assert retrained.correlation_id == drift.event_id
    assert retrained.causation_id == drift.event_id
    assert retrained.training_rows + retrained.metrics.rows == 300  # only rows after the onset
    # Another kind of drift on the same model version does not start another retrain...
    late = drift_at(onset).model_copy(update={"kind": "prediction", "event_id": uuid.uuid4()})
    streams_io.publish(streams.DRIFT_DETECTED, late)
    streams_io.wait_consumed(streams.DRIFT_DETECTED, GROUP, timeout=60)
    streams_io.publish(
        streams.DATA_INGESTED,
        ingested(store, labelled_rows(100, "after", start=onset, seed=10), "feedback"),
    )
    streams_io.wait_consumed(streams.DATA_INGESTED, GROUP)
    assert len(streams_io.read(streams.TRAINING_COMPLETED)) == 2
    # ...but once the post-drift rows have doubled, a follow-up retrain uses them all.
    streams_io.publish(
        streams.DATA_INGESTED,
        ingested(store, labelled_rows(200, "after", start=onset, seed=11), "feedback"),
    )
    followup = streams_io.wait(streams.TRAINING_COMPLETED, 3)[2]
    assert followup.trigger == "drift" and followup.correlation_id == drift.event_id
    assert followup.training_rows + followup.metrics.rows == 600


def test_a_covariate_retrain_the_champion_s_own_refit_cannot_beat_is_skipped_and_says_why(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    start = utcnow() - timedelta(hours=1)
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(800, start=start)))
    (first,) = streams_io.wait(COMPLETED)
    streams_io.publish(streams.MODEL_PROMOTED, promoted(first))
    streams_io.wait_consumed(streams.MODEL_PROMOTED, GROUP)
    onset = start + timedelta(minutes=30)
    drift = drift_at(onset)
    streams_io.publish(streams.DRIFT_DETECTED, drift)
    # The inputs were said to shift, but P(y|x) is the one v1 learnt: nothing to gain.
    same_concept = labelled_rows(300, start=onset, seed=8)
    streams_io.publish(streams.DATA_INGESTED, ingested(store, same_concept, "feedback"))

    (skipped,) = streams_io.wait(streams.TRAINING_SKIPPED)
    assert skipped.reason == "champion_holds"
    assert skipped.drift_id == drift.event_id and skipped.shift == "data:income"
    assert skipped.post_onset_rows == 300
    assert skipped.champion_holdout_accuracy == first.metrics.accuracy
    assert skipped.champion_post_onset_accuracy is not None
    assert "not expected to beat it" in skipped.message
    assert len(streams_io.read(COMPLETED)) == 1


def test_a_request_for_a_dataset_without_data_fails_clearly(
    trainer: TestClient, streams_io: Streams
) -> None:
    streams_io.publish(
        streams.TRAINING_REQUESTED, TrainingRequested(producer="test", dataset="ghost")
    )
    (failed,) = streams_io.wait(streams.TRAINING_FAILED)
    assert "no data ingested for dataset 'ghost'" in failed.reason


# --------------------------------------------------------------------------- issue 9


def rejection(run: TrainingCompleted) -> ModelRejected:
    return ModelRejected(
        producer="test",
        dataset=run.dataset,
        model_version=1,
        reason="holdout too small",
        candidate_metrics=run.metrics,
        champion_metrics=None,
        run_id=run.run_id,
        trigger=run.trigger,
    )


def test_a_rejected_first_model_is_trained_again_once_the_rows_grew_by_the_backoff(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
    (first,) = streams_io.wait(streams.TRAINING_COMPLETED)
    streams_io.publish(streams.MODEL_REJECTED, rejection(first))
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(150, seed=4)))
    streams_io.wait_consumed(streams.DATA_INGESTED, GROUP)
    assert len(streams_io.read(streams.TRAINING_COMPLETED)) == 1  # 550 < 400 x 1.5

    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(100, seed=5)))

    second = streams_io.wait(streams.TRAINING_COMPLETED, 2)[1]
    assert second.trigger == "initial"
    assert second.training_rows + second.metrics.rows == 650
    state = trainer.get("/v1/datasets/demo").json()
    assert state["initial"]["attempts"] == 2
    assert state["initial"]["status"] == "awaiting verdict"
    assert state["initial"]["reason"] == "rejected by the registry: holdout too small"


def test_a_rejected_first_model_is_retried_at_once_on_the_same_rows_with_auto(
    widening: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
    (first,) = streams_io.wait(streams.TRAINING_COMPLETED)
    assert "search" not in first.params  # logistic, the configured family

    streams_io.publish(streams.MODEL_REJECTED, rejection(first))

    second = streams_io.wait(streams.TRAINING_COMPLETED, 2)[1]
    assert second.trigger == "initial" and second.params["search"]["candidates"]
    assert second.training_rows == first.training_rows  # the same rows, searched harder
    state = widening.get("/v1/datasets/demo").json()
    assert state["initial"]["attempts"] == 2 and state["initial"]["family"] == "auto"
    assert state["initial_claimed_by"] is not None  # still claimed while it awaits a verdict


def training_step(streams_io: Streams, drift: DriftDetected, step: int) -> None:
    """Wait until the trainer has claimed a step of a drift's retrain: it trains right after
    (and a run takes seconds)."""
    key = f"{streams_io.namespace}trainer:claim:drift-{drift.event_id}-{step}:{drift.dataset}"
    eventually_sync(
        lambda: streams_io.redis.exists(key), timeout=20, interval=0.01, what=f"claim {key}"
    )


def test_a_drift_of_the_new_model_during_the_old_chains_last_retrain_is_retrained_on(
    redis_url: str, namespace: str, store: ContentStore, streams_io: Streams
) -> None:
    """Issue 9: the v1 chain's last retrain used to delete the pending retrain of a drift of
    v2 that arrived while it trained; v2 was then never retrained."""
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=300,
        min_post_drift_rows=200,
        followup_retrains=1,
        model_family="random_forest",  # seconds per run: time for a drift to land meanwhile
        min_gain=None,  # every step trains, whatever it can gain: the chains are the story
        reclaim_idle_ms=5000,
    )
    start = utcnow() - timedelta(hours=2)
    onset = start + timedelta(minutes=30)
    with TestClient(build_app(settings)):
        streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400, start=start)))
        streams_io.publish(
            streams.MODEL_PROMOTED, promoted(streams_io.wait(COMPLETED, timeout=60)[0], 1)
        )
        older = drift_at(onset, kind="performance")
        streams_io.publish(streams.DRIFT_DETECTED, older)
        streams_io.wait_consumed(streams.DRIFT_DETECTED, GROUP, timeout=60)
        after = labelled_rows(250, "after", start=onset, seed=8)
        streams_io.publish(streams.DATA_INGESTED, ingested(store, after, "feedback"))
        streams_io.publish(
            streams.MODEL_PROMOTED, promoted(streams_io.wait(COMPLETED, 2, timeout=60)[1], 2)
        )
        more = labelled_rows(300, "after", start=onset + timedelta(minutes=5), seed=9)
        streams_io.publish(streams.DATA_INGESTED, ingested(store, more, "feedback"))
        training_step(streams_io, older, 1)  # the v1 chain's follow-up is training
        newer = drift_at(onset + timedelta(minutes=60), version=2, kind="performance")
        streams_io.publish(streams.DRIFT_DETECTED, newer)
        streams_io.wait_consumed(streams.DRIFT_DETECTED, GROUP, timeout=60)
        last_of_v1 = streams_io.wait(COMPLETED, 3, timeout=60)[2]
        assert last_of_v1.correlation_id != newer.event_id

        rows = labelled_rows(250, "after", start=newer.window.start, seed=10)
        streams_io.publish(streams.DATA_INGESTED, ingested(store, rows, "feedback"))

        retrained = streams_io.wait(COMPLETED, 4, timeout=60)[3]
        assert retrained.trigger == "drift"
        assert retrained.correlation_id == newer.event_id
        assert retrained.training_rows + retrained.metrics.rows == 250


def test_a_crash_before_the_commit_is_retried_and_publishes_the_same_run_once(
    redis_url: str, namespace: str, store: ContentStore, streams_io: Streams
) -> None:
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=300,
        reclaim_idle_ms=1000,
        failpoints=f"{GROUP}.before_commit=error",
    )
    event = ingested(store, labelled_rows(400))
    with TestClient(build_app(settings)) as client:
        streams_io.publish(streams.DATA_INGESTED, event)
        (done,) = streams_io.wait(COMPLETED, timeout=40)
        streams_io.wait_consumed(streams.DATA_INGESTED, GROUP)
        state = client.get("/v1/datasets/demo").json()

    assert streams_io.redis.exists(f"{namespace}dl:failpoint:{GROUP}.before_commit")
    assert done.event_id == derived_id(event.event_id, "training.completed", "initial")
    assert len(streams_io.read(COMPLETED)) == 1
    assert state["rows"] == 400
    assert state["initial"]["attempts"] == 1
