"""Redis Cluster for the bus: redis-py's cluster client for single-key commands and
non-transactional pipelines, and MULTI/EXEC sent straight to the primary owning the slot.

redis-py (8.1) can run a cluster transaction (`pipeline(transaction=True)`), but its async
client queues each command through a new thread running its own event loop (a blocking
join on the caller's loop, about 3 ms per command here: 136 commits/s against 667 on one
Redis). A driftloop commit's keys share one slot by construction (keys.py), so the
transaction needs no cluster logic: it is recorded, then replayed on a plain pipeline of the
node that owns the slot of its first key. A commit spanning slots is refused by that node
(CROSSSLOT); a slot moved since the map was read answers MOVED, which re-reads the map and
fails the commit (the delivery is retried on the right node).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, MovedError, ResponseError

#: Commands whose first argument is not a key (numkeys at 1, the keys after it).
SCRIPTS = {"eval", "evalsha", "eval_ro", "evalsha_ro"}


class Cluster(RedisCluster):
    """The cluster client the bus uses (see the module docstring)."""

    def __init__(self, *args: Any, node_options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._node_options = node_options
        self._nodes: dict[tuple[str, int], Redis] = {}

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        if transaction:
            return SlotTransaction(self)
        return super().pipeline(transaction, shard_hint)

    async def node_for(self, key: str) -> Redis:
        """A plain client of the primary owning `key`'s slot now."""
        await self.initialize()
        node = self.get_node_from_key(key)
        if node is None:
            raise ResponseError(f"CLUSTERDOWN no node owns the slot of {key!r}")
        address = (node.host, int(node.port))
        if address not in self._nodes:
            self._nodes[address] = Redis(host=address[0], port=address[1], **self._node_options)
        return self._nodes[address]

    async def moved(self) -> None:
        """A node answered MOVED or ASK: read the slot map again."""
        await self.nodes_manager.initialize()

    async def aclose(self) -> None:
        for client in self._nodes.values():
            await client.aclose()
        await super().aclose()


class SlotTransaction:
    """pipeline(transaction=True) on a Cluster: commands are recorded, then run as one
    MULTI/EXEC on the node owning the first key's slot. WATCH opens the node's pipeline at
    once (commands after it run immediately, as on a plain pipeline)."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._pipe: Pipeline | None = None

    async def __aenter__(self) -> SlotTransaction:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.reset()

    def __getattr__(self, name: str) -> Any:
        if self._pipe is not None:
            return getattr(self._pipe, name)

        def record(*args: Any, **kwargs: Any) -> SlotTransaction:
            self._calls.append((name, args, kwargs))
            return self

        return record

    async def watch(self, *keys: str) -> None:
        pipe = await self._open(keys[0])
        await pipe.watch(*keys)

    def multi(self) -> None:
        if self._pipe is not None:
            self._pipe.multi()  # type: ignore[no-untyped-call]

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self._pipe is None:
            if not self._calls:
                return []
            pipe = await self._open(_first_key(self._calls))
            for name, args, kwargs in self._calls:
                getattr(pipe, name)(*args, **kwargs)
        try:
            return await self._opened().execute(raise_on_error)
        except (MovedError, AskError):
            await self._cluster.moved()
            raise

    async def reset(self) -> None:
        if self._pipe is not None:
            await self._pipe.reset()  # type: ignore[no-untyped-call]
        self._pipe, self._calls = None, []

    async def _open(self, key: str) -> Pipeline:
        client = await self._cluster.node_for(key)
        self._pipe = client.pipeline(transaction=True)
        return self._pipe

    def _opened(self) -> Pipeline:
        assert self._pipe is not None
        return self._pipe


def _first_key(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> str:
    for name, args, _ in calls:
        if name in SCRIPTS:
            if len(args) > 2 and int(args[1]) > 0:
                return str(args[2])
        elif args:
            key = args[0]
            return key.decode() if isinstance(key, bytes) else str(key)
    raise ValueError("a transaction with no key: nothing says which node runs it")
