"""The consumer pattern against a real Redis: once-only effects, dead letters, reclaiming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from driftloop_bus import Bus, Consumer, Delivery, Follower, Output, Publish, each
from driftloop_contracts import (
    FeedbackReceived,
    Label,
    TrainingRequested,
    streams,
)
from driftloop_contracts.codec import encode
from driftloop_core import PermanentError, ServiceSettings
from redis.asyncio import Redis

from tests.support.wait import eventually

pytestmark = pytest.mark.integration

GROUP = "test-group"


def settings(redis_url: str, namespace: str, **overrides: object) -> ServiceSettings:
    base: dict[str, object] = {
        "redis_url": redis_url,
        "namespace": namespace,
        "max_attempts": 3,
        "reclaim_idle_ms": 300,
        "consumer_name": "c1",
    }
    return ServiceSettings(**(base | overrides))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def request(reason: str = "t") -> TrainingRequested:
    return TrainingRequested(dataset="demo", reason=reason, producer="test")


async def add(
    redis: Redis, namespace: str, event: object, raw: dict[bytes, bytes] | None = None
) -> None:
    fields = raw if raw is not None else encode(event)  # type: ignore[arg-type]
    await redis.xadd(streams.TRAINING_REQUESTED.key(namespace), fields)


async def dead_letters(redis: Redis, namespace: str) -> list[dict[bytes, bytes]]:
    entries = await redis.xrange(f"{streams.TRAINING_REQUESTED.key(namespace)}.dlq")
    return [fields for _, fields in entries]


async def pending(redis: Redis, namespace: str) -> int:
    info = await redis.xpending(streams.TRAINING_REQUESTED.key(namespace), GROUP)
    return int(info["pending"])


class Recorder:
    """A handler that records what it saw and republishes each event as feedback."""

    def __init__(self, fail_on: str | None = None, permanent: bool = False) -> None:
        self.seen: list[TrainingRequested] = []
        self.fail_on = fail_on
        self.permanent = permanent

    async def __call__(self, event: TrainingRequested) -> Sequence[Publish]:
        if event.reason == self.fail_on:
            raise (PermanentError if self.permanent else RuntimeError)(f"cannot do {event.reason}")
        self.seen.append(event)
        out = FeedbackReceived.caused_by(
            event, "echo", "test", labels=[Label(prediction_id=event.event_id, label="x")]
        )
        return [Publish(streams.FEEDBACK_RECEIVED, out)]


async def started(s: ServiceSettings, recorder: Recorder, batch: int = 10) -> Bus:
    bus = Bus(s)
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(recorder), batch_size=batch))
    await bus.start()
    return bus


async def test_events_published_before_the_first_start_are_handled_once_with_their_effects(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    events = [request(str(i)) for i in range(5)]
    for event in events:
        await add(redis, namespace, event)
    recorder = Recorder()
    bus = await started(settings(redis_url, namespace), recorder)
    try:
        await eventually(lambda: _true(len(recorder.seen) == 5), what="5 events handled")
        out = await redis.xrange(streams.FEEDBACK_RECEIVED.key(namespace))
        assert len(out) == 5
        assert await pending(redis, namespace) == 0
        assert [e.event_id for e in recorder.seen] == [e.event_id for e in events]
    finally:
        await bus.stop()


async def test_a_handler_can_read_the_entry_ids_of_its_events_in_order(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    events = [request(str(i)) for i in range(4)]
    for event in events:
        await add(redis, namespace, event)
    seen: list[tuple[str, str]] = []

    async def handler(batch: Delivery[TrainingRequested]) -> Sequence[Output]:
        seen.extend(zip([e.reason for e in batch], batch.entry_ids, strict=True))
        return []

    bus = Bus(settings(redis_url, namespace))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, handler, batch_size=3))
    await bus.start()
    try:
        await eventually(lambda: _true(len(seen) == 4), what="4 events handled")
    finally:
        await bus.stop()
    entries = await redis.xrange(streams.TRAINING_REQUESTED.key(namespace))
    assert seen == [(e.reason, i.decode()) for e, (i, _) in zip(events, entries, strict=True)]


async def test_the_same_event_id_twice_has_one_effect(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    event = request()
    recorder = Recorder()
    bus = await started(settings(redis_url, namespace), recorder)
    try:
        await add(redis, namespace, event)
        await eventually(lambda: _true(len(recorder.seen) == 1), what="first delivery")
        await add(redis, namespace, event)
        await add(redis, namespace, request("after"))
        await eventually(lambda: _true(len(recorder.seen) == 2), what="the next event")
        assert [e.reason for e in recorder.seen] == ["t", "after"]
        assert await pending(redis, namespace) == 0
    finally:
        await bus.stop()


async def test_malformed_entries_go_to_the_dead_letter_stream_with_the_reason(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    good = request("good")
    wrong_version = good.model_dump(mode="json") | {"schema_version": 9}
    await add(redis, namespace, None, {b"__data__": b"{not json"})
    await add(redis, namespace, None, {b"payload": b"no data field"})
    await add(redis, namespace, None, {b"__data__": b'{"event_type": "something.else"}'})
    await add(redis, namespace, None, {b"__data__": b'{"event_type": "training.requested"}'})
    import orjson

    await add(redis, namespace, None, {b"__data__": orjson.dumps(wrong_version)})
    await add(redis, namespace, good)
    recorder = Recorder()
    bus = await started(settings(redis_url, namespace), recorder)
    try:
        await eventually(lambda: _true(len(recorder.seen) == 1), what="the good event")
        letters = await eventually(
            lambda: _at_least(dead_letters(redis, namespace), 5), what="5 dead letters"
        )
        reasons = [f[b"error"].decode() for f in letters]
        assert "body is not JSON" in reasons[0]
        assert "no __data__ field" in reasons[1]
        assert "unknown event type 'something.else'" in reasons[2]
        assert "dataset: Field required" in reasons[3]
        assert "unsupported schema_version 9" in reasons[4]
        assert letters[1][b"orig:payload"] == b"no data field"
        assert all(f[b"group"] == GROUP.encode() for f in letters)
        assert await pending(redis, namespace) == 0
    finally:
        await bus.stop()


async def test_a_handler_that_always_fails_ends_in_the_dead_letter_stream_after_n_attempts(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    recorder = Recorder(fail_on="poison")
    bus = await started(settings(redis_url, namespace), recorder, batch=1)
    try:
        await add(redis, namespace, request("poison"))
        await add(redis, namespace, request("fine"))
        letters = await eventually(
            lambda: _at_least(dead_letters(redis, namespace), 1), timeout=15, what="dead letter"
        )
        assert letters[0][b"attempts"] == b"3"
        assert b"RuntimeError: cannot do poison" in letters[0][b"error"]
        assert [e.reason for e in recorder.seen] == ["fine"]
        assert await pending(redis, namespace) == 0
    finally:
        await bus.stop()


async def test_a_permanent_error_is_dead_lettered_without_retries(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    recorder = Recorder(fail_on="poison", permanent=True)
    bus = await started(settings(redis_url, namespace, reclaim_idle_ms=60_000), recorder, batch=1)
    try:
        await add(redis, namespace, request("poison"))
        letters = await eventually(lambda: _at_least(dead_letters(redis, namespace), 1))
        assert letters[0][b"attempts"] == b"1"
        assert b"permanent error: cannot do poison" in letters[0][b"error"]
    finally:
        await bus.stop()


async def test_an_entry_left_pending_by_a_crashed_consumer_is_reclaimed_and_handled(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    key = streams.TRAINING_REQUESTED.key(namespace)
    await redis.xgroup_create(key, GROUP, id="0", mkstream=True)
    event = request("orphan")
    await add(redis, namespace, event)
    # A consumer reads the entry and dies before acknowledging it.
    await redis.xreadgroup(GROUP, "crashed", {key: ">"}, count=10)
    recorder = Recorder()
    bus = await started(settings(redis_url, namespace), recorder)
    try:
        await eventually(lambda: _true(len(recorder.seen) == 1), what="reclaimed event")
        assert recorder.seen[0].event_id == event.event_id
        await eventually(lambda: _zero(pending(redis, namespace)), what="no pending entries")
    finally:
        await bus.stop()


async def test_a_slow_handler_keeps_its_lease_and_runs_once_across_two_replicas(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def slow(event: TrainingRequested) -> Sequence[Publish]:
        calls.append(event.reason)
        await release.wait()
        return []

    buses = []
    for name in ("r1", "r2"):
        bus = Bus(settings(redis_url, namespace, consumer_name=name, reclaim_idle_ms=200))
        bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(slow)))
        await bus.start()
        buses.append(bus)
    try:
        await add(redis, namespace, request("slow"))
        await eventually(lambda: _true(calls == ["slow"]), what="the handler to start")
        # Ten reclaim periods pass while the handler holds the lease.
        deadline = asyncio.get_running_loop().time() + 2.0
        await eventually(lambda: _true(asyncio.get_running_loop().time() > deadline), timeout=5)
        assert calls == ["slow"]
        release.set()
        await eventually(lambda: _zero(pending(redis, namespace)), what="ack")
        assert calls == ["slow"]
    finally:
        for bus in buses:
            await bus.stop()


async def test_an_entry_reaching_the_reclaimer_while_this_replica_handles_it_runs_once(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    """A stalled event loop can let an entry's idle time pass before its lease is renewed;
    the reclaimer (same consumer name) then hands it over a second time. The replica already
    working on it must not start it again."""
    key = streams.TRAINING_REQUESTED.key(namespace)
    await redis.xgroup_create(key, GROUP, id="0", mkstream=True)
    await add(redis, namespace, request("once"))
    ((_, entries),) = await redis.xreadgroup(GROUP, "c1", {key: ">"}, count=1)
    (entry_id, fields) = entries[0]
    calls: list[str] = []
    release = asyncio.Event()

    async def slow(event: TrainingRequested) -> Sequence[Publish]:
        calls.append(event.reason)
        if len(calls) == 1:
            await release.wait()
        return []

    bus = Bus(settings(redis_url, namespace))
    bus.consume(Consumer(streams.TRAINING_REQUESTED, GROUP, each(slow)))
    (runner,) = bus.runners
    try:
        first = asyncio.create_task(
            runner.on_delivery({"message_ids": [entry_id], "data": [fields]})
        )
        await eventually(lambda: _true(calls == ["once"]), what="the handler to start")
        await runner.on_reclaim({"message_ids": [entry_id], "data": fields})
        await runner.on_delivery({"message_ids": [entry_id], "data": [fields]})
        release.set()
        await first
        assert calls == ["once"]
        assert await pending(redis, namespace) == 0
    finally:
        await bus.redis.aclose()


async def test_a_follower_without_replay_sees_only_events_published_after_its_start(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    await add(redis, namespace, request("old"))
    seen: list[str] = []

    async def remember(event: TrainingRequested) -> None:
        seen.append(event.reason)

    bus = Bus(settings(redis_url, namespace))
    bus.follow(Follower(streams.TRAINING_REQUESTED, remember))
    await bus.start()
    try:
        await add(redis, namespace, request("new"))
        await eventually(lambda: _true(seen == ["new"]), what="the new event")
        health = await bus.health()
        assert health["ok"], health
    finally:
        await bus.stop()


async def test_a_follower_replays_its_state_then_follows_from_the_id_the_replay_returns(
    redis_url: str, namespace: str, redis: Redis
) -> None:
    for reason in ("before", "replayed", "after"):
        await add(redis, namespace, request(reason))
    entries = await redis.xrange(streams.TRAINING_REQUESTED.key(namespace))
    seen: list[str] = []

    async def replay() -> str:
        seen.append("state")  # a service loads its state from its source of truth here
        return str(entries[1][0].decode())

    async def remember(event: TrainingRequested) -> None:
        seen.append(event.reason)

    bus = Bus(settings(redis_url, namespace))
    bus.follow(Follower(streams.TRAINING_REQUESTED, remember, replay=replay))
    await bus.start()
    try:
        await add(redis, namespace, request("new"))
        await eventually(
            lambda: _true(seen == ["state", "after", "new"]), what="events after the replay"
        )
    finally:
        await bus.stop()


async def _true(value: bool) -> bool:
    return value


async def _at_least(
    letters: asyncio.Future[list[dict[bytes, bytes]]] | object, n: int
) -> list[dict[bytes, bytes]] | None:
    result = await letters  # type: ignore[misc]
    return result if len(result) >= n else None


async def _zero(count: object) -> bool:
    return await count == 0  # type: ignore[misc]
