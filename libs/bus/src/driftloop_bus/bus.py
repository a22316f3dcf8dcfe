"""The event bus a service talks through: FastStream runs the subscribers, driftloop adds the
delivery guarantees (runner.py), the wire format (driftloop_contracts.codec) and upkeep
(maintenance.py).

Build one per process in the composition root, register consumers and followers, then
``start()`` it from the service's lifespan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast

import structlog
from driftloop_contracts import Event, Stream
from driftloop_contracts.codec import MalformedEvent, decode
from driftloop_contracts.keys import Keys
from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from . import connection
from .client import StreamClient
from .effects import Output, Publish, PublishBody
from .failpoints import Failpoints
from .maintenance import GroupRef, Maintenance
from .metrics import SUBSCRIBERS_RUNNING
from .routing import Brokers
from .runner import Consumer, GroupRunner, raw_entries
from .settings import BusSettings

E = TypeVar("E", bound=Event)
RawMessage = Annotated[StreamMessage[Any], Context("message")]
log = structlog.get_logger(__name__)


async def _raw_parser(message: Mapping[str, Any]) -> StreamMessage[Any]:
    """Hand the raw entry through untouched: decoding, and its failures, are ours."""
    return StreamMessage(raw_message=message, body=b"")


async def _no_decoder(message: StreamMessage[Any]) -> None:
    return None


#: Loads the state a follower starts from and returns the stream id to follow after.
Replay = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class _Subscription:
    """A subscriber to create at start, once the broker reading `key` is known."""

    name: str
    key: str
    stream: StreamSub
    handler: Callable[..., Awaitable[None]]
    options: dict[str, Any]


@dataclass(frozen=True)
class Follower(Generic[E]):
    """Every replica sees every event of a stream (no consumer group): for state each replica
    holds, such as the models it serves.

    ``replay`` runs at start: it loads the current state from its source of truth (not from
    the stream) and returns the entry id to follow from. Without it, only events published
    after the start are delivered.
    """

    stream: Stream[E]
    handler: Callable[[E], Awaitable[None]]
    replay: Replay | None = None
    #: With REDIS_SHARDS > 1 the stream is one per shard: the replay of one shard's state
    #: (its keys given). A follower with only `replay` cannot run sharded.
    replay_shard: Callable[[Keys], Awaitable[str]] | None = None


class Bus:
    """FastStream's broker for subscribers, a redis-py client for everything else."""

    def __init__(
        self,
        settings: BusSettings,
        *,
        redis: Redis | None = None,
        broker: RedisBroker | None = None,
    ) -> None:
        self.settings = settings
        #: Shard 0's keys; `keys.of(dataset)` and `keys.all()` for the others.
        self.keys = Keys(settings.namespace, settings.redis_shards)
        self.redis: Redis = redis or connection.connect(settings)
        self.broker = broker or connection.broker(settings, graceful_timeout=30)
        self.brokers = Brokers(settings, self.redis, self.broker)
        self.durability = connection.Durability.of(settings, self.keys)
        #: Publishes of HTTP edges: each event goes to its dataset's shard.
        self.client = StreamClient(self.redis, self.keys, self.durability)
        self.failpoints = Failpoints(settings.failpoints, self.redis, self.keys)
        self.runners: list[GroupRunner[Any]] = []
        self._followers: list[Follower[Any]] = []
        self._subscribers: list[tuple[str, Any]] = []  # (name, FastStream subscriber)
        self._pending: list[_Subscription] = []  # attached to a broker at start
        self.maintenance = Maintenance(self)

    def key(self, stream: Stream[Any]) -> str:
        return self.keys.stream(stream)

    # ---------------------------------------------------------------- registration

    def consume(self, consumer: Consumer[E]) -> None:
        """Register a consumer group on every shard: its main subscriber and its reclaimer."""
        for keys in self.keys.all():
            client = StreamClient(self.redis, keys, self.durability)
            self._consume(GroupRunner(client, self.settings, self.failpoints, consumer))

    def _consume(self, runner: GroupRunner[E]) -> None:
        consumer = runner.consumer
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

        async def on_delivery(msg: RawMessage) -> None:
            await runner.on_delivery(msg.raw_message)

        async def on_reclaim(msg: RawMessage) -> None:
            await runner.on_reclaim(msg.raw_message)

        name = self._name(runner.stream_key, f"{consumer.stream.name}/{consumer.group}")
        self._pending.append(_Subscription(name, runner.stream_key, main, on_delivery, common))
        self._pending.append(
            _Subscription(f"{name} (reclaimer)", runner.stream_key, reclaimer, on_reclaim, common)
        )

    def _name(self, key: str, name: str) -> str:
        """A subscriber's name in health and logs: with shards, the shard's tag too."""
        return name if self.keys.shards == 1 else f"{key.split('}', 1)[0]}}} {name}"

    async def _attach(self, sub: _Subscription) -> None:
        """Create the FastStream subscriber on the broker that reads its stream."""
        broker = await self.brokers.for_key(sub.key)
        subscriber = broker.subscriber(stream=sub.stream, **sub.options)
        subscriber(sub.handler)
        self._subscribers.append((sub.name, subscriber))

    def follow(self, follower: Follower[E]) -> None:
        """Register a follower; its subscriber is created at start, after its replay."""
        self._followers.append(follower)

    # ------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self.ensure_groups()
        for follower in self._followers:
            for keys in self.keys.all():
                await self._start_follower(follower, keys)
        for sub in self._pending:
            await self._attach(sub)
        self._pending.clear()
        await self.brokers.start()
        self.maintenance.start()
        log.info("bus started", groups=len(self.runners), followers=len(self._followers))

    async def stop(self) -> None:
        await self.maintenance.stop()
        await self.brokers.stop()
        await self.redis.aclose()

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

    async def _start_follower(self, follower: Follower[E], keys: Keys) -> None:
        key = keys.stream(follower.stream)
        if follower.replay_shard is not None:
            last_id = await follower.replay_shard(keys)
        elif follower.replay is not None:
            if keys.shards > 1:
                raise ValueError(
                    f"the follower of {follower.stream.name} replays one state: it needs "
                    "replay_shard to run with REDIS_SHARDS > 1"
                )
            last_id = await follower.replay()
        else:
            last = cast(list[tuple[bytes, Any]], await self.redis.xrevrange(key, count=1))
            last_id = last[0][0].decode() if last else "0"

        async def on_event(msg: RawMessage) -> None:
            for entry in raw_entries(msg.raw_message):
                await self._deliver(follower, entry.fields, entry.entry_id)

        sub = StreamSub(key, last_id=last_id, max_records=16, polling_interval=1000)
        options = {"parser": _raw_parser, "decoder": _no_decoder, "ack_policy": AckPolicy.MANUAL}
        name = self._name(key, f"{follower.stream.name} (follower)")
        self._pending.append(_Subscription(name, key, sub, on_event, options))

    async def _deliver(
        self, follower: Follower[E], fields: Mapping[bytes, bytes], entry_id: bytes
    ) -> None:
        try:
            event = decode(fields, follower.stream)
        except MalformedEvent as exc:
            log.error("ignoring malformed entry", entry_id=entry_id.decode(), reason=str(exc))
            return
        try:
            await follower.handler(event)
        except Exception:
            log.exception("follower handler failed", entry_id=entry_id.decode())

    # --------------------------------------------------------- what maintenance sees

    def groups(self) -> Sequence[GroupRef]:
        return [
            GroupRef(r.consumer.stream.name, r.stream_key, r.consumer.group, r.dlq_key)
            for r in self.runners
        ]

    def touched_streams(self) -> set[str]:
        """Keys of the streams this process consumes or has published to: the ones it trims.
        Not those it only follows: its Redis user may read them, not trim them (their
        publisher and consumer groups trim them)."""
        published = {k for r in self.runners for k in r.client.published}
        return {r.stream_key for r in self.runners} | self.client.published | published

    async def restart_stopped(self) -> int:
        """The watchdog: FastStream stops a subscriber for good when its group vanished (Redis
        restarted without persistence); recreate the groups and start it again."""
        stopped = [(n, s) for n, s in self._subscribers if not s.running]
        if not stopped:
            return 0
        await self.ensure_groups()
        for name, subscriber in stopped:
            await subscriber.start()
            log.warning("subscriber restarted", subscriber=name)
        return len(stopped)

    # ------------------------------------------------------------------ publishing

    async def publish(self, *items: Publish | PublishBody, durable: bool = True) -> None:
        """Publish now, pipelined. Raises if Redis is unreachable: callers decide what to do.
        Durable (the default: what HTTP accepted) waits for REDIS_WAIT_REPLICAS replicas
        and raises NotReplicated, a ConnectionError, if they lag."""
        await self.client.publish(*items, durable=durable)

    async def commit(self, outputs: Sequence[Output]) -> None:
        """Publish and write in one transaction (HTTP actions that change state), durably."""
        await self.client.commit(outputs, durable=True)

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
        stopped = [name for name, s in self._subscribers if not s.running]
        SUBSCRIBERS_RUNNING.set(len(self._subscribers) - len(stopped))
        moved = await self.brokers.moved()  # a resharding: a restart reads the new map
        return {
            "ok": not stopped and not moved and self.maintenance.alive,
            "moved": moved,
            "redis": await self.redis_ok(),
            "subscribers": len(self._subscribers),
            "stopped": stopped,
            "subscriber_restarts": self.maintenance.restarts,
        }
