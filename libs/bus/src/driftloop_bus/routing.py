"""Which FastStream broker reads which stream: the one broker of a single Redis (or of the
sentinels' primary), or, on a Redis Cluster, one broker per primary, each reading the streams
whose slots that primary owns.

FastStream 0.7 has no cluster mode, so the slot map is resolved once, at start (CLUSTER SLOTS
through redis-py's cluster client). After a resharding moves a shard's slot, that shard's
subscribers get MOVED on every read: `moved()` reports them, which fails the bus health check,
and the orchestrator's restart resolves the map again. Commits are not affected: redis-py's
cluster client follows MOVED by itself.
"""

from __future__ import annotations

from collections.abc import Callable

from faststream.redis import RedisBroker
from redis.asyncio import Redis

from . import connection
from .settings import BusSettings

Address = tuple[str, int]


class Brokers:
    """The brokers of one process, and the node each stream key was routed to."""

    def __init__(
        self,
        settings: BusSettings,
        redis: Redis,
        default: RedisBroker,
        make: Callable[[str, int], RedisBroker] | None = None,
    ) -> None:
        self.default = default
        self._redis = redis
        self._cluster = connection.is_cluster(redis)
        self._make = make or (
            lambda host, port: connection.node_broker(settings, host, port, graceful_timeout=30)
        )
        self._by_node: dict[Address, RedisBroker] = {}
        self.routes: dict[str, Address] = {}  # stream key -> node it is read from

    @property
    def all(self) -> list[RedisBroker]:
        return list(self._by_node.values()) if self._cluster else [self.default]

    async def for_key(self, key: str) -> RedisBroker:
        """The broker that reads `key`: on a cluster, the one of the primary owning its slot."""
        if not self._cluster:
            return self.default
        node = await connection.node_of(self._redis, key)
        self.routes[key] = node
        if node not in self._by_node:
            self._by_node[node] = self._make(*node)
        return self._by_node[node]

    async def start(self) -> None:
        for broker in self.all:
            await broker.start()

    async def stop(self) -> None:
        for broker in self.all:
            await broker.stop()

    async def moved(self) -> list[str]:
        """Stream keys whose slot a primary other than the one read from owns now."""
        if not self._cluster:
            return []
        try:
            await connection.refresh(self._redis)
        except Exception:  # cluster unreachable: the subscribers report that themselves
            return []
        moved = []
        for key, node in self.routes.items():
            if await connection.node_of(self._redis, key) != node:
                moved.append(key)
        return moved
