"""The event bus a service talks through: FastStream's Redis broker plus the plumbing around it.

Build one per process in the composition root, register consumers and followers, then
``start()`` it from the service's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast

from driftloop_contracts import Event, Stream
from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.parser import BinaryMessageFormatV1
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from .consumer import Consumer, GroupRunner, Publish, raw_entries
from .failpoints import Failpoints
from .maintenance import Maintenance
from .metrics import EVENTS_PUBLISHED, SUBSCRIBERS_RUNNING
from .settings import ServiceSettings
from .telemetry import get_logger
from .wire import DATA_FIELD, MalformedEvent, decode_entry

E = TypeVar("E", bound=Event)
RawMessage = Annotated[StreamMessage[Any], Context("message")]
log = get_logger(__name__)


async def _raw_parser(message: Mapping[str, Any]) -> StreamMessage[Any]:
    """Hand the raw entry through untouched: decoding, and its failures, are ours."""
    return StreamMessage(raw_message=message, body=b"")


async def _no_decoder(message: StreamMessage[Any]) -> None:
    return None


@dataclass(frozen=True)
class Follower(Generic[E]):
    """Every replica sees every event of a stream, starting from the latest one.

    For state each replica must hold (the model being served): no consumer group, the last
    entry is delivered at start-up and then every new one.
    """

    stream: Stream[E]
    handler: Callable[[E], Awaitable[None]]


class Bus:
    """FastStream broker, a redis-py client for transactions, and the stream namespace."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        redis: Redis | None = None,
        broker: RedisBroker | None = None,
    ) -> None:
        self.settings = settings
        self.redis: Redis = redis or Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=5,
            socket_timeout=15,
            health_check_interval=30,
        )
        self.broker = broker or RedisBroker(
            settings.redis_url,
            logger=logging.getLogger("faststream"),
            graceful_timeout=30,
        )
        self.runners: list[GroupRunner[Any]] = []
        self._followers: list[Follower[Any]] = []
        self._published: set[str] = set()
        self.maintenance = Maintenance(self)
        self.failpoints = Failpoints(settings.failpoints, self.redis, settings.namespace)

    def key(self, stream: Stream[Any]) -> str:
        return stream.key(self.settings.namespace)

    # ---------------------------------------------------------------- registration

    def consume(self, consumer: Consumer[E]) -> None:
        """Register a consumer group: its main subscriber and its reclaimer."""
        runner = GroupRunner(self, consumer)
        self.runners.append(runner)
        common: dict[str, Any] = {
            "parser": _raw_parser,
            "decoder": _no_decoder,
            "ack_policy": AckPolicy.MANUAL,  # the runner XACKs inside its commit transaction
        }
        main = StreamSub(
            runner.stream_key,
            group=consumer.group,
            consumer=self.settings.consumer_name,
            batch=True,
            max_records=consumer.batch_size,
            polling_interval=1000,
        )
        reclaimer = StreamSub(
            runner.stream_key,
            group=consumer.group,
            consumer=self.settings.consumer_name,
            min_idle_time=self.settings.reclaim_idle_ms,
            polling_interval=max(50, min(self.settings.reclaim_idle_ms // 2, 5000)),
        )

        @self.broker.subscriber(stream=main, **common)  # type: ignore[untyped-decorator]
        async def on_delivery(msg: RawMessage) -> None:
            await runner.on_delivery(msg.raw_message)

        @self.broker.subscriber(stream=reclaimer, **common)  # type: ignore[untyped-decorator]
        async def on_reclaim(msg: RawMessage) -> None:
            await runner.on_reclaim(msg.raw_message)

    def follow(self, follower: Follower[E]) -> None:
        """Register a follower; its subscriber is created at start, after the replay."""
        self._followers.append(follower)

    # ------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self.ensure_groups()
        for follower in self._followers:
            await self._start_follower(follower)
        await self.broker.start()
        self.maintenance.start()
        log.info("bus started", groups=len(self.runners), followers=len(self._followers))

    async def stop(self) -> None:
        await self.maintenance.stop()
        await self.broker.stop()
        await self.redis.aclose()

    def touched_streams(self) -> set[str]:
        """Keys of the streams this process consumes, follows or has published to."""
        keys = {r.stream_key for r in self.runners} | self._published
        return keys | {self.key(f.stream) for f in self._followers}

    async def ensure_groups(self) -> None:
        """Create every group at id 0, so events published before the first start are seen."""
        for runner in self.runners:
            try:
                await self.redis.xgroup_create(
                    runner.stream_key, runner.consumer.group, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _start_follower(self, follower: Follower[E]) -> None:
        key = self.key(follower.stream)
        last = cast(
            list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrevrange(key, count=1)
        )
        last_id = "0"
        if last:
            entry_id, fields = last[0]
            last_id = entry_id.decode()
            await self._deliver(follower, fields, entry_id)

        @self.broker.subscriber(
            stream=StreamSub(key, last_id=last_id, max_records=16, polling_interval=1000),
            parser=_raw_parser,
            decoder=_no_decoder,
            ack_policy=AckPolicy.MANUAL,
        )
        async def on_event(msg: RawMessage) -> None:
            for entry in raw_entries(msg.raw_message):
                await self._deliver(follower, entry.fields, entry.entry_id)

    async def _deliver(
        self, follower: Follower[E], fields: Mapping[bytes, bytes], entry_id: bytes
    ) -> None:
        try:
            event = decode_entry(fields, follower.stream)
        except MalformedEvent as exc:
            log.error("ignoring malformed entry", entry_id=entry_id.decode(), reason=str(exc))
            return
        try:
            await follower.handler(event)
        except Exception:
            log.exception("follower handler failed", entry_id=entry_id.decode())

    # ------------------------------------------------------------------ publishing

    async def enqueue(self, pipe: Pipeline, item: Publish) -> None:
        """Queue a publish on a pipeline (FastStream's envelope, correlation id in headers)."""
        key = self.key(item.stream)
        self._published.add(key)
        await self.broker.publish(
            item.event,
            stream=key,
            correlation_id=str(item.event.correlation_id),
            pipeline=pipe,
        )

    async def publish(self, *items: Publish) -> None:
        """Publish now, pipelined. Raises if Redis is unreachable: callers decide what to do."""
        if not items:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in items:
                await self.enqueue(pipe, item)
            await pipe.execute()
        self.count_published(items)

    async def publish_encoded(
        self, stream: Stream[Any], bodies: Sequence[tuple[bytes, str]]
    ) -> None:
        """Publish event bodies already serialised as JSON (hot paths that skip pydantic), in
        FastStream's wire format; `bodies` are (JSON, correlation id) pairs."""
        key = self.key(stream)
        self._published.add(key)
        async with self.redis.pipeline(transaction=False) as pipe:
            for body, correlation_id in bodies:
                data = await BinaryMessageFormatV1.encode(
                    message=body,
                    reply_to=None,
                    headers={"content-type": "application/json"},
                    correlation_id=correlation_id,
                )
                pipe.xadd(key, {DATA_FIELD: data})
            await pipe.execute()
        EVENTS_PUBLISHED.labels(stream=stream.name).inc(len(bodies))

    @staticmethod
    def count_published(items: Iterable[Publish]) -> None:
        for item in items:
            EVENTS_PUBLISHED.labels(stream=item.stream.name).inc()

    # --------------------------------------------------------------------- health

    async def redis_ok(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self.redis.ping(), 2))
        except Exception:
            return False

    async def health(self) -> dict[str, Any]:
        """Liveness: every subscriber running and the maintenance loop alive.

        A Redis outage alone does not fail it (subscribers reconnect by themselves, and the
        predictor must keep serving); a subscriber the watchdog cannot restart does, so the
        orchestrator restarts the process.
        """
        subscribers: Sequence[Any] = list(self.broker.subscribers)
        stopped = [str(getattr(s, "stream_sub", s).name) for s in subscribers if not s.running]
        SUBSCRIBERS_RUNNING.set(len(subscribers) - len(stopped))
        return {
            "ok": not stopped and self.maintenance.alive,
            "redis": await self.redis_ok(),
            "subscribers": len(subscribers),
            "stopped": stopped,
            "subscriber_restarts": self.maintenance.restarts,
        }
