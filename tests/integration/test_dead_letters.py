"""Dead letters from failure to replay: the CLI's operations against a real Redis."""

from __future__ import annotations

from collections.abc import Sequence

from driftloop_bus import Bus, Consumer, Publish, each
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.codec import encode
from driftloop_core import ServiceSettings
from driftloop_sdk.cli import app
from driftloop_sdk.deadletters import DeadLetters
from driftloop_sdk.shards import StreamSet
from redis.asyncio import Redis
from typer.testing import CliRunner

from tests.support.wait import eventually


async def test_a_dead_letter_replayed_after_the_fix_is_handled_once_and_only_where_it_failed(
    redis_url: str, namespace: str
) -> None:
    broken = True
    handled: dict[str, list[str]] = {"picky": [], "easy": []}

    def handler(group: str):  # type: ignore[no-untyped-def]
        async def handle(event: TrainingRequested) -> Sequence[Publish]:
            if group == "picky" and broken:
                raise RuntimeError("cannot handle this yet")
            handled[group].append(event.reason)
            return []

        return each(handle)

    settings = ServiceSettings(
        redis_url=redis_url,
        namespace=namespace,
        max_attempts=2,
        reclaim_idle_ms=200,
        consumer_name="c",
    )
    bus = Bus(settings)
    for group in handled:
        bus.consume(Consumer(streams.TRAINING_REQUESTED, group, handler(group)))
    await bus.start()
    redis = Redis.from_url(redis_url)
    letters = DeadLetters(StreamSet.at(redis_url, namespace))
    try:
        event = TrainingRequested(producer="test", dataset="demo", reason="late")
        await redis.xadd(streams.TRAINING_REQUESTED.key(namespace), encode(event))
        await eventually(lambda: _has(letters, 1), timeout=15, what="a dead letter")
        (letter,) = letters.newest("training.requested.v1")
        assert letter.group == "picky" and letter.attempts == 2
        assert "RuntimeError: cannot handle this yet" in letter.error

        cli = CliRunner().invoke(app, ["dlq", "--redis-url", redis_url, "--namespace", namespace])
        assert cli.exit_code == 0 and "picky" in cli.output

        broken = False
        cli = CliRunner().invoke(
            app,
            [
                "dlq",
                "replay",
                "training.requested.v1",
                "--all",
                "--redis-url",
                redis_url,
                "--namespace",
                namespace,
            ],
        )
        assert cli.exit_code == 0, cli.output
        await eventually(lambda: _true(handled["picky"] == ["late"]), what="replayed event")
        assert handled["easy"] == ["late"]  # the group that had handled it drops the replay
        assert letters.counts()["training.requested.v1"] == 0
    finally:
        letters.close()
        await redis.aclose()
        await bus.stop()


async def _has(letters: DeadLetters, n: int) -> bool:
    return letters.counts()["training.requested.v1"] >= n


async def _true(value: bool) -> bool:
    return value


async def _dead_letters_of(bus_settings: ServiceSettings, entries: list[dict[bytes, bytes]]):  # type: ignore[no-untyped-def]
    """Publish `entries` on training.requested, consumed by a group that dead-letters each
    one (they are malformed); the DLQ's entries once every one was handled."""
    bus = Bus(bus_settings)
    bus.consume(Consumer(streams.TRAINING_REQUESTED, "g", each(_never)))
    await bus.start()
    redis = Redis.from_url(bus_settings.redis_url)
    stream = streams.TRAINING_REQUESTED.key(bus_settings.namespace)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for fields in entries:
                pipe.xadd(stream, fields)  # type: ignore[arg-type]
            await pipe.execute()

        async def all_handled() -> bool:
            (group,) = await redis.xinfo_groups(stream)
            last = (await redis.xinfo_stream(stream))["last-generated-id"]
            return bool(group["pending"] == 0 and group["last-delivered-id"] == last)

        await eventually(all_handled, timeout=15, what="every entry dead-lettered")
        return await redis.xrange(f"{stream}.dlq")
    finally:
        await redis.aclose()
        await bus.stop()


async def _never(event: TrainingRequested) -> Sequence[Publish]:
    raise AssertionError("only malformed entries are published here")


async def test_a_huge_entry_is_dead_lettered_with_its_first_bytes_and_size_and_never_replayed(
    redis_url: str, namespace: str
) -> None:
    settings = ServiceSettings(redis_url=redis_url, namespace=namespace, dlq_payload_bytes=1024)
    huge = b"{" + b"x" * 200_000
    (entry,) = await _dead_letters_of(settings, [{b"__data__": huge, b"extra": b"y" * 10}])
    _, fields = entry
    assert fields[b"error"].startswith(b"malformed")
    assert fields[b"truncated"] == b"1" and fields[b"size"] == b"200011"
    assert fields[b"cut:__data__"] == huge[:1024] and fields[b"cut:extra"] == b""
    assert b"__data__" not in fields  # nothing a replay could mistake for the event
    letters = DeadLetters(StreamSet.at(redis_url, namespace))
    try:
        assert letters.replay("training.requested.v1") == []
        assert letters.counts()["training.requested.v1"] == 1  # kept, for a person to read
    finally:
        letters.close()


async def test_a_small_entry_is_dead_lettered_whole_and_the_dlq_keeps_about_dlq_maxlen(
    redis_url: str, namespace: str
) -> None:
    settings = ServiceSettings(redis_url=redis_url, namespace=namespace, dlq_maxlen=10)
    entries = [{b"__data__": f"not json {i}".encode()} for i in range(500)]
    letters = await _dead_letters_of(settings, entries)
    assert len(letters) < 500 - 100  # MAXLEN ~ trims whole nodes (100 entries each) at most
    _, newest = letters[-1]
    assert newest[b"__data__"] == b"not json 499" and b"truncated" not in newest
