"""What the console reads and asks, as Protocols: the services' HTTP APIs, the streams (read
only), and the one write it can make, a dead letter's replay. Adapters: sources.py; tests
pass hand-written fakes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

SERVICES = ("ingest", "trainer", "registry", "predictor", "monitor")


class ServiceDown(Exception):
    """A service did not answer (not running, wrong URL): the page says which and where."""

    def __init__(self, service: str, url: str, reason: str) -> None:
        super().__init__(f"{service} did not answer at {url}: {reason}")
        self.service, self.url, self.reason = service, url, reason


class Refused(Exception):
    """A service refused an admin action; `message` is what it said to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Entry:
    """One stream entry as Redis holds it."""

    stream: str  # without the namespace
    entry_id: str
    fields: Mapping[bytes, bytes]
    shard: int = 0  # REDIS_SHARDS > 1: ids are per shard's key

    @property
    def address(self) -> tuple[str, int]:
        """What names the entry in its stream: its id and its shard."""
        return self.entry_id, self.shard


@dataclass(frozen=True)
class GroupLag:
    stream: str
    group: str
    lag: int | None  # entries not yet delivered to the group (None: Redis cannot tell)
    pending: int  # delivered, not acknowledged


class Services(Protocol):
    async def read(self, service: str, path: str, missing: tuple[int, ...] = (404,)) -> Any | None:
        """The JSON answer of a GET; None when the status is in `missing` (a route that may not
        exist yet: add 405/422); ServiceDown when nobody answers or on another error."""
        ...

    async def act(self, service: str, path: str, token: str) -> Any:
        """POST an admin action with the operator's bearer token; Refused on 4xx/5xx."""
        ...


class Streams(Protocol):
    async def newest(self, stream: str, count: int) -> list[Entry]:
        """The newest `count` entries of a stream (its dead letters: `<stream>.dlq`), over
        every shard."""
        ...

    async def entry(self, stream: str, entry_id: str, shard: int = 0) -> Entry | None: ...

    async def lengths(self, streams: list[str]) -> dict[str, int]: ...

    async def lag(self, streams: list[str]) -> list[GroupLag]: ...


class Replayer(Protocol):
    async def replay(self, stream: str, entry_id: str, shard: int = 0) -> str:
        """Move one dead letter of `stream` (in `shard`) back onto it; the new entry id.
        Refused when the letter is gone or truncated."""
        ...
