"""The dataset registry state: each dataset's latest registration (schema with its version,
training spec, monitoring overrides), as ingest last accepted it.

Ingest writes it in the same transaction as each dataset.registered event it publishes, so the
state and the stream never disagree. Every other service loads it at start-up (`load`) and then
follows dataset.registered from the id read in the same transaction: no restart to pick up a
new dataset or a new schema version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from driftloop_contracts import DatasetRegistered, streams
from driftloop_contracts.keys import Keys
from pydantic import ValidationError
from redis.asyncio import Redis

from .effects import RedisWrite

OWNER = "ingest"
log = structlog.get_logger(__name__)


def registrations_key(keys: Keys, dataset: str | None = None) -> str:
    """The registrations of `keys`' shard, or (`dataset` given) of the dataset's shard."""
    return (keys if dataset is None else keys.of(dataset)).owned(OWNER, "datasets", "registered")


@dataclass
class Registrations:
    """Latest registration per dataset, and the dataset.registered entry id it is as of."""

    datasets: dict[str, DatasetRegistered] = field(default_factory=dict)
    registered_from: str = "0"


def record_registration(keys: Keys, event: DatasetRegistered) -> RedisWrite:
    """The state change that goes with publishing `event` (same transaction)."""
    data = event.model_dump_json()
    key = registrations_key(keys, event.dataset)
    return RedisWrite(lambda pipe: pipe.hset(key, event.dataset, data))


def _parse(raw: Mapping[bytes, bytes]) -> dict[str, DatasetRegistered]:
    out: dict[str, DatasetRegistered] = {}
    for name, data in raw.items():
        try:
            out[name.decode()] = DatasetRegistered.model_validate_json(data)
        except (ValidationError, UnicodeDecodeError) as exc:
            log.error("unreadable dataset registration skipped", entry=str(name), error=str(exc))
    return out


async def load(redis: Redis, keys: Keys) -> Registrations:
    """The registrations of `keys`' shard and the position of its stream, in one transaction
    (sharded: load each of `keys.all()`)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xrevrange(keys.stream(streams.DATASET_REGISTERED), count=1)
        pipe.hgetall(registrations_key(keys))
        last, raw = cast(tuple[Any, Mapping[bytes, bytes]], await pipe.execute())
    return Registrations(
        datasets=_parse(raw),
        registered_from=cast(bytes, last[0][0]).decode() if last else "0",
    )
