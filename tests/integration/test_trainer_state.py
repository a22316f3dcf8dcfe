"""The trainer's adapter on a real Redis: the snapshot it loads, its compare-and-set, the
commit, and that a delivery that never committed leaves nothing behind but its claim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from driftloop_bus import Keys, Output, Publish
from driftloop_bus.client import StreamClient
from driftloop_contracts import (
    DataIngested,
    DriftDetected,
    FeatureDrift,
    TrainingCompleted,
    WindowRef,
    streams,
    utcnow,
)
from driftloop_contracts.codec import decode
from driftloop_core import ContentStore
from driftloop_trainer.effects import (
    RecordVersion,
    ReplacePending,
    clear_pending,
    set_pending,
)
from driftloop_trainer.handlers import TrainerHandlers
from driftloop_trainer.repository import RECHECK, Repository
from driftloop_trainer.rows import RowLoader
from driftloop_trainer.runs import ThreadExecutor
from driftloop_trainer.state import PendingRetrain, Rules, VersionEntry
from driftloop_trainer.training import TrainingConfig
from redis.asyncio import Redis

from tests.support.data import ingested, labelled_rows
from tests.support.signing import signer

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "store"))


@pytest.fixture
def repo(redis: Redis, namespace: str, store: ContentStore) -> Repository:
    return Repository(redis, Keys(namespace), RowLoader(store, 64 * 1024 * 1024))


def handlers_for(repo: Repository, store: ContentStore, rules: Rules) -> TrainerHandlers:
    executor = ThreadExecutor(
        store,
        repo.rows,
        lambda job: repo.newest_first(job.dataset, job.since, job.schema, job.include),
        TrainingConfig(),
        rules.max_rows,
    )
    return TrainerHandlers(repo, repo.rows, executor, rules, signer=signer())


async def commit(redis: Redis, namespace: str, outputs: list[Output]) -> None:
    await StreamClient(redis, Keys(namespace)).commit(outputs)


def drift_at(minutes_ago: int, version: int = 1) -> DriftDetected:
    start = utcnow() - timedelta(minutes=minutes_ago)
    return DriftDetected(
        producer="test",
        dataset="demo",
        model_version=version,
        kind="data",
        window=WindowRef(start=start, end=start, rows=100),
        evidence=(
            FeatureDrift(
                feature="income",
                test="ks",
                statistic=0.5,
                p_value=1e-9,
                threshold=1e-3,
                drifted=True,
                reference={},
                current={},
            ),
        ),
    )


def record(repo: Repository, event: DataIngested) -> RecordVersion:
    return RecordVersion(event.dataset, VersionEntry.of(event), event.dataset_schema)


# --------------------------------------------------------------------- compare-and-set


async def test_a_pending_retrain_is_replaced_only_if_it_is_still_the_one_read(
    repo: Repository, redis: Redis, namespace: str
) -> None:
    first = PendingRetrain(drift=drift_at(60), min_rows=200)
    await commit(redis, namespace, [repo.write(set_pending("demo", first))])
    read = (await repo.load("demo")).pending[0]
    moved_on = first.model_copy(update={"followup": 1, "min_rows": 400})
    replaced = ReplacePending("demo", first.key, read.revision, moved_on)
    await commit(redis, namespace, [repo.write(replaced)])

    stale = ReplacePending("demo", first.key, read.revision, None)
    await commit(redis, namespace, [repo.write(stale)])

    (now,) = (await repo.load("demo")).pending
    assert now.retrain == moved_on


async def test_a_pending_retrain_is_created_only_where_none_is_stored(
    repo: Repository, redis: Redis, namespace: str
) -> None:
    first = PendingRetrain(drift=drift_at(60), min_rows=200)
    await commit(redis, namespace, [repo.write(set_pending("demo", first))])

    again = first.model_copy(update={"min_rows": 999})
    await commit(redis, namespace, [repo.write(set_pending("demo", again))])

    (now,) = (await repo.load("demo")).pending
    assert now.retrain.min_rows == 200


async def test_clearing_one_drifts_pending_retrain_leaves_another_drifts_alone(
    repo: Repository, redis: Redis, namespace: str
) -> None:
    older = PendingRetrain(drift=drift_at(90), min_rows=200, followup=1)
    newer = PendingRetrain(drift=drift_at(30, version=2), min_rows=200)
    await commit(redis, namespace, [repo.write(set_pending("demo", older))])
    read = (await repo.load("demo")).pending[0]
    await commit(redis, namespace, [repo.write(set_pending("demo", newer))])

    await commit(redis, namespace, [repo.write(clear_pending("demo", read))])

    assert [p.retrain for p in (await repo.load("demo")).pending] == [newer]


# --------------------------------------------------------------------- catalogue, guard


async def test_a_version_recorded_twice_is_counted_once(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    event = ingested(store, labelled_rows(120))

    await commit(redis, namespace, [repo.write(record(repo, event))])
    await commit(redis, namespace, [repo.write(record(repo, event))])

    state = await repo.load("demo")
    assert state.rows == 120
    assert state.schema == event.dataset_schema


async def test_the_snapshot_of_a_new_version_counts_it_and_its_rows_after_each_onset(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    start = utcnow() - timedelta(hours=1)
    old = ingested(store, labelled_rows(100, start=start))
    await commit(redis, namespace, [repo.write(record(repo, old))])
    pending = PendingRetrain(drift=drift_at(30), min_rows=200)
    await commit(redis, namespace, [repo.write(set_pending("demo", pending))])
    new = ingested(store, labelled_rows(80, start=utcnow() - timedelta(minutes=10)))

    state = await repo.load("demo", adding=VersionEntry.of(new), schema=new.dataset_schema)

    assert state.rows == 180
    assert state.post_onset_rows(pending.onset) == 80
    assert (await repo.load("demo")).rows == 100  # nothing written by loading


async def test_a_commit_on_a_stale_generation_asks_for_a_recheck(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    one = ingested(store, labelled_rows(10, seed=1))
    other = ingested(store, labelled_rows(10, seed=2))
    seen_by_one = await repo.load("demo")
    seen_by_other = await repo.load("demo")

    await commit(redis, namespace, [repo.write(record(repo, one)), repo.guard(seen_by_one, one)])
    assert await redis.xlen(RECHECK.key(namespace)) == 0
    await commit(
        redis, namespace, [repo.write(record(repo, other)), repo.guard(seen_by_other, other)]
    )

    entries = await redis.xrange(RECHECK.key(namespace))
    ((_, fields),) = cast(list[tuple[bytes, dict[bytes, bytes]]], entries)
    recheck = decode(fields, RECHECK)
    assert (recheck.dataset, recheck.causation_id) == ("demo", other.event_id)


async def test_the_catalogue_is_read_newest_first_a_page_at_a_time_with_new_versions_merged(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    start = utcnow() - timedelta(days=1)
    events = [
        ingested(store, labelled_rows(2, start=start + timedelta(minutes=i), seed=i))
        for i in range(150)
    ]
    await commit(redis, namespace, [repo.write(record(repo, e)) for e in events[:149]])
    schema = events[0].dataset_schema

    seen = [
        e.version
        async for e in repo.newest_first("demo", None, schema, [VersionEntry.of(events[149])])
    ]

    assert seen == [e.version for e in reversed(events)]


# ------------------------------------------------------------- a delivery not committed


async def test_a_delivery_that_never_commits_leaves_only_its_claim_and_a_retry_repeats_it(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    handlers = handlers_for(repo, store, Rules(min_initial_rows=300))
    event = ingested(store, labelled_rows(400))

    first = await handlers.on_data(event)  # the process dies here, before its commit
    state = await repo.load("demo")
    assert (state.rows, state.initial, state.schema) == (0, None, None)
    assert state.claims == {"initial": str(event.event_id)}  # taken by the event itself

    retry = await handlers.on_data(event)
    await commit(redis, namespace, list(retry))

    published = [o.event for o in first if isinstance(o, Publish)]
    again = [o.event for o in retry if isinstance(o, Publish)]
    assert [e.event_id for e in published] == [e.event_id for e in again]
    (done,) = [e for e in again if isinstance(e, TrainingCompleted)]
    assert done.run_id == cast(TrainingCompleted, published[0]).run_id
    state = await repo.load("demo")
    assert state.rows == 400
    assert state.initial is not None and state.initial.status == "awaiting verdict"
    assert await redis.xlen(streams.TRAINING_COMPLETED.key(namespace)) == 1


async def test_a_run_whose_claim_another_event_holds_does_not_train(
    repo: Repository, redis: Redis, store: ContentStore
) -> None:
    handlers = handlers_for(repo, store, Rules(min_initial_rows=300))
    assert await repo.claim("demo", "initial", "someone-else")
    event = ingested(store, labelled_rows(400))

    outputs = await handlers.on_data(event)

    assert not any(isinstance(o, Publish) for o in outputs)


# --------------------------------------------------------------------- reading versions


def gone(event: DataIngested) -> DataIngested:
    """The same version announced, but its blob no longer in the store."""
    return event.model_copy(update={"blob": event.blob.model_copy(update={"sha256": "0" * 64})})


async def test_a_new_version_is_recorded_from_its_event_without_reading_its_blob(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    handlers = handlers_for(repo, store, Rules(min_initial_rows=10_000))
    event = gone(ingested(store, labelled_rows(50)))

    await commit(redis, namespace, await handlers.on_data(event))

    assert (await repo.load("demo")).rows == 50
    assert len(repo.rows.cache) == 0  # nothing was read


async def test_a_run_skips_a_version_whose_blob_cannot_be_read_and_trains_on_the_rest(
    repo: Repository, redis: Redis, namespace: str, store: ContentStore
) -> None:
    handlers = handlers_for(repo, store, Rules(min_initial_rows=300))
    missing = gone(ingested(store, labelled_rows(50, seed=1)))
    good = ingested(store, labelled_rows(400, seed=2))
    await commit(redis, namespace, await handlers.on_data(missing))

    outputs = await handlers.on_data(good)

    (done,) = [o.event for o in outputs if isinstance(o, Publish)]
    assert isinstance(done, TrainingCompleted)
    assert done.dataset_versions == (good.version,)  # the other skipped, with a warning
