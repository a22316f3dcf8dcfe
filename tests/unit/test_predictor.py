"""The predictor: loading a promoted model safely, predicting, and logging without waiting."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from driftloop_contracts import (
    DatasetSchema,
    ModelPromoted,
    PredictionRecord,
    PredictionsLogged,
    streams,
)
from driftloop_core import ContentStore, IntegrityError, InvalidInput, NotFound, NotReady, Publish
from driftloop_core.datasets import LabelledRow
from driftloop_ml import ModelArtifact, dump_artifact, feature_matrix
from driftloop_predictor.logbuffer import LOGS_DROPPED, PredictionLog
from driftloop_predictor.model import LoadedModel, ModelHolder, load_model, warm_up_row
from driftloop_predictor.service import Predictor
from driftloop_sdk.scenario import CreditScenario
from driftloop_trainer.training import TrainedModel, TrainingConfig, library_versions, train

SCHEMA: DatasetSchema = CreditScenario.schema
T0 = datetime(2024, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    drawn = CreditScenario(9).draw(120, "before")
    rows = [
        LabelledRow(features, label, T0 + timedelta(minutes=i))
        for i, (features, label) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]
    return train(SCHEMA, rows, TrainingConfig(cv_folds=2))


@pytest.fixture(scope="module")
def artifact_bytes(trained: TrainedModel) -> bytes:
    return dump_artifact(
        ModelArtifact(trained.pipeline, SCHEMA, trained.classes, library_versions())
    )


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path))


def promoted(
    store: ContentStore,
    artifact: bytes,
    trained: TrainedModel,
    *,
    version: int = 1,
    schema: DatasetSchema = SCHEMA,
) -> ModelPromoted:
    return ModelPromoted(
        producer="test",
        dataset="demo",
        model_version=version,
        previous_version=version - 1 or None,
        reason="gate",
        artifact=store.put(artifact, kind="models/demo", suffix=".pkl"),
        profile=store.put(
            trained.profile.model_dump_json().encode(), kind="profiles/demo", suffix=".json"
        ),
        metrics=trained.metrics,
        dataset_schema=schema,
    )


@pytest.fixture
def model(store: ContentStore, artifact_bytes: bytes, trained: TrainedModel) -> LoadedModel:
    return load_model(store, promoted(store, artifact_bytes, trained))


class FakePublisher:
    """Records what would be published; fails the calls whose number is in `failing` (1-based)."""

    def __init__(self, failing: Sequence[int] = ()) -> None:
        self.failing = set(failing)
        self.attempts = 0
        self.calls: list[tuple[Publish, ...]] = []

    async def __call__(self, *items: Publish) -> None:
        self.attempts += 1
        if self.attempts in self.failing:
            raise ConnectionError("redis is down")
        self.calls.append(items)

    @property
    def events(self) -> list[PredictionsLogged]:
        out = []
        for call in self.calls:
            for item in call:
                assert item.stream is streams.PREDICTION_LOGGED
                assert isinstance(item.event, PredictionsLogged)
                out.append(item.event)
        return out

    def published_ids(self) -> list[uuid.UUID]:
        return [p.prediction_id for e in self.events for p in e.predictions]


def prediction_log(
    publisher: FakePublisher, *, batch_size: int = 100, max_buffer: int = 1000
) -> PredictionLog:
    return PredictionLog(publisher, batch_size=batch_size, flush_ms=10, max_buffer=max_buffer)


def records(n: int) -> list[PredictionRecord]:
    return [
        PredictionRecord(
            prediction_id=uuid.uuid4(),
            features={"income": float(i)},
            prediction="no",
            probability=0.7,
            predicted_at=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def live_features(n: int, seed: int = 31) -> list[dict[str, Any]]:
    return CreditScenario(seed).draw(n, "before").features


# ---------------------------------------------------------------------------- load_model


def test_load_model_verifies_unpickles_and_warms_up_the_promoted_artifact(
    store: ContentStore, artifact_bytes: bytes, trained: TrainedModel
) -> None:
    event = promoted(store, artifact_bytes, trained, version=3)

    model = load_model(store, event)

    assert model.version == 3
    assert model.promoted == event
    assert model.schema == SCHEMA
    assert model.classes.tolist() == ["no", "yes"]
    proba = model.predict_proba([warm_up_row(SCHEMA)])
    assert proba.shape == (1, 2)


def test_load_model_refuses_an_artifact_whose_bytes_were_tampered_with(
    store: ContentStore, artifact_bytes: bytes, trained: TrainedModel, tmp_path: Path
) -> None:
    event = promoted(store, artifact_bytes, trained)
    (tmp_path / event.artifact.key).write_bytes(artifact_bytes + b"evil")

    with pytest.raises(IntegrityError, match="refusing to use it"):
        load_model(store, event)


def test_load_model_refuses_an_artifact_missing_from_the_store(
    store: ContentStore, artifact_bytes: bytes, trained: TrainedModel, tmp_path: Path
) -> None:
    event = promoted(store, artifact_bytes, trained)
    (tmp_path / event.artifact.key).unlink()

    with pytest.raises(NotFound):
        load_model(store, event)


def test_load_model_refuses_an_artifact_trained_on_another_schema(
    store: ContentStore, artifact_bytes: bytes, trained: TrainedModel
) -> None:
    other = SCHEMA.model_copy(update={"target": SCHEMA.target.model_copy(update={"name": "bad"})})
    event = promoted(store, artifact_bytes, trained, version=2, schema=other)

    with pytest.raises(IntegrityError, match="artifact of version 2 was trained on another schema"):
        load_model(store, event)


def test_the_warm_up_row_fits_the_schema() -> None:
    row = warm_up_row(SCHEMA)

    assert set(row) == set(SCHEMA.feature_names)
    assert row["age"] == 18
    assert row["region"] == "north"


# --------------------------------------------------------------------------- ModelHolder


def test_a_holder_starts_empty_and_swap_returns_the_previous_model(
    store: ContentStore, artifact_bytes: bytes, trained: TrainedModel
) -> None:
    holder = ModelHolder()
    first = load_model(store, promoted(store, artifact_bytes, trained, version=1))
    second = load_model(store, promoted(store, artifact_bytes, trained, version=2))

    assert holder.current is None
    assert holder.swap(first) is None
    assert holder.swap(second) is first
    assert holder.current is second


# ------------------------------------------------------------------------------ Predictor


def test_predict_without_a_model_is_not_ready() -> None:
    predictor = Predictor(ModelHolder(), prediction_log(FakePublisher()))

    with pytest.raises(NotReady, match="no model is loaded yet"):
        predictor.predict([warm_up_row(SCHEMA)])


def test_predict_refuses_a_batch_with_bad_rows_naming_each_and_logs_nothing(
    model: LoadedModel,
) -> None:
    holder = ModelHolder()
    holder.swap(model)
    log = prediction_log(FakePublisher())
    good = live_features(2)
    rows = [good[0], {**good[1], "age": 5}, good[0], {"income": 1.0}]

    with pytest.raises(InvalidInput) as caught:
        Predictor(holder, log).predict(rows)

    assert caught.value.message.startswith("2 of 4 row(s) invalid; row 1: feature 'age' is 5.0")
    assert caught.value.details == [
        {"row": 1, "error": "feature 'age' is 5.0, below the minimum 18.0"},
        {"row": 3, "error": "missing feature 'debt_ratio'"},
    ]
    assert len(log) == 0


def test_predict_answers_each_row_with_an_id_a_class_and_its_probabilities(
    model: LoadedModel,
) -> None:
    holder = ModelHolder()
    holder.swap(model)
    rows = live_features(5)

    result = Predictor(holder, prediction_log(FakePublisher())).predict(rows)

    assert result.model_version == 1
    assert result.dataset == "demo"
    assert len(result.predictions) == 5
    assert len({p.prediction_id for p in result.predictions}) == 5
    expected = model.pipeline.predict_proba(feature_matrix(SCHEMA, rows))
    for p, proba in zip(result.predictions, expected, strict=True):
        assert set(p.probabilities) == {"no", "yes"}
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
        assert p.prediction == max(p.probabilities, key=p.probabilities.__getitem__)
        assert p.probability == p.probabilities[p.prediction]
        np.testing.assert_allclose([p.probabilities["no"], p.probabilities["yes"]], proba)


async def test_predictions_are_appended_to_the_log_with_their_ids_and_clean_features(
    model: LoadedModel,
) -> None:
    holder = ModelHolder()
    holder.swap(model)
    publisher = FakePublisher()
    log = prediction_log(publisher)
    rows = live_features(3)
    rows[0] = {**rows[0], "income": "61.5"}  # strings are coerced before logging

    result = Predictor(holder, log).predict(rows)
    assert len(log) == 3
    await log.flush()

    (event,) = publisher.events
    assert event.dataset == "demo"
    assert event.model_version == 1
    assert event.producer == "predictor"
    assert [r.prediction_id for r in event.predictions] == [
        p.prediction_id for p in result.predictions
    ]
    assert [r.prediction for r in event.predictions] == [p.prediction for p in result.predictions]
    assert event.predictions[0].features["income"] == 61.5
    assert len(log) == 0


# -------------------------------------------------------------------------- PredictionLog


async def test_flush_publishes_in_batches_of_batch_size() -> None:
    publisher = FakePublisher()
    log = prediction_log(publisher, batch_size=2)
    added = records(5)
    log.add("demo", 1, added)

    await log.flush()

    assert [sum(len(e.predictions) for e in call_events(c)) for c in publisher.calls] == [2, 2, 1]
    assert publisher.published_ids() == [r.prediction_id for r in added]
    assert len(log) == 0


def call_events(call: tuple[Publish, ...]) -> list[PredictionsLogged]:
    return [item.event for item in call if isinstance(item.event, PredictionsLogged)]


async def test_a_batch_is_published_as_one_event_per_dataset_and_model_version() -> None:
    publisher = FakePublisher()
    log = prediction_log(publisher, batch_size=10)
    a, b, c, d = records(4)
    log.add("demo", 1, [a])
    log.add("demo", 2, [b])
    log.add("other", 1, [c])
    log.add("demo", 1, [d])

    await log.flush()

    (call,) = publisher.calls
    grouped = {
        (e.dataset, e.model_version): [p.prediction_id for p in e.predictions]
        for e in call_events(call)
    }
    assert grouped == {
        ("demo", 1): [a.prediction_id, d.prediction_id],
        ("demo", 2): [b.prediction_id],
        ("other", 1): [c.prediction_id],
    }


async def test_flush_on_an_empty_log_publishes_nothing() -> None:
    publisher = FakePublisher()

    await prediction_log(publisher).flush()

    assert publisher.attempts == 0


async def test_a_failed_batch_goes_back_to_the_front_in_order() -> None:
    publisher = FakePublisher(failing=[1])
    log = prediction_log(publisher, batch_size=2)
    added = records(3)
    log.add("demo", 1, added)

    with pytest.raises(ConnectionError):
        await log.flush()
    assert len(log) == 3
    await log.flush()

    assert publisher.published_ids() == [r.prediction_id for r in added]
    assert len(log) == 0


async def test_after_a_failure_midway_only_the_unpublished_rows_stay_buffered() -> None:
    publisher = FakePublisher(failing=[2])
    log = prediction_log(publisher, batch_size=2)
    added = records(5)
    log.add("demo", 1, added)

    with pytest.raises(ConnectionError):
        await log.flush()
    assert len(log) == 3
    await log.flush()

    assert publisher.published_ids() == [r.prediction_id for r in added]


async def test_stop_flushes_what_is_buffered() -> None:
    publisher = FakePublisher()
    log = prediction_log(publisher, batch_size=100)
    added = records(3)
    await log.start()
    log.add("demo", 1, added)

    await log.stop(timeout=1.0)

    assert publisher.published_ids() == [r.prediction_id for r in added]


async def test_stop_keeps_the_buffer_when_publishing_fails() -> None:
    publisher = FakePublisher(failing=[1])
    log = prediction_log(publisher)
    await log.start()
    log.add("demo", 1, records(2))

    await log.stop(timeout=1.0)

    assert len(log) == 2


def test_a_full_buffer_drops_the_oldest_predictions_and_counts_them() -> None:
    log = prediction_log(FakePublisher(), batch_size=100, max_buffer=4)
    added = records(6)
    dropped_before = LOGS_DROPPED._value.get()

    log.add("demo", 1, added[:3])
    log.add("demo", 1, added[3:])

    assert LOGS_DROPPED._value.get() - dropped_before == 2
    assert len(log) == 4
    assert [r.prediction_id for _, _, r in log._buffer] == [r.prediction_id for r in added[2:]]


def test_a_single_add_larger_than_the_buffer_keeps_only_its_newest_predictions() -> None:
    log = prediction_log(FakePublisher(), batch_size=100, max_buffer=3)
    old = records(2)
    new = records(5)
    dropped_before = LOGS_DROPPED._value.get()

    log.add("demo", 1, old)
    log.add("demo", 1, new)

    assert LOGS_DROPPED._value.get() - dropped_before == 4  # both old ones, two new ones
    assert [r.prediction_id for _, _, r in log._buffer] == [r.prediction_id for r in new[2:]]


async def test_the_newest_predictions_are_published_after_an_overflow() -> None:
    publisher = FakePublisher()
    log = prediction_log(publisher, batch_size=10, max_buffer=2)
    added = records(3)

    log.add("demo", 1, added)
    await log.flush()

    assert publisher.published_ids() == [r.prediction_id for r in added[1:]]
