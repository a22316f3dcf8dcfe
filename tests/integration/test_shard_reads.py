"""The CLI and the console read every shard of a sharded stack, on a real three-primary Redis
Cluster: a stream is one key per shard (on different primaries), and what a person sees is
one stream, merged by entry id, with dead letters replayed in the shard they came from."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from driftloop_bus.connection import connect
from driftloop_console.sources import RedisReplayer, RedisStreams
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.codec import encode
from driftloop_contracts.keys import Keys, shard_of
from driftloop_core import ServiceSettings
from driftloop_sdk import lag
from driftloop_sdk.cli import app
from driftloop_sdk.embedded_redis import free_port
from driftloop_sdk.shards import StreamSet
from driftloop_sdk.tail import Tail
from driftloop_sdk.timeline import read_timeline
from redis import Redis
from redis.cluster import RedisCluster
from typer.testing import CliRunner

from tests.support.cluster import Cluster

SHARDS = 3
DATASETS = ("demo", "churn", "fraud", "iris", "wine", "credit")  # shards 0, 0, 1, 2, 2, 0 of 3
REQUESTS = streams.TRAINING_REQUESTED.name


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster() as running:
        yield running


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Redis]:
    redis = cast(Redis, RedisCluster.from_url(cluster.url))
    yield redis
    redis.close()


def shell(cluster: Cluster, namespace: str, tmp_path: Path) -> dict[str, str]:
    """A shell set up as the services are: REDIS_CLUSTER and REDIS_SHARDS."""
    return {
        "REDIS_URL": cluster.url,
        "REDIS_CLUSTER": "true",
        "REDIS_SHARDS": str(SHARDS),
        "DRIFTLOOP_NAMESPACE": namespace,
        "DRIFTLOOP_STATE_DIR": str(tmp_path / "no-state"),  # the default user
        "DRIFTLOOP_URL": f"http://127.0.0.1:{free_port()}",  # no service runs
    }


def request(client: Redis, namespace: str, dataset: str) -> str:
    key = Keys(namespace, SHARDS).of(dataset).stream(REQUESTS)
    return cast(bytes, client.xadd(key, encode(TrainingRequested(dataset=dataset)))).decode()


def dead_letter(client: Redis, namespace: str, shard: int, entry_id: str, dataset: str) -> None:
    key = Keys(namespace, SHARDS, shard).dead_letters(REQUESTS)
    fields = {**encode(TrainingRequested(dataset=dataset)), b"stream": REQUESTS.encode()}
    fields |= {b"group": b"trainer", b"error": f"no {dataset}".encode(), b"attempts": b"5"}
    client.xadd(key, fields, id=entry_id)


def order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def test_the_datasets_of_this_file_are_on_every_shard() -> None:
    assert {shard_of(d, SHARDS) for d in DATASETS} == set(range(SHARDS))


def test_events_tail_shows_every_shard_merged_by_entry_id(
    cluster: Cluster, client: Redis, namespace: str, tmp_path: Path
) -> None:
    for dataset in DATASETS:
        request(client, namespace, dataset)
    args = ["events", "tail", "--stream", REQUESTS, "--last", "10", "--timeout", "0.3"]
    result = CliRunner().invoke(app, args, env=shell(cluster, namespace, tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert sorted(line.split("dataset=")[1].split()[0] for line in lines) == sorted(DATASETS)
    ids = [line.split()[0] for line in lines]
    assert ids == sorted(ids, key=order)


def test_a_tail_follows_what_is_added_to_any_shard(client: Redis, namespace: str) -> None:
    tail = Tail(StreamSet(client, Keys(namespace, SHARDS)), [REQUESTS])
    assert tail.start(last=0) == []
    for dataset in ("fraud", "wine", "demo"):  # shards 1, 2, 0
        request(client, namespace, dataset)
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        seen += [str(line.dataset) for line in tail.follow(block_ms=300)]
    assert sorted(seen) == ["demo", "fraud", "wine"]


def test_dead_letters_with_one_id_in_two_shards_are_shown_and_replayed_in_their_own(
    cluster: Cluster, client: Redis, namespace: str, tmp_path: Path
) -> None:
    dead_letter(client, namespace, 0, "5-1", "demo")
    dead_letter(client, namespace, 2, "5-1", "wine")
    env, runner = shell(cluster, namespace, tmp_path), CliRunner()

    listed = runner.invoke(app, ["dlq"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "shard" in listed.stdout and "no demo" in listed.stdout and "no wine" in listed.stdout
    both = runner.invoke(app, ["dlq", "show", REQUESTS, "5-1"], env=env)
    assert both.exit_code == 1 and "shards 0, 2" in both.output and "--shard" in both.output
    one = runner.invoke(app, ["dlq", "show", REQUESTS, "5-1", "--shard", "2"], env=env)
    assert one.exit_code == 0 and "no wine" in one.stdout
    nowhere = runner.invoke(app, ["dlq", "show", REQUESTS, "5-1", "--shard", "7"], env=env)
    assert nowhere.exit_code == 1 and "no shard 7" in nowhere.output

    replay = runner.invoke(app, ["dlq", "replay", REQUESTS, "5-1", "--shard", "2"], env=env)
    assert replay.exit_code == 0, replay.output
    keys = Keys(namespace, SHARDS)
    (replayed,) = client.xrange(keys.shard(2).stream(REQUESTS))  # type: ignore[misc]
    assert b'"wine"' in replayed[1][b"__data__"]
    assert client.xlen(keys.shard(2).dead_letters(REQUESTS)) == 0
    assert client.xlen(keys.shard(0).dead_letters(REQUESTS)) == 1  # the other shard's stays


def test_a_groups_pending_entries_are_summed_over_the_shards(client: Redis, namespace: str) -> None:
    keys = Keys(namespace, SHARDS)
    for dataset in ("demo", "fraud", "wine", "iris"):  # shards 0, 1, 2, 2
        request(client, namespace, dataset)
    for shard in range(SHARDS):
        stream = keys.shard(shard).stream(REQUESTS)
        client.xgroup_create(stream, "trainer", id="0")
        client.xreadgroup("trainer", "c1", {stream: ">"}, count=1)  # one pending per shard

    (trainer,) = [g for g in lag.groups(StreamSet(client, keys)) if g.stream == REQUESTS]

    assert (trainer.group, trainer.pending) == ("trainer", 3)
    assert trainer.lag in (1, None)  # one unread, in shard 2 (Redis 6.2 does not tell)


async def test_the_consoles_streams_merge_the_shards_and_replay_in_the_right_one(
    cluster: Cluster, client: Redis, namespace: str
) -> None:
    made = [request(client, namespace, d) for d in DATASETS]
    dead_letter(client, namespace, 1, "7-1", "fraud")
    settings = ServiceSettings(
        redis_url=cluster.url, redis_cluster=True, redis_shards=SHARDS, namespace=namespace
    )
    redis: Any = connect(settings)
    try:
        keys = Keys(namespace, SHARDS)
        console = RedisStreams(redis, keys)
        newest = await console.newest(REQUESTS, 4)
        assert [e.entry_id for e in newest] == sorted(made, key=order, reverse=True)[:4]
        assert await console.lengths([REQUESTS]) == {REQUESTS: len(DATASETS)}
        assert await console.entry(f"{REQUESTS}.dlq", "7-1", shard=0) is None
        (letter,) = await console.newest(f"{REQUESTS}.dlq", 10)
        assert letter.shard == 1

        await RedisReplayer(redis, keys).replay(REQUESTS, "7-1", shard=1)

        assert client.xlen(keys.shard(1).dead_letters(REQUESTS)) == 0
        assert client.xlen(keys.shard(1).stream(REQUESTS)) == 2  # fraud's request, and again
    finally:
        await redis.aclose()


def test_the_timeline_lists_every_shards_events_in_time_and_counts_the_busy_streams(
    client: Redis, namespace: str
) -> None:
    made = [request(client, namespace, d) for d in DATASETS]
    keys = Keys(namespace, SHARDS)
    for dataset in ("demo", "wine"):  # high-volume: counted, not listed
        client.xadd(keys.of(dataset).stream(streams.PREDICTION_LABELLED), {b"__data__": b"{}"})

    moments, counts = read_timeline(StreamSet(client, keys))

    assert sorted(m.event["dataset"] for m in moments) == sorted(DATASETS)
    assert [m.at_ms for m in moments] == sorted(order(i)[0] for i in made)  # in time
    assert counts[streams.PREDICTION_LABELLED.name] == 2
