"""Where live trials live: the registry's own Redis keys, written in each delivery's commit.

Each in the shard of its dataset (REDIS_SHARDS: ``<ns>{tag}:registry:...``).

* ``<ns>registry:trials:active``: hash, dataset -> the id of its running trial;
* ``<ns>registry:trials:of:<dataset>``: hash, trial id -> the trial's record (JSON: its
  trial.started, counts, and trial.decided once it ended), kept for the HTTP API;
* ``<ns>registry:trials:waiting:<trial id>``: hash, prediction id -> one side of a pair
  (``p``/``s`` and its loss) until the other side is labelled; deleted when the trial ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from driftloop_bus import Keys, RedisWrite
from driftloop_core.telemetry import get_logger
from pydantic import ValidationError
from redis.asyncio import Redis

from .trials import TrialRecord

log = get_logger(__name__)
OWNER = "registry"


class TrialStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self._keys = keys

    def active_key(self, dataset: str | None = None, shard: Keys | None = None) -> str:
        """The running trials of a dataset's shard (or of `shard`)."""
        keys = shard or (self._keys if dataset is None else self._keys.of(dataset))
        return keys.owned(OWNER, "trials", "active")

    def records_key(self, dataset: str) -> str:
        return self._keys.of(dataset).owned(OWNER, "trials", "of", dataset)

    def waiting_key(self, trial_id: uuid.UUID, dataset: str) -> str:
        return self._keys.of(dataset).owned(OWNER, "trials", "waiting", trial_id)

    # ------------------------------------------------------------------------ reads

    async def active(self, datasets: Iterable[str] | None = None) -> dict[str, TrialRecord]:
        """The running trial of each of `datasets` that has one (None: of every dataset)."""
        ids: dict[str, bytes] = {}
        if datasets is None:
            for shard in self._keys.all():
                raw = cast(
                    dict[bytes, bytes], await self.redis.hgetall(self.active_key(shard=shard))
                )
                ids |= {k.decode(): v for k, v in raw.items()}
        else:
            by_key: dict[str, list[str]] = {}
            for name in sorted(set(datasets)):
                by_key.setdefault(self.active_key(name), []).append(name)
            for key, names in by_key.items():
                found = cast(list[bytes | None], await self.redis.hmget(key, names))
                ids |= {n: i for n, i in zip(names, found, strict=True) if i is not None}
        if not ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for dataset, trial_id in ids.items():
                pipe.hget(self.records_key(dataset), trial_id)
            raws = cast(list[bytes | None], await pipe.execute())
        out: dict[str, TrialRecord] = {}
        for (dataset, _), raw_record in zip(ids.items(), raws, strict=True):
            record = _parse(raw_record, dataset)
            if record is not None:
                out[dataset] = record
        return out

    async def waiting(self, record: TrialRecord, ids: Sequence[str]) -> dict[str, str]:
        """The halves stored for these prediction ids."""
        if not ids:
            return {}
        unique = sorted(set(ids))
        key = self.waiting_key(record.trial_id, record.dataset)
        found = cast(list[bytes | None], await self.redis.hmget(key, unique))
        return {i: v.decode() for i, v in zip(unique, found, strict=True) if v is not None}

    async def history(self, dataset: str) -> list[TrialRecord]:
        """Every trial of `dataset`, newest first."""
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(self.records_key(dataset)))
        records = [r for r in (_parse(v, dataset) for v in raw.values()) if r is not None]
        return sorted(records, key=lambda r: r.started.occurred_at, reverse=True)

    async def get(self, dataset: str, trial_id: uuid.UUID) -> TrialRecord | None:
        raw = cast(bytes | None, await self.redis.hget(self.records_key(dataset), str(trial_id)))
        return _parse(raw, dataset)

    # ----------------------------------------------------------------- writes (commit)

    def begin(self, record: TrialRecord) -> RedisWrite:
        data, key = record.model_dump_json(), self.records_key(record.dataset)

        def apply(pipe: Any) -> None:
            pipe.hset(self.active_key(record.dataset), record.dataset, str(record.trial_id))
            pipe.hset(key, str(record.trial_id), data)

        return RedisWrite(apply)

    def save(
        self, record: TrialRecord, store: Mapping[str, str], matched: Sequence[str]
    ) -> RedisWrite:
        data, key = record.model_dump_json(), self.records_key(record.dataset)
        waiting = self.waiting_key(record.trial_id, record.dataset)

        def apply(pipe: Any) -> None:
            pipe.hset(key, str(record.trial_id), data)
            if store:
                pipe.hset(waiting, mapping=dict(store))
            if matched:
                pipe.hdel(waiting, *matched)

        return RedisWrite(apply)

    def finish(self, record: TrialRecord) -> RedisWrite:
        """The trial ended: its record with the decision; no longer active; halves gone."""
        data, key = record.model_dump_json(), self.records_key(record.dataset)

        def apply(pipe: Any) -> None:
            pipe.hset(key, str(record.trial_id), data)
            pipe.hdel(self.active_key(record.dataset), record.dataset)
            pipe.delete(self.waiting_key(record.trial_id, record.dataset))

        return RedisWrite(apply)


def _parse(raw: bytes | None, dataset: str) -> TrialRecord | None:
    if raw is None:
        return None
    try:
        return TrialRecord.model_validate_json(raw)
    except ValidationError as exc:
        log.error("unreadable trial record skipped", dataset=dataset, error=str(exc))
        return None
