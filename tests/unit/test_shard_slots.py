"""Every key a service writes in one delivery's commit is in the slot of the dataset's
streams (REDIS_SHARDS > 1): what Redis Cluster needs to run the commit as one MULTI. Built
with each service's own key builders, so a new key outside the shard fails here first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from driftloop_bus import datasets, serving
from driftloop_contracts import DatasetRegistered, FeedbackReceived, Label, streams
from driftloop_contracts.keys import Keys, shard_of
from driftloop_drift_monitor.reader import MonitorKeys
from driftloop_ingest.join import JoinState
from driftloop_predictor.encoding import prediction_ids
from driftloop_registry.trialstore import TrialStore
from driftloop_sdk.scenario import SCHEMA
from driftloop_trainer.repository import RECHECK, Repository
from redis.crc import key_slot

from tests.unit.monitor_world import promotion

KEYS = Keys("ns:", shards=6)
DATASETS = ("demo", "credit", "fraud", "iris")


def slot(key: str) -> int:
    return key_slot(key.encode())


def stream_slot(dataset: str) -> int:
    return slot(KEYS.of(dataset).stream(streams.PREDICTION_LOGGED))


class RecordingPipe:
    """Collects the key of every write a RedisWrite queues."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return lambda key, *args, **kwargs: self.keys.append(key)


class NoRedis:
    def register_script(self, script: str) -> object:
        return object()


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_bus_and_the_shared_state_write_in_the_datasets_slot(dataset: str) -> None:
    shard = KEYS.of(dataset)
    stream = shard.stream(streams.PREDICTION_LOGGED)
    pipe = RecordingPipe()
    promoted = promotion(dataset=dataset)
    serving.record_promotion(KEYS, promoted).apply(pipe)  # type: ignore[arg-type]
    registered = _registered(dataset)
    datasets.record_registration(KEYS, registered).apply(pipe)  # type: ignore[arg-type]
    written = [*pipe.keys, shard.seen("g", uuid.uuid4()), shard.errors(stream, "g")]
    written += [shard.dead_letters(streams.PREDICTION_LOGGED)]
    assert {slot(k) for k in written} == {stream_slot(dataset)}


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_services_own_keys_of_a_dataset_are_in_its_slot(dataset: str) -> None:
    trainer = Repository(None, KEYS, None)  # type: ignore[arg-type]
    trials = TrialStore(None, KEYS)  # type: ignore[arg-type]
    monitor = MonitorKeys(KEYS)
    written = [trainer.key(kind, dataset) for kind in ("versions", "generation", "champion")]
    written += [trainer.claim_key("initial", dataset), KEYS.of(dataset).stream(RECHECK)]
    written += [trials.active_key(dataset), trials.records_key(dataset)]
    written += [trials.waiting_key(uuid.uuid4(), dataset)]
    written += [monitor.fired(uuid.uuid4(), "data", dataset), monitor.report(1, dataset)]
    written += [monitor.rearmed(uuid.uuid4(), "performance", dataset)]
    assert {slot(k) for k in written} == {stream_slot(dataset)}


@pytest.mark.parametrize("dataset", DATASETS)
def test_a_label_is_joined_in_the_slot_its_prediction_was_logged_in(dataset: str) -> None:
    join = JoinState(NoRedis(), KEYS, 60)  # type: ignore[arg-type]
    ids = prediction_ids(3, shard_of(dataset, KEYS.shards), KEYS.shards)
    labels = FeedbackReceived(producer="t", labels=[Label(prediction_id=i, label="x") for i in ids])
    shard = join.shard(labels)
    assert shard == KEYS.of(dataset)
    assert slot(join.key("claims", labels.event_id, shard)) == stream_slot(dataset)
    assert slot(join.key("l", ids[0], shard)) == stream_slot(dataset)


def _registered(dataset: str) -> DatasetRegistered:
    schema = SCHEMA.model_copy(update={"name": dataset})
    return DatasetRegistered(producer="t", dataset=dataset, dataset_schema=schema)
