"""The trainer trains each dataset with its registered training spec, learnt live from
dataset.registered (and from the registry state when it starts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import DatasetRegistered, TrainingSpec, streams
from driftloop_core import ContentStore
from driftloop_ml import UntrustedTypes, load_artifact
from driftloop_predictor.model import load_model
from driftloop_registry.bootstrap import build_app as build_registry
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.bootstrap import build_app
from driftloop_trainer.settings import TrainerSettings
from fastapi.testclient import TestClient

from tests.support.data import ingested, labelled_rows
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

USER_MODELS = Path(__file__).parents[1] / "support" / "user_models"


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def settings(redis_url: str, namespace: str, store: ContentStore) -> TrainerSettings:
    return TrainerSettings(
        redis_url=redis_url, namespace=namespace, store_url=store.url, min_initial_rows=300
    )


@pytest.fixture(autouse=True)
def user_models_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As PYTHONPATH=tests/support/user_models would for a trainer process."""
    monkeypatch.syspath_prepend(str(USER_MODELS))


def registered(spec: TrainingSpec) -> DatasetRegistered:
    return DatasetRegistered(
        producer="test", dataset=SCHEMA.name, dataset_schema=SCHEMA, training=spec
    )


def knows(trainer: TestClient, spec: TrainingSpec) -> None:
    """Wait until the trainer has followed the registration (before any data arrives)."""
    want = spec.model_dump(exclude_none=True)
    eventually_sync(
        lambda: trainer.get(f"/v1/datasets/{SCHEMA.name}/training").json()["spec"] == want,
        what="the trainer to learn the training spec",
    )


@pytest.fixture
def trainer(settings: TrainerSettings) -> Iterator[TestClient]:
    with TestClient(build_app(settings)) as client:
        yield client


def test_a_dataset_registered_with_an_entry_point_trains_with_it_and_its_model_serves(
    trainer: TestClient,
    streams_io: Streams,
    store: ContentStore,
    tmp_path: Path,
    redis_url: str,
) -> None:
    spec = TrainingSpec(entry_point="driftloop_example_models.credit:make_estimator")
    streams_io.publish(streams.DATASET_REGISTERED, registered(spec))
    knows(trainer, spec)
    registry = RegistrySettings(
        redis_url=redis_url,
        namespace=streams_io.namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
    )
    with TestClient(build_registry(registry)):
        streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
        (done,) = streams_io.wait(streams.TRAINING_COMPLETED, timeout=60)
        (promoted,) = streams_io.wait(streams.MODEL_PROMOTED, timeout=60)
    assert done.params["entry_point"] == spec.entry_point
    pipeline = load_artifact(store.get(done.artifact)).pipeline
    assert type(pipeline.named_steps["tree"]).__name__ == "DecisionTreeClassifier"
    # The predictor loads it as any promotion (sha256, schema, warm-up) and predicts with it.
    served = load_model(store, promoted)
    assert served.pipeline.predict_proba(
        served.encoder.encode([r.features for r in labelled_rows(3)])[0]
    ).shape == (3, 2)


def registry_app(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path, trusted: tuple[str, ...]
) -> TestClient:
    settings = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
        trusted_modules=trusted,
    )
    return TestClient(build_registry(settings))


CUSTOM = TrainingSpec(entry_point="driftloop_example_models.custom:make_estimator")
TRUSTED = ("driftloop_example_models",)  # DRIFTLOOP_TRUSTED_MODULES=driftloop_example_models


def test_a_model_holding_a_users_class_serves_where_its_package_is_trusted(
    trainer: TestClient, streams_io: Streams, store: ContentStore, tmp_path: Path, redis_url: str
) -> None:
    streams_io.publish(streams.DATASET_REGISTERED, registered(CUSTOM))
    knows(trainer, CUSTOM)
    with registry_app(redis_url, streams_io.namespace, store, tmp_path, TRUSTED):
        streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
        (promoted,) = streams_io.wait(streams.MODEL_PROMOTED, timeout=60)

    served = load_model(store, promoted, trusted_modules=TRUSTED)
    assert served.version == promoted.model_version
    with pytest.raises(UntrustedTypes, match=r"driftloop_example_models\.custom\.Clip"):
        load_model(store, promoted)  # a predictor that does not trust the package refuses it


def test_a_registry_that_does_not_trust_the_users_package_rejects_its_model_saying_why(
    trainer: TestClient, streams_io: Streams, store: ContentStore, tmp_path: Path, redis_url: str
) -> None:
    streams_io.publish(streams.DATASET_REGISTERED, registered(CUSTOM))
    knows(trainer, CUSTOM)
    with registry_app(redis_url, streams_io.namespace, store, tmp_path, ()):
        streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
        (rejected,) = streams_io.wait(streams.MODEL_REJECTED, timeout=60)

    assert "not trusted: ['driftloop_example_models.custom.Clip']" in rejected.reason
    assert "DRIFTLOOP_TRUSTED_MODULES" in rejected.reason
    assert streams_io.read(streams.MODEL_PROMOTED) == []


def test_a_spec_registered_before_the_trainer_starts_applies(
    settings: TrainerSettings, streams_io: Streams, store: ContentStore
) -> None:
    spec = TrainingSpec(family="random_forest", search_space={"max_depth": (3,)})
    streams_io.publish(streams.DATASET_REGISTERED, registered(spec))
    with TestClient(build_app(settings)) as trainer:
        assert trainer.get(f"/v1/datasets/{SCHEMA.name}/training").json()["spec"] == {
            "family": "random_forest",
            "search_space": {"max_depth": [3]},
        }
        streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
        (done,) = streams_io.wait(streams.TRAINING_COMPLETED, timeout=60)
    assert done.params == {"max_depth": 3}


def test_a_bad_entry_point_is_a_training_failed_naming_it_not_a_retry(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    spec = TrainingSpec(entry_point="driftloop_example_models.broken:raises")
    streams_io.publish(streams.DATASET_REGISTERED, registered(spec))
    knows(trainer, spec)
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(400)))
    (failed,) = streams_io.wait(streams.TRAINING_FAILED, timeout=60)
    assert failed.reason.startswith(
        "entry point 'driftloop_example_models.broken:raises' for dataset 'demo': raised"
    )
    assert streams_io.dead_letters(streams.DATA_INGESTED) == []
