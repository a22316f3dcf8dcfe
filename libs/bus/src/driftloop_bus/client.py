"""The stream client: publish events (the codec's plain JSON) and commit outputs atomically."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from driftloop_contracts.codec import encode, encode_body
from driftloop_contracts.keys import Keys
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from .connection import Durability
from .effects import AfterCommit, Output, Publish, PublishBody, RedisWrite
from .metrics import EVENTS_PUBLISHED


class StreamClient:
    """Redis for the bus: every publish goes through here, so the wire format has one path."""

    def __init__(self, redis: Redis, keys: Keys, durability: Durability | None = None) -> None:
        self.redis = redis
        self.keys = keys
        #: REDIS_WAIT_REPLICAS: what `durable` writes wait for (None: nothing).
        self.durability = durability
        #: Stream keys this process published to (retention trims them too).
        self.published: set[str] = set()

    def stage(self, pipe: Pipeline, item: Output) -> Keys | None:
        """Queue one output on a pipeline (after-commit callbacks are not Redis commands);
        the shard an event went to."""
        if isinstance(item, Publish):
            shard = self.route(getattr(item.event, "dataset", None), item.shard)
            key = shard.stream(item.stream)
            pipe.xadd(key, encode(item.event))  # type: ignore[arg-type]
        elif isinstance(item, PublishBody):
            shard = self.route(item.dataset, item.shard)
            key = shard.stream(item.stream)
            pipe.xadd(key, encode_body(item.body))  # type: ignore[arg-type]
        else:
            if isinstance(item, RedisWrite):
                item.apply(pipe)
            return None
        self.published.add(key)
        return shard

    def route(self, dataset: object, shard: int | None = None) -> Keys:
        """The keys of the shard an event goes to: the one named, its dataset's (REDIS_SHARDS
        > 1), else this client's shard."""
        if shard is not None:
            return self.keys.shard(shard)
        return self.keys.of(dataset) if isinstance(dataset, str) else self.keys

    async def commit(self, outputs: Sequence[Output], durable: bool = False) -> None:
        """Apply outputs in one transaction, then run their after-commit callbacks; a
        `durable` commit then waits for the replicas (NotReplicated if they lag)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            shards = {self.stage(pipe, item) for item in outputs}
            await pipe.execute()
        self.committed(outputs)
        if durable and self.durability is not None:
            await self.durability.wait(self.redis, [s for s in shards if s is not None])

    async def publish(self, *items: Publish | PublishBody, durable: bool = False) -> None:
        """Publish now, pipelined, no transaction. Raises if Redis is unreachable, and if a
        `durable` publish is not on the replicas in time (NotReplicated)."""
        if not items:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            shards = {self.stage(pipe, item) for item in items}
            await pipe.execute()
        count_published(items)
        if durable and self.durability is not None:
            await self.durability.wait(self.redis, [s for s in shards if s is not None])

    @staticmethod
    def committed(outputs: Sequence[Output]) -> None:
        """What follows a successful commit: metrics, then the memory changes."""
        count_published(o for o in outputs if isinstance(o, Publish | PublishBody))
        for item in outputs:
            if isinstance(item, AfterCommit):
                item.apply()


def count_published(items: Iterable[Publish | PublishBody]) -> None:
    for item in items:
        EVENTS_PUBLISHED.labels(stream=item.stream.name).inc()
