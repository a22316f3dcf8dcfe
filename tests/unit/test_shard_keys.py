"""The sharded key scheme: one shard is today's names; with shards, each dataset's keys share
one cluster slot, and the shards spread evenly over the slot space."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from driftloop_bus.client import StreamClient
from driftloop_bus.effects import Publish, PublishBody
from driftloop_bus.settings import BusSettings
from driftloop_contracts import keys as scheme
from driftloop_contracts import streams
from driftloop_contracts.events import TrainingRequested
from driftloop_contracts.keys import Keys, shard_of
from redis.crc import key_slot


def every_key(keys: Keys) -> list[str]:
    stream = keys.stream(streams.INGEST_RECORDS)
    return [
        stream,
        keys.dead_letters(streams.INGEST_RECORDS),
        keys.seen("ingest", uuid.uuid4()),
        keys.errors(stream, "ingest"),
        keys.failpoint("ingest.before_commit"),
        keys.owned("ingest", "join", "p", "x"),
    ]


def test_the_slot_is_the_one_redis_computes() -> None:
    odd = ["", "{", "}", "{}", "{}x", "a{b", "a{b}c", "{a}{b}", "x{}{y}", "\u00e9{\u00e9}"]
    names = odd + [str(uuid.uuid4()) for _ in range(200)] + [f"ns:{{s{i}}}:k" for i in range(50)]
    for name in names:
        assert scheme.key_slot(name.encode()) == key_slot(name.encode()), name


def test_one_shard_keeps_the_unsharded_names() -> None:
    assert every_key(Keys("ns:", shards=1).of("demo"))[:2] == [
        "ns:ingest.records.v1",
        "ns:ingest.records.v1.dlq",
    ]
    assert Keys("ns:").of("any").owned("ingest", "join", "x") == "ns:ingest:join:x"


def test_every_key_of_a_dataset_is_in_the_slot_of_its_shard() -> None:
    for dataset in ("demo", "churn", "fraud", "x" * 40):
        keys = Keys("ns:", shards=12).of(dataset)
        assert len({key_slot(k.encode()) for k in every_key(keys)}) == 1, dataset


def test_shards_lie_one_per_equal_slot_range() -> None:
    for shards in (2, 3, 6, 16):
        slots = [key_slot(Keys("", shards, i).prefix.encode()) for i in range(shards)]
        assert [s * shards // 16384 for s in slots] == list(range(shards))


def test_a_dataset_stays_in_its_shard_across_processes() -> None:
    assert shard_of("demo", 3) == 0  # CRC-32 (zlib), not hash(): the same in every process
    assert (shard_of("fraud", 3), shard_of("iris", 3)) == (1, 2)
    assert shard_of("demo", 1) == 0


def test_a_namespace_with_a_brace_cannot_be_sharded() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        BusSettings(namespace="a{b}:", redis_shards=3)


class RecordingPipe:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def xadd(self, key: str, fields: Any) -> None:
        self.keys.append(key)


def test_an_edge_publishes_each_event_to_its_datasets_shard() -> None:
    root = Keys("ns:", shards=4)
    client, pipe = StreamClient(None, root), RecordingPipe()
    event = TrainingRequested(dataset="demo", reason="manual")
    client.stage(pipe, Publish(streams.TRAINING_REQUESTED, event))
    client.stage(pipe, PublishBody(streams.PREDICTION_LOGGED, b"{}", dataset="demo"))
    shard = root.of("demo")
    assert pipe.keys == [
        shard.stream(streams.TRAINING_REQUESTED),
        shard.stream(streams.PREDICTION_LOGGED),
    ]
