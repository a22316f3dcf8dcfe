"""Reading the snapshot the policy decides on: the registry's serving state for each version a
delivery touches, the fired markers of those promotions, and the profiles the monitor does not
hold yet. Also the monitor's own key scheme (fired markers and report links)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Protocol, cast, get_args

from driftloop_bus import Keys
from driftloop_bus.serving import promotion_of
from driftloop_contracts import BlobRef, DriftKind, ModelPromoted, ReferenceProfile
from driftloop_core import DriftloopError
from driftloop_core.signing import Verifier, check_decision, refuse
from pydantic import ValidationError
from redis.asyncio import Redis

from .policy import PRODUCER, Serving, Unservable
from .watch import Rearm, Watch, WatchKey

KINDS: tuple[DriftKind, ...] = get_args(DriftKind)


class MonitorKeys:
    """The monitor's own keys: ``<namespace>drift-monitor:...``, each in the shard of its
    dataset (REDIS_SHARDS; without a dataset, the shard of `keys`)."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def _of(self, dataset: str | None) -> Keys:
        return self.keys if dataset is None else self.keys.of(dataset)

    def fired(self, promotion_id: uuid.UUID, kind: str, dataset: str | None = None) -> str:
        """Set, in the same commit as the drift event, once a kind fired for a promotion."""
        return self._of(dataset).owned(PRODUCER, "fired", promotion_id, kind)

    def rearmed(self, promotion_id: uuid.UUID, kind: str, dataset: str | None = None) -> str:
        """Set, in the same commit as the fired marker's deletion, when a champion_holds skip
        re-armed a kind for a promotion: its `Rearm` as JSON (rearm.py)."""
        return self._of(dataset).owned(PRODUCER, "rearmed", promotion_id, kind)

    def report(self, event_id: object, dataset: str | None = None) -> str:
        """The BlobRef of a drift event's HTML report."""
        return self._of(dataset).owned(PRODUCER, "report", event_id)

    def reports(self, event_id: object) -> list[str]:
        """Where a report link may be, its dataset unknown: one key per shard."""
        return [MonitorKeys(shard).report(event_id) for shard in self.keys.all()]


class Store(Protocol):
    """The content store, as the monitor uses it."""

    def get(self, ref: BlobRef) -> bytes: ...

    def put(self, data: bytes, *, kind: str, suffix: str = "") -> BlobRef: ...


class Reader(Protocol):
    """Where the snapshot comes from (Redis and the store; a fake in unit tests)."""

    own: MonitorKeys

    async def serving(
        self, touched: Iterable[WatchKey], held: Mapping[WatchKey, Watch]
    ) -> dict[WatchKey, Serving | Unservable]: ...

    async def report_blob(self, event_id: str) -> BlobRef | None: ...


class Profiles:
    """Reference profiles by sha256: content-addressed, so a cached one is never stale."""

    def __init__(self, store: Store, kept: int = 32) -> None:
        self._store = store
        self._kept = kept
        self._cache: OrderedDict[str, ReferenceProfile] = OrderedDict()

    async def get(self, ref: BlobRef) -> ReferenceProfile:
        if (found := self._cache.get(ref.sha256)) is not None:
            self._cache.move_to_end(ref.sha256)
            return found
        data = await asyncio.to_thread(self._store.get, ref)
        profile = ReferenceProfile.model_validate_json(data)
        self._cache[ref.sha256] = profile
        while len(self._cache) > self._kept:
            self._cache.popitem(last=False)
        return profile


class SnapshotReader:
    """The real Reader: the registry's serving state and the monitor's keys in Redis. A
    promotion counts only if the registry signed it for the dataset and version it is filed
    under; any other is refused (metric, warning) and its rows are not watched."""

    def __init__(self, redis: Redis, keys: Keys, store: Store, registry: Verifier) -> None:
        self.redis = redis
        self.keys = keys
        self.registry = registry
        self.own = MonitorKeys(keys)
        self.profiles = Profiles(store)

    async def serving(
        self, touched: Iterable[WatchKey], held: Mapping[WatchKey, Watch]
    ) -> dict[WatchKey, Serving | Unservable]:
        """What the serving state says about each touched version, with its fired markers and
        (when the monitor holds no watch of that promotion) its profile."""
        promotions: dict[WatchKey, ModelPromoted] = {}
        out: dict[WatchKey, Serving | Unservable] = {}
        for key in touched:
            promotion = await promotion_of(self.redis, self.keys, key.dataset, key.version)
            if promotion is None:
                out[key] = Unservable("no_promotion", "not in the registry's serving state")
            elif (refused := self._refusal(key, promotion)) is not None:
                out[key] = Unservable("untrusted_promotion", refused)
            else:
                promotions[key] = promotion
        fired = await self._fired(promotions)
        rearms = await self._rearms(promotions)
        for key, promotion in promotions.items():
            watch = held.get(key)
            if watch is not None and watch.promotion.event_id == promotion.event_id:
                out[key] = Serving(promotion, None, fired[key], rearms[key])
                continue
            try:
                profile = await self.profiles.get(promotion.profile)
            except (DriftloopError, ValidationError, OSError) as exc:
                out[key] = Unservable("profile_unavailable", f"{type(exc).__name__}: {exc}")
                continue
            out[key] = Serving(promotion, profile, fired[key], rearms[key])
        return out

    def _refusal(self, key: WatchKey, promotion: ModelPromoted) -> str | None:
        refusal = check_decision(promotion, self.registry, dataset=key.dataset, version=key.version)
        if refusal is None:
            return None
        refuse("promotion", refusal, promotion, "its version is not watched")
        return refusal.message

    async def report_blob(self, event_id: str) -> BlobRef | None:
        for key in self.own.reports(event_id):  # the API is asked by event id alone
            raw = cast(bytes | None, await self.redis.get(key))
            if raw is not None:
                return BlobRef.model_validate_json(raw)
        return None

    async def _fired(
        self, promotions: Mapping[WatchKey, ModelPromoted]
    ) -> dict[WatchKey, frozenset[DriftKind]]:
        by_shard: dict[int, list[tuple[WatchKey, DriftKind, str]]] = {}  # one MGET per slot
        for key, promotion in promotions.items():
            shard = self.keys.of(key.dataset).index
            for kind in KINDS:
                name = self.own.fired(promotion.event_id, kind, key.dataset)
                by_shard.setdefault(shard, []).append((key, kind, name))
        fired: dict[WatchKey, set[DriftKind]] = {key: set() for key in promotions}
        for items in by_shard.values():
            values = await self.redis.mget([name for _, _, name in items])
            for (key, kind, _), value in zip(items, values, strict=True):
                if value is not None:
                    fired[key].add(kind)
        return {key: frozenset(kinds) for key, kinds in fired.items()}

    async def _rearms(self, promotions: Mapping[WatchKey, ModelPromoted]) -> dict[WatchKey, Rearm]:
        by_shard: dict[int, list[tuple[WatchKey, str]]] = {}  # one MGET per slot
        for key, promotion in promotions.items():
            name = self.own.rearmed(promotion.event_id, "performance", key.dataset)
            by_shard.setdefault(self.keys.of(key.dataset).index, []).append((key, name))
        rearms = {key: Rearm() for key in promotions}
        for items in by_shard.values():
            values = await self.redis.mget([name for _, name in items])
            for (key, _), value in zip(items, values, strict=True):
                rearms[key] = rearm_of(value)
        return rearms


def rearm_of(raw: bytes | str | None) -> Rearm:
    """A re-arm record as stored (none: never re-armed). A record that does not parse counts
    as none: the kind stays as its fired marker says."""
    if raw is None:
        return Rearm()
    try:
        data = json.loads(raw)
        baseline = data.get("baseline")
        return Rearm(int(data["count"]), None if baseline is None else float(baseline))
    except (ValueError, TypeError, KeyError, AttributeError):
        return Rearm()


def rearm_json(rearm: Rearm) -> str:
    return json.dumps({"count": rearm.count, "baseline": rearm.baseline})
