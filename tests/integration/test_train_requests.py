"""`POST /v1/datasets/{dataset}/train` on the trainer (admin): a run starts now, through the
trainer's own training.requested consumer, under the run id the answer gave."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driftloop_contracts import streams
from driftloop_core import ContentStore
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.bootstrap import build_app as build_trainer
from driftloop_trainer.settings import TrainerSettings
from fastapi.testclient import TestClient

from tests.support.data import ingested, labelled_rows
from tests.support.streams import Streams
from tests.support.wait import eventually_sync

TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def trainer(redis_url: str, namespace: str, store: ContentStore) -> Iterator[TestClient]:
    settings = TrainerSettings(
        redis_url=redis_url,
        namespace=namespace,
        store_url=store.url,
        min_initial_rows=100_000,  # nothing trains by itself here: only what is asked for
        admin_token=TOKEN,  # type: ignore[arg-type]
    )
    with TestClient(build_trainer(settings)) as client:
        yield client


def test_a_requested_run_trains_under_the_run_id_the_answer_gave(
    trainer: TestClient, streams_io: Streams, store: ContentStore
) -> None:
    streams_io.publish(streams.DATA_INGESTED, ingested(store, labelled_rows(300)))
    eventually_sync(
        lambda: trainer.get(f"/v1/datasets/{SCHEMA.name}").status_code == 200,
        what="the trainer to record the rows",
    )
    answer = trainer.post(f"/v1/datasets/{SCHEMA.name}/train", headers=ADMIN)
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    (completed,) = streams_io.wait(streams.TRAINING_COMPLETED, timeout=60)
    assert str(completed.run_id) == accepted["run_id"]
    assert completed.trigger == "requested"
    assert str(completed.correlation_id) == accepted["event_id"]


def test_a_request_without_the_token_or_for_a_dataset_without_rows_is_refused(
    trainer: TestClient, streams_io: Streams
) -> None:
    refused = trainer.post(f"/v1/datasets/{SCHEMA.name}/train")
    assert refused.status_code == 401, refused.text
    unknown = trainer.post("/v1/datasets/nothing-here/train", headers=ADMIN)
    assert unknown.status_code == 404
    assert "publish labelled rows first" in unknown.json()["message"]
    assert streams_io.read(streams.TRAINING_REQUESTED) == []
