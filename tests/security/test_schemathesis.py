"""A bounded, seeded schemathesis run against every service's HTTP API, in process, on a real
Redis: whatever the OpenAPI document allows a client to send, no answer is a 5xx, and every
error has the one shape {"error", "message", "details"?}."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from driftloop_contracts import streams
from driftloop_core import ContentStore
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from tests.support.data import SCHEMA, labelled_rows, promoted, trained
from tests.support.streams import Streams

TOKEN = "schemathesis-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def fuzzing(examples: int) -> settings:
    """At most `examples` cases per operation and mode, the same ones on every run."""
    return settings(
        max_examples=examples,
        derandomize=True,  # a failure is reproducible
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


def in_one_shape(response: Any) -> None:
    if response.status_code < 400:
        return
    body = response.json()
    assert isinstance(body, dict) and {"error", "message"} <= set(body), body
    assert set(body) <= {"error", "message", "details"}, body
    assert isinstance(body["message"], str) and body["message"], body


def call(case: Any, headers: dict[str, str]) -> None:
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    in_one_shape(response)


def started(app: FastAPI) -> Iterator[schemathesis.schemas.BaseSchema]:
    """The app's schema; schemathesis starts the app's lifespan once, we stop it after."""
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def ingest_api(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore
) -> Iterator[Any]:
    from driftloop_ingest.bootstrap import build_app
    from driftloop_ingest.settings import IngestSettings

    seeds = tmp_path / "schemas"
    seeds.mkdir()
    (seeds / "demo.json").write_text(SCHEMA.model_dump_json())
    yield from started(
        build_app(
            IngestSettings(
                redis_url=redis_url, namespace=namespace, store_url=store.url, schema_dir=seeds
            )
        )
    )


@pytest.fixture
def predictor_api(redis_url: str, namespace: str, store: ContentStore) -> Iterator[Any]:
    from driftloop_predictor.bootstrap import build_app
    from driftloop_predictor.settings import PredictorSettings

    io = Streams(redis_url, namespace)  # a model serves from the start
    io.publish(streams.MODEL_PROMOTED, promoted(trained(store, labelled_rows(200)), 1))
    io.close()
    settings_ = PredictorSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, dataset="demo"
    )
    app = build_app(settings_)
    for schema in started(app):
        # Loaded at start-up from the serving state: else every predict is a 503 and the run
        # says nothing about the routes past the model.
        ready = asgi.get_client(app).get("/readyz")
        assert ready.status_code == 200, f"the seeded model does not serve: {ready.text}"
        yield schema


@pytest.fixture
def registry_api(
    redis_url: str, namespace: str, tmp_path: Path, store: ContentStore
) -> Iterator[Any]:
    from driftloop_registry.bootstrap import build_app
    from driftloop_registry.settings import RegistrySettings

    settings_ = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
        admin_token=TOKEN,
    )
    yield from started(build_app(settings_))


@pytest.fixture
def trainer_api(redis_url: str, namespace: str, store: ContentStore) -> Iterator[Any]:
    from driftloop_trainer.bootstrap import build_app
    from driftloop_trainer.settings import TrainerSettings

    settings_ = TrainerSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, admin_token=TOKEN
    )
    yield from started(build_app(settings_))


@pytest.fixture
def monitor_api(redis_url: str, namespace: str, store: ContentStore) -> Iterator[Any]:
    from driftloop_drift_monitor.bootstrap import build_app
    from driftloop_drift_monitor.settings import MonitorSettings

    settings_ = MonitorSettings(redis_url=redis_url, namespace=namespace, store_url=store.url)
    yield from started(build_app(settings_))


def fuzz(schema: Any, examples: int, headers: dict[str, str] | None = None) -> int:
    """Every operation, positive and negative cases, each also with its dataset (or model
    name) pinned to the one that exists, so bodies reach the code past the lookup; the number
    of cases run."""
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters} & {"dataset", "name"}
        for mode, pinned in product(GenerationMode, (False, True)):
            if pinned and not names:
                continue
            fixed = dict.fromkeys(names, "demo") if pinned else None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)

            @fuzzing(examples)
            @given(case=strategy)
            def run(case: Any) -> None:
                nonlocal cases
                cases += 1
                call(case, dict(headers or {}))  # schemathesis adds to the dict

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (no parameter, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
    print(f"{cases} cases")
    return cases


def test_ingest_answers_no_5xx_and_one_error_shape(ingest_api: Any) -> None:
    assert fuzz(ingest_api, 25) >= 200


def test_the_predictor_answers_no_5xx_and_one_error_shape(predictor_api: Any) -> None:
    assert fuzz(predictor_api, 6) >= 200


def test_the_registry_answers_no_5xx_and_one_error_shape(registry_api: Any) -> None:
    assert fuzz(registry_api, 6, ADMIN) >= 200


def test_the_trainer_answers_no_5xx_and_one_error_shape(trainer_api: Any) -> None:
    assert fuzz(trainer_api, 30, ADMIN) >= 200


def test_the_monitor_answers_no_5xx_and_one_error_shape(monitor_api: Any) -> None:
    assert fuzz(monitor_api, 40) >= 100
