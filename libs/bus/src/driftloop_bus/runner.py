"""The consumer pattern every service uses, so no handler repeats delivery plumbing.

For each (stream, group) two FastStream subscribers run:

* the main one reads new entries (XREADGROUP COUNT ``batch_size``);
* a reclaimer takes entries left pending longer than ``reclaim_idle_ms`` by a consumer that
  crashed or failed (XAUTOCLAIM), and dead-letters them once they were delivered
  ``max_attempts`` times.

Each delivery is decoded here (malformed entries go straight to ``<stream>.dlq`` with the
reason), filtered against event ids already handled, handed to the handler, and committed in
one Redis transaction: the events the handler returned, the handled markers, the dead letters
and the XACK. A crash before that transaction leaves everything pending and nothing published;
after it, nothing is redelivered. A handler that raises leaves its entries pending, with the
error kept for the dead-letter entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import structlog
from driftloop_contracts import Event, Stream, utcnow
from driftloop_contracts.codec import DATA_FIELD, MalformedEvent, decode
from redis.exceptions import OutOfMemoryError, RedisError

from .client import StreamClient
from .effects import Output
from .failpoints import Failpoints
from .metrics import BATCH_SIZE, EVENTS_CONSUMED, HANDLER_SECONDS
from .settings import BusSettings

E = TypeVar("E", bound=Event)
log = structlog.get_logger(__name__)
Handler = Callable[["Delivery[E]"], Awaitable[Sequence[Output]]]


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the event is dead-lettered at once."""


@dataclass(frozen=True)
class Consumer(Generic[E]):
    """A consumer group on one stream: the handler gets a batch of new, valid events."""

    stream: Stream[E]
    group: str
    handler: Handler[E]
    batch_size: int = 1
    #: Deliveries of the consumers sharing this lock run one at a time, from the handler to
    #: the after-commit callbacks: for a service that changes memory copy-on-write, so a
    #: callback never swaps in state another delivery changed after it was copied.
    exclusive: asyncio.Lock | None = None


class Delivery(list[E]):
    """The events a handler gets: one delivery, in stream order, and the stream entry id of
    each (``entry_ids[i]`` is the id of ``self[i]``), for handlers that keep pointers into the
    stream. Handlers that only need the events treat it as a plain sequence."""

    def __init__(self, events: Sequence[E], entry_ids: Sequence[str]) -> None:
        super().__init__(events)
        if len(entry_ids) != len(events):
            raise ValueError(f"{len(entry_ids)} entry ids for {len(events)} events")
        self.entry_ids: tuple[str, ...] = tuple(entry_ids)


def each(fn: Callable[[E], Awaitable[Sequence[Output]]]) -> Handler[E]:
    """Adapt a one-event handler to the batch interface."""

    async def handle(events: Sequence[E]) -> Sequence[Output]:
        out: list[Output] = []
        for event in events:
            out.extend(await fn(event))
        return out

    return handle


@dataclass
class _Entry:
    entry_id: bytes
    fields: Mapping[bytes, bytes]
    event: Event | None = None


@dataclass
class _Outcome:
    handled: list[_Entry] = field(default_factory=list)
    duplicates: list[_Entry] = field(default_factory=list)
    dead: list[tuple[_Entry, str, int]] = field(default_factory=list)
    outputs: Sequence[Output] = ()


def raw_entries(raw_message: Mapping[str, Any]) -> list[_Entry]:
    """Entries of a FastStream delivery (one entry or a batch) as (id, fields)."""
    ids = raw_message["message_ids"]
    data = raw_message["data"]
    rows = data if isinstance(data, list) else [data]
    return [_Entry(i, f) for i, f in zip(ids, rows, strict=True)]


class GroupRunner(Generic[E]):
    """Runs one Consumer: decode, deduplicate, handle, commit; reclaim and dead-letter."""

    def __init__(
        self,
        client: StreamClient,
        settings: BusSettings,
        failpoints: Failpoints,
        consumer: Consumer[E],
    ) -> None:
        self.client = client
        self.redis = client.redis
        self.settings = settings
        self.failpoints = failpoints
        self.consumer = consumer
        self.stream_key = client.keys.stream(consumer.stream)
        self.dlq_key = client.keys.dead_letters(consumer.stream)
        self.error_key = client.keys.errors(self.stream_key, consumer.group)
        self._labels = {"stream": consumer.stream.name, "group": consumer.group}
        # Entries this replica is working on. The reclaimer and the main reader share the
        # consumer name, so an entry whose lease has not been renewed yet (a stalled event
        # loop) can reach both paths at once; the second one leaves it to the first.
        self._in_flight: set[bytes] = set()

    def _seen_key(self, event: Event) -> str:
        return self.client.keys.seen(self.consumer.group, event.event_id)

    # --------------------------------------------------------------- delivery paths

    async def on_delivery(self, raw_message: Mapping[str, Any]) -> None:
        await self._process(raw_entries(raw_message))

    async def on_reclaim(self, raw_message: Mapping[str, Any]) -> None:
        for entry in raw_entries(raw_message):
            if entry.entry_id in self._in_flight:
                continue  # this replica is handling it right now
            attempts = await self._delivery_count(entry.entry_id)
            if attempts > self.settings.max_attempts:
                last = cast(bytes | None, await self.redis.hget(self.error_key, entry.entry_id))
                reason = last.decode() if last else "no error recorded (consumer died mid-handler)"
                await self._commit(_Outcome(dead=[(entry, reason, attempts - 1)]))
                continue
            log.info(
                "reclaimed", entry_id=entry.entry_id.decode(), attempt=attempts, **self._labels
            )
            await self._process([entry], attempt=attempts)

    async def _delivery_count(self, entry_id: bytes) -> int:
        pending = await self.redis.xpending_range(
            self.stream_key, self.consumer.group, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    # --------------------------------------------------------------------- the core

    async def _process(self, entries: list[_Entry], attempt: int = 1) -> None:
        """Decode, deduplicate, handle and commit, holding the entries' lease throughout: a
        reclaimer must never take an entry this replica is still working on."""
        exclusive = self.consumer.exclusive or contextlib.nullcontext()
        mine = [e for e in entries if e.entry_id not in self._in_flight]
        if not mine:
            return
        ids = [e.entry_id for e in mine]
        self._in_flight.update(ids)
        try:
            async with self._lease(ids), exclusive:
                await self._process_leased(mine, attempt)
        finally:
            self._in_flight.difference_update(ids)

    async def _process_leased(self, entries: list[_Entry], attempt: int) -> None:
        outcome = _Outcome()
        valid: list[_Entry] = []
        for entry in entries:
            try:
                entry.event = decode(entry.fields, self.consumer.stream)
                valid.append(entry)
            except MalformedEvent as exc:
                outcome.dead.append((entry, f"malformed: {exc}", attempt))
        fresh = await self._drop_duplicates(valid, outcome)
        if fresh:
            BATCH_SIZE.labels(**self._labels).observe(len(fresh))
            try:
                outcome.outputs = await self._run_handler(fresh)
            except Exception as exc:
                if isinstance(exc, PermanentError) and len(fresh) == 1:
                    outcome.dead.append((fresh[0], f"permanent error: {exc}", attempt))
                else:
                    await self._record_failure(fresh, exc)
                    fresh = []
            outcome.handled = [e for e in fresh if all(e is not d[0] for d in outcome.dead)]
        try:
            await self._commit(outcome)
        except OutOfMemoryError:
            await self._not_an_attempt(entries, attempt)
            raise

    async def _not_an_attempt(self, entries: list[_Entry], attempt: int) -> None:
        """Redis refused the commit (maxmemory reached, noeviction): not the handler's fault,
        so this delivery does not count towards max_attempts (XCLAIM RETRYCOUNT, which Redis
        allows when full). The entries stay pending and are tried again each reclaim until
        Redis has room; dead-lettering them would only fail too, or give up on good events."""
        with contextlib.suppress(RedisError):
            await self.redis.xclaim(
                self.stream_key,
                self.consumer.group,
                self.settings.consumer_name,
                min_idle_time=0,
                message_ids=[e.entry_id for e in entries],
                retrycount=max(0, attempt - 1),
                justid=True,
            )
        log.warning("redis is full: entries stay pending", entries=len(entries), **self._labels)

    async def _drop_duplicates(self, valid: list[_Entry], outcome: _Outcome) -> list[_Entry]:
        if not valid:
            return []
        seen = await self.redis.mget([self._seen_key(e.event) for e in valid if e.event])
        fresh: list[_Entry] = []
        ids_in_batch: set[object] = set()
        for entry, marker in zip(valid, seen, strict=True):
            assert entry.event is not None
            if marker is not None or entry.event.event_id in ids_in_batch:
                outcome.duplicates.append(entry)
            else:
                ids_in_batch.add(entry.event.event_id)
                fresh.append(entry)
        return fresh

    async def _run_handler(self, fresh: list[_Entry]) -> Sequence[Output]:
        decoded = [(e.event, e.entry_id.decode()) for e in fresh if e.event is not None]
        events = Delivery([ev for ev, _ in decoded], [i for _, i in decoded])
        first = events[0]
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            event_id=str(first.event_id),
            correlation_id=str(first.correlation_id),
            stream=self.consumer.stream.name,
        ):
            result = await self.consumer.handler(events)  # type: ignore[arg-type]
        HANDLER_SECONDS.labels(**self._labels).observe(time.perf_counter() - started)
        return result

    @contextlib.asynccontextmanager
    async def _lease(self, entry_ids: list[bytes]) -> AsyncIterator[None]:
        """Keep claiming our entries while we work on them, so a slow handler (training)
        is never mistaken for a dead one and reclaimed by another replica.

        The renewal stops on a flag, not only on cancellation: redis-py can turn a
        cancellation that lands mid-command into a connection error, which the loop
        tolerates (Redis may be down), and the lease would then live forever and keep the
        entries from ever being reclaimed."""
        interval = self.settings.reclaim_idle_ms / 3000
        done = asyncio.Event()

        async def renew() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), interval)
                    return
                with contextlib.suppress(Exception):
                    await self.redis.xclaim(
                        self.stream_key,
                        self.consumer.group,
                        self.settings.consumer_name,
                        min_idle_time=0,
                        message_ids=list[int | bytes | str | memoryview](entry_ids),
                        justid=True,
                    )

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            done.set()
            task.cancel()

    async def _record_failure(self, fresh: list[_Entry], exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.warning(
            "handler failed; entries stay pending for a retry",
            error=reason,
            entries=len(fresh),
            **self._labels,
            exc_info=not isinstance(exc, PermanentError),
        )
        EVENTS_CONSUMED.labels(outcome="failed", **self._labels).inc(len(fresh))
        await self.redis.hset(self.error_key, mapping={e.entry_id: reason[:2000] for e in fresh})

    async def _commit(self, outcome: _Outcome) -> None:
        ids = [e.entry_id for e in outcome.handled + outcome.duplicates]
        ids += [d[0].entry_id for d in outcome.dead]
        if not ids:
            return
        await self.failpoints.hit(f"{self.consumer.group}.before_commit")
        async with self.redis.pipeline(transaction=True) as pipe:
            for item in outcome.outputs:
                self.client.stage(pipe, item)
            for entry, reason, attempts in outcome.dead:
                pipe.xadd(
                    self.dlq_key,
                    self._dead_letter(entry, reason, attempts),
                    maxlen=self.settings.dlq_maxlen,
                    approximate=True,
                )
            ttl = self.settings.dedupe_ttl_s
            for entry in outcome.handled:
                assert entry.event is not None
                pipe.set(self._seen_key(entry.event), b"1", ex=ttl)
            pipe.xack(self.stream_key, self.consumer.group, *ids)
            pipe.hdel(self.error_key, *ids)
            await pipe.execute()
        self.client.committed(outcome.outputs)
        for name, items in (("handled", outcome.handled), ("duplicate", outcome.duplicates)):
            if items:
                EVENTS_CONSUMED.labels(outcome=name, **self._labels).inc(len(items))
        for entry, reason, attempts in outcome.dead:
            kind = "malformed" if reason.startswith("malformed") else "dead_lettered"
            EVENTS_CONSUMED.labels(outcome=kind, **self._labels).inc()
            log.warning(
                "dead-lettered",
                entry_id=entry.entry_id.decode(),
                reason=reason,
                attempts=attempts,
                dlq=self.dlq_key,
                **self._labels,
            )

    def _dead_letter(self, entry: _Entry, reason: str, attempts: int) -> dict[Any, Any]:
        fields: dict[Any, Any] = {
            b"error": reason[:4000].encode(),
            b"attempts": str(attempts).encode(),
            b"stream": self.consumer.stream.name.encode(),
            b"group": self.consumer.group.encode(),
            b"entry_id": entry.entry_id,
            b"consumer": self.settings.consumer_name.encode(),
            b"failed_at": utcnow().isoformat().encode(),
        }
        return fields | _payload(entry.fields, self.settings.dlq_payload_bytes)


def _payload(entry: Mapping[bytes, bytes], limit: int) -> dict[bytes, bytes]:
    """The entry's fields as a dead letter keeps them: whole (replayable) up to `limit`
    bytes; past it the first bytes of each under ``cut:<name>`` and the original size, so one
    huge entry, copied by each group that fails it, cannot fill Redis."""
    size = sum(len(v) for v in entry.values())
    if size <= limit:
        return {name if name == DATA_FIELD else b"orig:" + name: v for name, v in entry.items()}
    kept: dict[bytes, bytes] = {b"truncated": b"1", b"size": str(size).encode()}
    left = limit
    for name, value in entry.items():
        kept[b"cut:" + name] = value[: max(left, 0)]
        left -= len(value)
    return kept
