"""How a process reaches Redis: one address (REDIS_URL) or the primary the sentinels name
(REDIS_SENTINELS), for redis-py and FastStream alike; and the wait for replicas that makes a
write acknowledged over HTTP survive a failover (REDIS_WAIT_REPLICAS).

WAIT counts the replicas holding the caller's connection's last write, and a pipeline gives
its connection back to the pool when it is done. So after the write commits, one more
pipeline on one connection writes a fence (INCR of a key of the writer's own) and WAITs for
it: replication is in order, so a replica holding the fence holds the write before it. On a
Redis Cluster the fence is in the shard written, so it is on the primary that took the write."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from driftloop_contracts.keys import Keys
from faststream.redis import RedisBroker, RedisSentinelBroker
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import ConnectionError as RedisConnectionError

from .cluster import Cluster
from .metrics import WRITES_NOT_REPLICATED
from .settings import BusSettings

#: Socket options of every command connection.
OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 5,
    "socket_timeout": 15,
    "health_check_interval": 30,
}


def connect(settings: BusSettings) -> Redis:
    """The command client: the address in REDIS_URL, the sentinels' current primary, or a
    cluster client (REDIS_CLUSTER) that sends each command to the node owning its slot."""
    if settings.redis_cluster:
        return cluster(settings)
    if not settings.sentinels():
        return Redis.from_url(settings.redis_url, **settings.redis_auth(), **OPTIONS)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinels(), socket_connect_timeout=5, socket_timeout=5
    )
    db = parse_url(settings.redis_url).get("db", 0)
    client: Redis = sentinel.master_for(
        settings.redis_sentinel_master, db=db, **settings.redis_auth(), **OPTIONS
    )
    return client


def cluster(settings: BusSettings) -> Redis:
    """The cluster client (cluster.py), typed as the plain client the bus codes against: it
    has the same commands, and its pipeline(transaction=True) runs MULTI/EXEC on the node
    owning the slot of the transaction's keys (which share it: CROSSSLOT otherwise)."""
    seeds = [ClusterNode(host, port) for host, port in settings.cluster_nodes()]
    options = {**settings.redis_auth(), **OPTIONS}
    client = Cluster(startup_nodes=seeds, node_options=options, **options)
    return cast(Redis, client)


def is_cluster(redis: Redis) -> bool:
    return isinstance(redis, RedisCluster)


async def node_of(redis: Redis, key: str) -> tuple[str, int]:
    """(host, port) of the primary that owns `key`'s slot now (cluster clients only)."""
    client = cast(RedisCluster, redis)
    await client.initialize()
    node = client.get_node_from_key(key)
    if node is None:
        raise RedisConnectionError(f"no cluster node owns the slot of {key!r}")
    return node.host, int(node.port)


async def refresh(redis: Redis) -> None:
    """Read the cluster's slot map again (CLUSTER SLOTS), as after a MOVED."""
    await cast(RedisCluster, redis).nodes_manager.initialize()


def node_broker(settings: BusSettings, host: str, port: int, **options: Any) -> RedisBroker:
    """A FastStream broker on one cluster node: FastStream has no cluster mode, so each
    primary's streams are read through a broker of its own."""
    common = {**settings.redis_auth(), "logger": logging.getLogger("faststream"), **options}
    return RedisBroker(f"redis://{host}:{port}/0", **common)


def broker(settings: BusSettings, **options: Any) -> RedisBroker:
    """FastStream's broker (the subscribers) on the same server as `connect`."""
    common = {**settings.redis_auth(), "logger": logging.getLogger("faststream"), **options}
    if not settings.sentinels():
        return RedisBroker(settings.redis_url, **common)
    db = parse_url(settings.redis_url).get("db", 0)
    return RedisSentinelBroker(
        settings.redis_url,
        sentinels=settings.sentinels(),
        sentinel_master_name=settings.redis_sentinel_master,
        db=db,
        **common,
    )


class NotReplicated(RedisConnectionError):
    """A write reached the primary but not REDIS_WAIT_REPLICAS replicas in time. It is a
    connection error so that HTTP edges answer it as Redis being unavailable (503: retry)."""


@dataclass(frozen=True)
class Durability:
    """Wait for `replicas` replicas (at most `timeout_ms`) after each acknowledged write."""

    replicas: int
    timeout_ms: int
    owner: str  # the writer's user: it owns `<shard prefix><owner>:fence`
    keys: Keys

    @classmethod
    def of(cls, settings: BusSettings, keys: Keys) -> Durability | None:
        if settings.redis_wait_replicas == 0:
            return None
        owner = settings.redis_username or "bus"  # each service's user owns `<user>:*`
        return cls(settings.redis_wait_replicas, settings.redis_wait_timeout_ms, owner, keys)

    def fence(self, keys: Keys) -> str:
        return keys.owned(self.owner, "fence")

    async def wait(self, redis: Redis, written: Iterable[Keys] = ()) -> None:
        """Return once `replicas` replicas hold every write this process committed before
        the call; NotReplicated if they do not within the timeout.

        On a cluster, replicas are per primary: the wait runs on each primary owning a shard
        in `written` (every shard's primary if none is named), with a fence in that shard."""
        if not is_cluster(redis):
            await self._wait_on(redis, self.fence(self.keys))
            return
        shards = list(written) or self.keys.all()
        on: dict[int, tuple[Redis, str]] = {}
        for keys in shards:
            fence = self.fence(keys)
            node = await cast(Cluster, redis).node_for(fence)
            on.setdefault(id(node), (node, fence))
        await asyncio.gather(*(self._wait_on(node, fence) for node, fence in on.values()))

    async def _wait_on(self, redis: Redis, fence: str) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.incr(fence)
            pipe.wait(self.replicas, self.timeout_ms)
            _, acknowledged = await pipe.execute()
        if int(acknowledged) < self.replicas:
            WRITES_NOT_REPLICATED.inc()
            raise NotReplicated(
                f"the write reached the Redis primary but {acknowledged} of "
                f"{self.replicas} replica(s) within {self.timeout_ms} ms; retry"
            )
