"""The content store on S3 (STORE_URL=s3://bucket/prefix, STORE_S3_ENDPOINT_URL) against a
local S3 server: blobs round-trip verified, a missing one is NotFound, and a model the
trainer stores is served by a predictor that reads the same bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from driftloop_contracts import BlobRef, TrainingRequested, streams, utcnow
from driftloop_contracts.datasets import LabelledRow
from driftloop_core import ContentStore, IntegrityError, NotFound
from driftloop_predictor.bootstrap import build_app
from driftloop_predictor.settings import PredictorSettings
from driftloop_sdk.scenario import HouseScenario
from driftloop_trainer.runs import completed_event
from driftloop_trainer.training import TrainingConfig, train
from fastapi.testclient import TestClient

from tests.support.data import promoted
from tests.support.s3 import CREDENTIALS, LocalS3, local_s3
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

DATA = b'{"features":{"x":1.0},"label":"a"}\n'


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    with local_s3() as server:
        yield server


@pytest.fixture
def store_url(s3: LocalS3, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3.new_bucket()}/driftloop"


@pytest.fixture
def store(store_url: str, s3: LocalS3) -> ContentStore:
    return ContentStore(store_url, endpoint_url=s3.endpoint_url)


def test_put_then_get_returns_the_same_verified_bytes(store: ContentStore) -> None:
    ref = store.put(DATA, kind="datasets/demo", suffix=".jsonl")

    assert ref.key.startswith("datasets/demo/") and ref.size == len(DATA)
    assert store.get(ref) == DATA
    assert store.put(DATA, kind="datasets/demo", suffix=".jsonl") == ref


def test_a_blob_is_one_object_under_the_prefix_and_nothing_else_is_written(
    store: ContentStore, store_url: str
) -> None:
    ref = store.put(DATA, kind="models/demo")

    objects = store.fs.find(store_url.removeprefix("s3://"))
    assert objects == [f"{store.root}/{ref.key}"]


def test_a_missing_blob_is_not_found(store: ContentStore) -> None:
    sha = hashlib.sha256(DATA).hexdigest()
    ref = BlobRef(key=f"datasets/demo/{sha[:2]}/{sha}", sha256=sha, size=len(DATA))

    with pytest.raises(NotFound, match=ref.key):
        store.get(ref)


def test_a_blob_changed_on_s3_is_refused(store: ContentStore) -> None:
    ref = store.put(DATA, kind="datasets/demo")
    store.fs.pipe_file(f"{store.root}/{ref.key}", DATA.replace(b"1.0", b"9.0"))

    with pytest.raises(IntegrityError, match="refusing to use it"):
        store.get(ref)


def test_the_settings_read_store_url_and_the_endpoint(
    store_url: str, s3: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_URL", store_url)
    monkeypatch.setenv("STORE_S3_ENDPOINT_URL", s3.endpoint_url)

    settings = PredictorSettings()

    assert (settings.store_url, settings.store_s3_endpoint_url) == (store_url, s3.endpoint_url)


def test_a_model_the_trainer_stores_on_s3_is_served_by_a_predictor_reading_s3(
    store: ContentStore, s3: LocalS3, redis_url: str, namespace: str, streams_io: Streams
) -> None:
    start, drawn = utcnow(), HouseScenario(1).draw(200, "before")
    rows = [
        LabelledRow(f, y, start + timedelta(milliseconds=i))
        for i, (f, y) in enumerate(zip(drawn.features, drawn.labels, strict=True))
    ]
    cause = TrainingRequested(producer="test", dataset="houses")
    trained = train(HouseScenario.schema, rows, TrainingConfig())
    run = completed_event(store, cause, "test", "initial", trained, ["v"], 42)
    settings = PredictorSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        store_s3_endpoint_url=s3.endpoint_url,
        dataset="houses",
    )
    with TestClient(build_app(settings)) as client:
        streams_io.publish(streams.MODEL_PROMOTED, promoted(run, 1))
        eventually_sync(lambda: client.get("/v1/model").status_code == 200, what="v1 served")
        answer = client.post("/v1/predict", json={"features": drawn.features[0]})

    assert answer.status_code == 200
    assert isinstance(answer.json()["prediction"], float)
