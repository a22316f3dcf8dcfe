"""The data plane: validate rows, predict with the current model (micro-batched), log, answer.

Every transport (the fast ASGI path, the documented FastAPI routes, the Open Inference
Protocol routes) calls `Predictor.predict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from driftloop_contracts import utcnow
from driftloop_core import NotReady
from prometheus_client import Counter

from .batcher import MicroBatcher
from .encoding import prediction_ids
from .logbuffer import Logged, PredictionLog
from .model import LoadedModel, ModelHolder

ROWS_PREDICTED = Counter("driftloop_predictor_rows_total", "Rows predicted.")
ROWS_REJECTED = Counter("driftloop_predictor_rows_rejected_total", "Requests refused as invalid.")


@dataclass(frozen=True, slots=True)
class Predictions:
    model_version: int
    classes: list[str]
    ids: list[str]
    labels: list[str]
    probabilities: list[float]
    proba: np.ndarray

    def single_json(self) -> bytes:
        """One row: probabilities keyed by class."""
        return orjson.dumps(
            {
                "prediction_id": self.ids[0],
                "prediction": self.labels[0],
                "probability": self.probabilities[0],
                "probabilities": dict(zip(self.classes, self.proba[0].tolist(), strict=True)),
                "model_version": self.model_version,
            }
        )

    def batch_json(self) -> bytes:
        """Many rows: the classes once, each row's probabilities in that order."""
        items = [
            {"prediction_id": i, "prediction": label, "probability": p, "probabilities": row}
            for i, label, p, row in zip(
                self.ids, self.labels, self.probabilities, self.proba.tolist(), strict=True
            )
        ]
        return orjson.dumps(
            {"model_version": self.model_version, "classes": self.classes, "predictions": items}
        )


class Predictor:
    def __init__(self, holder: ModelHolder, log: PredictionLog, batcher: MicroBatcher) -> None:
        self.holder = holder
        self.log = log
        self.batcher = batcher

    def model(self) -> LoadedModel:
        model = self.holder.current
        if model is None:
            raise NotReady("no model is loaded yet: none has been promoted, or loading failed")
        return model

    async def predict(self, rows: Sequence[Any]) -> Predictions:
        model = self.model()  # one read: a swap during this request does not mix models
        try:
            x, logged_features = model.encoder.encode(rows)
        except Exception:
            ROWS_REJECTED.inc()
            raise
        proba = await self.batcher.predict(model, model.predict_proba, x, model.offload)
        best = proba.argmax(axis=1)
        labels = model.classes[best].astype(str).tolist()
        confidence = proba[np.arange(len(best)), best].tolist()
        ids = prediction_ids(len(best))
        self.log.add(
            Logged(
                model.promoted.dataset,
                model.version,
                model.encoder.names,
                ids,
                logged_features,
                labels,
                confidence,
                utcnow().isoformat(),
            )
        )
        ROWS_PREDICTED.inc(len(ids))
        return Predictions(model.version, model.class_names, ids, labels, confidence, proba)
