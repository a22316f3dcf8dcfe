"""Joins late labels with the predictions they belong to, whichever arrives first.

Each prediction id has one hash holding the prediction side ``p`` and the label side ``l``.
A Lua script writes one side and, when both are present, lets exactly one event claim the
pair: the event that first saw it complete. If that event's handler crashes before its commit,
its redelivery claims the pair again (same event id) and nobody else ever does, so every pair
is emitted once and only once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from driftloop_contracts import FeatureRow, Label, PredictionsLogged
from pydantic import BaseModel
from redis.asyncio import Redis

_JOIN = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local other = 'l'
if ARGV[1] == 'l' then other = 'p' end
if redis.call('HEXISTS', KEYS[1], other) == 0 then return false end
local claimant = redis.call('HGET', KEYS[1], 'c')
if not claimant then
  redis.call('HSET', KEYS[1], 'c', ARGV[3])
  claimant = ARGV[3]
end
if claimant ~= ARGV[3] then return false end
return {redis.call('HGET', KEYS[1], 'p'), redis.call('HGET', KEYS[1], 'l')}
"""


class PredictionRecord(BaseModel):
    prediction_id: uuid.UUID
    features: FeatureRow
    prediction: str | float
    predicted_at: datetime


def records_of(event: PredictionsLogged) -> list[PredictionRecord]:
    names = event.feature_names
    rows = zip(*(event.features[n] for n in names), strict=True)
    return [
        PredictionRecord(
            prediction_id=i,
            features=dict(zip(names, row, strict=True)),
            prediction=p,
            predicted_at=datetime.fromtimestamp(at / 1000, UTC),
        )
        for i, row, p, at in zip(
            event.prediction_ids, rows, event.predictions, event.predicted_at_ms, strict=True
        )
    ]


@dataclass(frozen=True, slots=True)
class JoinedLabel:
    dataset: str
    model_version: int
    prediction: PredictionRecord
    label: str


class LabelJoin:
    """A service's own join state in Redis (keys under ``<namespace><owner>:join:``)."""

    def __init__(self, redis: Redis, *, namespace: str, owner: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = f"{namespace}{owner}:join:"
        self._ttl = ttl_s
        self._script = redis.register_script(_JOIN)

    async def add_predictions(
        self,
        dataset: str,
        model_version: int,
        predictions: Sequence[PredictionRecord],
        claimant: uuid.UUID,
    ) -> list[JoinedLabel]:
        sides = [
            (
                p.prediction_id,
                b"%d|%s|" % (model_version, dataset.encode()) + p.model_dump_json().encode(),
            )
            for p in predictions
        ]
        return await self._add("p", sides, claimant)

    async def add_labels(self, labels: Sequence[Label], claimant: uuid.UUID) -> list[JoinedLabel]:
        return await self._add(
            "l", [(lb.prediction_id, lb.label.encode()) for lb in labels], claimant
        )

    async def _add(
        self, side: str, items: Sequence[tuple[uuid.UUID, bytes]], claimant: uuid.UUID
    ) -> list[JoinedLabel]:
        if not items:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for prediction_id, payload in items:
                await self._script(
                    keys=[f"{self._prefix}{prediction_id}"],
                    args=[side, payload, str(claimant), self._ttl],
                    client=pipe,
                )
            results = await pipe.execute()
        return [_decode(r) for r in results if r]


def _decode(pair: list[bytes]) -> JoinedLabel:
    version, dataset, record = pair[0].split(b"|", 2)
    return JoinedLabel(
        dataset=dataset.decode(),
        model_version=int(version),
        prediction=PredictionRecord.model_validate_json(record),
        label=pair[1].decode(),
    )
