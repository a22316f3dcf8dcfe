"""Reading and writing a stack's streams from a test, with raw redis-py (as any client would)."""

from __future__ import annotations

from typing import Any, TypeVar

from driftloop_bus import Keys, datasets, serving
from driftloop_contracts import (
    DatasetRegistered,
    Event,
    ModelPromoted,
    RolloutChanged,
    Stream,
    TrainingCompleted,
)
from driftloop_contracts.codec import decode, encode
from redis import Redis

from .signing import sealed, signed
from .wait import eventually_sync

E = TypeVar("E", bound=Event)


class Streams:
    def __init__(self, redis_url: str, namespace: str) -> None:
        self.redis = Redis.from_url(redis_url)
        self.namespace = namespace

    def close(self) -> None:
        self.redis.close()

    def publish(self, stream: Stream[Any], *events: Event) -> None:
        """XADD each event; promotions and rollouts also set the serving state, as the
        registry does when it publishes them (numbered and signed, unless already signed);
        runs are signed as the trainer signs them; registrations set the dataset state, as
        ingest does (tests stand in for them)."""
        keys = Keys(self.namespace)
        for event in events:
            if isinstance(event, ModelPromoted | RolloutChanged) and event.signature is None:
                number = self.redis.hincrby(serving.sequences_key(keys), event.dataset, 1)
                event = sealed(event, int(number))
            elif isinstance(event, TrainingCompleted) and event.signature is None:
                event = signed(event)  # as the trainer publishes it
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(stream.key(self.namespace), encode(event))  # type: ignore[arg-type]
                if isinstance(event, ModelPromoted):
                    serving.record_promotion(keys, event).apply(pipe)  # type: ignore[arg-type]
                elif isinstance(event, RolloutChanged):
                    serving.record_rollout(keys, event).apply(pipe)  # type: ignore[arg-type]
                elif isinstance(event, DatasetRegistered):
                    datasets.record_registration(keys, event).apply(pipe)  # type: ignore[arg-type]
                pipe.execute()

    def read(self, stream: Stream[E]) -> list[E]:
        return [decode(f, stream) for _, f in self.redis.xrange(stream.key(self.namespace))]

    def wait(self, stream: Stream[E], count: int = 1, timeout: float = 20.0) -> list[E]:
        """Wait until the stream holds at least `count` events; return them all."""
        return eventually_sync(
            lambda: found if len(found := self.read(stream)) >= count else None,
            timeout=timeout,
            what=f"{count} event(s) on {stream.name}",
        )

    def wait_consumed(self, stream: Stream[Any], group: str, timeout: float = 20.0) -> None:
        """Wait until `group` has read and acknowledged everything now in the stream: the
        positive signal that a consumer handled an event and chose to publish nothing."""
        key = stream.key(self.namespace)
        last = self.redis.xrevrange(key, count=1)
        assert last, f"{stream.name} is empty"
        last_id = last[0][0]

        def done() -> bool:
            groups = {g["name"]: g for g in self.redis.xinfo_groups(key)}
            info = groups.get(group.encode())
            return bool(info and info["last-delivered-id"] >= last_id and info["pending"] == 0)

        eventually_sync(done, timeout=timeout, what=f"{group} to consume {stream.name}")

    def dead_letters(self, stream: Stream[Any]) -> list[dict[bytes, bytes]]:
        return [f for _, f in self.redis.xrange(f"{stream.key(self.namespace)}.dlq")]
