"""The trainer's state in Redis: loading a dataset's snapshot, and its effects as commit writes.

Keys, all under ``<namespace>trainer:`` and the trainer's alone (replicas share them):

- ``versions:<d>``: the catalogue, a sorted set of VersionEntry JSON scored by observed_to;
  ``rows:<d>`` rows per schema fingerprint; ``schema:<d>`` the latest schema.
- ``pending-retrains:<d>``: one pending retrain per drift event id (JSON), each written only by
  compare-and-set against the value its decision read.
- ``claim:<trigger>:<d>``: who trains a trigger (``initial``, ``drift-<id>-<step>``).
- ``retrained:<d>`` model versions a drift led to a retrain of; ``champion:<d>`` the serving
  version; ``initial:<d>`` the first model's attempts (InitialAttempts JSON).
- ``champion-model:<d>`` the serving version's artifact and holdout accuracy (ChampionModel
  JSON); ``artifacts:<d>`` the sha256 of every artifact the trainer trained: a champion is
  loaded (to measure whether a retrain can pay) only if its artifact is one of them.
- ``generation:<d>``: bumped by every commit that changes the above (see `guard`).

Claims are the one write made before a commit: a run takes its trigger's claim before it
trains, so two replicas never train the same trigger (SET NX; the same event may take it
again when retried). Everything else is written inside the delivery's commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, cast

from driftloop_bus import Keys, Publish, RedisWrite
from driftloop_contracts import DatasetSchema, DriftDetected, Event, Stream, streams
from driftloop_contracts.codec import encode
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from .effects import (
    PRODUCER,
    Announce,
    MarkRetrained,
    RecordArtifact,
    RecordInitialAttempt,
    RecordVersion,
    ReleaseClaim,
    ReplacePending,
    SetChampion,
    Write,
)
from .rows import RowLoader
from .state import (
    INITIAL,
    ChampionModel,
    DatasetState,
    InitialAttempts,
    Pending,
    PendingRetrain,
    VersionEntry,
)

OWNER = "trainer"
PAGE = 64


class Recheck(Event):
    """The trainer's own: a dataset's state changed while a decision on it was being made,
    so decide again on all of it."""

    event_type: Literal["trainer.recheck"] = "trainer.recheck"
    dataset: str


RECHECK = Stream("trainer.recheck.v1", Recheck)

# Compare-and-set of one pending retrain: '' stands for "absent" in expected and new.
REPLACE_PENDING = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
"""

# A version is counted once, however often it is recorded.
RECORD_VERSION = """
if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[4])
end
redis.call('SET', KEYS[3], ARGV[5])
return 1
"""

# Bump the generation; if another commit bumped it since the decision read it, the decision
# may have missed that change (two replicas each adding the version that completes a
# threshold): ask for a recheck, which decides again on the whole state.
GUARD = """
local now = redis.call('INCR', KEYS[1])
if now ~= tonumber(ARGV[1]) + 1 then
  redis.call('XADD', KEYS[2], '*', '__data__', ARGV[2])
  return 0
end
return 1
"""


class Repository:
    def __init__(self, redis: Redis, keys: Keys, rows: RowLoader) -> None:
        self.redis = redis
        self.keys = keys
        self.rows = rows

    def key(self, kind: str, dataset: str) -> str:
        """A key of the dataset's state, in its shard (REDIS_SHARDS): one slot per dataset."""
        return str(self.keys.of(dataset).owned(OWNER, kind, dataset))

    def claim_key(self, trigger: str, dataset: str) -> str:
        return str(self.keys.of(dataset).owned(OWNER, "claim", trigger, dataset))

    # --------------------------------------------------------------------- snapshot

    async def load(
        self,
        dataset: str,
        *,
        adding: VersionEntry | None = None,
        schema: DatasetSchema | None = None,
        drift: DriftDetected | None = None,
    ) -> DatasetState:
        """The dataset's state, as it will be once `adding` (with `schema`) is recorded;
        with `drift`, also the rows after its onset and the claim of its first step."""
        state = await self._base(dataset)
        if adding is not None and schema is not None:
            state = _with_version(state, adding, schema, await self._known(dataset, adding))
        onsets = {p.retrain.onset for p in state.pending}
        triggers = [p.retrain.claim for p in state.pending]
        if drift is not None:
            onsets.add(drift.window.start)
            triggers.append(f"drift-{drift.event_id}-0")
        claims = dict(state.claims)
        if triggers:
            held = cast(
                list[bytes | None],
                await self.redis.mget([self.claim_key(t, dataset) for t in triggers]),
            )
            claims |= {t: h.decode() for t, h in zip(triggers, held, strict=True) if h}
        rows_since = {o: await self._rows_since(state, o, adding) for o in onsets}
        return replace(state, claims=claims, rows_since=rows_since)

    async def _base(self, dataset: str) -> DatasetState:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(self.key("schema", dataset))
            pipe.hgetall(self.key("rows", dataset))
            pipe.hgetall(self.key("pending-retrains", dataset))
            pipe.smembers(self.key("retrained", dataset))
            pipe.get(self.key("champion", dataset))
            pipe.get(self.key("initial", dataset))
            pipe.get(self.key("generation", dataset))
            pipe.get(self.claim_key(INITIAL, dataset))
            pipe.get(self.key("champion-model", dataset))
            raw = await pipe.execute()
        schema, rows, pending, retrained, champion, initial, generation, claim, model = raw
        return DatasetState(
            dataset=dataset,
            schema=DatasetSchema.model_validate_json(schema) if schema else None,
            rows_by_schema={k.decode(): int(v) for k, v in rows.items()},
            pending=tuple(
                Pending(PendingRetrain.model_validate_json(v), v.decode()) for v in pending.values()
            ),
            claims={INITIAL: claim.decode()} if claim else {},
            retrained_for=frozenset(int(v) for v in retrained),
            champion=int(champion) if champion else None,
            champion_model=await self._champion_model(dataset, model),
            initial=InitialAttempts.model_validate_json(initial) if initial else None,
            generation=int(generation or 0),
        )

    async def _champion_model(self, dataset: str, raw: bytes | None) -> ChampionModel | None:
        if not raw:
            return None
        model = ChampionModel.model_validate_json(raw)
        ours = await self.redis.sismember(self.key("artifacts", dataset), model.artifact.sha256)
        return model.model_copy(update={"trusted": bool(ours)})

    async def _known(self, dataset: str, entry: VersionEntry) -> bool:
        score = await self.redis.zscore(self.key("versions", dataset), entry.model_dump_json())
        return score is not None

    async def _rows_since(
        self, state: DatasetState, onset: datetime, adding: VersionEntry | None
    ) -> int:
        if state.schema is None:
            return 0
        fingerprint = state.schema.fingerprint()
        members = await self.redis.zrangebyscore(
            self.key("versions", state.dataset), onset.timestamp(), "+inf"
        )
        entries = {
            e.version: e
            for e in (VersionEntry.model_validate_json(cast(bytes, m)) for m in members)
            if e.schema_fingerprint == fingerprint
        }
        if adding is not None and adding.schema_fingerprint == fingerprint:
            entries.setdefault(adding.version, adding)
        return await self.rows.count_since(entries.values(), onset)

    async def newest_first(
        self,
        dataset: str,
        since: datetime | None,
        schema: DatasetSchema,
        include: Sequence[VersionEntry] = (),
    ) -> AsyncIterator[VersionEntry]:
        """Versions of `schema` holding rows observed at or after `since`, newest first, read
        from the catalogue a page at a time; `include` (not yet recorded) merged in."""
        fingerprint = schema.fingerprint()
        extra = sorted(
            (e for e in include if e.schema_fingerprint == fingerprint),
            key=lambda e: e.observed_to,
            reverse=True,
        )
        seen: set[str] = set()
        async for entry in self._catalogue_newest_first(dataset, since):
            while extra and extra[0].observed_to >= entry.observed_to:
                first = extra.pop(0)
                if first.version not in seen:
                    seen.add(first.version)
                    yield first
            if entry.schema_fingerprint == fingerprint and entry.version not in seen:
                seen.add(entry.version)
                yield entry
        for entry in extra:
            if entry.version not in seen:
                yield entry

    async def _catalogue_newest_first(
        self, dataset: str, since: datetime | None
    ) -> AsyncIterator[VersionEntry]:
        low = "-inf" if since is None else since.timestamp()
        start = 0
        while True:
            members = await self.redis.zrevrangebyscore(
                self.key("versions", dataset), "+inf", low, start=start, num=PAGE
            )
            start += PAGE
            for member in members:
                yield VersionEntry.model_validate_json(cast(bytes, member))
            if len(members) < PAGE:
                return

    # ---------------------------------------------------------------------- claims

    async def claim(self, dataset: str, trigger: str, claimant: str) -> bool:
        """Claim a trigger for one event; the same event may claim it again (a retry)."""
        key = self.claim_key(trigger, dataset)
        if await self.redis.set(key, claimant, nx=True):
            return True
        holder = cast(bytes | None, await self.redis.get(key))
        return holder is not None and holder.decode() == claimant

    # ---------------------------------------------------------------------- writes

    def write(self, effect: Write) -> RedisWrite:
        """One effect as a write queued on the commit's transaction."""
        if isinstance(effect, RecordVersion):
            return self._record_version(effect)
        if isinstance(effect, ReplacePending):
            return self._replace_pending(effect)
        d = effect.dataset
        if isinstance(effect, MarkRetrained):
            key, version = self.key("retrained", d), str(effect.model_version)
            return RedisWrite(lambda pipe: pipe.sadd(key, version))
        if isinstance(effect, ReleaseClaim):
            key = self.claim_key(effect.trigger, d)
            return RedisWrite(lambda pipe: pipe.delete(key))
        if isinstance(effect, RecordInitialAttempt):
            key, data = self.key("initial", d), effect.attempts.model_dump_json()
            return RedisWrite(lambda pipe: pipe.set(key, data))
        if isinstance(effect, RecordArtifact):
            key, sha256 = self.key("artifacts", d), effect.sha256
            return RedisWrite(lambda pipe: pipe.sadd(key, sha256))
        return self._set_champion(effect)

    def _set_champion(self, effect: SetChampion) -> RedisWrite:
        d = effect.dataset
        key, version = self.key("champion", d), str(effect.model_version)
        model_key = self.key("champion-model", d)
        model = effect.model.model_dump_json(exclude={"trusted"}) if effect.model else None

        def apply(pipe: Pipeline) -> None:
            pipe.set(key, version)
            if model is not None:
                pipe.set(model_key, model)

        return RedisWrite(apply)

    def _record_version(self, effect: RecordVersion) -> RedisWrite:
        d, entry = effect.dataset, effect.entry
        keys = [self.key("versions", d), self.key("rows", d), self.key("schema", d)]
        args = [
            entry.observed_to.timestamp(),
            entry.model_dump_json(),
            entry.schema_fingerprint,
            entry.rows,
            effect.schema.model_dump_json(),
        ]
        return RedisWrite(lambda pipe: _eval(pipe, RECORD_VERSION, keys, args))

    def _replace_pending(self, effect: ReplacePending) -> RedisWrite:
        keys = [self.key("pending-retrains", effect.dataset)]
        new = effect.new.revision() if effect.new is not None else ""
        args = [effect.key, effect.expected or "", new]
        return RedisWrite(lambda pipe: _eval(pipe, REPLACE_PENDING, keys, args))

    def guard(self, state: DatasetState, cause: Event) -> RedisWrite:
        """Bump the dataset's generation; ask for a recheck if the decision's was stale."""
        recheck_key = self.keys.of(state.dataset).stream(RECHECK)
        keys = [self.key("generation", state.dataset), recheck_key]
        d = state.dataset
        recheck = Recheck.caused_by(cause, f"recheck/{d}", PRODUCER, dataset=d)
        body = encode(recheck)[b"__data__"]
        return RedisWrite(lambda pipe: _eval(pipe, GUARD, keys, [state.generation, body]))

    @staticmethod
    def announce(effect: Announce) -> Publish:
        event = effect.event
        if event.event_type == streams.TRAINING_COMPLETED.event_type:
            return Publish(streams.TRAINING_COMPLETED, event)
        if event.event_type == streams.TRAINING_SKIPPED.event_type:
            return Publish(streams.TRAINING_SKIPPED, event)
        return Publish(streams.TRAINING_FAILED, event)


def _eval(pipe: Pipeline, script: str, keys: Iterable[str], args: Iterable[Any]) -> object:
    keys = list(keys)
    return pipe.eval(script, len(keys), *keys, *args)


def _with_version(
    state: DatasetState, entry: VersionEntry, schema: DatasetSchema, known: bool
) -> DatasetState:
    rows = dict(state.rows_by_schema)
    if not known:
        rows[entry.schema_fingerprint] = rows.get(entry.schema_fingerprint, 0) + entry.rows
    return replace(state, schema=schema, rows_by_schema=rows)
