"""A model trained elsewhere goes through the trainer (checked, evaluated on the newest rows)
and the registry's gate, like any trained candidate, with its lineage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_ml import load_artifact
from driftloop_predictor.model import load_model
from driftloop_registry.bootstrap import build_app as build_registry
from driftloop_registry.settings import RegistrySettings
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.bootstrap import build_app as build_trainer
from driftloop_trainer.settings import TrainerSettings
from fastapi.testclient import TestClient
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from tests.support.data import ingested, labelled_rows
from tests.support.external_models import joblib_file, model_file
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

TOKEN = "test-admin-token-0123456789"
UPLOAD = {"Authorization": f"Bearer {TOKEN}", "X-Driftloop-User": "alice"}


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def allow_pickles() -> bool:
    """TRAINER_ALLOW_PICKLE_UPLOADS (off by default)."""
    return False


@pytest.fixture
def trainer(
    redis_url: str, namespace: str, store: ContentStore, allow_pickles: bool
) -> Iterator[TestClient]:
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=100_000,  # it never trains here: only uploads become candidates
        admin_token=TOKEN,
        max_upload_mb=1,
        allow_pickle_uploads=allow_pickles,
    )
    with TestClient(build_trainer(settings)) as client:
        yield client


@pytest.fixture
def registry(
    redis_url: str, namespace: str, store: ContentStore, tmp_path: Path
) -> Iterator[TestClient]:
    settings = RegistrySettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        db_path=tmp_path / "registry.sqlite3",
    )
    with TestClient(build_registry(settings)) as client:
        yield client


@pytest.fixture
def with_rows(trainer: TestClient, streams_io: Streams, store: ContentStore) -> None:
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(1000)))
    eventually_sync(
        lambda: trainer.get(f"/v1/datasets/{SCHEMA.name}").status_code == 200,
        what="the trainer to record the rows",
    )


def upload(trainer: TestClient, data: bytes, headers: dict[str, str] = UPLOAD) -> Any:
    return trainer.post(
        f"/v1/datasets/{SCHEMA.name}/models?filename=model.skops", content=data, headers=headers
    )


def decided(registry: TestClient, run_id: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        versions = registry.get(f"/v1/models?dataset={SCHEMA.name}").json()
        # decided, and the promotion (if any) applied: the read side follows model.promoted
        mine = [v for v in versions if v["run_id"] == run_id and v["status"] != "candidate"]
        return mine[0] if mine else None

    return eventually_sync(find, timeout=30, what=f"the gate's decision on run {run_id}")


@pytest.mark.usefixtures("with_rows")
def test_an_uploaded_model_is_gated_promoted_and_keeps_its_lineage(
    trainer: TestClient, registry: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    answer = upload(trainer, model_file(LogisticRegression()))
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["metrics"]["rows"] == 200
    version = decided(registry, accepted["run_id"])
    assert version["status"] == "champion" and version["trigger"] == "external"
    (promoted,) = streams_io.wait(streams.MODEL_PROMOTED)
    assert load_artifact(store.get(promoted.artifact)).classes == ("no", "yes")
    assert load_model(store, promoted).version == version["version"]  # as the predictor loads
    lineage = registry.get(f"/v1/models/{SCHEMA.name}/{version['version']}/lineage").json()
    assert lineage["trigger"] == "external"
    assert lineage["params"]["source"] == "external"
    assert lineage["params"]["uploaded_by"] == "alice"
    assert lineage["params"]["file_name"] == "model.skops"
    assert lineage["params"]["file_sha256"] == accepted["file_sha256"]
    # A worse model is judged against that champion, and kept out with the gate's reason.
    worse = upload(trainer, model_file(DummyClassifier(strategy="prior")))
    assert worse.status_code == 202, worse.text
    rejected = decided(registry, worse.json()["run_id"])
    assert rejected["status"] == "rejected"
    (event,) = streams_io.wait(streams.MODEL_REJECTED)
    assert event.trigger == "external" and event.reason
    streams_io.wait_consumed(streams.MODEL_REJECTED, "trainer")  # and it changes nothing there
    assert streams_io.dead_letters(streams.MODEL_REJECTED) == []


@pytest.mark.usefixtures("with_rows")
def test_uploads_need_the_admin_token_a_file_that_fits_and_a_size_under_the_limit(
    trainer: TestClient, streams_io: Streams
) -> None:
    good = model_file(LogisticRegression())
    assert upload(trainer, good, headers={}).status_code == 401
    wrong = upload(trainer, b"not a model")
    assert wrong.status_code == 422
    assert "not a skops file" in wrong.json()["message"]
    assert upload(trainer, b"x" * (1024 * 1024 + 1)).status_code == 413
    assert upload(trainer, b"").status_code == 422
    unknown = trainer.post("/v1/datasets/nothing/models", content=good, headers=UPLOAD)
    assert unknown.status_code == 404 and "ingest labelled rows first" in unknown.text
    assert streams_io.read(streams.TRAINING_COMPLETED) == []


@pytest.mark.usefixtures("with_rows")
def test_a_joblib_upload_is_refused_by_default_saying_how_to_save_with_skops(
    trainer: TestClient, streams_io: Streams
) -> None:
    answer = upload(trainer, joblib_file(LogisticRegression()))

    assert answer.status_code == 415
    assert 'skops.io.dump(model, "model.skops")' in answer.json()["message"]
    assert "TRAINER_ALLOW_PICKLE_UPLOADS=true" in answer.json()["message"]
    assert streams_io.read(streams.TRAINING_COMPLETED) == []


@pytest.mark.usefixtures("with_rows")
@pytest.mark.parametrize("allow_pickles", [True])
def test_an_allowed_joblib_upload_is_stored_as_a_skops_artifact_never_as_a_pickle(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    answer = upload(trainer, joblib_file(LogisticRegression()))
    assert answer.status_code == 202, answer.text

    (completed,) = streams_io.wait(streams.TRAINING_COMPLETED)
    stored = store.get(completed.artifact)
    assert stored[:2] == b"PK" and completed.artifact.key.endswith(".skops")
    assert load_artifact(stored).classes == ("no", "yes")
