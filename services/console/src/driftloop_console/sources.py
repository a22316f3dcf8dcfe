"""The console's adapters: the services over HTTP (httpx), the streams over Redis as the
read-only `console` user, and dead-letter replay as `console-admin`."""

from __future__ import annotations

from typing import Any, cast

import httpx
from driftloop_contracts.keys import Keys
from driftloop_contracts.streams import DLQ_SUFFIX, entry_order
from redis.asyncio import Redis

from .ports import Entry, GroupLag, Refused, ServiceDown

ORIGINAL_PREFIX = b"orig:"
RawEntries = list[tuple[bytes, dict[bytes, bytes]]]


class HttpServices:
    def __init__(self, urls: dict[str, str], timeout: float) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def read(self, service: str, path: str, missing: tuple[int, ...] = (404,)) -> Any | None:
        url = f"{self.urls[service]}{path}"
        try:
            answer = await self.http.get(url)
        except httpx.HTTPError as exc:
            raise ServiceDown(service, self.urls[service], type(exc).__name__) from exc
        if answer.status_code in missing:
            return None
        if answer.status_code >= 400:
            raise ServiceDown(service, self.urls[service], f"HTTP {answer.status_code}")
        return answer.json()

    async def act(self, service: str, path: str, token: str) -> Any:
        url = f"{self.urls[service]}{path}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            answer = await self.http.post(url, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceDown(service, self.urls[service], type(exc).__name__) from exc
        if answer.status_code >= 400:
            raise Refused(answer.status_code, _message(answer))
        return answer.json()


def _message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    return str(body.get("message") or body.get("error") or answer.text[:300])


class RedisStreams:
    """Reads only: XREVRANGE, XRANGE, XLEN, XINFO GROUPS (what the `console` user may do),
    over every shard's key of a stream (REDIS_SHARDS): entries merged by entry id, lengths
    and lag summed. On a cluster `redis` is the bus's cluster client."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.shards = redis, keys.all()

    async def newest(self, stream: str, count: int) -> list[Entry]:
        answers = await self._each(stream, lambda pipe, key: pipe.xrevrange(key, count=count))
        found = [
            Entry(stream, i.decode(), fields, shard)
            for shard, raw in enumerate(answers)
            for i, fields in cast(RawEntries, raw)
        ]
        return sorted(found, key=lambda e: entry_order(e.entry_id), reverse=True)[:count]

    async def entry(self, stream: str, entry_id: str, shard: int = 0) -> Entry | None:
        if not 0 <= shard < len(self.shards):
            return None
        key = self.shards[shard].stream(stream)
        raw = cast(RawEntries, await self.redis.xrange(key, entry_id, entry_id))
        return Entry(stream, raw[0][0].decode(), raw[0][1], shard) if raw else None

    async def lengths(self, streams: list[str]) -> dict[str, int]:
        return {s: sum(int(n) for n in await self._each(s, _xlen)) for s in streams}

    async def lag(self, streams: list[str]) -> list[GroupLag]:
        found: list[GroupLag] = []
        for stream in streams:
            summed: dict[str, GroupLag] = {}
            for keys in self.shards:
                for g in await self._groups(keys.stream(stream)):
                    name = g["name"].decode() if isinstance(g["name"], bytes) else str(g["name"])
                    one = GroupLag(stream, name, _lag(g.get("lag")), int(g["pending"]))
                    summed[name] = _plus(summed[name], one) if name in summed else one
            found += summed.values()
        return found

    async def _groups(self, key: str) -> list[dict[str, Any]]:
        try:
            return list(await self.redis.xinfo_groups(key))
        except Exception:  # no such stream yet: no groups to show
            return []

    async def _each(self, stream: str, command: Any) -> list[Any]:
        """One command per shard's key of `stream`, pipelined (split by node on a cluster)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys in self.shards:
                command(pipe, keys.stream(stream))
            return list(await pipe.execute())


def _xlen(pipe: Any, key: str) -> Any:
    return pipe.xlen(key)


def _lag(value: Any) -> int | None:
    return None if value is None else int(value)


def _plus(a: GroupLag, b: GroupLag) -> GroupLag:
    """One group's lag over two shards: unknown if either's is."""
    lag = None if a.lag is None or b.lag is None else a.lag + b.lag
    return GroupLag(a.stream, a.group, lag, a.pending + b.pending)


class RedisReplayer:
    """As `console-admin`: read the dead letter, append its original entry to its stream (in
    the dead letter's shard) and delete it from the dead letters, in one transaction."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.shards = redis, keys.all()

    async def replay(self, stream: str, entry_id: str, shard: int = 0) -> str:
        if not 0 <= shard < len(self.shards):
            raise Refused(404, f"there is no shard {shard}: shards are 0 to {len(self.shards) - 1}")
        keys = self.shards[shard]
        dlq = keys.dead_letters(stream)
        raw = cast(RawEntries, await self.redis.xrange(dlq, entry_id, entry_id))
        if not raw:
            raise Refused(404, f"no dead letter {entry_id} in {stream}{DLQ_SUFFIX} (replayed?)")
        fields = raw[0][1]
        if fields.get(b"truncated") == b"1":
            raise Refused(
                409,
                "this dead letter kept only the first bytes of its entry; "
                "it cannot be replayed (raise DRIFTLOOP_DLQ_PAYLOAD_BYTES)",
            )
        original = original_fields(fields)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.stream(stream), original)  # type: ignore[arg-type]
            pipe.xdel(dlq, entry_id)
            new_id, _ = await pipe.execute()
        return cast(bytes, new_id).decode()


def original_fields(fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """The entry as it was published (the bus keeps `__data__` and `orig:<field>`)."""
    out = {k[len(ORIGINAL_PREFIX) :]: v for k, v in fields.items() if k.startswith(ORIGINAL_PREFIX)}
    if b"__data__" in fields:
        out[b"__data__"] = fields[b"__data__"]
    return out
