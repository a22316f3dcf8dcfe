"""The data plane: route, validate, predict (micro-batched), log, answer.

Every transport (the fast ASGI path, the documented FastAPI routes, the Open Inference
Protocol routes) calls `Predictor.predict`.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from driftloop_contracts.columnar import epoch_ms
from driftloop_contracts.keys import shard_of
from driftloop_core import InvalidInput, NotReady
from driftloop_core.telemetry import get_logger
from prometheus_client import Counter

from .batcher import MicroBatcher
from .encoding import prediction_ids
from .holders import Models, OneModel
from .logbuffer import Logged, PredictionLog
from .model import LoadedModel, ModelHolder, Rollout

ROWS_PREDICTED = Counter("driftloop_predictor_rows_total", "Rows predicted, by role.", ["role"])
ROWS_REJECTED = Counter("driftloop_predictor_rows_rejected_total", "Requests refused as invalid.")
SHADOW_FAILURES = Counter(
    "driftloop_predictor_shadow_failures_total", "Shadow predictions that could not be made."
)
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Predictions:
    """What a request got: classes with their probabilities, or (regression, `proba` None)
    numbers in `labels` and no probabilities."""

    model_version: int
    role: str
    classes: list[str]
    ids: list[str]
    labels: list[str] | list[float]
    probabilities: list[float]
    proba: np.ndarray | None

    def single_json(self) -> bytes:
        """One row: probabilities keyed by class (none for regression)."""
        answer: dict[str, Any] = {"prediction_id": self.ids[0], "prediction": self.labels[0]}
        if self.proba is not None:
            answer["probability"] = self.probabilities[0]
            answer["probabilities"] = dict(zip(self.classes, self.proba[0].tolist(), strict=True))
        answer["model_version"] = self.model_version
        return orjson.dumps(answer)

    def batch_json(self) -> bytes:
        """Many rows: the classes once, each row's probabilities in that order (regression:
        each row's predicted number, no classes)."""
        if self.proba is None:
            values = [
                {"prediction_id": i, "prediction": v}
                for i, v in zip(self.ids, self.labels, strict=True)
            ]
            return orjson.dumps({"model_version": self.model_version, "predictions": values})
        items = [
            {"prediction_id": i, "prediction": label, "probability": p, "probabilities": row}
            for i, label, p, row in zip(
                self.ids, self.labels, self.probabilities, self.proba.tolist(), strict=True
            )
        ]
        return orjson.dumps(
            {"model_version": self.model_version, "classes": self.classes, "predictions": items}
        )


def in_canary(key: str | None, share: float) -> bool:
    """Sticky by key (the same key always gets the same model), random without one."""
    if key is None:
        return random.random() < share
    return zlib.crc32(key.encode()) / 2**32 < share


class Predictor:
    def __init__(
        self,
        models: Models | ModelHolder,
        log: PredictionLog,
        batcher: MicroBatcher,
        shards: int = 1,
    ) -> None:
        self.models: Models = OneModel(models) if isinstance(models, ModelHolder) else models
        self.log = log
        self.batcher = batcher
        self.shards = shards  # REDIS_SHARDS: each prediction id names its dataset's shard
        self._roles = {r: ROWS_PREDICTED.labels(role=r) for r in ("primary", "canary", "shadow")}
        self._shadows: set[asyncio.Task[None]] = set()

    async def model(self, dataset: str | None = None) -> LoadedModel:
        """The champion serving `dataset` (None: the default dataset)."""
        model = (await self.models.holder(dataset)).current
        if model is None:
            raise NotReady("no model is loaded yet: none has been promoted, or loading failed")
        return model

    async def predict(
        self, rows: Sequence[Any], key: str | None = None, dataset: str | None = None
    ) -> Predictions:
        """Answer `rows` with `dataset`'s champion (None: the default dataset), or with its
        canary for the canary's share of keys."""
        if not rows:
            raise InvalidInput("no rows to predict: send at least one")
        holder = await self.models.holder(dataset)
        model = holder.current  # one read: a swap during this request does not mix models
        if model is None:
            raise NotReady("no model is loaded yet: none has been promoted, or loading failed")
        rollout = holder.rollout
        role = "primary"
        if rollout is not None and rollout.stage == "canary" and in_canary(key, rollout.share):
            model, role = rollout.model, "canary"
        result = await self._run(model, role, rows, None)
        if rollout is not None and rollout.stage == "shadow":
            task = asyncio.create_task(self._shadow(rollout, rows, result.ids))
            self._shadows.add(task)
            task.add_done_callback(self._shadows.discard)
        return result

    async def _run(
        self, model: LoadedModel, role: str, rows: Sequence[Any], ids: list[str] | None
    ) -> Predictions:
        try:
            x, logged_features = model.encoder.encode(rows)
        except Exception:
            ROWS_REJECTED.inc()
            raise
        out = await self.batcher.predict(model, model.infer, x, model.policy)
        shard = shard_of(model.promoted.dataset, self.shards)
        ids = ids or prediction_ids(len(out), shard, self.shards)
        labels: list[str] | list[float]
        if model.regression:
            labels, scores, confidence, proba = out.tolist(), None, [], None
        else:
            best = out.argmax(axis=1)
            labels = model.class_labels[best].tolist()
            scores = out[np.arange(len(best)), best]
            confidence, proba = scores.tolist(), out
        self.log.add(
            Logged(
                model.promoted.dataset,
                model.version,
                role,
                model.encoder.names,
                ids,
                logged_features,
                labels,
                scores,
                epoch_ms(),
            )
        )
        self._roles[role].inc(len(ids))
        return Predictions(model.version, role, model.class_names, ids, labels, confidence, proba)

    async def _shadow(self, rollout: Rollout, rows: Sequence[Any], ids: list[str]) -> None:
        """The candidate predicts the same rows under the same ids; logged, never answered."""
        try:
            await self._run(rollout.model, "shadow", rows, ids)
        except Exception as exc:
            SHADOW_FAILURES.inc()
            log.warning("shadow prediction failed", version=rollout.model.version, error=str(exc))
