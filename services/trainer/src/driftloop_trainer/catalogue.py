"""The trainer's own record of dataset versions and pending retrains, in Redis.

Keys live under ``<namespace>trainer:`` and belong to the trainer alone; replicas share them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from driftloop_contracts import BlobRef, DataIngested, DatasetSchema, DriftDetected
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline


class VersionEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    blob: BlobRef
    rows: int
    source: str
    observed_from: datetime
    observed_to: datetime
    schema_fingerprint: str


class PendingRetrain(BaseModel):
    """A drift the trainer is waiting to retrain for, until enough post-drift rows exist."""

    model_config = ConfigDict(frozen=True)

    drift: DriftDetected
    failures: int = 0
    min_rows: int
    #: 0 for the first retrain after the drift; n for the n-th follow-up on more rows.
    followup: int = 0
    followups_left: int = 0

    @property
    def onset(self) -> datetime:
        return self.drift.window.start


class Catalogue:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}trainer:"

    def _key(self, kind: str, dataset: str) -> str:
        return f"{self._prefix}{kind}:{dataset}"

    async def add(self, event: DataIngested) -> None:
        entry = VersionEntry(
            version=event.version,
            blob=event.blob,
            rows=event.rows,
            source=event.source,
            observed_from=event.observed_from,
            observed_to=event.observed_to,
            schema_fingerprint=event.dataset_schema.fingerprint(),
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(
                self._key("versions", event.dataset),
                {entry.model_dump_json(): event.observed_to.timestamp()},
            )
            pipe.set(self._key("schema", event.dataset), event.dataset_schema.model_dump_json())
            await pipe.execute()

    async def schema(self, dataset: str) -> DatasetSchema | None:
        """The schema of the latest version ingested for the dataset."""
        raw = await self._redis.get(self._key("schema", dataset))
        return DatasetSchema.model_validate_json(raw) if raw else None

    async def versions(self, dataset: str, since: datetime | None = None) -> list[VersionEntry]:
        """Versions holding rows observed at or after `since` (all of them without it)."""
        low = "-inf" if since is None else since.timestamp()
        members = await self._redis.zrangebyscore(self._key("versions", dataset), low, "+inf")
        return [VersionEntry.model_validate_json(cast(bytes, m)) for m in members]

    async def claim(self, dataset: str, trigger: str, claimant: str) -> bool:
        """Claim a training trigger for one event; the same event may claim again (a retry)."""
        key = self._key(f"claim:{trigger}", dataset)
        if await self._redis.set(key, claimant, nx=True):
            return True
        holder = cast(bytes | None, await self._redis.get(key))
        return holder is not None and holder.decode() == claimant

    def release(self, dataset: str, trigger: str) -> Callable[[Pipeline], object]:
        key = self._key(f"claim:{trigger}", dataset)
        return lambda pipe: pipe.delete(key)

    async def pending(self, dataset: str) -> PendingRetrain | None:
        raw = await self._redis.get(self._key("pending", dataset))
        return PendingRetrain.model_validate_json(raw) if raw else None

    async def set_pending(self, pending: PendingRetrain) -> None:
        await self._redis.set(
            self._key("pending", pending.drift.dataset), pending.model_dump_json()
        )

    async def retrained_for(self, dataset: str, model_version: int) -> bool:
        """Whether a drift of this model version already led to a retrain."""
        return bool(
            await self._redis.sismember(self._key("retrained", dataset), str(model_version))
        )

    def mark_retrained(self, dataset: str, model_version: int) -> Callable[[Pipeline], object]:
        key = self._key("retrained", dataset)
        return lambda pipe: pipe.sadd(key, str(model_version))

    def write_pending(
        self, pending: PendingRetrain | None, dataset: str
    ) -> Callable[[Pipeline], object]:
        key = self._key("pending", dataset)
        if pending is None:
            return lambda pipe: pipe.delete(key)
        data = pending.model_dump_json()
        return lambda pipe: pipe.set(key, data)
