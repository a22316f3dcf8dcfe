"""The data plane: validate rows, predict with the current model, log, answer.

The HTTP routes (and later other transports) all call `Predictor.predict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftloop_contracts import PredictionRecord, utcnow
from driftloop_core import InvalidInput, NotReady
from driftloop_core.rows import RowError, validate_features
from prometheus_client import Counter, Histogram

from .logbuffer import PredictionLog
from .model import LoadedModel, ModelHolder

ROWS_PREDICTED = Counter("driftloop_predictor_rows_total", "Rows predicted.", ["model_version"])
ROWS_REJECTED = Counter("driftloop_predictor_rows_rejected_total", "Rows refused as invalid.")
PREDICT_SECONDS = Histogram(
    "driftloop_predictor_predict_seconds",
    "Time in the model's predict call per request.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)


@dataclass(frozen=True)
class Prediction:
    prediction_id: uuid.UUID
    prediction: str
    probability: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Predictions:
    model_version: int
    dataset: str
    predictions: list[Prediction]


class Predictor:
    def __init__(self, holder: ModelHolder, log: PredictionLog) -> None:
        self.holder = holder
        self.log = log

    def model(self) -> LoadedModel:
        model = self.holder.current
        if model is None:
            raise NotReady("no model is loaded yet: none has been promoted, or loading failed")
        return model

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> Predictions:
        model = self.model()  # one read: a swap during this request does not mix models
        clean, problems = [], []
        for index, row in enumerate(rows):
            try:
                clean.append(validate_features(model.schema, row))
            except RowError as exc:
                problems.append({"row": index, "error": str(exc)})
        if problems:
            ROWS_REJECTED.inc(len(problems))
            first = problems[0]
            raise InvalidInput(
                f"{len(problems)} of {len(rows)} row(s) invalid; "
                f"row {first['row']}: {first['error']}",
                details=problems,
            )
        with PREDICT_SECONDS.time():
            proba = model.predict_proba(clean)
        best = proba.argmax(axis=1)
        classes = [str(c) for c in model.classes]
        now = utcnow()
        out, records = [], []
        for features, p, i in zip(clean, proba, best, strict=True):
            pid = uuid.uuid4()
            label, confidence = classes[i], float(p[i])
            out.append(
                Prediction(pid, label, confidence, dict(zip(classes, map(float, p), strict=True)))
            )
            records.append(
                PredictionRecord(
                    prediction_id=pid,
                    features=features,
                    prediction=label,
                    probability=confidence,
                    predicted_at=now,
                )
            )
        self.log.add(model.promoted.dataset, model.version, records)
        ROWS_PREDICTED.labels(model_version=str(model.version)).inc(len(out))
        return Predictions(model.version, model.promoted.dataset, out)
