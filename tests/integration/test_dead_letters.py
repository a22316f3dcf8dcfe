"""Dead letters from failure to replay: the CLI's operations against a real Redis."""

from __future__ import annotations

from collections.abc import Sequence

from driftloop_bus import Bus, Consumer, Publish, each
from driftloop_contracts import TrainingRequested, streams
from driftloop_contracts.codec import encode
from driftloop_core import ServiceSettings
from driftloop_sdk.cli import app
from driftloop_sdk.deadletters import DeadLetters
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
    letters = DeadLetters(redis_url, namespace)
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
