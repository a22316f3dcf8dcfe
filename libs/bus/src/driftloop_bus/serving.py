"""The serving state: the promotion that serves each dataset, every version's last promotion,
and the rollout in progress, as the registry last decided.

The registry writes it in the same transaction as each model.promoted and model.rollout event
it publishes, so the state and the streams never disagree. Predictors load it at start-up and
then follow the streams from the ids read in the same transaction; the drift monitor looks up
the promotion of whichever version it sees serving. Nobody rebuilds it from a stream's last
entry, which may belong to another dataset or be unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import structlog
from driftloop_contracts import Event, ModelPromoted, RolloutChanged, streams
from driftloop_contracts.keys import Keys
from pydantic import ValidationError
from redis.asyncio import Redis

from .effects import RedisWrite

OWNER = "registry"
log = structlog.get_logger(__name__)
E = TypeVar("E", bound=Event)


def champions_key(keys: Keys) -> str:
    return keys.owned(OWNER, "serving", "champions")


def versions_key(keys: Keys) -> str:
    return keys.owned(OWNER, "serving", "versions")


def rollouts_key(keys: Keys) -> str:
    return keys.owned(OWNER, "serving", "rollouts")


def sequences_key(keys: Keys) -> str:
    """The last sequence number the registry gave a decision (promotion or rollout) of each
    dataset; its next decision takes the one above."""
    return keys.owned(OWNER, "serving", "sequences")


@dataclass
class ServingState:
    champions: dict[str, ModelPromoted] = field(default_factory=dict)
    rollouts: dict[str, RolloutChanged] = field(default_factory=dict)
    #: Entry ids of the two streams as of this state: follow them from there.
    promoted_from: str = "0"
    rollout_from: str = "0"


def record_promotion(keys: Keys, event: ModelPromoted) -> RedisWrite:
    """The state change that goes with publishing `event` (same transaction), in the shard of
    its dataset (as the event)."""
    data, keys = event.model_dump_json(), keys.of(event.dataset)

    def apply(pipe: Any) -> None:
        pipe.hset(champions_key(keys), event.dataset, data)
        pipe.hset(versions_key(keys), f"{event.dataset}/{event.model_version}", data)
        _record_sequence(pipe, keys, event)

    return RedisWrite(apply)


def record_rollout(keys: Keys, event: RolloutChanged) -> RedisWrite:
    data, keys = event.model_dump_json(), keys.of(event.dataset)

    def apply(pipe: Any) -> None:
        if event.stage == "ended":
            pipe.hdel(rollouts_key(keys), event.dataset)
        else:
            pipe.hset(rollouts_key(keys), event.dataset, data)
        _record_sequence(pipe, keys, event)

    return RedisWrite(apply)


def _record_sequence(pipe: Any, keys: Keys, event: ModelPromoted | RolloutChanged) -> None:
    if event.sequence is not None:
        pipe.hset(sequences_key(keys), event.dataset, event.sequence)


async def last_sequence(redis: Redis, keys: Keys, dataset: str) -> int:
    """The sequence of the dataset's last decision (0 before the first)."""
    raw = cast(bytes | None, await redis.hget(sequences_key(keys.of(dataset)), dataset))
    return int(raw) if raw else 0


def _parse(raw: Mapping[bytes, bytes], model: type[E]) -> dict[str, E]:
    out: dict[str, E] = {}
    for name, data in raw.items():
        try:
            out[name.decode()] = model.model_validate_json(data)
        except (ValidationError, UnicodeDecodeError) as exc:
            log.error("unreadable serving state skipped", entry=str(name), error=str(exc))
    return out


def _last_id(entries: Any) -> str:
    return cast(bytes, entries[0][0]).decode() if entries else "0"


async def load(redis: Redis, keys: Keys) -> ServingState:
    """The state of `keys`' shard and the positions of its streams, read in one transaction
    (sharded: load each of `keys.all()`; follow each shard's streams from its own ids)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xrevrange(keys.stream(streams.MODEL_PROMOTED), count=1)
        pipe.xrevrange(keys.stream(streams.MODEL_ROLLOUT), count=1)
        pipe.hgetall(champions_key(keys))
        pipe.hgetall(rollouts_key(keys))
        promoted, rollout, champions, rollouts = await pipe.execute()
    return ServingState(
        champions=_parse(champions, ModelPromoted),
        rollouts=_parse(rollouts, RolloutChanged),
        promoted_from=_last_id(promoted),
        rollout_from=_last_id(rollout),
    )


async def promotion_of(
    redis: Redis, keys: Keys, dataset: str, version: int
) -> ModelPromoted | None:
    """The last promotion of one version (None if it never served)."""
    key = versions_key(keys.of(dataset))
    raw = cast(bytes | None, await redis.hget(key, f"{dataset}/{version}"))
    if raw is None:
        return None
    try:
        return ModelPromoted.model_validate_json(raw)
    except ValidationError as exc:
        log.error(
            "unreadable promotion in serving state",
            dataset=dataset,
            version=version,
            error=str(exc),
        )
        return None
