"""How a stack's Redis is laid out, as the services are told (the same variables): one server
(REDIS_URL), the primary its sentinels name (REDIS_SENTINELS, REDIS_SENTINEL_MASTER), or a
Redis Cluster (REDIS_CLUSTER, REDIS_CLUSTER_NODES); and in how many shards the datasets are
spread (REDIS_SHARDS: every stream is one key per shard). The CLI connects the way the
services do and reads every shard (`shards.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from driftloop_contracts.keys import Keys
from redis import Redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import parse_url
from redis.sentinel import Sentinel

from .redis_users import RedisLogin

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
Address = tuple[str, int]


class LayoutError(ValueError):
    """A layout variable that cannot be used; the message names it and what to write."""


@dataclass(frozen=True)
class Layout:
    namespace: str = ""
    shards: int = 1
    cluster: bool = False
    cluster_nodes: tuple[Address, ...] = ()
    sentinels: tuple[Address, ...] = ()
    sentinel_master: str = "driftloop"

    def __post_init__(self) -> None:
        if self.cluster and self.sentinels:
            raise LayoutError("set REDIS_CLUSTER or REDIS_SENTINELS, not both")
        if not 1 <= self.shards <= 256:
            raise LayoutError(f"REDIS_SHARDS is {self.shards}: it must be 1 to 256")
        if self.shards > 1 and "{" in self.namespace:
            raise LayoutError("DRIFTLOOP_NAMESPACE must not contain '{' when REDIS_SHARDS > 1")

    @property
    def keys(self) -> Keys:
        return Keys(self.namespace, self.shards)

    def env(self) -> dict[str, str]:
        """The variables that tell a service this layout (what differs from the default)."""
        out = {"REDIS_SHARDS": str(self.shards)}
        if self.cluster:
            out["REDIS_CLUSTER"] = "true"
        if self.cluster_nodes:
            out["REDIS_CLUSTER_NODES"] = _joined(self.cluster_nodes)
        if self.sentinels:
            out["REDIS_SENTINELS"] = _joined(self.sentinels)
            out["REDIS_SENTINEL_MASTER"] = self.sentinel_master
        return out

    def connect(self, url: str, login: RedisLogin) -> Redis:
        """A client that reaches every key: on a cluster, one that follows the slot map (typed
        as the plain client: it has the same commands)."""
        if self.cluster:
            seeds = self.cluster_nodes or (_address_of(url),)
            nodes = [ClusterNode(host, port) for host, port in seeds]  # type: ignore[no-untyped-call]
            return cast(Redis, RedisCluster(startup_nodes=nodes, **login.kwargs()))
        if self.sentinels:
            sentinel = Sentinel(list(self.sentinels), socket_timeout=5)  # type: ignore[no-untyped-call]
            db = parse_url(url).get("db", 0)  # type: ignore[no-untyped-call]
            primary: Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
                self.sentinel_master, db=db, **login.kwargs()
            )
            return primary
        return login.connect(url)


def from_settings(namespace: str, env: Mapping[str, str], stored: Mapping[str, Any]) -> Layout:
    """The layout from the environment, else the profile file (`redis_shards`,
    `redis_cluster`, `redis_cluster_nodes`, `redis_sentinels`, `redis_sentinel_master`)."""

    def get(name: str) -> str | None:
        value = env.get(name.upper())
        if value is None and (found := stored.get(name)) is not None:
            value = str(found).lower() if isinstance(found, bool) else str(found)
        return value

    return Layout(
        namespace=namespace,
        shards=_shards(get("redis_shards")),
        cluster=_flag("REDIS_CLUSTER", get("redis_cluster")),
        cluster_nodes=addresses("REDIS_CLUSTER_NODES", get("redis_cluster_nodes")),
        sentinels=addresses("REDIS_SENTINELS", get("redis_sentinels")),
        sentinel_master=get("redis_sentinel_master") or "driftloop",
    )


def addresses(name: str, text: str | None) -> tuple[Address, ...]:
    """'host:port,host:port' as pairs (empty when unset), or LayoutError naming the address."""
    if not text or not text.strip():
        return ()
    found = []
    for address in (a.strip() for a in text.split(",")):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise LayoutError(f"{name}: {address!r} is not host:port (e.g. 'redis-0:6379')")
        found.append((host, int(port)))
    return tuple(found)


def _shards(text: str | None) -> int:
    if text is None or not text.strip():
        return 1
    if not text.strip().isdigit():
        raise LayoutError(f"REDIS_SHARDS is {text!r}: write the stack's number of shards (1-256)")
    return int(text)


def _flag(name: str, text: str | None) -> bool:
    value = (text or "").strip().lower()
    if value in TRUE | FALSE:
        return value in TRUE
    raise LayoutError(f"{name} is {text!r}: write true or false")


def _joined(addresses: tuple[Address, ...]) -> str:
    return ",".join(f"{host}:{port}" for host, port in addresses)


def _address_of(url: str) -> Address:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379
