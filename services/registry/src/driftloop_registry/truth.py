"""Who serves each dataset now: the serving state the registry writes with every promotion and
rollout it publishes (driftloop_bus.serving), read back as the truth its decisions start from.

SQLite follows the streams and may lag them by milliseconds; this never does.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, cast

from driftloop_bus import Keys
from driftloop_bus.serving import champions_key, last_sequence, rollouts_key
from driftloop_contracts import ModelPromoted, RolloutChanged
from driftloop_core import NotReady
from driftloop_core.signing import Verifier, check_decision, refuse
from pydantic import ValidationError
from redis.asyncio import Redis

E = TypeVar("E", ModelPromoted, RolloutChanged)


class ServingTruth(Protocol):
    async def champion(self, dataset: str) -> ModelPromoted | None: ...

    async def rollout(self, dataset: str) -> RolloutChanged | None: ...

    async def last_sequence(self, dataset: str) -> int:
        """The sequence of the dataset's last decision (0 before the first)."""


class UnreadableServingState(NotReady):
    """The serving state holds something that is not the event it should be, or that this
    registry did not sign: nothing is decided on it (a delivery is retried, then
    dead-lettered; an admin action answers 503 saying why)."""


class RedisServingTruth:
    """Reads the serving state and believes only what the registry signed: a champion whose
    artifact the gate would load must be one it promoted, under that dataset."""

    def __init__(self, redis: Redis, keys: Keys, own: Verifier) -> None:
        self.redis = redis
        self.keys = keys
        self.own = own

    async def champion(self, dataset: str) -> ModelPromoted | None:
        return await self._get(champions_key(self.keys.of(dataset)), dataset, ModelPromoted)

    async def rollout(self, dataset: str) -> RolloutChanged | None:
        return await self._get(rollouts_key(self.keys.of(dataset)), dataset, RolloutChanged)

    async def last_sequence(self, dataset: str) -> int:
        return await last_sequence(self.redis, self.keys, dataset)

    async def _get(self, key: str, dataset: str, model: type[E]) -> E | None:
        raw = cast(bytes | None, await self.redis.hget(key, dataset))
        if raw is None:
            return None
        try:
            event = model.model_validate_json(raw)
        except ValidationError as exc:
            # Deciding as if nothing served would crown a candidate over a live champion:
            # fail instead, so the delivery is retried and dead-lettered with this reason.
            raise UnreadableServingState(
                f"serving state {key} [{dataset}] is not a {model.__name__}: {exc}"
            ) from exc
        refusal = check_decision(event, self.own, dataset=dataset)
        if refusal is not None:
            kind = "promotion" if isinstance(event, ModelPromoted) else "rollout"
            refuse(kind, refusal, event, "the registry's serving state is not trusted")
            raise UnreadableServingState(
                f"serving state {key} [{dataset}] was not signed by this registry for that "
                f"dataset: {refusal.message}"
            )
        return event
