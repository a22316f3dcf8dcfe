"""What a handler returns instead of doing it: the bus applies it inside the delivery's commit.

A service decides in pure code and returns these; the runner turns them into one Redis
transaction with the acknowledgement, and only after that transaction succeeded runs the
``AfterCommit`` callbacks, which is where a service changes its memory. A handler that fails,
or a commit that fails, leaves memory as it was and the entries pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import Event, Stream
from redis.asyncio.client import Pipeline


@dataclass(frozen=True)
class Publish:
    """An event to publish."""

    stream: Stream[Any]
    event: Event
    #: The shard to publish to when the event names no dataset (a feedback event: the shard
    #: of its predictions); None: the event's dataset's, else the delivery's (or shard 0).
    shard: int | None = None


@dataclass(frozen=True)
class PublishBody:
    """An event body already serialised (hot paths: see driftloop_contracts.columnar)."""

    stream: Stream[Any]
    body: bytes
    #: The dataset of the body, which routes it to its shard (REDIS_SHARDS > 1); None: the
    #: shard of the delivery that returns it (or shard 0 at an HTTP edge).
    dataset: str | None = None
    shard: int | None = None  # as Publish.shard


@dataclass(frozen=True)
class RedisWrite:
    """A write to the service's own keys; queued on the commit's transaction."""

    apply: Callable[[Pipeline], object]


@dataclass(frozen=True)
class AfterCommit:
    """A change to the service's memory, made only once the commit succeeded."""

    apply: Callable[[], object]


Output = Publish | PublishBody | RedisWrite | AfterCommit
