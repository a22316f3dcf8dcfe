"""The console's adapters: the services over HTTP (httpx), the streams over Redis as the
read-only `console` user, and dead-letter replay as `console-admin`."""

from __future__ import annotations

from typing import Any, cast

import httpx
from driftloop_contracts.streams import DLQ_SUFFIX
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
    """Reads only: XREVRANGE, XRANGE, XLEN, XINFO GROUPS (what the `console` user may do)."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis, self.ns = redis, namespace

    async def newest(self, stream: str, count: int) -> list[Entry]:
        raw = cast(RawEntries, await self.redis.xrevrange(self.ns + stream, count=count))
        return [Entry(stream, i.decode(), fields) for i, fields in raw]

    async def entry(self, stream: str, entry_id: str) -> Entry | None:
        raw = cast(RawEntries, await self.redis.xrange(self.ns + stream, entry_id, entry_id))
        return Entry(stream, raw[0][0].decode(), raw[0][1]) if raw else None

    async def lengths(self, streams: list[str]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xlen(self.ns + stream)
            counts = await pipe.execute()
        return {s: int(n) for s, n in zip(streams, counts, strict=True)}

    async def lag(self, streams: list[str]) -> list[GroupLag]:
        found: list[GroupLag] = []
        for stream in streams:
            try:
                groups = await self.redis.xinfo_groups(self.ns + stream)
            except Exception:  # no such stream yet: no groups to show
                continue
            for g in groups:
                name = g["name"].decode() if isinstance(g["name"], bytes) else str(g["name"])
                lag = g.get("lag")
                found.append(
                    GroupLag(stream, name, None if lag is None else int(lag), g["pending"])
                )
        return found


class RedisReplayer:
    """As `console-admin`: read the dead letter, append its original entry to its stream and
    delete it from the dead letters, in one transaction."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis, self.ns = redis, namespace

    async def replay(self, stream: str, entry_id: str) -> str:
        dlq = f"{self.ns}{stream}{DLQ_SUFFIX}"
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
            pipe.xadd(self.ns + stream, original)  # type: ignore[arg-type]
            pipe.xdel(dlq, entry_id)
            new_id, _ = await pipe.execute()
        return cast(bytes, new_id).decode()


def original_fields(fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """The entry as it was published (the bus keeps `__data__` and `orig:<field>`)."""
    out = {k[len(ORIGINAL_PREFIX) :]: v for k, v in fields.items() if k.startswith(ORIGINAL_PREFIX)}
    if b"__data__" in fields:
        out[b"__data__"] = fields[b"__data__"]
    return out
