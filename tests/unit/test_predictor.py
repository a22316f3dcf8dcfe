"""The predictor: loading a promoted model safely, encoding rows fast and exactly, micro-batching,
routing canary and shadow traffic, logging without waiting, and answering over bare ASGI."""

from __future__ import annotations

import asyncio
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
import orjson
import pytest
import sklearn
from driftloop_contracts import (
    DatasetSchema,
    FeatureSpec,
    Metrics,
    ModelPromoted,
    PredictionsLogged,
    RolloutChanged,
    TargetSpec,
)
from driftloop_core import ContentStore, IntegrityError, InvalidInput, NotReady
from driftloop_ml import ModelArtifact, dump_artifact, feature_matrix
from driftloop_predictor import api
from driftloop_predictor.batcher import GATHER_TURNS, BatchPolicy, MicroBatcher
from driftloop_predictor.bodies import answer_json
from driftloop_predictor.columns import Columns, columns_from
from driftloop_predictor.encoding import RowEncoder, as_rows, prediction_ids
from driftloop_predictor.fastpath import FastPath, Message, Receive, Scope, Send, per_dataset
from driftloop_predictor.logbuffer import LOGS_DROPPED, Logged, PredictionLog, encode_events
from driftloop_predictor.model import (
    LoadedModel,
    ModelHolder,
    Rollout,
    batch_policy,
    load_model,
    warm_up_row,
)
from driftloop_predictor.service import SHADOW_FAILURES, Predictions, Predictor, in_canary
from driftloop_sdk.scenario import SCHEMA, CreditScenario
from driftloop_trainer.training import build_pipeline
from fastapi import FastAPI
from sklearn.linear_model import LogisticRegression

from tests.support.wait import eventually

#: All numeric, so requests can take the encoder's vectorised path. `vibration` is unbounded and
#: nullable: only the finiteness check guards it, and a null in it is valid.
SENSORS = DatasetSchema(
    name="sensors",
    features=(
        FeatureSpec(name="temperature", kind="numeric", minimum=-40, maximum=60),
        FeatureSpec(name="pressure", kind="numeric", minimum=0),
        FeatureSpec(name="vibration", kind="numeric", nullable=True),
    ),
    target=TargetSpec(name="fault", classes=("ok", "fault")),
)


# ------------------------------------------------------------------------------ helpers


def credit_rows(n: int, seed: int = 31) -> list[dict[str, Any]]:
    return CreditScenario(seed).draw(n, "before").features


def sensor_rows(n: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "temperature": round(float(rng.uniform(-40, 60)), 2),
            "pressure": round(float(rng.uniform(0, 10)), 3),
            "vibration": round(float(rng.normal(0, 1)), 3),
        }
        for _ in range(n)
    ]


def fit(schema: DatasetSchema, rows: list[dict[str, Any]], labels: list[str], c: float) -> Any:
    pipeline = build_pipeline(schema, LogisticRegression(C=c, max_iter=1000))
    return pipeline.fit(feature_matrix(schema, rows), labels)


def artifact(schema: DatasetSchema, pipeline: Any) -> bytes:
    classes = tuple(str(c) for c in pipeline.classes_)
    versions = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}
    return dump_artifact(ModelArtifact(pipeline, schema, classes, versions))


class RecordingPipeline:
    """A fitted pipeline that remembers the shape and dtype of every matrix it predicted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.classes_ = inner.classes_
        self.seen: list[tuple[tuple[int, ...], np.dtype[Any]]] = []

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.seen.append((x.shape, x.dtype))
        proba: np.ndarray = self.inner.predict_proba(x)
        return proba


METRICS = Metrics(accuracy=0.8, f1_macro=0.75, rows=300)


def promotion(
    store: ContentStore,
    data: bytes,
    schema: DatasetSchema = SCHEMA,
    *,
    version: int = 1,
    announced: DatasetSchema | None = None,
) -> ModelPromoted:
    return ModelPromoted(
        producer="test",
        dataset=schema.name,
        model_version=version,
        previous_version=None,
        reason="gate",
        artifact=store.put(data, kind=f"models/{schema.name}", suffix=".pkl"),
        profile=store.put(b"{}", kind=f"profiles/{schema.name}", suffix=".json"),
        metrics=METRICS,
        dataset_schema=announced or schema,
    )


def rollout_event(
    store: ContentStore,
    data: bytes,
    *,
    stage: Literal["canary", "shadow"],
    version: int = 2,
    share: float = 0.0,
) -> RolloutChanged:
    return RolloutChanged(
        producer="test",
        dataset=SCHEMA.name,
        stage=stage,
        outcome="started",
        model_version=version,
        share=share,
        artifact=store.put(data, kind="models/demo", suffix=".pkl"),
        profile=store.put(b"{}", kind="profiles/demo", suffix=".json"),
        metrics=METRICS,
        dataset_schema=SCHEMA,
    )


class FakePublish:
    """A Publisher that keeps what it was given; the calls whose number is in `failing`
    (1-based) raise instead, after running `during` (what requests do meanwhile)."""

    def __init__(
        self, failing: Sequence[int] = (), during: Callable[[int], None] | None = None
    ) -> None:
        self.failing = set(failing)
        self.during = during
        self.attempts = 0
        self.calls: list[list[bytes]] = []

    async def __call__(self, bodies: Sequence[bytes]) -> None:
        self.attempts += 1
        if self.during is not None:
            self.during(self.attempts)
        if self.attempts in self.failing:
            raise ConnectionError("redis is down")
        self.calls.append(list(bodies))

    def events(self) -> list[PredictionsLogged]:
        return [PredictionsLogged.model_validate_json(body) for call in self.calls for body in call]

    def ids(self) -> list[str]:
        return [str(i) for event in self.events() for i in event.prediction_ids]

    def rows_per_call(self) -> list[int]:
        return [
            sum(len(PredictionsLogged.model_validate_json(body)) for body in call)
            for call in self.calls
        ]


def prediction_log(
    publish: FakePublish, *, batch_size: int = 1000, max_buffer: int = 10_000, flush_ms: int = 10
) -> PredictionLog:
    return PredictionLog(publish, batch_size=batch_size, flush_ms=flush_ms, max_buffer=max_buffer)


def logged(
    n: int,
    *,
    dataset: str = "demo",
    version: int = 1,
    role: str = "primary",
    matrix: bool = False,
    start: float = 0.0,
) -> Logged:
    values = [[start + i, start + i + 0.5] for i in range(n)]
    return Logged(
        dataset=dataset,
        model_version=version,
        role=role,
        feature_names=("x", "y"),
        ids=prediction_ids(n),
        features=np.array(values, dtype=np.float64) if matrix else values,
        labels=["yes" if i % 2 else "no" for i in range(n)],
        probabilities=np.array([0.5 + i / (2 * n + 2) for i in range(n)]),
        predicted_at_ms=1_700_000_000_000,
    )


def ids_of(*entries: Logged) -> list[str]:
    return [i for entry in entries for i in entry.ids]


def dropped() -> float:
    value: float = LOGS_DROPPED._value.get()
    return value


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def champion_bytes() -> bytes:
    drawn = CreditScenario(9).draw(300, "before")
    return artifact(SCHEMA, fit(SCHEMA, drawn.features, drawn.labels, c=1.0))


@pytest.fixture(scope="module")
def candidate_bytes() -> bytes:
    drawn = CreditScenario(10).draw(300, "after")
    return artifact(SCHEMA, fit(SCHEMA, drawn.features, drawn.labels, c=0.1))


@pytest.fixture(scope="module")
def sensor_pipeline() -> Any:
    rows = sensor_rows(300, seed=1)
    labels = ["fault" if r["temperature"] / 20 + r["vibration"] > 1 else "ok" for r in rows]
    return fit(SENSORS, rows, labels, c=1.0)


@pytest.fixture(scope="module")
def sensor_bytes(sensor_pipeline: Any) -> bytes:
    return artifact(SENSORS, sensor_pipeline)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path))


@pytest.fixture
def champion(store: ContentStore, champion_bytes: bytes) -> LoadedModel:
    return load_model(store, promotion(store, champion_bytes), offload="never")


@pytest.fixture
def candidate(store: ContentStore, candidate_bytes: bytes) -> LoadedModel:
    event = rollout_event(store, candidate_bytes, stage="canary", share=0.5)
    return load_model(store, event, offload="never")


@pytest.fixture
def sensors_model(store: ContentStore, sensor_bytes: bytes) -> LoadedModel:
    return load_model(store, promotion(store, sensor_bytes, SENSORS), offload="never")


@pytest.fixture
def batcher() -> Iterator[MicroBatcher]:
    batcher = MicroBatcher()
    yield batcher
    batcher.close()


@dataclass
class Serving:
    holder: ModelHolder
    publish: FakePublish
    log: PredictionLog
    predictor: Predictor

    async def published(self) -> list[PredictionsLogged]:
        await self.log.flush()
        return self.publish.events()


@pytest.fixture
def serving(champion: LoadedModel, batcher: MicroBatcher) -> Serving:
    holder = ModelHolder()
    holder.swap(champion)
    publish = FakePublish()
    log = prediction_log(publish)
    return Serving(holder, publish, log, Predictor(holder, log, batcher))


# ---------------------------------------------------------------------------- load_model


def test_load_model_verifies_loads_and_serves_the_promoted_artifact(
    store: ContentStore, champion_bytes: bytes
) -> None:
    event = promotion(store, champion_bytes, version=3)

    model = load_model(store, event)

    assert model.version == 3
    assert model.promoted == event
    assert model.schema == SCHEMA
    assert model.class_names == ["no", "yes"]
    assert model.encoder.schema == SCHEMA
    x, _ = model.encoder.encode(credit_rows(4))
    proba = model.predict_proba(x)
    assert proba.shape == (4, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_load_model_refuses_an_artifact_whose_bytes_were_tampered_with(
    store: ContentStore, champion_bytes: bytes, tmp_path: Path
) -> None:
    event = promotion(store, champion_bytes)
    (tmp_path / event.artifact.key).write_bytes(champion_bytes + b"evil")

    with pytest.raises(IntegrityError, match="refusing to use it"):
        load_model(store, event)


def test_load_model_refuses_an_artifact_trained_on_another_schema_than_announced(
    store: ContentStore, champion_bytes: bytes
) -> None:
    other = SCHEMA.model_copy(update={"target": SCHEMA.target.model_copy(update={"name": "bad"})})
    event = promotion(store, champion_bytes, version=2, announced=other)

    with pytest.raises(IntegrityError, match="artifact of version 2 was trained on another schema"):
        load_model(store, event)


def test_load_model_warms_the_model_up_with_a_valid_row_and_measures_a_predict(
    store: ContentStore, sensor_pipeline: Any
) -> None:
    data = artifact(SENSORS, RecordingPipeline(sensor_pipeline))

    # a class of this module, so trusted as DRIFTLOOP_TRUSTED_MODULES trusts a user's package
    model = load_model(store, promotion(store, data, SENSORS), trusted_modules=[__name__])

    seen = model.pipeline.seen
    assert len(seen) >= 2  # the warm-up, then at least one timed predict
    assert all(shape == (1, 3) for shape, _ in seen)
    assert all(dtype == np.float64 for _, dtype in seen)  # the fast path's matrix
    assert model.predict_ms > 0


def test_the_warm_up_row_passes_the_schemas_own_validation() -> None:
    for schema in (SCHEMA, SENSORS):
        row = warm_up_row(schema)

        assert list(row) == list(schema.feature_names)
        RowEncoder(schema).validate([row])  # does not raise
    assert warm_up_row(SCHEMA)["age"] == 18
    assert warm_up_row(SCHEMA)["region"] == "north"
    assert warm_up_row(SENSORS) == {"temperature": -40, "pressure": 0, "vibration": 0.0}


@pytest.mark.parametrize(
    ("offload", "threshold_ms", "expected"),
    [
        ("auto", 0.0, True),  # every predict takes longer than nothing
        ("auto", 1e9, False),  # and none takes 11 days
        ("always", 1e9, True),
        ("never", 0.0, False),
    ],
)
def test_load_model_offloads_slow_models_when_auto_and_as_told_otherwise(
    store: ContentStore,
    sensor_bytes: bytes,
    offload: str,
    threshold_ms: float,
    expected: bool,
) -> None:
    model = load_model(store, promotion(store, sensor_bytes, SENSORS), offload, threshold_ms)

    assert model.offload is expected


@pytest.mark.parametrize(
    ("predict_ms", "offload", "expected"),
    [
        (5.0, "auto", BatchPolicy(offload=True, max_rows=2048, max_wait_s=0.001)),
        (0.2, "auto", BatchPolicy(offload=False, max_rows=2048, max_wait_s=0.0)),
        (0.2, "always", BatchPolicy(offload=True, max_rows=2048, max_wait_s=0.001)),
        (5.0, "never", BatchPolicy(offload=False, max_rows=2048, max_wait_s=0.0)),
    ],
)
def test_a_slow_model_gets_waiting_batches_in_a_thread_and_a_fast_one_inline_ones(
    predict_ms: float, offload: str, expected: BatchPolicy
) -> None:
    assert batch_policy(predict_ms, offload, offload_ms=1.0) == expected


def test_the_batch_size_and_wait_of_a_policy_can_be_set_whatever_the_speed() -> None:
    assert batch_policy(5.0, max_rows=64, max_wait_ms=0) == BatchPolicy(True, 64, 0.0)
    assert batch_policy(0.2, max_rows=8, max_wait_ms=2.5) == BatchPolicy(False, 8, 0.0025)


def test_load_model_gives_the_model_the_batch_policy_asked_for(
    store: ContentStore, sensor_bytes: bytes
) -> None:
    event = promotion(store, sensor_bytes, SENSORS)

    model = load_model(store, event, "never", 1.0, max_rows=32, max_wait_ms=0.5)

    assert model.policy == BatchPolicy(offload=False, max_rows=32, max_wait_s=0.0005)
    assert model.offload is False


def test_load_model_loads_a_rollout_candidate_from_its_rollout_event(
    store: ContentStore, candidate_bytes: bytes
) -> None:
    event = rollout_event(store, candidate_bytes, stage="shadow", version=7)

    model = load_model(store, event)

    assert model.version == 7
    assert model.promoted is event
    assert model.class_names == ["no", "yes"]


def test_a_holder_starts_empty_and_swap_returns_the_previous_model(
    champion: LoadedModel, candidate: LoadedModel
) -> None:
    holder = ModelHolder()

    assert holder.current is None
    assert holder.rollout is None
    assert holder.swap(champion) is None
    assert holder.swap(candidate) is champion
    assert holder.current is candidate


# ---------------------------------------------------------------------------- RowEncoder


def test_an_all_numeric_schema_takes_the_fast_path_to_a_float_matrix_equal_to_the_slow_one(
    sensors_model: LoadedModel,
) -> None:
    encoder = RowEncoder(SENSORS)
    rows = sensor_rows(50)
    rows[0] = {"temperature": 20, "pressure": 3, "vibration": -1}  # ints are numbers too

    x, features = encoder.encode(rows)
    slow = feature_matrix(SENSORS, encoder.validate(rows))

    assert encoder.numeric
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float64
    assert x.shape == (50, 3)
    assert features is x  # logged as the same matrix
    np.testing.assert_array_equal(x, slow.astype(np.float64))
    np.testing.assert_array_equal(sensors_model.predict_proba(x), sensors_model.predict_proba(slow))


def test_the_fast_path_works_for_a_schema_of_one_feature() -> None:
    schema = DatasetSchema(
        name="one",
        features=(FeatureSpec(name="only", kind="numeric", maximum=1),),
        target=TargetSpec(name="y", classes=("a", "b")),
    )

    x, _ = RowEncoder(schema).encode([{"only": 0.25}, {"only": -3}])

    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [[0.25], [-3.0]])
    with pytest.raises(
        InvalidInput, match=re.escape("row 1: feature 'only' is 2.0, above the maximum 1.0")
    ):
        RowEncoder(schema).encode([{"only": 0.25}, {"only": 2}])


GOOD = {"temperature": 21.5, "pressure": 2.0, "vibration": 0.1}


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({**GOOD, "pressure": True}, "feature 'pressure' must be a number, got bool True"),
        ({**GOOD, "pressure": "high"}, "feature 'pressure' must be a number, got 'high'"),
        ({**GOOD, "pressure": None}, "missing feature 'pressure'"),
        ({**GOOD, "pressure": [1]}, "feature 'pressure' must be a number, got list [1]"),
        (
            {**GOOD, "humidity": 0.4},
            "unknown feature(s) ['humidity']; the schema has "
            "['temperature', 'pressure', 'vibration']",
        ),
        ({"temperature": 21.5, "vibration": 0.1}, "missing feature 'pressure'"),
        ({**GOOD, "temperature": 61}, "feature 'temperature' is 61.0, above the maximum 60.0"),
        ({**GOOD, "pressure": -0.5}, "feature 'pressure' is -0.5, below the minimum 0.0"),
        ({**GOOD, "vibration": float("nan")}, "feature 'vibration' must be finite, got nan"),
        ({**GOOD, "vibration": float("inf")}, "feature 'vibration' must be finite, got inf"),
        ([21.5, 2.0, 0.1], "features must be an object, got list"),
        ("temperature=21.5", "features must be an object, got str"),
    ],
)
def test_whatever_the_fast_path_cannot_prove_valid_is_refused_by_the_validator_per_row(
    bad: Any, error: str
) -> None:
    rows = [GOOD, bad, GOOD]

    with pytest.raises(InvalidInput) as caught:
        RowEncoder(SENSORS).encode(rows)

    assert caught.value.message == f"1 of 3 row(s) invalid; row 1: {error}"
    assert caught.value.details == [{"row": 1, "error": error}]


def test_every_bad_row_is_named_with_its_index_and_the_first_one_in_the_message() -> None:
    rows = [
        {**GOOD, "temperature": -41},
        GOOD,
        GOOD,
        {**GOOD, "vibration": "x"},
    ]

    with pytest.raises(InvalidInput) as caught:
        RowEncoder(SENSORS).encode(rows)

    assert caught.value.message.startswith("2 of 4 row(s) invalid; row 0: feature 'temperature'")
    assert caught.value.details == [
        {"row": 0, "error": "feature 'temperature' is -41.0, below the minimum -40.0"},
        {"row": 3, "error": "feature 'vibration' must be a number, got 'x'"},
    ]


def test_a_numeric_string_is_accepted_as_the_number_it_spells_whichever_path_reads_it() -> None:
    encoder = RowEncoder(SENSORS)
    as_number = {"temperature": 3.5, "pressure": 2.0, "vibration": 0.1}
    as_text = {"temperature": "3.5", "pressure": 2.0, "vibration": 0.1}

    fast_x, fast_logged = encoder.encode([as_number])
    slow_x, slow_logged = encoder.encode([as_text])

    np.testing.assert_array_equal(fast_x, slow_x.astype(np.float64))
    assert np.asarray(fast_logged).tolist() == slow_logged == [[3.5, 2.0, 0.1]]


def test_a_null_in_a_nullable_numeric_feature_leaves_the_fast_path_but_is_valid() -> None:
    x, features = RowEncoder(SENSORS).encode([{**GOOD, "vibration": None}, GOOD])

    assert np.isnan(x[0, 2])
    assert features == [[21.5, 2.0, None], [21.5, 2.0, 0.1]]


def test_a_mixed_schema_always_goes_through_the_validator(champion: LoadedModel) -> None:
    encoder = RowEncoder(SCHEMA)
    rows = credit_rows(3)
    rows[1] = {**rows[1], "income": "61.5", "age": 40}

    x, features = encoder.encode(rows)

    assert not encoder.numeric
    assert x.dtype == object
    assert isinstance(features, list)
    assert features[1][:3] == [61.5, rows[1]["debt_ratio"], 40.0]
    assert features[0] == [rows[0][n] for n in SCHEMA.feature_names]
    np.testing.assert_array_equal(x, feature_matrix(SCHEMA, encoder.validate(rows)))
    assert champion.predict_proba(x).shape == (3, 2)
    with pytest.raises(InvalidInput, match="row 0: feature 'region' is categorical"):
        encoder.encode([{**rows[0], "region": 3.5}])


# ------------------------------------------------------------------ ids and body shapes


def test_prediction_ids_are_distinct_canonical_version_4_uuids() -> None:
    ids = prediction_ids(9000)  # past two runs of 4,096 ids that share a random head

    assert len(ids) == 9000
    assert len(set(ids)) == 9000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # canonical: lower-case, hyphens at 8-4-4-4-12
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    assert prediction_ids(1)[0] != prediction_ids(1)[0]


def test_as_rows_takes_the_features_of_a_single_request_and_the_rows_of_a_batch() -> None:
    assert as_rows({"features": {"a": 1}}, single=True) == [{"a": 1}]
    assert as_rows({"rows": [{"a": 1}, {"a": 2}]}, single=False) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    ("body", "single", "message"),
    [
        ({}, True, 'body must be a JSON object like {"features": {...}}'),
        ([{"a": 1}], True, 'body must be a JSON object like {"features": {...}}'),
        ({"rows": [{"a": 1}]}, True, 'body must be a JSON object like {"features": {...}}'),
        ({"features": [1, 2]}, True, "features must be an object of feature values"),
        ({"features": {"a": 1}}, False, 'body must be a JSON object like {"rows": [{...}, ...]}'),
        ("rows", False, 'body must be a JSON object like {"rows": [{...}, ...]}'),
        (None, False, 'body must be a JSON object like {"rows": [{...}, ...]}'),
        ({"rows": []}, False, "rows must be a non-empty list of feature objects"),
        ({"rows": {"a": 1}}, False, "rows must be a non-empty list of feature objects"),
    ],
)
def test_as_rows_says_which_shape_it_expected_of_a_wrong_body(
    body: Any, single: bool, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        as_rows(body, single)

    assert caught.value.message == message


# --------------------------------------------------------------------------- MicroBatcher


class CountingPredict:
    """A model stand-in: answers row r with [r[0], -r[0]] and keeps every matrix it got."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[np.ndarray] = []
        self.threads: list[str] = []
        self.fail = fail

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.copy())
        self.threads.append(threading.current_thread().name)
        if self.fail is not None:
            raise self.fail
        return np.column_stack([x[:, 0], -x[:, 0]])


def numbered(start: int, n: int) -> np.ndarray:
    """n one-feature rows holding start, start + 1, ...: each row says where it came from."""
    return np.arange(start, start + n, dtype=np.float64).reshape(n, 1)


async def test_concurrent_requests_for_one_model_share_one_predict_call_and_get_their_own_rows(
    batcher: MicroBatcher,
) -> None:
    predict = CountingPredict()
    key = object()
    requests = [numbered(0, 1), numbered(10, 3), numbered(20, 2), numbered(30, 1)]

    answers = await asyncio.gather(*(batcher.predict(key, predict, x) for x in requests))

    assert len(predict.calls) == 1
    np.testing.assert_array_equal(predict.calls[0], np.concatenate(requests))
    for x, answer in zip(requests, answers, strict=True):
        np.testing.assert_array_equal(answer, np.column_stack([x[:, 0], -x[:, 0]]))


async def test_a_lone_request_is_predicted_at_once_with_its_own_matrix(
    batcher: MicroBatcher,
) -> None:
    predict = CountingPredict()

    answer = await batcher.predict(object(), predict, numbered(5, 2))

    np.testing.assert_array_equal(answer, [[5.0, -5.0], [6.0, -6.0]])
    assert len(predict.calls) == 1


async def test_requests_for_different_models_never_share_a_predict_call(
    batcher: MicroBatcher,
) -> None:
    first, second = CountingPredict(), CountingPredict()
    key_1, key_2 = object(), object()
    queued = [
        (key_1, first, numbered(0, 2)),
        (key_2, second, numbered(100, 1)),
        (key_1, first, numbered(2, 1)),
        (key_2, second, numbered(101, 2)),
        (key_2, second, numbered(103, 1)),
    ]

    answers = await asyncio.gather(*(batcher.predict(k, p, x) for k, p, x in queued))

    assert all((call < 100).all() for call in first.calls)
    assert all((call >= 100).all() for call in second.calls)
    assert sorted(np.concatenate(first.calls).ravel().tolist()) == [0.0, 1.0, 2.0]
    assert sorted(np.concatenate(second.calls).ravel().tolist()) == [100.0, 101.0, 102.0, 103.0]
    # every queued request of a model joins its call, even with another model's between them
    assert (len(first.calls), len(second.calls)) == (1, 1)
    for (_, _, x), answer in zip(queued, answers, strict=True):
        np.testing.assert_array_equal(answer[:, 0], x[:, 0])


async def test_a_predict_call_takes_at_most_the_policys_max_rows_from_the_queue(
    batcher: MicroBatcher,
) -> None:
    predict = CountingPredict()
    key, policy = object(), BatchPolicy(max_rows=4)
    requests = [numbered(i * 10, n) for i, n in enumerate([2, 1, 1, 3, 2, 1])]

    answers = await asyncio.gather(*(batcher.predict(key, predict, x, policy) for x in requests))

    assert [len(call) for call in predict.calls] == [4, 4, 2]  # a 1-row request fills up 3
    for x, answer in zip(requests, answers, strict=True):
        np.testing.assert_array_equal(answer[:, 0], x[:, 0])


async def test_a_request_larger_than_max_rows_is_predicted_whole_on_its_own(
    batcher: MicroBatcher,
) -> None:
    predict = CountingPredict()
    key, policy = object(), BatchPolicy(max_rows=4)

    big, small = await asyncio.gather(
        batcher.predict(key, predict, numbered(0, 6), policy),
        batcher.predict(key, predict, numbered(50, 1), policy),
    )

    assert [len(call) for call in predict.calls] == [6, 1]
    assert big[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert small[:, 0].tolist() == [50.0]


@pytest.mark.parametrize(("max_wait_s", "calls"), [(0.0, [1, 1]), (0.05, [2])])
async def test_a_policy_with_a_wait_lets_a_request_arriving_just_after_join_the_batch(
    batcher: MicroBatcher, max_wait_s: float, calls: list[int]
) -> None:
    predict = CountingPredict()
    key, policy = object(), BatchPolicy(max_wait_s=max_wait_s)

    first = asyncio.create_task(batcher.predict(key, predict, numbered(0, 1), policy))
    for _ in range(GATHER_TURNS + 2):  # yields, not a wait: later than the loop's own turns
        await asyncio.sleep(0)
    second = asyncio.create_task(batcher.predict(key, predict, numbered(1, 1), policy))
    answers = await asyncio.gather(first, second)

    assert [len(call) for call in predict.calls] == calls
    assert [a[0, 0] for a in answers] == [0.0, 1.0]


async def test_a_request_the_loop_already_holds_joins_the_call_without_a_wait(
    batcher: MicroBatcher,
) -> None:
    predict = CountingPredict()
    key, policy = object(), BatchPolicy(max_wait_s=0.0)

    first = asyncio.create_task(batcher.predict(key, predict, numbered(0, 1), policy))
    await asyncio.sleep(0)  # one turn: the first request queues, the worker starts
    second = asyncio.create_task(batcher.predict(key, predict, numbered(1, 1), policy))
    answers = await asyncio.gather(first, second)

    assert [len(call) for call in predict.calls] == [2]
    assert [a[0, 0] for a in answers] == [0.0, 1.0]


async def test_an_exception_in_predict_reaches_every_request_waiting_on_that_call(
    batcher: MicroBatcher,
) -> None:
    boom = RuntimeError("model exploded")
    failing = CountingPredict(fail=boom)
    key = object()

    answers = await asyncio.gather(
        *(batcher.predict(key, failing, numbered(i, 1)) for i in range(3)),
        return_exceptions=True,
    )

    assert len(failing.calls) == 1
    assert answers == [boom, boom, boom]
    working = CountingPredict()
    after = await batcher.predict(key, working, numbered(7, 1))  # the batcher carries on
    assert after.tolist() == [[7.0, -7.0]]


async def test_a_failing_model_does_not_fail_requests_for_another_model_queued_behind_it(
    batcher: MicroBatcher,
) -> None:
    failing, working = CountingPredict(fail=ValueError("bad")), CountingPredict()

    answers = await asyncio.gather(
        batcher.predict(object(), failing, numbered(0, 1)),
        batcher.predict(object(), working, numbered(9, 1)),
        return_exceptions=True,
    )
    bad, good = answers

    assert isinstance(bad, ValueError)
    assert isinstance(good, np.ndarray)
    assert good.tolist() == [[9.0, -9.0]]


async def test_offloaded_predicts_run_in_the_predict_thread_and_inline_ones_on_the_loop(
    batcher: MicroBatcher,
) -> None:
    offloaded, inline = CountingPredict(), CountingPredict()

    await batcher.predict(object(), offloaded, numbered(0, 1), BatchPolicy(offload=True))
    await batcher.predict(object(), inline, numbered(0, 1), BatchPolicy(offload=False))

    (offload_thread,) = offloaded.threads
    assert offload_thread.startswith("predict")
    assert inline.threads == [threading.current_thread().name]


async def test_requests_arriving_while_an_offloaded_predict_runs_form_the_next_batch(
    batcher: MicroBatcher,
) -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []
    key, policy = object(), BatchPolicy(offload=True)

    def slow(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        started.set()
        release.wait(timeout=5)
        return np.column_stack([x[:, 0], -x[:, 0]])

    first = asyncio.create_task(batcher.predict(key, slow, numbered(0, 1), policy))

    async def predicting() -> bool:
        return started.is_set()

    await eventually(predicting, timeout=2, interval=0.001, what="the first predict to start")
    later = [
        asyncio.create_task(batcher.predict(key, slow, numbered(10 + i, 1), policy))
        for i in range(3)
    ]
    await asyncio.sleep(0)  # a yield, not a wait: the later requests queue behind the first
    release.set()
    answers = await asyncio.gather(first, *later)

    assert calls == [1, 3]
    assert [a[0, 0] for a in answers] == [0.0, 10.0, 11.0, 12.0]


# ------------------------------------------------------------------------------ Predictor


async def test_predict_without_a_model_is_not_ready(batcher: MicroBatcher) -> None:
    predictor = Predictor(ModelHolder(), prediction_log(FakePublish()), batcher)

    with pytest.raises(NotReady, match="no model is loaded yet"):
        await predictor.predict([warm_up_row(SCHEMA)])


async def test_predict_refuses_a_batch_with_bad_rows_naming_each_and_logs_nothing(
    serving: Serving,
) -> None:
    good = credit_rows(2)
    rows = [good[0], {**good[1], "age": 5}, good[0], {"income": 1.0}]

    with pytest.raises(InvalidInput) as caught:
        await serving.predictor.predict(rows)

    assert caught.value.message.startswith("2 of 4 row(s) invalid; row 1: feature 'age' is 5.0")
    assert caught.value.details == [
        {"row": 1, "error": "feature 'age' is 5.0, below the minimum 18.0"},
        {"row": 3, "error": "missing feature 'debt_ratio'"},
    ]
    assert len(serving.log) == 0


async def test_predict_answers_each_row_with_an_id_a_class_and_its_probabilities(
    serving: Serving, champion: LoadedModel
) -> None:
    rows = credit_rows(5)

    result = await serving.predictor.predict(rows)

    expected = champion.pipeline.predict_proba(feature_matrix(SCHEMA, rows))
    assert result.model_version == 1
    assert result.role == "primary"
    assert result.classes == ["no", "yes"]
    assert len(set(result.ids)) == 5
    assert all(uuid.UUID(i).version == 4 for i in result.ids)
    np.testing.assert_allclose(result.proba, expected)
    assert result.labels == [["no", "yes"][i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose(result.probabilities, expected.max(axis=1))


async def test_a_single_answer_keys_its_probabilities_by_class(serving: Serving) -> None:
    result = await serving.predictor.predict(credit_rows(1))

    body = orjson.loads(result.single_json())

    assert body == {
        "prediction_id": result.ids[0],
        "prediction": result.labels[0],
        "probability": result.probabilities[0],
        "probabilities": {"no": result.proba[0, 0], "yes": result.proba[0, 1]},
        "model_version": 1,
    }
    assert body["probabilities"][body["prediction"]] == body["probability"]


async def test_a_batch_answer_names_the_classes_once_and_lists_each_rows_probabilities(
    serving: Serving,
) -> None:
    result = await serving.predictor.predict(credit_rows(3))

    body = orjson.loads(result.batch_json())

    assert body["model_version"] == 1
    assert body["classes"] == ["no", "yes"]
    assert [p["prediction_id"] for p in body["predictions"]] == result.ids
    for item, proba, label in zip(body["predictions"], result.proba, result.labels, strict=True):
        assert set(item) == {"prediction_id", "prediction", "probability", "probabilities"}
        assert item["probabilities"] == proba.tolist()
        assert item["prediction"] == label
        assert item["probability"] == max(item["probabilities"])


async def test_predictions_are_logged_with_their_ids_answers_and_clean_features(
    serving: Serving,
) -> None:
    rows = credit_rows(3)
    rows[0] = {**rows[0], "income": "61.5"}  # coerced before logging

    result = await serving.predictor.predict(rows)
    assert len(serving.log) == 3
    (event,) = await serving.published()

    assert event.dataset == "demo"
    assert event.model_version == 1
    assert event.role == "primary"
    assert event.producer == "predictor"
    assert event.feature_names == SCHEMA.feature_names
    assert [str(i) for i in event.prediction_ids] == result.ids
    assert list(event.predictions) == result.labels
    assert event.scores == pytest.approx(result.probabilities, abs=5e-5)
    assert event.features["income"][0] == 61.5
    assert [event.features[n][1] for n in SCHEMA.feature_names] == [
        rows[1][n] for n in SCHEMA.feature_names
    ]
    assert len(serving.log) == 0


async def test_a_numeric_model_logs_its_fast_path_matrix_as_numbers(
    sensors_model: LoadedModel, batcher: MicroBatcher
) -> None:
    holder = ModelHolder()
    holder.swap(sensors_model)
    publish = FakePublish()
    log = prediction_log(publish)
    rows = sensor_rows(4)

    result = await Predictor(holder, log, batcher).predict(rows)
    await log.flush()

    (event,) = publish.events()
    assert event.dataset == "sensors"
    assert [str(i) for i in event.prediction_ids] == result.ids
    assert [list(r) for r in zip(*event.features.values(), strict=True)] == [
        list(r.values()) for r in rows
    ]


async def test_predict_can_run_an_offloaded_model_in_the_worker_thread(
    store: ContentStore, sensor_bytes: bytes, batcher: MicroBatcher
) -> None:
    model = load_model(store, promotion(store, sensor_bytes, SENSORS), offload="always")
    holder = ModelHolder()
    holder.swap(model)

    result = await Predictor(holder, prediction_log(FakePublish()), batcher).predict(sensor_rows(3))

    assert len(result.ids) == 3
    np.testing.assert_allclose(result.proba.sum(axis=1), 1.0)


def test_canary_routing_is_sticky_per_key() -> None:
    keys = [f"customer-{i}" for i in range(500)]

    first = [in_canary(k, 0.3) for k in keys]
    again = [in_canary(k, 0.3) for k in reversed(keys)]

    assert first == list(reversed(again))
    assert any(first)
    assert not all(first)


def test_canary_routing_gives_the_canary_about_its_share_of_keys() -> None:
    rng = random.Random(20240601)
    keys = [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(10_000)]

    share = sum(in_canary(k, 0.3) for k in keys) / len(keys)

    assert 0.27 <= share <= 0.33


def test_canary_routing_at_the_extremes_is_all_or_nothing_with_or_without_a_key() -> None:
    keys: list[str | None] = [None] * 200 + [f"k{i}" for i in range(200)]

    assert not any(in_canary(k, 0.0) for k in keys)
    assert all(in_canary(k, 1.0) for k in keys)


def key_where(in_the_canary: bool, share: float) -> str:
    return next(
        f"user-{i}" for i in range(10_000) if in_canary(f"user-{i}", share) is in_the_canary
    )


async def test_a_canary_request_is_answered_by_the_candidate_and_logged_as_canary(
    serving: Serving, candidate: LoadedModel
) -> None:
    serving.holder.rollout = Rollout("canary", candidate, share=0.5)
    rows = credit_rows(2)

    canary = await serving.predictor.predict(rows, key_where(True, 0.5))
    primary = await serving.predictor.predict(rows, key_where(False, 0.5))

    assert (canary.model_version, canary.role) == (2, "canary")
    assert (primary.model_version, primary.role) == (1, "primary")
    expected = candidate.pipeline.predict_proba(feature_matrix(SCHEMA, rows))
    np.testing.assert_allclose(canary.proba, expected)
    events = {(e.model_version, e.role): e for e in await serving.published()}
    assert set(events) == {(2, "canary"), (1, "primary")}
    assert [str(i) for i in events[2, "canary"].prediction_ids] == canary.ids
    assert [str(i) for i in events[1, "primary"].prediction_ids] == primary.ids


async def test_the_same_key_is_always_answered_by_the_same_model(
    serving: Serving, candidate: LoadedModel
) -> None:
    serving.holder.rollout = Rollout("canary", candidate, share=0.5)
    rows = credit_rows(1)

    for key in ("alice", "bob", "carol", "dave"):
        versions = {(await serving.predictor.predict(rows, key)).model_version for _ in range(5)}
        assert versions == {2 if in_canary(key, 0.5) else 1}


async def test_a_shadow_candidate_is_logged_under_the_same_ids_but_never_answers(
    serving: Serving, champion: LoadedModel, candidate: LoadedModel
) -> None:
    serving.holder.rollout = Rollout("shadow", candidate)
    rows = credit_rows(4)

    result = await serving.predictor.predict(rows, "alice")

    assert (result.model_version, result.role) == (1, "primary")
    x = feature_matrix(SCHEMA, rows)
    np.testing.assert_allclose(result.proba, champion.pipeline.predict_proba(x))

    async def shadow_logged() -> bool:
        return len(serving.log) == 8

    await eventually(shadow_logged, timeout=2, interval=0.005, what="the shadow prediction")
    events = {e.role: e for e in await serving.published()}
    assert set(events) == {"primary", "shadow"}
    shadow = events["shadow"]
    assert shadow.model_version == 2
    assert [str(i) for i in shadow.prediction_ids] == result.ids
    assert [str(i) for i in events["primary"].prediction_ids] == result.ids
    expected = candidate.pipeline.predict_proba(x)
    np.testing.assert_allclose(shadow.scores or (), expected.max(axis=1), atol=5e-5)
    assert shadow.features == events["primary"].features


async def test_a_failing_shadow_is_counted_and_leaves_the_answer_alone(
    serving: Serving, sensors_model: LoadedModel
) -> None:
    serving.holder.rollout = Rollout("shadow", sensors_model)  # refuses the credit rows
    failures = SHADOW_FAILURES._value.get()

    result = await serving.predictor.predict(credit_rows(2))

    async def counted() -> bool:
        return bool(SHADOW_FAILURES._value.get() == failures + 1)

    await eventually(counted, timeout=2, interval=0.005, what="the shadow failure")
    assert result.model_version == 1
    assert [e.role for e in await serving.published()] == ["primary"]


# -------------------------------------------------------------------------- PredictionLog


async def test_flush_publishes_in_batches_of_batch_size_rows_in_order() -> None:
    publish = FakePublish()
    log = prediction_log(publish, batch_size=4)
    entries = [logged(2), logged(2), logged(2), logged(1)]
    for entry in entries:
        log.add(entry)
    assert len(log) == 7

    await log.flush()

    assert publish.rows_per_call() == [4, 3]
    assert publish.ids() == ids_of(*entries)
    assert len(log) == 0


async def test_flush_on_an_empty_log_publishes_nothing() -> None:
    publish = FakePublish()

    await prediction_log(publish).flush()

    assert publish.attempts == 0


async def test_a_full_buffer_of_rows_wakes_the_publisher_before_the_flush_interval() -> None:
    publish = FakePublish()
    log = prediction_log(publish, batch_size=3, flush_ms=60_000)
    await log.start()
    try:
        log.add(logged(1))
        log.add(logged(2))

        async def published() -> bool:
            return publish.rows_per_call() == [3]

        await eventually(published, timeout=2, interval=0.005, what="a publish")
    finally:
        await log.stop(timeout=1)


async def test_the_publisher_retries_after_a_failure_until_the_rows_are_out() -> None:
    publish = FakePublish(failing=[1])
    log = prediction_log(publish, flush_ms=10)
    entry = logged(3)
    await log.start()
    try:
        log.add(entry)

        async def published() -> bool:
            return publish.ids() == list(entry.ids)

        await eventually(published, timeout=2, interval=0.005, what="the retried publish")
    finally:
        await log.stop(timeout=1)
    assert publish.attempts == 2


def test_a_full_buffer_drops_the_oldest_requests_rows_and_counts_them() -> None:
    log = prediction_log(FakePublish(), max_buffer=5)
    oldest, middle, newest = logged(2), logged(2), logged(2)
    before = dropped()

    log.add(oldest)
    log.add(middle)
    log.add(newest)

    assert dropped() - before == 2
    assert len(log) == 4


async def test_the_newest_predictions_are_published_after_an_overflow() -> None:
    publish = FakePublish()
    log = prediction_log(publish, max_buffer=5)
    entries = [logged(2), logged(2), logged(2)]
    for entry in entries:
        log.add(entry)

    await log.flush()

    assert publish.ids() == ids_of(*entries[1:])


def test_a_request_larger_than_the_whole_buffer_is_dropped_with_what_was_before_it() -> None:
    log = prediction_log(FakePublish(), max_buffer=3)
    before = dropped()

    log.add(logged(2))
    log.add(logged(5))

    assert dropped() - before == 7
    assert len(log) == 0


async def test_a_failed_batch_goes_back_to_the_front_in_order() -> None:
    publish = FakePublish(failing=[1])
    log = prediction_log(publish, batch_size=2)
    entries = [logged(1), logged(1), logged(1)]
    for entry in entries:
        log.add(entry)

    with pytest.raises(ConnectionError):
        await log.flush()
    assert len(log) == 3
    await log.flush()

    assert publish.ids() == ids_of(*entries)
    assert len(log) == 0


async def test_after_a_failure_midway_only_the_unpublished_rows_stay_buffered() -> None:
    publish = FakePublish(failing=[2])
    log = prediction_log(publish, batch_size=2)
    entries = [logged(1) for _ in range(5)]
    for entry in entries:
        log.add(entry)

    with pytest.raises(ConnectionError):
        await log.flush()
    assert len(log) == 3
    await log.flush()

    assert publish.ids() == ids_of(*entries)  # each once, in order


async def test_a_failed_batch_put_back_still_respects_the_bound() -> None:
    entries = [logged(2, start=10 * i) for i in range(4)]
    log: PredictionLog

    def requests_keep_coming(attempt: int) -> None:
        if attempt == 1:  # while the first batch (entries[0]) is out
            log.add(entries[2])
            log.add(entries[3])  # 6 rows buffered: entries[1] is dropped

    publish = FakePublish(failing=[1], during=requests_keep_coming)
    log = prediction_log(publish, batch_size=2, max_buffer=4)
    log.add(entries[0])
    log.add(entries[1])
    before = dropped()

    with pytest.raises(ConnectionError):
        await log.flush()

    assert len(log) == 4  # entries[0], back at the front, was the oldest beyond the bound
    assert dropped() - before == 4
    await log.flush()
    assert publish.ids() == ids_of(entries[2], entries[3])


async def test_stop_flushes_what_is_buffered() -> None:
    publish = FakePublish()
    log = prediction_log(publish, batch_size=100, flush_ms=60_000)
    entry = logged(3)
    await log.start()
    log.add(entry)

    await log.stop(timeout=1.0)

    assert publish.ids() == list(entry.ids)


class SwallowingLog(PredictionLog):
    """A flush loop whose cancellation gets lost, as Python 3.11's `asyncio.wait_for` loses
    one that lands as its wait completes (seen as a shutdown hung for minutes)."""

    async def _run(self) -> None:
        while True:
            try:
                await super()._run()
                return
            except asyncio.CancelledError:
                continue


async def test_stop_ends_the_flush_loop_even_if_a_cancellation_is_lost() -> None:
    publish = FakePublish()
    log = SwallowingLog(publish, batch_size=1000, flush_ms=60_000, max_buffer=10_000)
    entry = logged(3)
    await log.start()
    log.add(entry)

    await asyncio.wait_for(log.stop(timeout=1.0), 5)

    assert publish.ids() == list(entry.ids)


async def test_stop_keeps_the_buffer_when_publishing_fails() -> None:
    publish = FakePublish(failing=[1])
    log = prediction_log(publish, flush_ms=60_000)
    await log.start()
    log.add(logged(2))

    await log.stop(timeout=1.0)

    assert len(log) == 2


# -------------------------------------------------------------------- prediction.logged


def test_encoded_events_satisfy_the_prediction_logged_contract() -> None:
    entries = [logged(3, matrix=True), logged(2)]

    (body,) = encode_events(entries)
    event = PredictionsLogged.model_validate_json(body)

    assert event.event_type == "prediction.logged"
    assert event.schema_version == 3
    assert event.schema_version in PredictionsLogged.SUPPORTED_VERSIONS
    assert event.producer == "predictor"
    assert event.event_id == event.correlation_id
    assert event.causation_id is None
    assert (event.dataset, event.model_version, event.role) == ("demo", 1, "primary")
    assert event.feature_names == ("x", "y")
    assert [str(i) for i in event.prediction_ids] == ids_of(*entries)
    assert list(event.predictions) == [*entries[0].labels, *entries[1].labels]
    expected = np.round([*entries[0].probabilities, *entries[1].probabilities], 4)
    assert event.scores == tuple(expected)
    assert list(event.predicted_at_ms) == (
        [entries[0].predicted_at_ms] * 3 + [entries[1].predicted_at_ms] * 2
    )
    assert (event.features["x"][4], event.features["y"][4]) == (1.0, 1.5)


def test_encoded_events_are_grouped_by_dataset_model_version_and_role() -> None:
    a = logged(1)
    b = logged(1, version=2, role="canary")
    c = logged(1, dataset="other")
    d = logged(2)
    e = logged(1, role="shadow")

    bodies = encode_events([a, b, c, d, e])

    grouped = {
        (ev.dataset, ev.model_version, ev.role): [str(i) for i in ev.prediction_ids]
        for ev in (PredictionsLogged.model_validate_json(body) for body in bodies)
    }
    assert grouped == {
        ("demo", 1, "primary"): ids_of(a, d),
        ("demo", 2, "canary"): ids_of(b),
        ("other", 1, "primary"): ids_of(c),
        ("demo", 1, "shadow"): ids_of(e),
    }
    assert len({PredictionsLogged.model_validate_json(b).event_id for b in bodies}) == 4


@pytest.mark.parametrize(
    "kinds",
    [("matrix", "matrix"), ("lists", "lists"), ("matrix", "lists"), ("lists", "matrix")],
)
def test_matrix_and_list_features_serialise_to_the_same_rows(kinds: tuple[str, str]) -> None:
    entries = [logged(2, matrix=kind == "matrix", start=10 * i) for i, kind in enumerate(kinds)]

    (body,) = encode_events(entries)

    features = PredictionsLogged.model_validate_json(body).features
    assert features == {"x": (0.0, 1.0, 10.0, 11.0), "y": (0.5, 1.5, 10.5, 11.5)}


def test_logged_features_may_hold_strings_and_nulls() -> None:
    entry = Logged(
        "demo",
        1,
        "primary",
        ("income", "region"),
        prediction_ids(2),
        [[55.0, "north"], [None, "west"]],
        ["no", "yes"],
        np.array([0.9, 0.6]),
        1_700_000_000_000,
    )

    (body,) = encode_events([entry])

    assert PredictionsLogged.model_validate_json(body).features == {
        "income": (55.0, None),
        "region": ("north", "west"),
    }


# ------------------------------------------------------------------------------ FastPath


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Downstream:
    """The wrapped app: records what reached it and answers 218."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, str | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append((scope["type"], scope.get("method"), scope.get("path")))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 218, "headers": []})
            await send({"type": "http.response.body", "body": b"downstream"})


async def call(
    app: FastPath,
    path: str,
    chunks: Sequence[bytes],
    *,
    method: str = "POST",
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> Answer:
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"content-type", b"application/json"), *headers],
    }
    await app(scope, receive, send)
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], start["headers"], body)


@pytest.fixture
def downstream() -> Downstream:
    return Downstream()


@pytest.fixture
def fastpath(serving: Serving, downstream: Downstream) -> FastPath:
    return FastPath(serving.predictor, downstream, max_body_bytes=4096, max_rows=10)


async def test_the_fast_path_answers_a_single_prediction_as_json(fastpath: FastPath) -> None:
    body = orjson.dumps({"features": credit_rows(1)[0]})

    answer = await call(fastpath, "/v1/predict", [body])

    assert answer.status == 200
    assert answer.headers == [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer.body)).encode()),
    ]
    data = answer.json()
    assert set(data) == {
        "prediction_id",
        "prediction",
        "probability",
        "probabilities",
        "model_version",
    }
    assert data["model_version"] == 1
    assert set(data["probabilities"]) == {"no", "yes"}


async def test_the_fast_path_answers_a_batch_as_json_to_a_real_http_client(
    fastpath: FastPath,
) -> None:
    transport = httpx.ASGITransport(app=fastpath)
    async with httpx.AsyncClient(transport=transport, base_url="http://predictor") as client:
        response = await client.post("/v1/predict/batch", json={"rows": credit_rows(3)})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["classes"] == ["no", "yes"]
    assert len(data["predictions"]) == 3
    assert all(len(p["probabilities"]) == 2 for p in data["predictions"])


async def test_the_fast_path_assembles_a_body_sent_in_several_chunks(fastpath: FastPath) -> None:
    body = orjson.dumps({"rows": credit_rows(2)})
    chunks = [body[:10], body[10:50], body[50:]]

    answer = await call(fastpath, "/v1/predict/batch", chunks)

    assert answer.status == 200
    assert len(answer.json()["predictions"]) == 2


async def test_the_fast_path_refuses_a_body_that_is_not_json_with_422(
    fastpath: FastPath, serving: Serving
) -> None:
    answer = await call(fastpath, "/v1/predict", [b'{"features": {'])

    assert answer.status == 422
    assert answer.json()["error"] == "invalid_input"
    assert answer.json()["message"].startswith("body is not JSON")
    assert len(serving.log) == 0


async def test_the_fast_path_refuses_bad_rows_with_422_naming_each(
    fastpath: FastPath, serving: Serving
) -> None:
    rows = credit_rows(2)
    rows[1] = {**rows[1], "age": 5}

    answer = await call(fastpath, "/v1/predict/batch", [orjson.dumps({"rows": rows})])

    assert answer.status == 422
    assert answer.json() == {
        "error": "invalid_input",
        "message": "1 of 2 row(s) invalid; row 1: feature 'age' is 5.0, below the minimum 18.0",
        "details": [{"row": 1, "error": "feature 'age' is 5.0, below the minimum 18.0"}],
    }
    assert len(serving.log) == 0


async def test_the_fast_path_refuses_a_body_of_the_wrong_shape_with_422(
    fastpath: FastPath,
) -> None:
    answer = await call(fastpath, "/v1/predict", [orjson.dumps({"rows": credit_rows(1)})])

    assert answer.status == 422
    assert answer.json()["message"] == 'body must be a JSON object like {"features": {...}}'


async def test_the_fast_path_refuses_more_rows_than_max_rows_with_422(fastpath: FastPath) -> None:
    body = orjson.dumps({"rows": [warm_up_row(SCHEMA)] * 11})

    answer = await call(fastpath, "/v1/predict/batch", [body])

    assert answer.status == 422
    assert answer.json()["message"] == "11 rows; send at most 10 per request"


async def test_the_fast_path_refuses_a_chunked_body_over_max_body_bytes_with_413(
    fastpath: FastPath, serving: Serving
) -> None:
    chunks = [b" " * 1500, b" " * 1500, b" " * 1500, b'{"features": {}}']

    answer = await call(fastpath, "/v1/predict", chunks)

    assert answer.status == 413
    assert answer.json()["error"] == "too_large"
    assert "larger than 4096 bytes" in answer.json()["message"]
    assert len(serving.log) == 0


async def test_the_fast_path_answers_503_until_a_model_is_loaded(
    serving: Serving, downstream: Downstream
) -> None:
    empty = Predictor(ModelHolder(), serving.log, serving.predictor.batcher)
    app = FastPath(empty, downstream, max_body_bytes=4096, max_rows=10)

    answer = await call(app, "/v1/predict", [orjson.dumps({"features": credit_rows(1)[0]})])

    assert answer.status == 503
    assert answer.json()["error"] == "not_ready"


async def test_everything_but_posts_to_the_predict_routes_goes_to_the_wrapped_app(
    fastpath: FastPath, downstream: Downstream
) -> None:
    elsewhere = await call(fastpath, "/v2/models/demo/infer", [b"{}"])
    get = await call(fastpath, "/v1/predict", [b""], method="GET")
    await fastpath({"type": "lifespan"}, _never_called, _never_called)

    assert (elsewhere.status, elsewhere.body) == (218, b"downstream")
    assert get.status == 218
    assert downstream.seen == [
        ("http", "POST", "/v2/models/demo/infer"),
        ("http", "GET", "/v1/predict"),
        ("lifespan", None, None),
    ]


async def _never_called(*_: Any) -> Any:
    raise AssertionError("the wrapped app was expected to handle this")


async def test_the_request_key_header_routes_the_request_in_a_canary(
    fastpath: FastPath, serving: Serving, candidate: LoadedModel
) -> None:
    serving.holder.rollout = Rollout("canary", candidate, share=0.5)
    body = orjson.dumps({"features": credit_rows(1)[0]})

    versions = {}
    for inside in (True, False):
        key = key_where(inside, 0.5).encode()
        answers = [
            await call(fastpath, "/v1/predict", [body], headers=[(b"x-request-key", key)])
            for _ in range(3)
        ]
        versions[inside] = {a.json()["model_version"] for a in answers}

    assert versions == {True: {2}, False: {1}}


# ------------------------------------------------------------------------- columnar requests


def columns_of(rows: list[dict[str, Any]], names: Sequence[str]) -> Columns:
    return columns_from({n: [r.get(n) for r in rows] for n in names})


async def test_columns_are_predicted_as_the_same_rows_are(serving: Serving) -> None:
    rows = credit_rows(5)

    by_columns = await serving.predictor.predict(columns_of(rows, SCHEMA.feature_names))

    by_rows = await serving.predictor.predict(rows)
    assert by_columns.labels == by_rows.labels
    np.testing.assert_allclose(by_columns.proba, by_rows.proba)


async def test_a_mixed_schemas_columns_are_logged_as_columns_with_nulls(serving: Serving) -> None:
    rows = credit_rows(3)
    batch = columns_of(rows, SCHEMA.feature_names)
    batch.data["income"][1] = "61.5"  # coerced before logging, as in rows

    result = await serving.predictor.predict(batch)
    (event,) = await serving.published()

    assert [str(i) for i in event.prediction_ids] == result.ids
    assert event.features["income"][1] == 61.5
    assert list(event.features["region"]) == [r["region"] for r in rows]
    assert list(event.features["age"]) == [r["age"] for r in rows]


async def test_bad_columns_are_refused_naming_the_first_bad_row_and_nothing_is_logged(
    serving: Serving,
) -> None:
    batch = columns_of(credit_rows(4), SCHEMA.feature_names)
    batch.data["utilization"][2] = 1.5

    with pytest.raises(InvalidInput, match=r"row 2: feature 'utilization' is 1.5, above"):
        await serving.predictor.predict(batch)

    assert len(serving.log) == 0


async def test_a_columnar_batch_is_answered_in_columns(serving: Serving) -> None:
    batch = columns_of(credit_rows(3), SCHEMA.feature_names)

    result = await serving.predictor.predict(batch)
    answer = orjson.loads(answer_json(result, batch, single=False))

    assert answer["classes"] == result.classes
    assert answer["predictions"]["prediction_id"] == result.ids
    assert answer["predictions"]["prediction"] == result.labels
    assert answer["predictions"]["probabilities"] == result.proba.tolist()
    assert len(answer["predictions"]["probability"]) == 3


def test_a_regression_batch_in_columns_is_answered_with_numbers_only() -> None:
    result = Predictions(3, "primary", [], ["a", "b"], [12.5, 7.0], [], None)
    batch = columns_of(credit_rows(2), SCHEMA.feature_names)

    answer = orjson.loads(answer_json(result, batch, single=False))

    assert answer == {
        "model_version": 3,
        "predictions": {"prediction_id": ["a", "b"], "prediction": [12.5, 7.0]},
    }


async def test_the_fast_path_takes_a_columnar_batch_and_refuses_too_many_rows(
    fastpath: FastPath,
) -> None:
    rows = credit_rows(3)
    body = orjson.dumps({"columns": {n: [r[n] for r in rows] for n in SCHEMA.feature_names}})

    answer = await call(fastpath, "/v1/predict/batch", [body])

    assert answer.status == 200
    assert len(answer.json()["predictions"]["prediction"]) == 3
    many = orjson.dumps({"columns": {n: [rows[0][n]] * 11 for n in SCHEMA.feature_names}})
    refused = await call(fastpath, "/v1/predict/batch", [many])
    assert refused.status == 422
    assert refused.json()["message"] == "11 rows; send at most 10 per request"


async def test_the_documented_batch_route_takes_columns_too(serving: Serving) -> None:
    app = FastAPI()
    app.include_router(api.router)
    app.state.predictor, app.state.max_batch_rows = serving.predictor, 10
    rows = credit_rows(2)
    columns = {n: [r[n] for r in rows] for n in SCHEMA.feature_names}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://predictor") as client:
        by_columns = await client.post("/v1/predict/batch", json={"columns": columns})
        by_rows = await client.post("/v1/predict/batch", json={"rows": rows})

    assert by_columns.status_code == 200, by_columns.text
    assert by_columns.json()["predictions"]["prediction"] == [
        p["prediction"] for p in by_rows.json()["predictions"]
    ]


# --------------------------------------------------------------- per-dataset fast-path routes


async def test_the_fast_path_answers_a_dataset_named_in_the_path(
    fastpath: FastPath, serving: Serving
) -> None:
    assert serving.holder.current is not None
    dataset = serving.holder.current.promoted.dataset
    row = credit_rows(1)[0]

    one = await call(fastpath, f"/v1/models/{dataset}/predict", [orjson.dumps({"features": row})])
    many = await call(
        fastpath, f"/v1/models/{dataset}/predict/batch", [orjson.dumps({"rows": [row, row]})]
    )

    assert (one.status, one.json()["model_version"]) == (200, 1)
    assert (many.status, len(many.json()["predictions"])) == (200, 2)
    assert {e.dataset for e in await serving.published()} == {dataset}


async def test_the_fast_path_answers_404_for_a_dataset_that_does_not_serve(
    fastpath: FastPath,
) -> None:
    body = orjson.dumps({"features": credit_rows(1)[0]})

    answer = await call(fastpath, "/v1/models/nope/predict", [body])

    assert answer.status == 404
    assert "no model serves dataset 'nope'" in answer.json()["message"]


async def test_paths_that_only_look_like_per_dataset_routes_go_to_the_wrapped_app(
    fastpath: FastPath, downstream: Downstream
) -> None:
    for path in ("/v1/models//predict", "/v1/models/a/b/predict", "/v1/models/demo"):
        assert (await call(fastpath, path, [b"{}"])).status == 218
    assert (await call(fastpath, "/v1/models/demo/predict", [b""], method="GET")).status == 218


def test_a_per_dataset_path_is_cut_into_route_and_dataset() -> None:
    assert per_dataset("/v1/models/loans/predict") == (True, "loans")
    assert per_dataset("/v1/models/loans/predict/batch") == (False, "loans")
    assert per_dataset("/v1/models/predict/batch") == (None, None)
    assert per_dataset("/v1/models/predict/predict") == (True, "predict")
    assert per_dataset("/v1/models/loans/explain") == (None, None)
